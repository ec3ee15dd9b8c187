import { CaChatError, type Chat, type EndReason, type FileRef } from '@ca-chat/core';
import type { ChatFilter, ClaimResult } from '@ca-chat/core';
import type { SqlParam } from './journal-format.js';
import { CHAT_COLUMNS, chatFromRow, chatParams, placeholders } from './rows.js';
import type { SqlReader, SqlWriter } from './sql-database.js';

// Chats: CRUD, filters, the atomic claim, ending and deletion.

const INSERT_CHAT = `INSERT INTO chats (${CHAT_COLUMNS}) VALUES (${placeholders(10)})`;
const SELECT_CHAT = `SELECT ${CHAT_COLUMNS} FROM chats WHERE id = ?`;

export function createChat(w: SqlWriter, chat: Chat): void {
  if (w.get('SELECT 1 FROM chats WHERE id = ?', [chat.id])) {
    throw new CaChatError('storage_error', `chat ${chat.id} already exists`);
  }
  w.run(INSERT_CHAT, chatParams(chat));
}

export function getChat(r: SqlReader, id: string): Chat | null {
  const row = r.get(SELECT_CHAT, [id]);
  return row ? chatFromRow(row) : null;
}

function chatWhere(filter: ChatFilter): { where: string; params: SqlParam[] } {
  const conditions: string[] = [];
  const params: SqlParam[] = [];
  if (filter.state !== undefined) {
    const states = ([] as string[]).concat(filter.state);
    conditions.push(states.length === 0 ? '0' : `state IN (${placeholders(states.length)})`);
    params.push(...states);
  }
  if (filter.clientId) {
    conditions.push('client_id = ?');
    params.push(filter.clientId);
  }
  if (filter.caId) {
    conditions.push('ca_id = ?');
    params.push(filter.caId);
  }
  if (filter.language) {
    conditions.push('language = ?');
    params.push(filter.language);
  }
  if (filter.endedBefore !== undefined) {
    conditions.push('ended_at IS NOT NULL AND ended_at < ?');
    params.push(filter.endedBefore);
  }
  return { where: conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '', params };
}

export function listChats(r: SqlReader, filter: ChatFilter = {}): Chat[] {
  const { where, params } = chatWhere(filter);
  // LIMIT -1 is "no limit" in SQLite; keeping it always bound keeps one statement per filter shape.
  const limit = filter.limit === undefined ? -1 : Math.max(0, Math.floor(filter.limit));
  return r
    .all(`SELECT ${CHAT_COLUMNS} FROM chats${where} ORDER BY created_at, id LIMIT ?`, [
      ...params,
      limit,
    ])
    .map(chatFromRow);
}

export function countChats(r: SqlReader, filter: ChatFilter = {}): number {
  const { where, params } = chatWhere(filter);
  return Number(r.get(`SELECT count(*) FROM chats${where}`, params)?.[0] ?? 0);
}

export function claimChat(w: SqlWriter, chatId: string, caId: string, now: number): ClaimResult {
  const chat = getChat(w, chatId);
  if (!chat) return { ok: false, reason: 'not_found', chat: null };
  if (chat.state !== 'waiting') return { ok: false, reason: 'not_waiting', chat };
  const ca = w.get('SELECT max_chats FROM cas WHERE id = ?', [caId]);
  if (!ca) return { ok: false, reason: 'ca_not_found', chat };
  const active = Number(
    w.get("SELECT count(*) FROM chats WHERE ca_id = ? AND state = 'active'", [caId])?.[0] ?? 0,
  );
  if (active >= Number(ca[0])) return { ok: false, reason: 'at_capacity', chat };
  w.run(
    "UPDATE chats SET state = 'active', ca_id = ?, matched_at = ? WHERE id = ? AND state = 'waiting'",
    [caId, now, chatId],
  );
  w.run('UPDATE cas SET last_assigned_at = ? WHERE id = ?', [now, caId]);
  return { ok: true, chat: { ...chat, state: 'active', caId, matchedAt: now } };
}

export function endChat(w: SqlWriter, chatId: string, reason: EndReason, now: number): Chat | null {
  const changed = w.run(
    "UPDATE chats SET state = 'ended', end_reason = ?, ended_at = ? WHERE id = ? AND state <> 'ended'",
    [reason, now, chatId],
  );
  return changed === 1 ? getChat(w, chatId) : null;
}

export function deleteChat(w: SqlWriter, chatId: string): FileRef[] {
  const files = w
    .all('SELECT id, name, mime, size, sha256 FROM files WHERE chat_id = ? ORDER BY id', [chatId])
    .map(([id, name, mime, size, sha256]) => ({
      id: String(id),
      name: String(name),
      mime: String(mime),
      size: Number(size),
      sha256: String(sha256),
    }));
  w.run('DELETE FROM messages WHERE chat_id = ?', [chatId]);
  w.run('DELETE FROM offers WHERE chat_id = ?', [chatId]);
  w.run('DELETE FROM files WHERE chat_id = ?', [chatId]);
  w.run('DELETE FROM chats WHERE id = ?', [chatId]);
  return files;
}
