import { CaChatError, type FileRecord, type Offer } from '@ca-chat/core';
import type { OfferFilter } from '@ca-chat/core';
import type { SqlParam } from './journal-format.js';
import { FILE_COLUMNS, OFFER_COLUMNS, fileFromRow, offerFromRow } from './rows.js';
import type { SqlReader, SqlWriter } from './sql-database.js';

// Offers, file metadata and the key/value area.

const PUT_OFFER = `INSERT OR REPLACE INTO offers (${OFFER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`;
const SELECT_OFFER = `SELECT ${OFFER_COLUMNS} FROM offers WHERE chat_id = ? AND ca_id = ?`;
const INSERT_FILE = `INSERT INTO files (${FILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`;
const SELECT_FILE = `SELECT ${FILE_COLUMNS} FROM files WHERE id = ?`;

export function putOffer(w: SqlWriter, offer: Offer): void {
  w.run(PUT_OFFER, [
    offer.chatId,
    offer.caId,
    offer.ref,
    offer.state,
    offer.createdAt,
    offer.closedAt,
  ]);
}

export function getOffer(r: SqlReader, chatId: string, caId: string): Offer | null {
  const row = r.get(SELECT_OFFER, [chatId, caId]);
  return row ? offerFromRow(row) : null;
}

export function listOffers(r: SqlReader, filter: OfferFilter = {}): Offer[] {
  const conditions: string[] = [];
  const params: SqlParam[] = [];
  for (const [column, value] of [
    ['chat_id', filter.chatId],
    ['ca_id', filter.caId],
    ['state', filter.state],
  ] as const) {
    if (value) {
      conditions.push(`${column} = ?`);
      params.push(value);
    }
  }
  const where = conditions.length ? ` WHERE ${conditions.join(' AND ')}` : '';
  return r
    .all(`SELECT ${OFFER_COLUMNS} FROM offers${where} ORDER BY created_at, chat_id, ca_id`, params)
    .map(offerFromRow);
}

export function createFile(w: SqlWriter, file: FileRecord): void {
  if (w.get('SELECT 1 FROM files WHERE id = ?', [file.id])) {
    throw new CaChatError('storage_error', `file ${file.id} already exists`);
  }
  w.run(INSERT_FILE, [
    file.id,
    file.chatId,
    file.from,
    file.name,
    file.mime,
    file.size,
    file.sha256,
    file.createdAt,
  ]);
}

export function getFile(r: SqlReader, id: string): FileRecord | null {
  const row = r.get(SELECT_FILE, [id]);
  return row ? fileFromRow(row) : null;
}

/** JSON text of a kv value; anything JSON can't represent is bad input. */
export function kvJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new CaChatError('invalid_input', 'kv value is not JSON-serialisable', { cause: error });
  }
  if (text === undefined)
    throw new CaChatError('invalid_input', 'kv value is not JSON-serialisable');
  return text;
}

export function kvGet<T>(r: SqlReader, namespace: string, key: string): T | null {
  const row = r.get('SELECT value FROM kv WHERE namespace = ? AND key = ?', [namespace, key]);
  return row ? (JSON.parse(String(row[0])) as T) : null;
}

export function kvSet(w: SqlWriter, namespace: string, key: string, value: unknown): void {
  w.run('INSERT OR REPLACE INTO kv (namespace, key, value) VALUES (?, ?, ?)', [
    namespace,
    key,
    kvJson(value),
  ]);
}

export function kvSetIfAbsent(
  w: SqlWriter,
  namespace: string,
  key: string,
  value: unknown,
): boolean {
  return (
    w.run('INSERT OR IGNORE INTO kv (namespace, key, value) VALUES (?, ?, ?)', [
      namespace,
      key,
      kvJson(value),
    ]) === 1
  );
}

export function kvDelete(w: SqlWriter, namespace: string, key: string): void {
  w.run('DELETE FROM kv WHERE namespace = ? AND key = ?', [namespace, key]);
}
