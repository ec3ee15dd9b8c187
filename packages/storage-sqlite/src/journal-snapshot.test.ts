import { fork } from 'node:child_process';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, scanFrames } from './journal-format.js';
import { segmentPath } from './journal-files.js';
import { META_SNAPSHOT_SEGMENT, SCHEMA_VERSION } from './schema.js';
import { loadSqlJs, SQL_WASM_PATH } from './sql-js.js';
import { createSqliteStorage, type SqliteStorage } from './sqlite-storage.js';
import {
  chat,
  crashCopy,
  hashFolder,
  message,
  recordingLogger,
  tempDir,
} from './test-support/helpers.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function openStore(
  options: Parameters<typeof createSqliteStorage>[0] & { dir?: string } = {},
): Promise<{ storage: SqliteStorage; dir: string; file: string }> {
  const dir = options.dir ?? (await tempDir());
  const file = join(dir, 'ca-chat.db');
  const storage = createSqliteStorage({ ...options, file });
  await storage.init();
  cleanup.push(async () => {
    await storage.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { storage, dir, file };
}

/** The operations recorded in a journal segment, frame by frame. */
async function framesOf(path: string): Promise<{ sql: string[]; ops: unknown[][] }[]> {
  const scan = scanFrames(await readFile(path));
  expect(scan.tail).toBe('clean');
  return scan.payloads.map((p) => JSON.parse(p.toString('utf8')));
}

describe('journal', () => {
  it('an acknowledged write is already in the journal file when its promise resolves', async () => {
    const { storage, file } = await openStore();
    await storage.createChat(chat('c1'));
    await storage.appendMessage(message('c1', 'durable hello'));
    const frames = await framesOf(segmentPath(file, 1));
    expect(JSON.stringify(frames.at(-1))).toContain('durable hello');
  });

  it('the segment is zero-filled ahead of the writes, and that space reads back as unused, not as damage', async () => {
    const { storage, file } = await openStore();
    await storage.createChat(chat('c1'));
    await storage.appendMessage(message('c1', 'hello'));
    const bytes = await readFile(segmentPath(file, 1));
    const scan = scanFrames(bytes);
    expect(bytes.length).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(scan.validBytes).toBeLessThan(bytes.length);
    expect(scan.tail).toBe('clean');
  });

  it('writes issued in the same tick share one frame (one write, one fsync)', async () => {
    const { storage, file } = await openStore();
    await storage.createChat(chat('c1'));
    const before = (await framesOf(segmentPath(file, 1))).length;
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => storage.appendMessage(message('c1', `m${i}`))),
    );
    const frames = await framesOf(segmentPath(file, 1));
    expect(frames).toHaveLength(before + 1);
    expect(frames.at(-1)!.ops).toHaveLength(50);
  });

  it('a call that changes nothing (a duplicate message, a lost claim or kvSetIfAbsent) writes no journal record', async () => {
    const { storage, file } = await openStore();
    await storage.createChat(chat('c1'));
    await storage.appendMessage(message('c1', 'once', 'k'));
    await storage.kvSet('ns', 'k', 1);
    const before = (await framesOf(segmentPath(file, 1))).length;
    expect((await storage.appendMessage(message('c1', 'again', 'k'))).duplicate).toBe(true);
    expect((await storage.claimChat('missing', 'ca', 0)).ok).toBe(false);
    expect(await storage.kvSetIfAbsent('ns', 'k', 2)).toBe(false);
    expect(await storage.endChat('missing', 'admin', 0)).toBeNull();
    expect(await framesOf(segmentPath(file, 1))).toHaveLength(before);
  });

  it('a new database is created by journaled migrations up to the current schema version', async () => {
    const { storage, file } = await openStore();
    await storage.close();
    const db = new Database(file, { readonly: true });
    cleanup.push(async () => {
      db.close();
    });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
  });
});

describe('frame scanning', () => {
  const frame = (value: string): Buffer =>
    encodeFrame([[['INSERT INTO kv VALUES (?, ?, ?)', ['ns', value, '1']]]]);

  it('zeros after the last frame are unused space: clean', () => {
    const scan = scanFrames(Buffer.concat([frame('a'), frame('b'), Buffer.alloc(100_000)]));
    expect(scan).toMatchObject({ tail: 'clean', payloads: [expect.anything(), expect.anything()] });
  });

  it('a frame cut short inside the zero-filled space is a torn tail', () => {
    const whole = frame('a');
    const scan = scanFrames(
      Buffer.concat([whole, frame('b').subarray(0, 20), Buffer.alloc(100_000)]),
    );
    expect(scan).toMatchObject({ tail: 'torn', validBytes: whole.length });
  });

  it('zeros in the middle, followed by a valid frame, are damage', () => {
    const scan = scanFrames(Buffer.concat([frame('a'), Buffer.alloc(64), frame('b')]));
    expect(scan.tail).toBe('corrupt');
  });
});

describe('snapshots', () => {
  it('a worker folds the journal into a snapshot once it passes journalMaxRecords, and removes the folded segments', async () => {
    const log = recordingLogger();
    const { storage, dir, file } = await openStore({ journalMaxRecords: 30, logger: log.logger });
    const written = log.next('snapshot written');
    await storage.createChat(chat('c1'));
    for (let i = 0; i < 40; i++) await storage.appendMessage(message('c1', `m${i}`));
    const entry = await written;
    const through = Number(entry.obj.through);
    const names = await readdir(dir);
    for (let n = 1; n <= through; n++)
      expect(names).not.toContain(segmentPath(file, n).split('/').pop());
    expect(log.entries.filter((e) => e.level === 'error')).toEqual([]);
  });

  it('a snapshot is written by a separate process at the lowest CPU priority, and the real SQLite library finds it intact', async () => {
    const log = recordingLogger();
    const { storage, file } = await openStore({ journalMaxRecords: 30, logger: log.logger });
    const written = log.next('snapshot written');
    await storage.createChat(chat('c1'));
    for (let i = 0; i < 40; i++) await storage.appendMessage(message('c1', `m${i}`));
    const entry = await written;
    expect(entry.obj.pid).not.toBe(process.pid);
    if (process.platform === 'linux') expect(entry.obj.priority).toBe(19);
    const real = new Database(file, { readonly: true });
    cleanup.push(async () => {
      real.close();
    });
    expect(real.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(
      (real.prepare('SELECT count(*) AS n FROM messages').get() as { n: number }).n,
    ).toBeGreaterThan(0);
  });

  it('a snapshot process ends when its storage process goes away, and replaces nothing', async () => {
    const { storage, dir, file } = await openStore();
    await storage.createChat(chat('c1'));
    await storage.appendMessage(message('c1', 'kept'));
    await storage.close();
    const snapshot = new Database(file, { readonly: true });
    const base = Number(
      (
        snapshot
          .prepare('SELECT value FROM ca_chat_meta WHERE key = ?')
          .get(META_SNAPSHOT_SEGMENT) as { value: string }
      ).value,
    );
    snapshot.close();
    const before = (await hashFolder(dir))['ca-chat.db'];
    const child = fork(fileURLToPath(new URL('./snapshot-worker.js', import.meta.url)), [], {
      execArgv: [],
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.send({
      file,
      wasmPath: SQL_WASM_PATH,
      baseSegment: base,
      throughSegment: base,
      segments: [],
      metaKey: META_SNAPSHOT_SEGMENT,
    });
    child.disconnect(); // as a crash of the storage process would
    expect(await exited).toBe(1);
    expect((await hashFolder(dir))['ca-chat.db']).toBe(before);
  });

  it('the snapshot on disk opens in a fresh sql.js database and in the real SQLite library, with the rows in it', async () => {
    const { storage, file } = await openStore();
    await storage.createChat(chat('c1'));
    await Promise.all(
      Array.from({ length: 25 }, (_, i) => storage.appendMessage(message('c1', `m${i}`))),
    );
    await storage.kvSet('ns', 'k', { a: 1 });
    await storage.close();

    const SQL = await loadSqlJs();
    const fresh = new SQL.Database(await readFile(file));
    expect(fresh.exec('SELECT count(*), max(seq) FROM messages')[0]!.values).toEqual([[25, 25]]);
    expect(fresh.exec("SELECT value FROM kv WHERE namespace = 'ns'")[0]!.values).toEqual([
      ['{"a":1}'],
    ]);
    fresh.close();

    const real = new Database(file, { readonly: true });
    cleanup.push(async () => {
      real.close();
    });
    expect(
      real.prepare('SELECT text FROM messages WHERE chat_id = ? AND seq = ?').get('c1', 7),
    ).toEqual({ text: 'm6' });
    expect(real.pragma('integrity_check', { simple: true })).toBe('ok');
  });

  it('close writes a final snapshot and leaves no journal segment behind', async () => {
    const { storage, dir } = await openStore();
    await storage.createChat(chat('c1'));
    await storage.close();
    expect((await readdir(dir)).sort()).toEqual(['ca-chat.db']);
  });

  it('writes go on while a snapshot is being written, and all of them survive', async () => {
    const log = recordingLogger();
    const { storage, dir } = await openStore({ journalMaxRecords: 200, logger: log.logger });
    await storage.createChat(chat('c1'));
    const started = log.next('snapshot started');
    const written = log.next('snapshot written');
    await Promise.all(
      Array.from({ length: 200 }, (_, i) => storage.appendMessage(message('c1', `before ${i}`))),
    );
    await started;
    // These land in the next journal segment while the worker folds the previous ones.
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => storage.appendMessage(message('c1', `during ${i}`))),
    );
    await written;
    const crashed = await tempDir();
    cleanup.push(() => rm(crashed, { recursive: true, force: true }));
    await crashCopy(dir, crashed);
    const reopened = createSqliteStorage({ file: join(crashed, 'ca-chat.db') });
    await reopened.init();
    cleanup.push(() => reopened.close());
    expect(await reopened.lastSeq('c1')).toBe(500);
  });
  it('a snapshot that times out is abandoned, and nothing is lost', async () => {
    const log = recordingLogger();
    const { storage, dir } = await openStore({
      journalMaxRecords: 20,
      snapshotTimeoutMs: 1,
      logger: log.logger,
    });
    const failed = log.next('snapshot failed; the journal is kept and folded later');
    await storage.createChat(chat('c1'));
    for (let i = 0; i < 30; i++) await storage.appendMessage(message('c1', `m${i}`));
    await failed;
    expect(log.entries.some((e) => e.msg === 'snapshot timed out')).toBe(true);
    await storage.appendMessage(message('c1', 'after'));
    await storage.close();
    const reopened = createSqliteStorage({ file: join(dir, 'ca-chat.db') });
    await reopened.init();
    cleanup.push(() => reopened.close());
    expect(await reopened.lastSeq('c1')).toBe(31);
  });
});
