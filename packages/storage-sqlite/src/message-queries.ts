import { CaChatError, type Delivery, type Message } from '@ca-chat/core';
import type { AppendResult, NewMessage } from '@ca-chat/core';
import { MESSAGE_COLUMNS, messageFromRow, messageParams, placeholders } from './rows.js';
import type { SqlReader, SqlWriter } from './sql-database.js';

// Messages: seq assignment, idempotency, reads and the delivery outbox.

// SQL texts are built once: the statement cache is keyed by them.
const SELECT_MESSAGE = `SELECT ${MESSAGE_COLUMNS} FROM messages`;
// A duplicate idempotency key makes the insert a no-op (0 rows changed) instead of an
// error; any other constraint still fails loudly, unlike INSERT OR IGNORE.
const INSERT_MESSAGE = `INSERT INTO messages (${MESSAGE_COLUMNS}) VALUES (${placeholders(16)})
  ON CONFLICT (chat_id, from_party, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING`;
const SELECT_DUPLICATE = `${SELECT_MESSAGE} WHERE chat_id = ? AND from_party = ? AND idempotency_key = ?`;
const SELECT_ONE = `${SELECT_MESSAGE} WHERE chat_id = ? AND seq = ?`;
const SELECT_AFTER = `${SELECT_MESSAGE} WHERE chat_id = ? AND seq > ? ORDER BY seq LIMIT ?`;
const SELECT_PENDING = `${SELECT_MESSAGE} WHERE delivery_state = 'pending' ORDER BY chat_id, seq LIMIT ?`;
const SELECT_LAST_SEQ = 'SELECT coalesce(max(seq), 0) FROM messages WHERE chat_id = ?';

/**
 * Each chat's highest seq, so an append needs no max(seq) query. Only appendMessage and
 * deleteChat change a chat's messages; the storage forgets a chat when it is deleted and
 * everything when an operation fails (it can't tell what rolled back).
 */
export class LastSeqCache {
  private readonly seqs = new Map<string, number>();

  constructor(private readonly maxChats = 50_000) {}

  get(r: SqlReader, chatId: string): number {
    const cached = this.seqs.get(chatId);
    if (cached !== undefined) return cached;
    return Number(r.get(SELECT_LAST_SEQ, [chatId])?.[0] ?? 0);
  }

  set(chatId: string, seq: number): void {
    // Bounded: when it fills up, start over (a miss costs one indexed query).
    if (this.seqs.size >= this.maxChats && !this.seqs.has(chatId)) this.seqs.clear();
    this.seqs.set(chatId, seq);
  }

  forget(chatId: string): void {
    this.seqs.delete(chatId);
  }

  clear(): void {
    this.seqs.clear();
  }
}

export function appendMessage(w: SqlWriter, input: NewMessage, seqs: LastSeqCache): AppendResult {
  // Safe without a lock: reading the last seq and inserting run in one synchronous call.
  const seq = seqs.get(w, input.chatId) + 1;
  const message: Message = {
    chatId: input.chatId,
    seq,
    from: input.from,
    text: input.text,
    file: input.file === null ? null : { ...input.file },
    createdAt: input.createdAt,
    idempotencyKey: input.idempotencyKey,
    delivery: { ...input.delivery },
  };
  if (w.run(INSERT_MESSAGE, messageParams(message)) === 0) {
    const existing = w.get(SELECT_DUPLICATE, [input.chatId, input.from, input.idempotencyKey]);
    if (!existing)
      throw new CaChatError('storage_error', `message ${input.chatId}#${seq} was not stored`);
    return { message: messageFromRow(existing), duplicate: true };
  }
  seqs.set(input.chatId, seq);
  return { message, duplicate: false };
}

export function getMessage(r: SqlReader, chatId: string, seq: number): Message | null {
  const row = r.get(SELECT_ONE, [chatId, seq]);
  return row ? messageFromRow(row) : null;
}

export function listMessages(
  r: SqlReader,
  chatId: string,
  options: { afterSeq?: number; limit?: number } = {},
): Message[] {
  const limit = options.limit === undefined ? -1 : Math.max(0, Math.floor(options.limit));
  return r.all(SELECT_AFTER, [chatId, options.afterSeq ?? 0, limit]).map(messageFromRow);
}

export function lastSeq(r: SqlReader, chatId: string, seqs: LastSeqCache): number {
  return seqs.get(r, chatId);
}

export function updateDelivery(
  w: SqlWriter,
  chatId: string,
  seq: number,
  delivery: Delivery,
): void {
  const changed = w.run(
    `UPDATE messages SET delivery_state = ?, peer_message_id = ?, attempts = ?, next_attempt_at = ?, delivery_error = ?
     WHERE chat_id = ? AND seq = ?`,
    [
      delivery.state,
      delivery.peerMessageId,
      delivery.attempts,
      delivery.nextAttemptAt,
      delivery.error,
      chatId,
      seq,
    ],
  );
  if (changed === 0) throw new CaChatError('not_found', `message ${chatId}#${seq} does not exist`);
}

export function listPendingDeliveries(r: SqlReader, options: { limit?: number } = {}): Message[] {
  const limit = options.limit === undefined ? -1 : Math.max(0, Math.floor(options.limit));
  // The literal 'pending' (not a parameter) lets SQLite use the partial messages_pending index.
  return r.all(SELECT_PENDING, [limit]).map(messageFromRow);
}
