#!/usr/bin/env node
// The `ca-chat` command. The code lives in dist/ (built by `npm run build`, which
// `npm install` runs in this repository through the root `prepare` script).
import('../dist/bin.js').catch((error) => {
  if (
    error &&
    error.code === 'ERR_MODULE_NOT_FOUND' &&
    String(error.message).includes('dist/bin.js')
  ) {
    process.stderr.write('ca-chat is not built yet: run `npm run build` at the repository root.\n');
    process.exit(1);
  }
  throw error;
});
