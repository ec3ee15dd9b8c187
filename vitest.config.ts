import { defineConfig } from 'vitest/config';

// One vitest run over every workspace; each package's tests run against its `src`
// (see the `resolve.alias` below) so no build is needed to test.
export default defineConfig({
  resolve: {
    alias: [
      {
        find: /^@ca-chat\/core\/testing$/,
        replacement: new URL('./packages/core/src/testing/index.ts', import.meta.url).pathname,
      },
      {
        find: /^@ca-chat\/core$/,
        replacement: new URL('./packages/core/src/index.ts', import.meta.url).pathname,
      },
      {
        find: /^@ca-chat\/storage-sqlite$/,
        replacement: new URL('./packages/storage-sqlite/src/index.ts', import.meta.url).pathname,
      },
      {
        find: /^@ca-chat\/transport-ws\/client$/,
        replacement: new URL('./packages/transport-ws/src/client/index.ts', import.meta.url)
          .pathname,
      },
      {
        find: /^@ca-chat\/transport-ws$/,
        replacement: new URL('./packages/transport-ws/src/index.ts', import.meta.url).pathname,
      },
      {
        find: /^@ca-chat\/adapter-telegram\/emulator$/,
        replacement: new URL('./packages/adapter-telegram/src/emulator/index.ts', import.meta.url)
          .pathname,
      },
      {
        find: /^@ca-chat\/adapter-telegram$/,
        replacement: new URL('./packages/adapter-telegram/src/index.ts', import.meta.url).pathname,
      },
    ],
  },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'examples/*/test/**/*.test.ts',
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
