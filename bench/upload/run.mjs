// Bundles this bench's TypeScript (ca-chat packages from their `src`, other packages external)
// into bench/results/ and runs it, so no package build is needed first.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const outdir = `${root}bench/results/upload`;
await build({
  entryPoints: [`${root}bench/upload/upload-bench.ts`, `${root}bench/upload/upload-server.ts`],
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  alias: {
    '@ca-chat/core': `${root}packages/core/src/index.ts`,
    '@ca-chat/transport-ws': `${root}packages/transport-ws/src/index.ts`,
  },
  logLevel: 'warning',
});
const result = spawnSync(
  process.execPath,
  [`${outdir}/upload-bench.js`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
