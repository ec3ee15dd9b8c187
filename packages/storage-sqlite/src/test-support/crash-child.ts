// A child process for crash tests, bundled by the test with esbuild (no TS loader needed).
//   append <file> <journalMaxRecords> <round>: appends to chat c1 as fast as it can, many
//     in flight, printing `ack <seq> <text>` for each acknowledged message and log lines
//     as JSON; runs until killed.
//   hold <file>: opens the storage, prints `ready`, and waits to be killed.
//   fold <file> <journalMaxRecords>: writes until a snapshot has been written, closes the
//     storage, prints `closed`, and leaves the process to end by itself.
import type { Logger } from '@ca-chat/core';
import { createSqliteStorage } from '../sqlite-storage.js';

const [mode, file, maxRecords, round] = process.argv.slice(2) as [
  string,
  string,
  string | undefined,
  string | undefined,
];
// process.stdout on a pipe is synchronous on Linux: a printed ack has left this process.
const print = (line: string): void => void process.stdout.write(`${line}\n`);
let snapshotWritten: () => void = () => {};
const written = new Promise<void>((resolve) => (snapshotWritten = resolve));
const logTo =
  (level: string) =>
  (obj: object, msg?: string): void => {
    if (msg === 'snapshot written') snapshotWritten();
    print(`log ${JSON.stringify({ level, msg, ...obj, err: undefined })}`);
  };
const logger: Logger = {
  debug: () => {},
  info: logTo('info'),
  warn: logTo('warn'),
  error: logTo('error'),
};

const storage = createSqliteStorage({
  file,
  logger,
  journalMaxRecords: Number(maxRecords ?? 100_000),
});
await storage.init();

if (mode === 'hold') {
  print('ready');
  setInterval(() => {}, 60_000);
} else if (mode === 'fold') {
  let n = 0;
  const wrote = written.then(() => true);
  while (!(await Promise.race([wrote, Promise.resolve(false)])))
    await storage.kvSet('fold', `k${n++}`, n);
  await storage.close();
  print('closed');
} else {
  if ((await storage.getChat('c1')) === null) {
    await storage.createChat({
      id: 'c1',
      clientId: 'client-1',
      caId: null,
      language: 'en',
      topic: null,
      state: 'waiting',
      endReason: null,
      createdAt: 0,
      matchedAt: null,
      endedAt: null,
    });
  }
  let next = 0;
  const writer = async (): Promise<void> => {
    for (;;) {
      const text = `r${round}-${next++}`;
      const { message } = await storage.appendMessage({
        chatId: 'c1',
        from: 'client',
        text,
        file: null,
        createdAt: Date.now(),
        idempotencyKey: text,
        delivery: {
          state: 'pending',
          peerMessageId: null,
          attempts: 0,
          nextAttemptAt: null,
          error: null,
        },
      });
      print(`ack ${message.seq} ${text}`);
    }
  };
  print('ready');
  for (let i = 0; i < 64; i++) void writer();
}
