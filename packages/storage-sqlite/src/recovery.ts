import { open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CaChatError, type Logger } from '@ca-chat/core';
import type { SqlJsStatic, Statement } from 'sql.js';
import { fsyncDirectory } from './durable-file.js';
import { openWithRoom, readIntoRoom } from './file-room.js';
import { listSegments, listSnapshotTemps, segmentPath } from './journal-files.js';
import {
  REPLAY_CACHE_KIB,
  REPLAY_OPS_PER_COMMIT,
  replayFrame,
  scanFrames,
} from './journal-format.js';
import { META_SNAPSHOT_SEGMENT, SCHEMA_VERSION } from './schema.js';
import { SqlDatabase } from './sql-database.js';

export interface RecoveredState {
  sql: SqlDatabase;
  /** The last journal segment the snapshot already contains. */
  snapshotSegment: number;
  /** The segment new writes go to. */
  nextSegment: number;
  /** Journal not folded into the snapshot yet (replayed at this start). */
  pendingBytes: number;
  pendingOps: number;
  /** Applies the on-disk tidy-up (torn tail cut, folded segments removed); only after every check passed. */
  tidy: () => Promise<void>;
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Settings for a database living in sql.js memory: durability is the journal's job.
 * EXCLUSIVE locking matters most (about 4x per write): otherwise SQLite probes the
 * in-memory file system for a hot journal at the start of every transaction. The snapshot
 * process uses the same settings (snapshot-worker.js).
 */
export function configureConnection(sql: SqlDatabase): void {
  sql.exec('PRAGMA locking_mode = EXCLUSIVE');
  sql.exec('PRAGMA journal_mode = MEMORY');
  sql.exec('PRAGMA synchronous = OFF');
  // Room for a whole tick's dirty pages (see SqlDatabase.transact), so they never spill.
  sql.exec(`PRAGMA cache_size = -${CACHE_KIB}`);
}

const CACHE_KIB = 16 * 1024;

function corrupt(message: string, cause?: unknown): CaChatError {
  return new CaChatError('corrupt_data', message, cause === undefined ? {} : { cause });
}

function tooNew(file: string, version: number): CaChatError {
  return new CaChatError(
    'schema_too_new',
    `${file} has schema version ${version}, newer than this ca-chat understands (${SCHEMA_VERSION}); upgrade ca-chat`,
    { details: { version, supported: SCHEMA_VERSION } },
  );
}

/** Loads and checks the snapshot; refuses (without touching it) anything it can't trust. */
function loadSnapshot(
  SQL: SqlJsStatic,
  file: string,
  bytes: Buffer | null,
  room: Uint8Array | null,
  verify: boolean,
): { sql: SqlDatabase; segment: number } {
  if (bytes !== null && (bytes.length < 100 || !bytes.subarray(0, 16).equals(SQLITE_MAGIC))) {
    throw corrupt(`${file} is not an SQLite database`);
  }
  let sql: SqlDatabase;
  try {
    const opened = openWithRoom(SQL, bytes, room);
    sql = new SqlDatabase(opened.db, opened.file);
  } catch (error) {
    throw corrupt(`${file} cannot be opened`, error);
  }
  try {
    configureConnection(sql);
    if (bytes === null) return { sql, segment: 0 };
    if (verify) {
      const result = sql.all('PRAGMA quick_check').map((row) => String(row[0]));
      if (result.length !== 1 || result[0] !== 'ok')
        throw corrupt(`${file} is damaged: ${result.slice(0, 3).join('; ')}`);
    }
    const version = sql.userVersion();
    if (version > SCHEMA_VERSION) throw tooNew(file, version);
    if (version === 0) {
      const tables = Number(sql.get('SELECT count(*) FROM sqlite_master')?.[0] ?? 0);
      if (tables > 0) throw corrupt(`${file} is an SQLite database but not a ca-chat one`);
      return { sql, segment: 0 };
    }
    const row = sql.get('SELECT value FROM ca_chat_meta WHERE key = ?', [META_SNAPSHOT_SEGMENT]);
    return { sql, segment: row ? Number(row[0]) : 0 };
  } catch (error) {
    sql.close();
    if (CaChatError.isInstance(error)) throw error;
    // SQLITE_NOTADB / SQLITE_CORRUPT surface here, on the first read.
    throw corrupt(`${file} is damaged`, error);
  }
}

/**
 * Startup: load the snapshot, then replay the journal segments it doesn't cover, in order.
 * A torn last frame (a write cut short by a crash, never acknowledged) is ignored; damage
 * anywhere else refuses to start with `corrupt_data`, leaving every file as it was.
 */
export async function recover(
  SQL: SqlJsStatic,
  file: string,
  options: {
    verify: boolean;
    logger: Logger;
    /** How big the in-memory file may grow without a copy, given the snapshot's size. */
    roomBytes: (fileBytes: number) => number;
  },
): Promise<RecoveredState> {
  const started = Date.now();
  const snapshot = await readIntoRoom(file, options.roomBytes);
  const { sql, segment: snapshotSegment } = loadSnapshot(
    SQL,
    file,
    snapshot.image,
    snapshot.room,
    options.verify,
  );
  const statements = new Map<string, Statement>();
  try {
    const all = await listSegments(file);
    const folded = all.filter((n) => n <= snapshotSegment);
    const live = all.filter((n) => n > snapshotSegment);
    live.forEach((n, i) => {
      if (n !== snapshotSegment + 1 + i) {
        throw corrupt(
          `journal segment ${snapshotSegment + 1 + i} of ${file} is missing (found ${live.join(', ')})`,
        );
      }
    });
    let pendingBytes = 0;
    let pendingOps = 0;
    let tornTail: { path: string; validBytes: number } | null = null;
    // Replayed in big transactions, with a page cache big enough that their dirty pages
    // never spill: each page is then written to the in-memory file once per transaction
    // instead of once per frame (most frames touch the same few thousand pages).
    let opsInTransaction = 0;
    if (live.length > 0) sql.exec(`PRAGMA cache_size = -${REPLAY_CACHE_KIB}`);
    for (const [i, n] of live.entries()) {
      const path = segmentPath(file, n);
      const bytes = await readFile(path);
      const scan = scanFrames(bytes);
      const last = i === live.length - 1;
      if (scan.tail === 'corrupt' || (scan.tail === 'torn' && !last)) {
        throw corrupt(
          `journal segment ${path} is damaged at byte ${scan.badOffset} (checksum mismatch before later valid data)`,
        );
      }
      if (scan.tail === 'torn') tornTail = { path, validBytes: scan.validBytes };
      try {
        for (const payload of scan.payloads) {
          if (opsInTransaction === 0) sql.exec('BEGIN');
          const ops = replayFrame(sql.db, payload, statements);
          pendingOps += ops;
          opsInTransaction += ops;
          if (opsInTransaction >= REPLAY_OPS_PER_COMMIT) {
            sql.exec('COMMIT');
            opsInTransaction = 0;
          }
        }
        if (opsInTransaction > 0 && i === live.length - 1) sql.exec('COMMIT');
      } catch (error) {
        throw corrupt(`journal segment ${path} does not replay`, error);
      }
      pendingBytes += scan.validBytes;
    }
    if (live.length > 0) sql.exec(`PRAGMA cache_size = -${CACHE_KIB}`);
    const version = sql.userVersion();
    if (version > SCHEMA_VERSION) throw tooNew(file, version);
    for (const statement of statements.values()) statement.free();
    statements.clear();
    options.logger.info(
      {
        file,
        snapshotSegment,
        segments: live.length,
        replayedOps: pendingOps,
        tornTail: tornTail !== null,
        ms: Date.now() - started,
      },
      'storage recovered',
    );
    const tidy = async (): Promise<void> => {
      if (tornTail) {
        // Cut the torn frame away so the next segment never follows garbage.
        const handle = await open(tornTail.path, 'r+');
        try {
          await handle.truncate(tornTail.validBytes);
          await handle.sync();
        } finally {
          await handle.close();
        }
        options.logger.warn(
          { segment: tornTail.path, validBytes: tornTail.validBytes },
          'ignored a torn journal tail',
        );
      }
      for (const n of folded) await unlink(segmentPath(file, n)).catch(() => undefined);
      // A snapshot process orphaned by a crash may still be writing its file: unlinked
      // here, its rename then fails and it gives up (snapshot-worker.js).
      for (const temp of await listSnapshotTemps(file)) await unlink(temp).catch(() => undefined);
      await fsyncDirectory(dirname(file));
    };
    const nextSegment = Math.max(snapshotSegment, live[live.length - 1] ?? 0) + 1;
    return { sql, snapshotSegment, nextSegment, pendingBytes, pendingOps, tidy };
  } catch (error) {
    for (const statement of statements.values()) statement.free();
    sql.close();
    throw error;
  }
}
