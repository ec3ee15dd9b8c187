import type {
  Approval,
  CA,
  CAStatus,
  Chat,
  ChatState,
  Client,
  DeliveryState,
  EndReason,
  FileRecord,
  FileRef,
  Message,
  Offer,
  OfferState,
  Party,
} from '@ca-chat/core';
import type { SqlRow } from './sql-database.js';

// Row ↔ domain mapping. Rows come back as arrays in the column order listed here, which is
// faster with sql.js than objects keyed by column name.

const str = (value: unknown): string => String(value);
const strOrNull = (value: unknown): string | null =>
  value === null || value === undefined ? null : String(value);
const num = (value: unknown): number => Number(value);
const numOrNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
const json = <T>(value: unknown): T => JSON.parse(String(value)) as T;

export const CA_COLUMNS =
  'id, channel, external_id, address, name, membership_no, languages, topics, approval, status, max_chats, last_assigned_at, registered_at';

export function caFromRow(row: SqlRow): CA {
  return {
    id: str(row[0]),
    channel: str(row[1]),
    externalId: str(row[2]),
    address: str(row[3]),
    name: str(row[4]),
    membershipNo: str(row[5]),
    languages: json<string[]>(row[6]),
    topics: json<string[]>(row[7]),
    approval: str(row[8]) as Approval,
    status: str(row[9]) as CAStatus,
    maxChats: num(row[10]),
    lastAssignedAt: numOrNull(row[11]),
    registeredAt: num(row[12]),
  };
}

export function caParams(ca: CA): (string | number | null)[] {
  return [
    ca.id,
    ca.channel,
    ca.externalId,
    ca.address,
    ca.name,
    ca.membershipNo,
    JSON.stringify(ca.languages),
    JSON.stringify(ca.topics),
    ca.approval,
    ca.status,
    ca.maxChats,
    ca.lastAssignedAt,
    ca.registeredAt,
  ];
}

export const CLIENT_COLUMNS = 'id, token_hash, name, language, created_at';

export function clientFromRow(row: SqlRow): Client {
  return {
    id: str(row[0]),
    tokenHash: str(row[1]),
    name: strOrNull(row[2]),
    language: strOrNull(row[3]),
    createdAt: num(row[4]),
  };
}

export const CHAT_COLUMNS =
  'id, client_id, ca_id, language, topic, state, end_reason, created_at, matched_at, ended_at';

export function chatFromRow(row: SqlRow): Chat {
  return {
    id: str(row[0]),
    clientId: str(row[1]),
    caId: strOrNull(row[2]),
    language: str(row[3]),
    topic: strOrNull(row[4]),
    state: str(row[5]) as ChatState,
    endReason: strOrNull(row[6]) as EndReason | null,
    createdAt: num(row[7]),
    matchedAt: numOrNull(row[8]),
    endedAt: numOrNull(row[9]),
  };
}

export function chatParams(chat: Chat): (string | number | null)[] {
  return [
    chat.id,
    chat.clientId,
    chat.caId,
    chat.language,
    chat.topic,
    chat.state,
    chat.endReason,
    chat.createdAt,
    chat.matchedAt,
    chat.endedAt,
  ];
}

export const MESSAGE_COLUMNS =
  'chat_id, seq, from_party, text, file_id, file_name, file_mime, file_size, file_sha256, created_at, idempotency_key, delivery_state, peer_message_id, attempts, next_attempt_at, delivery_error';

export function messageFromRow(row: SqlRow): Message {
  const file: FileRef | null =
    row[4] === null
      ? null
      : {
          id: str(row[4]),
          name: str(row[5]),
          mime: str(row[6]),
          size: num(row[7]),
          sha256: str(row[8]),
        };
  return {
    chatId: str(row[0]),
    seq: num(row[1]),
    from: str(row[2]) as Party,
    text: strOrNull(row[3]),
    file,
    createdAt: num(row[9]),
    idempotencyKey: strOrNull(row[10]),
    delivery: {
      state: str(row[11]) as DeliveryState,
      peerMessageId: strOrNull(row[12]),
      attempts: num(row[13]),
      nextAttemptAt: numOrNull(row[14]),
      error: strOrNull(row[15]),
    },
  };
}

export function messageParams(message: Message): (string | number | null)[] {
  const { file, delivery } = message;
  return [
    message.chatId,
    message.seq,
    message.from,
    message.text,
    file?.id ?? null,
    file?.name ?? null,
    file?.mime ?? null,
    file?.size ?? null,
    file?.sha256 ?? null,
    message.createdAt,
    message.idempotencyKey,
    delivery.state,
    delivery.peerMessageId,
    delivery.attempts,
    delivery.nextAttemptAt,
    delivery.error,
  ];
}

export const OFFER_COLUMNS = 'chat_id, ca_id, ref, state, created_at, closed_at';

export function offerFromRow(row: SqlRow): Offer {
  return {
    chatId: str(row[0]),
    caId: str(row[1]),
    ref: strOrNull(row[2]),
    state: str(row[3]) as OfferState,
    createdAt: num(row[4]),
    closedAt: numOrNull(row[5]),
  };
}

export const FILE_COLUMNS = 'id, chat_id, from_party, name, mime, size, sha256, created_at';

export function fileFromRow(row: SqlRow): FileRecord {
  return {
    id: str(row[0]),
    chatId: str(row[1]),
    from: str(row[2]) as Party,
    name: str(row[3]),
    mime: str(row[4]),
    size: num(row[5]),
    sha256: str(row[6]),
    createdAt: num(row[7]),
  };
}

/** Adds `placeholders(n)` = `?, ?, …` for an IN list or VALUES. */
export const placeholders = (count: number): string =>
  Array.from({ length: count }, () => '?').join(', ');
