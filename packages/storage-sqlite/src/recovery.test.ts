import {
  appendFile,
  copyFile,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { CaChatError } from '@ca-chat/core';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, scanFrames } from './journal-format.js';
import { listSegments, segmentPath } from './journal-files.js';
import { SCHEMA_VERSION } from './schema.js';
import { loadSqlJs } from './sql-js.js';
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

const flipBits = (bytes: Buffer, offset: number, mask: number): void => {
  bytes.writeUInt8(bytes.readUInt8(offset) ^ mask, offset);
};

async function folder(): Promise<string> {
  const dir = await tempDir();
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function open(
  dir: string,
  options: Parameters<typeof createSqliteStorage>[0] = {},
): Promise<SqliteStorage> {
  const storage = createSqliteStorage({ ...options, file: join(dir, 'ca-chat.db') });
  await storage.init();
  cleanup.push(() => storage.close());
  return storage;
}

async function openError(dir: string): Promise<CaChatError> {
  const storage = createSqliteStorage({ file: join(dir, 'ca-chat.db') });
  const error = await storage.init().then(
    () => null,
    (e: unknown) => e,
  );
  await storage.close();
  if (!CaChatError.isInstance(error))
    throw new Error(`expected a CaChatError, got ${String(error)}`);
  return error;
}

/**
 * Leaves `dir` as a crash would: a closed snapshot with `snapshotted` messages, then a
 * journal (not folded) with `journaled` more, all in chat c1. Returns the last segment's path.
 */
async function crashedFolder(
  snapshotted: number,
  journaled: number,
): Promise<{ dir: string; lastSegment: string }> {
  const live = await folder();
  const storage = createSqliteStorage({ file: join(live, 'ca-chat.db') });
  await storage.init();
  await storage.createChat(chat('c1'));
  // One tick, one frame; calls run in order, so m1 gets seq 1 and so on.
  await Promise.all(
    Array.from({ length: snapshotted }, (_, i) =>
      storage.appendMessage(message('c1', `m${i + 1}`)),
    ),
  );
  await storage.close();
  const reopened = createSqliteStorage({ file: join(live, 'ca-chat.db') });
  await reopened.init();
  // One frame per message: the tests below damage particular frames.
  for (let i = snapshotted + 1; i <= snapshotted + journaled; i++)
    await reopened.appendMessage(message('c1', `m${i}`));
  const dir = await folder();
  await crashCopy(live, dir);
  await reopened.close();
  const segments = await listSegments(join(dir, 'ca-chat.db'));
  return { dir, lastSegment: segmentPath(join(dir, 'ca-chat.db'), segments.at(-1)!) };
}

describe('start-up recovery', () => {
  it('replays the journal written after the snapshot: every acknowledged write is back', async () => {
    const { dir } = await crashedFolder(5, 7);
    const storage = await open(dir);
    expect((await storage.listMessages('c1')).map((m) => m.text)).toEqual(
      Array.from({ length: 12 }, (_, i) => `m${i + 1}`),
    );
  });

  it('ignores a torn last frame and cuts it away', async () => {
    const { dir, lastSegment } = await crashedFolder(2, 3);
    const bytes = await readFile(lastSegment);
    const whole = scanFrames(bytes).validBytes;
    // Cut short where the next frame would go: in the zero-filled space ahead of the writes.
    const torn = encodeFrame([[['INSERT INTO kv VALUES (?, ?, ?)', ['ns', 'torn', '1']]]]);
    const withTorn = Buffer.alloc(Math.max(bytes.length, whole + torn.length));
    bytes.copy(withTorn);
    torn.subarray(0, 20).copy(withTorn, whole);
    await writeFile(lastSegment, withTorn);
    const storage = await open(dir);
    expect(await storage.lastSeq('c1')).toBe(5);
    expect(await storage.kvGet('ns', 'torn')).toBeNull();
    expect((await stat(lastSegment)).size).toBe(whole);
  });

  it('ignores a torn last frame at the very end of the file', async () => {
    const { dir, lastSegment } = await crashedFolder(2, 3);
    const whole = scanFrames(await readFile(lastSegment)).validBytes;
    await truncate(lastSegment, whole);
    await appendFile(
      lastSegment,
      encodeFrame([[['INSERT INTO kv VALUES (?, ?, ?)', ['ns', 'torn', '1']]]]).subarray(0, 20),
    );
    const storage = await open(dir);
    expect(await storage.lastSeq('c1')).toBe(5);
    expect(await storage.kvGet('ns', 'torn')).toBeNull();
  });

  it('ignores a last frame whose payload checksum fails', async () => {
    const { dir, lastSegment } = await crashedFolder(2, 3);
    const bytes = await readFile(lastSegment);
    const { payloads: frames, validBytes } = scanFrames(bytes);
    flipBits(bytes, validBytes - 2, 0xff); // inside the last frame's payload
    await writeFile(lastSegment, bytes);
    const storage = await open(dir);
    expect(await storage.lastSeq('c1')).toBe(2 + frames.length - 1);
  });

  it("removes half-written snapshots left by a crash (its own and a snapshot process's) at start-up", async () => {
    const { dir } = await crashedFolder(2, 3);
    await writeFile(join(dir, 'ca-chat.db.snapshot-tmp'), 'half');
    await writeFile(join(dir, 'ca-chat.db.snapshot-tmp-4242'), 'half');
    const storage = await open(dir);
    expect(await storage.lastSeq('c1')).toBe(5);
    expect((await readdir(dir)).filter((name) => name.includes('snapshot-tmp'))).toEqual([]);
  });

  it('ignores a zero-filled tail (a file extended but never written)', async () => {
    const { dir, lastSegment } = await crashedFolder(2, 3);
    await appendFile(lastSegment, Buffer.alloc(4096));
    const storage = await open(dir);
    expect(await storage.lastSeq('c1')).toBe(5);
  });

  it('refuses a bad checksum in the middle of the journal with corrupt_data and changes no file', async () => {
    const { dir, lastSegment } = await crashedFolder(2, 4);
    const bytes = await readFile(lastSegment);
    const firstFrameEnd = 12 + bytes.readUInt32LE(0);
    flipBits(bytes, firstFrameEnd - 3, 0x01);
    await writeFile(lastSegment, bytes);
    const before = await hashFolder(dir);
    const error = await openError(dir);
    expect(error.code).toBe('corrupt_data');
    expect(await hashFolder(dir)).toEqual(before);
  });

  it('refuses when a journal segment is missing', async () => {
    const { dir } = await crashedFolder(2, 3);
    await writeFile(segmentPath(join(dir, 'ca-chat.db'), 99), encodeFrame([[['SELECT 1', []]]]));
    expect((await openError(dir)).code).toBe('corrupt_data');
  });

  it('skips and removes segments the snapshot already contains (a crash between snapshot and cleanup)', async () => {
    const { dir, lastSegment } = await crashedFolder(3, 4);
    const leftover = join(await folder(), 'leftover');
    await copyFile(lastSegment, leftover);
    const first = await open(dir);
    await first.close(); // folds everything into the snapshot, removes the segments
    await copyFile(leftover, lastSegment); // …as if the crash came before the removal
    const storage = await open(dir);
    expect(await storage.lastSeq('c1')).toBe(7);
    expect(await readdir(dir)).not.toContain(lastSegment.split('/').pop());
  });

  it('refuses a snapshot with a newer schema with schema_too_new and leaves it untouched', async () => {
    const dir = await folder();
    const storage = await open(dir);
    await storage.close();
    const SQL = await loadSqlJs();
    const db = new SQL.Database(await readFile(join(dir, 'ca-chat.db')));
    db.run(`PRAGMA user_version = ${SCHEMA_VERSION + 1}`);
    await writeFile(join(dir, 'ca-chat.db'), db.export());
    db.close();
    const before = await hashFolder(dir);
    const error = await openError(dir);
    expect(error.code).toBe('schema_too_new');
    expect(error.message).toContain(String(SCHEMA_VERSION + 1));
    expect(await hashFolder(dir)).toEqual(before);
  });

  it('refuses a damaged snapshot with corrupt_data and leaves it untouched', async () => {
    const { dir } = await crashedFolder(300, 0);
    const file = join(dir, 'ca-chat.db');
    const bytes = await readFile(file);
    bytes.fill(0x5a, 4096 * 2, 4096 * 3); // garbage over a whole page
    await writeFile(file, bytes);
    const before = await hashFolder(dir);
    expect((await openError(dir)).code).toBe('corrupt_data');
    expect(await hashFolder(dir)).toEqual(before);
  });

  it('refuses a file that is not an SQLite database, and one that is SQLite but not ca-chat', async () => {
    const notSqlite = await folder();
    await writeFile(join(notSqlite, 'ca-chat.db'), 'hello, I am a text file'.repeat(50));
    expect((await openError(notSqlite)).code).toBe('corrupt_data');
    const foreign = await folder();
    const SQL = await loadSqlJs();
    const db = new SQL.Database();
    db.run('CREATE TABLE accounts (id INTEGER)');
    await writeFile(join(foreign, 'ca-chat.db'), db.export());
    db.close();
    expect((await openError(foreign)).code).toBe('corrupt_data');
  });

  it('a refused open releases the lock, so fixing the file and opening again works', async () => {
    const { dir, lastSegment } = await crashedFolder(2, 3);
    const bytes = await readFile(lastSegment);
    flipBits(bytes, 12 + bytes.readUInt32LE(0) - 3, 0x01);
    await writeFile(lastSegment, bytes);
    expect((await openError(dir)).code).toBe('corrupt_data');
    await truncate(lastSegment, 0); // an operator decides to drop the damaged journal
    const storage = await open(dir);
    expect(await storage.lastSeq('c1')).toBe(2);
  });
});

describe('lock and lifecycle', () => {
  it('a second storage on the same file gets locked, naming the pid that holds it', async () => {
    const dir = await folder();
    await open(dir);
    const error = await openError(dir);
    expect(error.code).toBe('locked');
    expect(error.message).toContain(`already in use by pid ${process.pid}`);
  });

  it('a lock left by a dead process is taken over', async () => {
    const dir = await folder();
    await writeFile(join(dir, 'ca-chat.db.lock'), '2147483646'); // no such pid
    const storage = await open(dir);
    await storage.createChat(chat('c1'));
    expect(await readFile(join(dir, 'ca-chat.db.lock'), 'utf8')).toBe(String(process.pid));
  });

  it('calls before init fail with not_started, init twice is harmless, calls after close fail with storage_error', async () => {
    const dir = await folder();
    const storage = createSqliteStorage({ file: join(dir, 'ca-chat.db') });
    await expect(storage.getChat('x')).rejects.toMatchObject({ code: 'not_started' });
    await storage.init();
    await storage.init();
    await storage.close();
    await storage.close();
    await expect(storage.getChat('x')).rejects.toMatchObject({ code: 'storage_error' });
  });
});

describe('size guard', () => {
  it('inserts fail with storage_full past maxDatabaseBytes, after a warning at 80%; deleting frees room again', async () => {
    const log = recordingLogger();
    const storage = await open(await folder(), {
      maxDatabaseBytes: 256 * 1024,
      logger: log.logger,
    });
    await storage.createChat(chat('c1'));
    let error: unknown = null;
    for (let i = 0; i < 10_000 && error === null; i++) {
      await storage
        .appendMessage(message('c1', `${i} ${'x'.repeat(500)}`))
        .catch((e: unknown) => (error = e));
    }
    expect(CaChatError.is(error, 'storage_full')).toBe(true);
    expect(log.entries.some((e) => e.level === 'warn' && e.msg?.includes('80%'))).toBe(true);
    const stored = await storage.lastSeq('c1');
    expect(stored).toBeGreaterThan(100);
    expect((await storage.getChat('c1'))?.id).toBe('c1');
    expect(await storage.endChat('c1', 'admin', 1)).not.toBeNull();
    await storage.deleteChat('c1');
    await storage.createChat(chat('c2'));
    expect((await storage.appendMessage(message('c2', 'room again'))).message.seq).toBe(1);
  });
});
