import { stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CaChatError, type Logger } from '@ca-chat/core';
import { fsyncDirectory, replaceFileDurably } from './durable-file.js';
import { segmentPath, snapshotTempPath } from './journal-files.js';
import type { JournalWriter } from './journal-writer.js';
import { META_SNAPSHOT_SEGMENT } from './schema.js';
import type { SqlDatabase } from './sql-database.js';
import { SQL_WASM_PATH } from './sql-js.js';

export interface SnapshotterOptions {
  file: string;
  logger: Logger;
  journal: JournalWriter;
  /** The last segment the snapshot on disk contains. */
  baseSegment: number;
  journalMaxBytes: number;
  journalMaxRecords: number;
  /** A worker snapshot taking longer is abandoned (the journal is kept). */
  snapshotTimeoutMs: number;
  /** Journal already waiting to be folded (replayed at start-up). */
  pendingBytes: number;
  pendingOps: number;
}

interface JobResult {
  bytes: number;
  ops: number;
}

// Found beside this module: src/snapshot-worker.js under vitest, dist/snapshot-worker.js
// once built (tsup's shims give the CJS build an import.meta.url too).
const WORKER_URL = new URL('./snapshot-worker.js', import.meta.url);

/**
 * Decides when to fold the journal into a new snapshot and has a worker thread do it.
 * The protocol keeps every step crash-safe: rotate the journal (new writes go to a new
 * segment), let the worker build a snapshot from the old snapshot plus the closed segments
 * and rename it into place (it records the last segment it covers), then delete those
 * segments. A crash at any point leaves a snapshot plus segments that replay to the same
 * state; segments the snapshot already covers are skipped and removed at the next start.
 */
export class Snapshotter {
  private base: number;
  private bytesSince: number;
  private opsSince: number;
  private running: Promise<void> | null = null;
  private stopped = false;
  private worker: Worker | null = null;
  private nextJobId = 1;
  private readonly jobs = new Map<
    number,
    { resolve: (result: JobResult) => void; reject: (error: Error) => void }
  >();

  constructor(private readonly options: SnapshotterOptions) {
    this.base = options.baseSegment;
    this.bytesSince = options.pendingBytes;
    this.opsSince = options.pendingOps;
  }

  /** Journal bookkeeping after each fsync'd frame. */
  noteFlushed(bytes: number, ops: number): void {
    this.bytesSince += bytes;
    this.opsSince += ops;
    this.maybeStart();
  }

  maybeStart(): void {
    if (this.stopped || this.running) return;
    if (
      this.bytesSince < this.options.journalMaxBytes &&
      this.opsSince < this.options.journalMaxRecords
    )
      return;
    this.running = this.runInWorker().finally(() => {
      this.running = null;
    });
  }

  /** No new snapshots from now on (a running one finishes). */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves when no snapshot is running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async runInWorker(): Promise<void> {
    const { file, logger, journal } = this.options;
    const started = Date.now();
    let through: number;
    try {
      through = await journal.rotate();
    } catch (error) {
      logger.error({ err: error, file }, 'snapshot: could not rotate the journal');
      return;
    }
    // Counted from here on: what goes into the new segment. If this snapshot fails, the
    // closed segments are kept and folded by the next one, after another threshold's worth.
    this.bytesSince = 0;
    this.opsSince = 0;
    const segments = range(this.base + 1, through).map((n) => segmentPath(file, n));
    logger.info({ file, through, segments: segments.length }, 'snapshot started');
    try {
      const result = await this.runJob({
        file,
        tempFile: snapshotTempPath(file),
        wasmPath: SQL_WASM_PATH,
        baseSegment: this.base,
        throughSegment: through,
        segments,
        metaKey: META_SNAPSHOT_SEGMENT,
      });
      const previous = this.base;
      this.base = through;
      await this.removeSegments(previous + 1, through);
      logger.info(
        { file, through, bytes: result.bytes, ops: result.ops, ms: Date.now() - started },
        'snapshot written',
      );
    } catch (error) {
      logger.error(
        { err: error, file, through },
        'snapshot failed; the journal is kept and folded later',
      );
    }
  }

  private runJob(job: Record<string, unknown>): Promise<JobResult> {
    const worker = this.ensureWorker();
    const id = this.nextJobId++;
    worker.ref(); // keep the process alive while a snapshot is being written
    // A stuck worker must not block snapshots (or close) forever: stop it; the journal
    // segments are kept and the next snapshot folds them.
    const timer = setTimeout(() => {
      this.options.logger.error(
        { file: this.options.file, timeoutMs: this.options.snapshotTimeoutMs },
        'snapshot timed out',
      );
      void worker.terminate();
    }, this.options.snapshotTimeoutMs);
    return new Promise<JobResult>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      worker.postMessage({ ...job, id });
    }).finally(() => {
      clearTimeout(timer);
      if (this.jobs.size === 0) this.worker?.unref();
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_URL);
    worker.unref();
    const failAll = (error: Error): void => {
      if (this.worker === worker) this.worker = null;
      for (const job of this.jobs.values()) job.reject(error);
      this.jobs.clear();
    };
    worker.on('message', (message: { id: number; ok: boolean; message?: string } & JobResult) => {
      const job = this.jobs.get(message.id);
      if (!job) return;
      this.jobs.delete(message.id);
      if (message.ok) job.resolve({ bytes: message.bytes, ops: message.ops });
      else
        job.reject(
          new CaChatError('storage_error', `snapshot worker: ${message.message ?? 'failed'}`),
        );
    });
    worker.on('error', (error) => failAll(error));
    worker.on('exit', (code) =>
      failAll(new CaChatError('storage_error', `snapshot worker exited with code ${code}`)),
    );
    this.worker = worker;
    return worker;
  }

  private async removeSegments(from: number, through: number): Promise<void> {
    for (const n of range(from, through))
      await unlink(segmentPath(this.options.file, n)).catch(() => undefined);
    await fsyncDirectory(dirname(this.options.file));
  }

  /**
   * At close: waits for a running snapshot, then folds what is left on this thread (the
   * writers are gone, so blocking on export no longer matters) and removes the journal.
   * `sql` must hold everything the journal holds. The journal must be closed already.
   */
  async closeWithSnapshot(sql: SqlDatabase | null): Promise<void> {
    this.stopped = true;
    await this.idle();
    await this.stopWorker();
    const { file, logger } = this.options;
    const through = this.options.journal.segment;
    if (sql === null) return;
    const segments = range(this.base + 1, through);
    const sizes = await Promise.all(
      segments.map((n) =>
        stat(segmentPath(file, n)).then(
          (s) => s.size,
          () => 0,
        ),
      ),
    );
    if (sizes.some((size) => size > 0)) {
      const started = Date.now();
      sql.exec('INSERT OR REPLACE INTO ca_chat_meta (key, value) VALUES (?, ?)', [
        META_SNAPSHOT_SEGMENT,
        String(through),
      ]);
      const bytes = sql.db.export();
      await replaceFileDurably(file, snapshotTempPath(file), bytes);
      this.base = through;
      logger.info(
        { file, through, bytes: bytes.length, ms: Date.now() - started },
        'snapshot written at close',
      );
    }
    // Empty segments hold nothing; with a snapshot written, neither do the others.
    await this.removeSegments(segments[0] ?? through + 1, through);
  }

  async stopWorker(): Promise<void> {
    this.stopped = true;
    const worker = this.worker;
    this.worker = null;
    if (worker) await worker.terminate();
  }
}

function range(from: number, through: number): number[] {
  const out: number[] = [];
  for (let n = from; n <= through; n++) out.push(n);
  return out;
}
