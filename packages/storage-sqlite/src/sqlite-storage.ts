import { resolve } from 'node:path';
import { CaChatError, silentLogger, type Logger } from '@ca-chat/core';
import type {
  AppendResult,
  CA,
  CAFilter,
  CAPatch,
  Chat,
  ChatFilter,
  ClaimResult,
  Client,
  ClientPatch,
  Delivery,
  EndReason,
  FileRecord,
  FileRef,
  Invite,
  Message,
  NewMessage,
  Offer,
  OfferFilter,
  Storage,
} from '@ca-chat/core';
import * as chats from './chat-queries.js';
import type { RecordedOp } from './journal-format.js';
import { JournalWriter } from './journal-writer.js';
import * as messages from './message-queries.js';
import * as people from './people-queries.js';
import * as records from './record-queries.js';
import { openDurable } from './open-durable.js';
import { configureConnection } from './recovery.js';
import { MIGRATIONS } from './schema.js';
import type { Snapshotter } from './snapshotter.js';
import { SqlDatabase, type SqlReader, type SqlWriter } from './sql-database.js';
import { loadSqlJs } from './sql-js.js';

export interface SqliteStorageOptions {
  /** The database file. Without it the storage lives in memory only and is gone on exit. */
  file?: string;
  /** Fold the journal into a new snapshot once it holds this many bytes. Default 64 MiB. */
  journalMaxBytes?: number;
  /** …or this many operations, whichever comes first (bounds replay after a crash to about 0.5 s at 1M messages). Default 25 000. */
  journalMaxRecords?: number;
  /** Inserts fail with `storage_full` past this size (warning at 80 %). Default 1 GiB. */
  maxDatabaseBytes?: number;
  /** A snapshot process not finished by then is killed (the journal is kept). Default 10 min. */
  snapshotTimeoutMs?: number;
  /** Run SQLite's `PRAGMA quick_check` on the snapshot at start-up. Default true. */
  verifyOnOpen?: boolean;
  logger?: Logger;
}

export interface SqliteStorageStats {
  /** Bytes the database uses (pages in use × page size). */
  databaseBytes: number;
  maxDatabaseBytes: number;
  /** The journal segment new writes go to (0 in memory). */
  journalSegment: number;
}

/** A `Storage` on sql.js, plus a look at its size. */
export interface SqliteStorage extends Storage {
  stats(): SqliteStorageStats;
}

const MiB = 1024 * 1024;

/**
 * Creates a Storage on sql.js (SQLite compiled to WebAssembly). With `file` it is durable:
 * every write is journaled and fsync'd before it resolves, and the journal is folded into
 * a real SQLite file (readable with the `sqlite3` shell) by a low-priority child process.
 * See README.md.
 */
export function createSqliteStorage(options: SqliteStorageOptions = {}): SqliteStorage {
  return new SqliteStorageImpl(options);
}

/** Inserts are refused when full; updates in place and deletions still run so space can be freed. */
type WriteKind = 'insert' | 'update' | 'delete';

class SqliteStorageImpl implements SqliteStorage {
  /**
   * Every method is async and fails with a CaChatError (`read`/`write` wrap sql.js errors;
   * the journal fails with CaChatErrors): the relay may call this store directly.
   */
  readonly typedErrors = true;
  private state: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  private sql: SqlDatabase | null = null;
  private journal: JournalWriter | null = null;
  private snapshotter: Snapshotter | null = null;
  private releaseLock: (() => Promise<void>) | null = null;
  private closing: Promise<void> | null = null;
  private readonly logger: Logger;
  private readonly file: string | null;
  private readonly maxBytes: number;
  private usedBytes = 0;
  private writesSinceMeasure = 0;
  private warnedFull = false;
  /** Set when the in-memory database failed to commit: memory and journal may disagree. */
  private fatal: CaChatError | null = null;
  private readonly seqs = new messages.LastSeqCache();

  constructor(private readonly options: SqliteStorageOptions) {
    this.logger = options.logger ?? silentLogger;
    this.file = options.file === undefined ? null : resolve(options.file);
    this.maxBytes = options.maxDatabaseBytes ?? 1024 * MiB;
  }

  // ---- lifecycle

  async init(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state !== 'new') throw new CaChatError('storage_error', `storage is ${this.state}`);
    this.state = 'opening';
    try {
      if (this.file === null) await this.openInMemory();
      else await this.openFile(this.file);
      this.measure();
      this.state = 'open';
    } catch (error) {
      this.state = 'new';
      throw CaChatError.wrap(error, 'storage_error', 'cannot open storage');
    }
  }

  private async openInMemory(): Promise<void> {
    const SQL = await loadSqlJs();
    const sql = new SqlDatabase(new SQL.Database());
    configureConnection(sql);
    this.adopt(sql);
    await this.migrate();
  }

  private async openFile(file: string): Promise<void> {
    const parts = await openDurable({
      file,
      logger: this.logger,
      verify: this.options.verifyOnOpen ?? true,
      maxDatabaseBytes: this.maxBytes,
      journalMaxBytes: this.options.journalMaxBytes ?? 64 * MiB,
      journalMaxRecords: this.options.journalMaxRecords ?? 25_000,
      snapshotTimeoutMs: this.options.snapshotTimeoutMs ?? 10 * 60_000,
    });
    this.adopt(parts.sql);
    this.journal = parts.journal;
    this.snapshotter = parts.snapshotter;
    this.releaseLock = parts.releaseLock;
    try {
      await this.migrate();
    } catch (error) {
      await this.closeNow().catch(() => undefined);
      this.sql = null;
      this.journal = null;
      this.snapshotter = null;
      this.releaseLock = null;
      this.closing = null;
      throw error;
    }
    parts.snapshotter.maybeStart();
  }

  private adopt(sql: SqlDatabase): void {
    this.sql = sql;
    sql.onCommitFailure = (error) => {
      this.fatal = new CaChatError(
        'storage_error',
        'the in-memory database failed to commit; restart to recover',
        { cause: error },
      );
      this.logger.error(
        { err: error, file: this.file },
        'in-memory commit failed; storage stopped',
      );
    };
    sql.onRoomUnused = () =>
      this.logger.warn(
        { file: this.file },
        'sql.js did not keep the reserved file buffer: the database is copied whole as it grows (pauses)',
      );
  }

  /** Applies pending migrations as ordinary journaled writes, so replay reproduces them. */
  private async migrate(): Promise<void> {
    const sql = this.sql!;
    const current = sql.userVersion();
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      const { op } = sql.transact((w) => {
        for (const statement of migration.statements) w.ddl(statement);
        w.ddl(`PRAGMA user_version = ${migration.version}`);
      });
      this.journal?.append(op);
      this.logger.info({ file: this.file, version: migration.version }, 'schema migrated');
    }
    await this.journal?.barrier();
  }

  async close(): Promise<void> {
    if (this.state === 'new' || this.state === 'closed') {
      this.state = 'closed';
      return;
    }
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    this.state = 'closing';
    let failure: unknown = null;
    try {
      if (this.journal && this.snapshotter) {
        this.snapshotter.stop(); // so the last flushes don't start a snapshot now
        await this.journal.close();
        await this.snapshotter.closeWithSnapshot(
          this.journal.failed || this.fatal ? null : this.sql,
        );
      }
    } catch (error) {
      failure = error;
      this.logger.error(
        { err: error, file: this.file },
        'final snapshot failed; the journal is kept and replayed at the next start',
      );
    } finally {
      await this.snapshotter?.stopWorker().catch(() => undefined);
      this.sql?.close();
      this.sql = null;
      await this.releaseLock?.();
      this.state = 'closed';
    }
    if (failure !== null)
      throw CaChatError.wrap(failure, 'storage_error', 'closing the storage failed');
  }

  stats(): SqliteStorageStats {
    return {
      databaseBytes: this.usedBytes,
      maxDatabaseBytes: this.maxBytes,
      journalSegment: this.journal?.segment ?? 0,
    };
  }

  // ---- the two ways in

  private usable(): SqlDatabase {
    if (this.state !== 'open' || this.sql === null) {
      throw this.state === 'new'
        ? new CaChatError('not_started', 'call init() before using the storage')
        : new CaChatError('storage_error', `storage is ${this.state}`);
    }
    const failed = this.journal?.failed ?? this.fatal;
    if (failed) throw failed;
    return this.sql;
  }

  /** Waits until every write applied so far is durable, so no caller acts on data a crash could undo. */
  private settle<T>(result: T): T | Promise<T> {
    const barrier = this.journal?.barrier();
    return barrier ? barrier.then(() => result) : result;
  }

  private read<T>(fn: (r: SqlReader) => T): T | Promise<T> {
    const sql = this.usable();
    let result: T;
    try {
      result = fn(sql);
    } catch (error) {
      throw CaChatError.wrap(error, 'storage_error', 'sqlite read failed');
    }
    return this.settle(result);
  }

  // Everything in `fn` runs synchronously in one transaction: sql.js is single-threaded, so
  // no other call can interleave, which is what makes claimChat, appendMessage's seq,
  // useInvite and kvSetIfAbsent atomic without locks.
  private write<T>(kind: WriteKind, fn: (w: SqlWriter) => T): T | Promise<T> {
    const sql = this.usable();
    if (kind === 'insert' && this.usedBytes >= this.maxBytes) {
      throw new CaChatError(
        'storage_full',
        `the database is full (${this.usedBytes} of ${this.maxBytes} bytes); delete old chats or raise maxDatabaseBytes`,
        { details: { usedBytes: this.usedBytes, maxDatabaseBytes: this.maxBytes } },
      );
    }
    let outcome: { result: T; op: RecordedOp };
    try {
      outcome = sql.transact(fn);
    } catch (error) {
      this.seqs.clear(); // whatever the failed operation cached rolled back with it
      throw CaChatError.wrap(error, 'storage_error', 'sqlite write failed');
    }
    if (outcome.op.length > 0) {
      this.journal?.append(outcome.op);
      if (++this.writesSinceMeasure >= 32 || this.usedBytes > this.maxBytes * 0.7) this.measure();
    }
    return this.settle(outcome.result);
  }

  private measure(): void {
    this.writesSinceMeasure = 0;
    if (!this.sql) return;
    this.usedBytes = this.sql.usedBytes();
    if (this.usedBytes >= this.maxBytes * 0.8) {
      if (!this.warnedFull) {
        this.warnedFull = true;
        this.logger.warn(
          { file: this.file, usedBytes: this.usedBytes, maxDatabaseBytes: this.maxBytes },
          'database is over 80% of maxDatabaseBytes',
        );
      }
    } else if (this.usedBytes < this.maxBytes * 0.75) {
      this.warnedFull = false;
    }
  }

  // ---- Storage

  async createCA(ca: CA): Promise<void> {
    return this.write('insert', (w) => people.createCA(w, ca));
  }
  async getCA(id: string): Promise<CA | null> {
    return this.read((r) => people.getCA(r, id));
  }
  async getCAByExternalId(channel: string, externalId: string): Promise<CA | null> {
    return this.read((r) => people.getCAByExternalId(r, channel, externalId));
  }
  async updateCA(id: string, patch: CAPatch): Promise<CA | null> {
    return this.write('update', (w) => people.updateCA(w, id, patch));
  }
  async listCAs(filter?: CAFilter): Promise<CA[]> {
    return this.read((r) => people.listCAs(r, filter));
  }
  async createInvite(invite: Invite): Promise<void> {
    return this.write('insert', (w) => people.createInvite(w, invite));
  }
  async useInvite(codeHash: string, usedBy: string, now: number): Promise<boolean> {
    return this.write('update', (w) => people.useInvite(w, codeHash, usedBy, now));
  }
  async createClient(client: Client): Promise<void> {
    return this.write('insert', (w) => people.createClient(w, client));
  }
  async getClient(id: string): Promise<Client | null> {
    return this.read((r) => people.getClient(r, id));
  }
  async updateClient(id: string, patch: ClientPatch): Promise<Client | null> {
    return this.write('update', (w) => people.updateClient(w, id, patch));
  }
  async createChat(chat: Chat): Promise<void> {
    return this.write('insert', (w) => chats.createChat(w, chat));
  }
  async getChat(id: string): Promise<Chat | null> {
    return this.read((r) => chats.getChat(r, id));
  }
  async listChats(filter?: ChatFilter): Promise<Chat[]> {
    return this.read((r) => chats.listChats(r, filter));
  }
  async countChats(filter?: ChatFilter): Promise<number> {
    return this.read((r) => chats.countChats(r, filter));
  }
  async claimChat(chatId: string, caId: string, now: number): Promise<ClaimResult> {
    return this.write('update', (w) => chats.claimChat(w, chatId, caId, now));
  }
  async endChat(chatId: string, reason: EndReason, now: number): Promise<Chat | null> {
    return this.write('update', (w) => chats.endChat(w, chatId, reason, now));
  }
  async deleteChat(chatId: string): Promise<FileRef[]> {
    return this.write('delete', (w) => {
      this.seqs.forget(chatId);
      return chats.deleteChat(w, chatId);
    });
  }
  async appendMessage(message: NewMessage): Promise<AppendResult> {
    return this.write('insert', (w) => messages.appendMessage(w, message, this.seqs));
  }
  async getMessage(chatId: string, seq: number): Promise<Message | null> {
    return this.read((r) => messages.getMessage(r, chatId, seq));
  }
  async listMessages(
    chatId: string,
    options?: { afterSeq?: number; limit?: number },
  ): Promise<Message[]> {
    return this.read((r) => messages.listMessages(r, chatId, options));
  }
  async lastSeq(chatId: string): Promise<number> {
    return this.read((r) => messages.lastSeq(r, chatId, this.seqs));
  }
  async updateDelivery(chatId: string, seq: number, delivery: Delivery): Promise<void> {
    return this.write('update', (w) => messages.updateDelivery(w, chatId, seq, delivery));
  }
  async listPendingDeliveries(options?: { limit?: number }): Promise<Message[]> {
    return this.read((r) => messages.listPendingDeliveries(r, options));
  }
  async putOffer(offer: Offer): Promise<void> {
    return this.write('insert', (w) => records.putOffer(w, offer));
  }
  async getOffer(chatId: string, caId: string): Promise<Offer | null> {
    return this.read((r) => records.getOffer(r, chatId, caId));
  }
  async listOffers(filter?: OfferFilter): Promise<Offer[]> {
    return this.read((r) => records.listOffers(r, filter));
  }
  async createFile(file: FileRecord): Promise<void> {
    return this.write('insert', (w) => records.createFile(w, file));
  }
  async getFile(id: string): Promise<FileRecord | null> {
    return this.read((r) => records.getFile(r, id));
  }
  async kvGet<T = unknown>(namespace: string, key: string): Promise<T | null> {
    return this.read((r) => records.kvGet<T>(r, namespace, key));
  }
  async kvSet(namespace: string, key: string, value: unknown): Promise<void> {
    return this.write('insert', (w) => records.kvSet(w, namespace, key, value));
  }
  async kvSetIfAbsent(namespace: string, key: string, value: unknown): Promise<boolean> {
    return this.write('insert', (w) => records.kvSetIfAbsent(w, namespace, key, value));
  }
  async kvDelete(namespace: string, key: string): Promise<void> {
    return this.write('delete', (w) => records.kvDelete(w, namespace, key));
  }
}
