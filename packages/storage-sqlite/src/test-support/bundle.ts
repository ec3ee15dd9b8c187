import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const src = fileURLToPath(new URL('../', import.meta.url));

/**
 * Bundles a TypeScript entry (with this package's src and core's src) into runnable ESM,
 * next to the snapshot worker, so a child process needs no TypeScript loader and no build.
 * The output sits under the repo's node_modules/.cache so `sql.js` (kept external, it finds
 * its .wasm through its own package) resolves as usual. Returns the entry's output path.
 */
export async function bundleForChild(entry: string, name: string): Promise<string> {
  const outdir = join(
    repoRoot,
    'node_modules',
    '.cache',
    'ca-chat-storage-sqlite',
    `${name}-${process.pid}`,
  );
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: { [name]: entry, 'snapshot-worker': join(src, 'snapshot-worker.js') },
    outdir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['sql.js'],
    logLevel: 'silent',
    plugins: [
      {
        name: 'ca-chat-core-src',
        setup(b) {
          b.onResolve({ filter: /^@ca-chat\/core$/ }, () => ({
            path: join(repoRoot, 'packages/core/src/index.ts'),
          }));
        },
      },
    ],
  });
  await writeFile(join(outdir, 'package.json'), '{ "type": "module" }\n');
  return join(outdir, `${name}.js`);
}
