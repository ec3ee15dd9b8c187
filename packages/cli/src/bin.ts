#!/usr/bin/env node
import { CaChatError } from '@ca-chat/core';
import { buildProgram } from './cli.js';
import type { RunningServer } from './serve.js';

let server: RunningServer | null = null;
let signals = 0;

function onSignal(signal: NodeJS.Signals): void {
  signals++;
  if (signals > 1 || !server) {
    process.stderr.write(`\n${signal} again: exiting now\n`);
    process.exit(1);
  }
  process.stderr.write(`\n${signal}: shutting down (send it again to exit at once)\n`);
  server.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`shutdown failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}

const program = buildProgram({
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text),
  env: process.env,
  onServing: (running) => {
    server = running;
  },
});
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

program.parseAsync(process.argv).catch((error: unknown) => {
  if (CaChatError.isInstance(error)) {
    process.stderr.write(`ca-chat: ${error.message}\n`);
    if (error.code === 'locked')
      process.stderr.write('Is another ca-chat serve running on this data dir?\n');
  } else {
    process.stderr.write(
      `ca-chat: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`,
    );
  }
  process.exit(
    error instanceof Error && 'code' in error && (error as CaChatError).code === 'config_invalid'
      ? 2
      : 1,
  );
});
