import { constants as bufferConstants } from 'node:buffer';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '@ca-chat/core';
import { lockPath } from './journal-files.js';
import { JournalWriter } from './journal-writer.js';
import { acquireLock } from './lock-file.js';
import { recover } from './recovery.js';
import { SnapshotProcess, Snapshotter } from './snapshotter.js';
import type { SqlDatabase } from './sql-database.js';
import { loadSqlJs } from './sql-js.js';

export interface DurableParts {
  sql: SqlDatabase;
  journal: JournalWriter;
  snapshotter: Snapshotter;
  releaseLock: () => Promise<void>;
}

export interface OpenDurableOptions {
  file: string;
  logger: Logger;
  verify: boolean;
  maxDatabaseBytes: number;
  journalMaxBytes: number;
  journalMaxRecords: number;
  snapshotTimeoutMs: number;
}

/**
 * How big the in-memory file may grow without being copied (see file-room.js): a quarter
 * more than the larger of the limit and the file, since free pages and `maxDatabaseBytes`'s
 * slack (it stops inserts, not updates) make the file somewhat bigger than the data. Only
 * what is written takes memory, so generous room costs address space alone.
 */
function roomFor(fileBytes: number, maxDatabaseBytes: number): number {
  return Math.min(
    bufferConstants.MAX_LENGTH,
    Math.ceil(Math.max(maxDatabaseBytes, fileBytes) * 1.25),
  );
}

/**
 * Opens a database file for durable use: take the lock, recover (snapshot + journal),
 * tidy up, and start a fresh journal segment with its snapshotter. On any failure
 * everything opened so far is released and the files are left as they were.
 */
export async function openDurable(options: OpenDurableOptions): Promise<DurableParts> {
  const { file, logger } = options;
  await mkdir(dirname(file), { recursive: true });
  const releaseLock = await acquireLock(lockPath(file), file);
  let sql: SqlDatabase | null = null;
  let journal: JournalWriter | null = null;
  // Before the database is loaded: forking is cheap only while this process is small.
  const snapshotProcess = new SnapshotProcess(logger);
  try {
    snapshotProcess.start();
    const recovered = await recover(await loadSqlJs(), file, {
      verify: options.verify,
      logger,
      roomBytes: (fileBytes) => roomFor(fileBytes, options.maxDatabaseBytes),
    });
    sql = recovered.sql;
    await recovered.tidy();
    let snapshotter: Snapshotter | null = null;
    journal = new JournalWriter({
      file,
      segment: recovered.nextSegment,
      offset: 0,
      onFlushed: (bytes, ops) => snapshotter?.noteFlushed(bytes, ops),
      onFailure: (error) => logger.error({ err: error, file }, 'journal failed; storage stopped'),
    });
    await journal.start();
    snapshotter = new Snapshotter({
      file,
      logger,
      journal,
      baseSegment: recovered.snapshotSegment,
      journalMaxBytes: options.journalMaxBytes,
      journalMaxRecords: options.journalMaxRecords,
      snapshotTimeoutMs: options.snapshotTimeoutMs,
      process: snapshotProcess,
      pendingBytes: recovered.pendingBytes,
      pendingOps: recovered.pendingOps,
    });
    return { sql, journal, snapshotter, releaseLock };
  } catch (error) {
    await snapshotProcess.stop();
    await journal?.close().catch(() => undefined);
    sql?.close();
    await releaseLock();
    throw error;
  }
}
