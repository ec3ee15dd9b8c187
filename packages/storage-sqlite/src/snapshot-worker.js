// The snapshot worker: folds journal segments into a new snapshot off the main thread, so
// writers never wait for `db.export()` (about 1.2 ms per MB, all of it blocking).
// It owns a separate sql.js instance: for each job it loads the current snapshot from disk,
// replays the closed segments it is given, and writes the result as the new snapshot
// (temp file, fsync, rename, fsync the folder). It keeps nothing between jobs, so its
// memory is given back when idle and it can never drift from what is on disk.
//
// Plain JavaScript (not TypeScript) so it runs as a worker from `src` under vitest and from
// `dist` after a build alike.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { parentPort } from 'node:worker_threads';
import { replaceFileDurably } from './durable-file.js';
import { replayFrame, scanFrames } from './journal-format.js';

const require = createRequire(import.meta.url);
const initSqlJs = require('sql.js');

let loading;

async function readIfExists(path) {
  try {
    return await readFile(path);
  } catch (error) {
    if (error.code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * job: { file, tempFile, wasmPath, baseSegment, throughSegment, segments: string[], metaKey }
 * Returns { bytes, ops } on success.
 */
async function snapshot(job) {
  loading ??= initSqlJs({ locateFile: () => job.wasmPath });
  const SQL = await loading;
  let existing = await readIfExists(job.file);
  const hadSnapshot = existing !== null;
  const db = new SQL.Database(existing);
  existing = null; // sql.js copied it; let the buffer go before the database grows
  const statements = new Map();
  try {
    // The same settings as configureConnection in recovery.ts.
    db.run('PRAGMA locking_mode = EXCLUSIVE');
    db.run('PRAGMA journal_mode = MEMORY');
    db.run('PRAGMA synchronous = OFF');
    db.run('PRAGMA cache_size = -16384');
    const base = hadSnapshot
      ? Number(
          db.exec('SELECT value FROM ca_chat_meta WHERE key = ?', [job.metaKey])[0]
            ?.values[0]?.[0] ?? 0,
        )
      : 0;
    // A base other than the one the main thread expects means the files changed under us.
    if (base !== job.baseSegment)
      throw new Error(`snapshot covers segment ${base}, expected ${job.baseSegment}`);
    let ops = 0;
    for (const path of job.segments) {
      const scan = scanFrames(await readFile(path));
      if (scan.tail !== 'clean')
        throw new Error(`journal segment ${path} is ${scan.tail} at byte ${scan.badOffset}`);
      // One transaction per frame, as at start-up: bigger ones spill the page cache.
      for (const payload of scan.payloads) {
        db.run('BEGIN');
        ops += replayFrame(db, payload, statements);
        db.run('COMMIT');
      }
    }
    db.run('INSERT OR REPLACE INTO ca_chat_meta (key, value) VALUES (?, ?)', [
      job.metaKey,
      String(job.throughSegment),
    ]);
    for (const statement of statements.values()) statement.free();
    statements.clear();
    const bytes = db.export();
    await replaceFileDurably(job.file, job.tempFile, bytes);
    return { bytes: bytes.length, ops };
  } finally {
    for (const statement of statements.values()) statement.free();
    db.close();
  }
}

parentPort.on('message', (job) => {
  snapshot(job).then(
    (result) => parentPort.postMessage({ id: job.id, ok: true, ...result }),
    (error) =>
      parentPort.postMessage({
        id: job.id,
        ok: false,
        message: error instanceof Error ? error.message : String(error),
      }),
  );
});
