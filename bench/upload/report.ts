import { readFile, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${release()}, Node ${process.version}`;
}

/** Replaces (or appends) the `## <name>` section of bench/README.md, leaving other sections alone. */
export async function writeReadmeSection(name: string, body: string): Promise<void> {
  const path = fileURLToPath(new URL('../../../bench/README.md', import.meta.url));
  const current = await readFile(path, 'utf8').catch(() => '# Benchmarks\n');
  const section = `## ${name}\n\n${body.trim()}\n`;
  const start = current.search(new RegExp(`^## ${name}\\s*$`, 'm'));
  if (start < 0) {
    await writeFile(path, `${current.trimEnd()}\n\n${section}`);
    return;
  }
  const next = current.slice(start + 3).search(/^## /m);
  const end = next < 0 ? current.length : start + 3 + next;
  await writeFile(
    path,
    `${current.slice(0, start)}${section}${next < 0 ? '' : `\n${current.slice(end)}`}`,
  );
}
