import { defineConfig } from 'tsup';

// The workspace packages stay external: `node dist/main.js` uses their own builds.
export default defineConfig({
  entry: { main: 'src/main.ts', index: 'src/index.ts' },
  format: ['esm'],
  platform: 'node',
  target: 'node20',
  clean: true,
  sourcemap: true,
  dts: false,
});
