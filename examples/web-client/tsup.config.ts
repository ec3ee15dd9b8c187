import { defineConfig } from 'tsup';

// One browser bundle with the SDK inside, plus index.html and styles.css from public/.
// Nothing is loaded from anywhere but the page's own server.
export default defineConfig({
  entry: { main: 'src/main.ts' },
  outDir: 'dist',
  format: ['esm'],
  platform: 'browser',
  target: 'es2022',
  noExternal: [/.*/],
  publicDir: 'public',
  clean: true,
  sourcemap: true,
  minify: true,
  dts: false,
  splitting: false,
});
