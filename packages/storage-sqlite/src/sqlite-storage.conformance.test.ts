import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Storage } from '@ca-chat/core';
import { runStorageConformance } from '@ca-chat/core/testing';
import { createSqliteStorage, type SqliteStorageOptions } from './sqlite-storage.js';
import { crashCopy } from './test-support/helpers.js';

runStorageConformance({ name: 'sqlite (in memory)', create: async () => createSqliteStorage() });

/** Each file-backed storage gets its own temp folder (and options), removed after the test. */
const opened = new WeakMap<Storage, { dir: string; options: SqliteStorageOptions }>();

async function fileBacked(options: SqliteStorageOptions = {}): Promise<Storage> {
  const dir = await mkdtemp(join(tmpdir(), 'ca-chat-sqlite-'));
  const storage = createSqliteStorage({ ...options, file: join(dir, 'ca-chat.db') });
  opened.set(storage, { dir, options });
  return storage;
}

async function destroy(storage: Storage): Promise<void> {
  await storage.close();
  const entry = opened.get(storage);
  if (entry) await rm(entry.dir, { recursive: true, force: true });
}

async function reopen(storage: Storage): Promise<Storage> {
  await storage.close();
  const entry = opened.get(storage)!;
  const next = createSqliteStorage({ ...entry.options, file: join(entry.dir, 'ca-chat.db') });
  opened.set(next, entry);
  return next;
}

runStorageConformance({ name: 'sqlite (file)', create: () => fileBacked(), destroy });

// Tiny journal thresholds: worker snapshots run in the middle of the cases.
runStorageConformance({
  name: 'sqlite (file, reopen, snapshot every 25 ops)',
  create: () => fileBacked({ journalMaxRecords: 25 }),
  destroy,
  reopen,
});

/**
 * Reopens what a crash would leave (the files as they are on disk, copied while the
 * storage is still open) so every durability case also runs start-up replay. Default
 * thresholds keep worker snapshots out of the way of the copy.
 */
async function reopenAfterCrash(storage: Storage): Promise<Storage> {
  const entry = opened.get(storage)!;
  const dir = await mkdtemp(join(tmpdir(), 'ca-chat-sqlite-crashed-'));
  await crashCopy(entry.dir, dir);
  await destroy(storage);
  const next = createSqliteStorage({ ...entry.options, file: join(dir, 'ca-chat.db') });
  opened.set(next, { dir, options: entry.options });
  return next;
}

runStorageConformance({
  name: 'sqlite (file, reopen after a simulated crash)',
  create: () => fileBacked(),
  destroy,
  reopen: reopenAfterCrash,
});
