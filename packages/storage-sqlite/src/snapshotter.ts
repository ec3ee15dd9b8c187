import { stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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
  /** Where snapshots are written (started before the database was loaded). */
  process: SnapshotProcess;
  /** A snapshot process taking longer is killed (the journal is kept). */
  snapshotTimeoutMs: number;
  /** Journal already waiting to be folded (replayed at start-up). */
  pendingBytes: number;
  pendingOps: number;
}

interface JobResult {
  bytes: number;
  ops: number;
  /** The snapshot process and its CPU priority (nice value), for the log. */
  pid: number;
  priority: number;
}

// Found beside this module: src/snapshot-worker.js under vitest, dist/snapshot-worker.js
// once built (tsup's shims give the CJS build an import.meta.url too).
const WORKER_URL = new URL('./snapshot-worker.js', import.meta.url);
/** What a failed snapshot process printed, kept for the error (the tail of it). */
const STDERR_KEPT_BYTES = 4096;

/**
 * The low-priority process that writes snapshots, started when the storage opens and used
 * for every snapshot. Started early on purpose: fork() copies the parent's page tables, so
 * forking a process that holds a database of hundreds of MB blocks the writers' thread for
 * tens of ms (78 ms measured at 300 MB); at open it costs a few. It is started again
 * (lazily) only after a failure or a timeout killed it.
 */
export class SnapshotProcess {
  private child: ChildProcess | null = null;
  private nextJobId = 1;
  private readonly jobs = new Map<
    number,
    { resolve: (result: JobResult) => void; reject: (error: Error) => void }
  >();
  private stderr = '';

  constructor(private readonly logger: Logger) {}

  /** Forks the process now (while this one is small) unless it runs already. */
  start(): ChildProcess {
    if (this.child) return this.child;
    const child = fork(fileURLToPath(WORKER_URL), [], {
      // Not the parent's flags (loaders, --inspect, profilers): a plain Node process.
      execArgv: [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    this.child = child;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-STDERR_KEPT_BYTES);
    });
    child.on('message', (message: { id: number; ok: boolean; message?: string } & JobResult) => {
      const job = this.jobs.get(message.id);
      if (!job) return;
      this.jobs.delete(message.id);
      this.idleIfDone(child);
      if (message.ok)
        job.resolve({
          bytes: message.bytes,
          ops: message.ops,
          pid: message.pid,
          priority: message.priority,
        });
      else
        job.reject(
          new CaChatError('storage_error', `snapshot process: ${message.message ?? 'failed'}`),
        );
    });
    child.on('error', (error) => this.logger.error({ err: error }, 'snapshot process error'));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      const error = new CaChatError(
        'storage_error',
        `snapshot process exited with ${signal ?? `code ${code}`}`,
        { details: { stderr: this.stderr.trim() } },
      );
      for (const job of this.jobs.values()) job.reject(error);
      this.jobs.clear();
    });
    this.idleIfDone(child);
    return child;
  }

  /** An idle snapshot process must not keep the storage's process alive. */
  private idleIfDone(child: ChildProcess): void {
    if (this.jobs.size > 0) return;
    child.unref();
    child.channel?.unref();
  }

  run(job: Record<string, unknown>, timeoutMs: number): Promise<JobResult> {
    const child = this.start();
    const id = this.nextJobId++;
    // Kept alive while a snapshot is being written.
    child.ref();
    child.channel?.ref();
    // A stuck snapshot must not block snapshots (or close) forever: kill it; the journal
    // segments are kept and the next snapshot (in a new process) folds them.
    const timer = setTimeout(() => {
      this.logger.error({ timeoutMs }, 'snapshot timed out');
      child.kill('SIGKILL');
    }, timeoutMs);
    return new Promise<JobResult>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      child.send({ ...job, id });
    }).finally(() => clearTimeout(timer));
  }

  /** Stops the process (a snapshot it was writing is abandoned; its temp file is removed at the next start). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.ref(); // an idle one is unref'd, and its exit must still be awaited
      child.kill('SIGKILL');
      await exited;
    }
  }
}

/**
 * Decides when to fold the journal into a new snapshot and has a separate, low-priority
 * process do it. A process, not a worker thread: on a small machine a thread's page faults
 * and allocations (hundreds of MB per snapshot) contend with the writers' thread inside one
 * address space (a niced thread holding the process's memory-map lock stalls the main
 * thread's garbage collector for tens of ms), and its memory is only returned by exiting.
 * The protocol keeps every step crash-safe: rotate the journal (new writes go to a new
 * segment), let the snapshot process build a snapshot from the old snapshot plus the closed segments
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
        {
          file,
          through,
          bytes: result.bytes,
          ops: result.ops,
          ms: Date.now() - started,
          pid: result.pid,
          priority: result.priority,
        },
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
    return this.options.process.run(job, this.options.snapshotTimeoutMs);
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
    await this.options.process.stop();
  }
}

function range(from: number, through: number): number[] {
  const out: number[] = [];
  for (let n = from; n <= through; n++) out.push(n);
  return out;
}
