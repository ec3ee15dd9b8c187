import type { Database, Statement } from 'sql.js';
import { pagesInFile } from './file-room.js';
import type { RecordedOp, SqlParam } from './journal-format.js';

export type SqlRow = (string | number | null)[];

/** Operations sharing one SQLite transaction at most (see transact). */
const MAX_OPS_PER_COMMIT = 256;
/** How often (in commits) to look whether the reserved file room is really in use. */
const ROOM_CHECK_COMMITS = 64;

/** Read access. Everything runs synchronously: nothing can interleave within one call. */
export interface SqlReader {
  get(sql: string, params?: SqlParam[]): SqlRow | undefined;
  all(sql: string, params?: SqlParam[]): SqlRow[];
}

/** Write access inside one transaction. */
export interface SqlWriter extends SqlReader {
  /** Runs a data change and returns the number of rows it changed. Journaled when that is > 0. */
  run(sql: string, params?: SqlParam[]): number;
  /** Runs schema DDL (journaled unconditionally). */
  ddl(sql: string): void;
}

/**
 * A sql.js database with a prepared-statement cache and operations that record the
 * statements which changed data, so the journal can replay exactly what committed.
 *
 * Writes of one tick share one SQLite transaction (committed by setImmediate), each
 * operation inside its own SAVEPOINT so it still rolls back alone. Committing once per
 * tick writes each dirty page to sql.js's in-memory file once instead of once per call,
 * which roughly halves the cost of a write. Nothing is lost by committing "late": the
 * in-memory file is not what makes data durable, the journal is.
 */
export class SqlDatabase implements SqlReader {
  private readonly statements = new Map<string, Statement>();
  private outerOpen = false;
  private opsInOuter = 0;
  private commitScheduled = false;

  /** Hears about a failed tick commit (out of memory): the database must not be used after it. */
  onCommitFailure: (error: unknown) => void = () => {};
  /** Hears (once) that sql.js did not keep the reserved file array, so growth copies the file. */
  onRoomUnused: () => void = () => {};
  private commitsSinceRoomCheck = 0;
  private readonly pagesAtOpen: number;

  /** `room`: the array holding the database file when it was opened with room (file-room.js). */
  constructor(
    readonly db: Database,
    private room: Uint8Array | null = null,
  ) {
    this.pagesAtOpen = room === null ? 0 : pagesInFile(room);
  }

  private prepare(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  get(sql: string, params: SqlParam[] = []): SqlRow | undefined {
    const statement = this.prepare(sql);
    try {
      statement.bind(params);
      return statement.step() ? (statement.get() as SqlRow) : undefined;
    } finally {
      statement.reset();
    }
  }

  all(sql: string, params: SqlParam[] = []): SqlRow[] {
    const statement = this.prepare(sql);
    const rows: SqlRow[] = [];
    try {
      statement.bind(params);
      while (statement.step()) rows.push(statement.get() as SqlRow);
    } finally {
      statement.reset();
    }
    return rows;
  }

  /** A one-off statement outside any recording (pragmas, bookkeeping). Commits the tick first. */
  exec(sql: string, params: SqlParam[] = []): void {
    this.commit();
    this.db.run(sql, params);
  }

  /**
   * Runs `fn` as one atomic operation. Its savepoint is opened lazily at the first change,
   * so read-only paths (a claim that finds the chat taken) cost nothing; on a throw, its
   * changes roll back and nothing is recorded.
   */
  transact<T>(fn: (writer: SqlWriter) => T): { result: T; op: RecordedOp } {
    const op: RecordedOp = [];
    let began = false;
    const begin = (): void => {
      if (began) return;
      if (!this.outerOpen) {
        this.prepare('BEGIN').run();
        this.outerOpen = true;
        this.scheduleCommit();
      }
      this.prepare('SAVEPOINT op').run();
      began = true;
    };
    const writer: SqlWriter = {
      get: (sql, params) => this.get(sql, params),
      all: (sql, params) => this.all(sql, params),
      run: (sql, params = []) => {
        begin();
        this.prepare(sql).run(params);
        const changes = this.db.getRowsModified();
        if (changes > 0) op.push([sql, params]);
        return changes;
      },
      ddl: (sql) => {
        begin();
        this.db.run(sql);
        op.push([sql, []]);
      },
    };
    try {
      const result = fn(writer);
      if (began) {
        this.prepare('RELEASE op').run();
        // Bounded so a tick's dirty pages fit in the page cache (spilling is very slow).
        if (++this.opsInOuter >= MAX_OPS_PER_COMMIT) this.commit();
      }
      return { result, op };
    } catch (error) {
      if (began) {
        this.prepare('ROLLBACK TO op').run();
        this.prepare('RELEASE op').run();
      }
      throw error;
    }
  }

  private scheduleCommit(): void {
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    setImmediate(() => {
      this.commitScheduled = false;
      try {
        this.commit();
      } catch (error) {
        this.onCommitFailure(error);
      }
    });
  }

  /** Commits the tick's transaction now (before export, close, pragmas). */
  commit(): void {
    if (!this.outerOpen) return;
    this.outerOpen = false;
    this.opsInOuter = 0;
    this.prepare('COMMIT').run();
    if (this.room !== null && ++this.commitsSinceRoomCheck >= ROOM_CHECK_COMMITS) this.checkRoom();
  }

  /**
   * Once the file has grown, the reserved array's header must show its new size if sql.js
   * really writes there. Checked once; if not, growth copies the file again (correct, but
   * with the pauses the room is there to avoid), which is worth a warning.
   */
  private checkRoom(): void {
    this.commitsSinceRoomCheck = 0;
    const room = this.room;
    if (room === null) return;
    const pages = Number(this.get('PRAGMA page_count')?.[0] ?? 0);
    if (pages <= this.pagesAtOpen) return;
    this.room = null;
    if (pagesInFile(room) !== pages) this.onRoomUnused();
  }

  /** Bytes in use: pages minus free pages (deleting frees pages that later writes reuse). */
  usedBytes(): number {
    const pages = Number(this.get('PRAGMA page_count')?.[0] ?? 0);
    const free = Number(this.get('PRAGMA freelist_count')?.[0] ?? 0);
    const pageSize = Number(this.get('PRAGMA page_size')?.[0] ?? 4096);
    return (pages - free) * pageSize;
  }

  userVersion(): number {
    return Number(this.get('PRAGMA user_version')?.[0] ?? 0);
  }

  close(): void {
    try {
      this.commit();
    } catch {
      // Closing anyway: whatever did not commit is in the journal.
    }
    // db.close() frees every statement prepared on it.
    this.statements.clear();
    this.db.close();
  }
}
