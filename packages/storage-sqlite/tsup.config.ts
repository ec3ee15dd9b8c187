import { defineConfig } from 'tsup';

export default defineConfig({
  // The snapshot worker is its own entry: sqlite-storage.ts finds it beside itself
  // (dist/snapshot-worker.js here, src/snapshot-worker.js when tests run from src).
  entry: { index: 'src/index.ts', 'snapshot-worker': 'src/snapshot-worker.js' },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  // import.meta.url in the CJS build (to find the worker and sql.js's .wasm).
  shims: true,
});
