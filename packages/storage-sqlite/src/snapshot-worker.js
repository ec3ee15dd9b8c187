// The snapshot process (started by snapshotter.ts with child_process.fork when the storage
// opens): folds journal segments into a new snapshot away from the writers, who never wait
// for it. For each job it loads the current snapshot from disk, replays the closed segments
// it is given and writes the result as the new snapshot (temp file, fsync, rename, fsync
// the folder). Nothing is kept between jobs but the WebAssembly heap (its page cache), so
// it can never drift from what is on disk. It exits when its storage process goes away.
//
// Plain JavaScript (not TypeScript) so it runs from `src` under vitest and from `dist`
// after a build alike.
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { getPriority, setPriority } from 'node:os';
import { replaceFileDurably } from './durable-file.js';
import { openWithRoom, pagesInFile, readIntoRoom } from './file-room.js';
import {
  REPLAY_CACHE_KIB,
  REPLAY_OPS_PER_COMMIT,
  replayFrame,
  scanFrames,
} from './journal-format.js';

const require = createRequire(import.meta.url);
const initSqlJs = require('sql.js');

/** The lowest priority: the writers' process must win every contest for a CPU. */
const NICEST = 19;

/**
 * Lowers this process's CPU priority, every thread of it (Linux keeps a nice value per
 * thread; threads started later inherit it). On a small machine the snapshot's seconds of
 * CPU otherwise compete with the writers' thread. Elsewhere: the main thread only.
 */
async function lowerPriority() {
  try {
    for (const tid of await readdir('/proc/self/task')) setPriority(Number(tid), NICEST);
  } catch {
    try {
      setPriority(NICEST);
    } catch {
      // Not allowed: normal priority.
    }
  }
}

/**
 * Room for the snapshot to grow while the segments replay (each journal byte adds well
 * under a byte of database), so the file is never copied as it grows.
 */
const roomFor = (journalBytes) => (fileBytes) =>
  Math.ceil((fileBytes + journalBytes) * 1.125) + 1024 * 1024;

/**
 * job: { file, wasmPath, baseSegment, throughSegment, segments: string[], metaKey }
 * Returns { bytes, ops } on success.
 */
let loading;

async function snapshot(job) {
  loading ??= initSqlJs({ locateFile: () => job.wasmPath });
  const SQL = await loading;
  const journals = [];
  for (const path of job.segments) journals.push({ path, bytes: await readFile(path) });
  const journalBytes = journals.reduce((sum, j) => sum + j.bytes.length, 0);
  const { image, room } = await readIntoRoom(job.file, roomFor(journalBytes));
  const { db, file } = openWithRoom(SQL, image, room);
  const statements = new Map();
  try {
    // The same settings as configureConnection in recovery.ts.
    db.run('PRAGMA locking_mode = EXCLUSIVE');
    db.run('PRAGMA journal_mode = MEMORY');
    db.run('PRAGMA synchronous = OFF');
    db.run(`PRAGMA cache_size = -${REPLAY_CACHE_KIB}`);
    const base =
      image !== null
        ? Number(
            db.exec('SELECT value FROM ca_chat_meta WHERE key = ?', [job.metaKey])[0]
              ?.values[0]?.[0] ?? 0,
          )
        : 0;
    // A base other than the one the main thread expects means the files changed under us.
    if (base !== job.baseSegment)
      throw new Error(`snapshot covers segment ${base}, expected ${job.baseSegment}`);
    let ops = 0;
    let opsInTransaction = 0;
    for (const journal of journals) {
      const scan = scanFrames(journal.bytes);
      if (scan.tail !== 'clean')
        throw new Error(
          `journal segment ${journal.path} is ${scan.tail} at byte ${scan.badOffset}`,
        );
      // Big transactions, as at start-up (see journal-format.js).
      for (const payload of scan.payloads) {
        if (opsInTransaction === 0) db.run('BEGIN');
        const count = replayFrame(db, payload, statements);
        ops += count;
        opsInTransaction += count;
        if (opsInTransaction >= REPLAY_OPS_PER_COMMIT) {
          db.run('COMMIT');
          opsInTransaction = 0;
        }
      }
      journal.bytes = null; // replayed: let it go
    }
    if (opsInTransaction > 0) db.run('COMMIT');
    db.run('INSERT OR REPLACE INTO ca_chat_meta (key, value) VALUES (?, ?)', [
      job.metaKey,
      String(job.throughSegment),
    ]);
    for (const statement of statements.values()) statement.free();
    statements.clear();
    const bytes = fileBytes(db, file);
    // Named for this process: if the writer crashes meanwhile, its successor may start a
    // snapshot of its own, which must never write into (or rename) this one's file.
    await replaceFileDurably(job.file, `${job.file}.snapshot-tmp-${process.pid}`, bytes, () => {
      // The writer is gone (crashed): its successor may already have read the old snapshot
      // and removed this temp file; don't race it.
      if (!process.connected) throw new Error('the storage process has gone away');
    });
    return { bytes: bytes.length, ops, pid: process.pid, priority: getPriority() };
  } finally {
    for (const statement of statements.values()) statement.free();
    db.close();
  }
}

/**
 * The database file as it stands (everything is committed): straight from the array sql.js
 * keeps it in when it has room, which spares `export()`'s copy of the whole file, and
 * through `export()` otherwise. The header's page count must agree with SQLite's, which
 * also proves the array really is the live file.
 */
function fileBytes(db, file) {
  if (file !== null) {
    const pages = Number(db.exec('PRAGMA page_count')[0]?.values[0]?.[0] ?? 0);
    const pageSize = Number(db.exec('PRAGMA page_size')[0]?.values[0]?.[0] ?? 0);
    const length = pages * pageSize;
    if (pages > 0 && pagesInFile(file) === pages && length <= file.length)
      return file.subarray(0, length);
  }
  return db.export();
}

// The parent gone (crashed or killed) means nobody wants a snapshot any more. This process
// ends only that way (or killed), so any ending is a failure: also when the channel closed
// before this listener existed and the process simply runs out of work.
process.exitCode = 1;
process.on('disconnect', () => process.exit(1));
const lowered = lowerPriority();
// Jobs come one at a time (the snapshotter waits for each); queued anyway, to be safe.
let queue = Promise.resolve();
process.on('message', (job) => {
  queue = queue
    .then(() => lowered)
    .then(() => snapshot(job))
    .then(
      (result) => ({ id: job.id, ok: true, ...result }),
      (error) => ({
        id: job.id,
        ok: false,
        message: error instanceof Error ? error.message : String(error),
      }),
    )
    .then((reply) => {
      if (process.connected) process.send(reply);
    });
});
