import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
  },
  {
    // The SDK runs in browsers too: neutral platform, so a node builtin import fails the build.
    entry: { 'client/index': 'src/client/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    target: 'es2022',
    platform: 'neutral',
    external: ['@ca-chat/core'],
  },
  {
    // One self-contained file for a <script type="module"> (no bundler needed).
    entry: { 'client/browser': 'src/client/index.ts' },
    format: ['esm'],
    minify: true,
    sourcemap: true,
    target: 'es2020',
    platform: 'browser',
    noExternal: [/.*/],
  },
]);
