import type { CA, Chat, Client, Delivery, FileRecord, FileRef, Invite, Offer } from './domain.js';

/*
 * Copies of the domain records the in-memory store hands out and keeps. Each builds the
 * record as one object literal: V8 gives every copy of a kind the same shape, so this is
 * several times cheaper than a generic walk (which dominated profiles of the relay on this
 * store). Every field is named, so adding a field to a domain type fails to compile here
 * until it is copied too. Fields outside the domain types are not kept, as in a database.
 */

export const copyDelivery = (d: Delivery): Delivery => ({
  state: d.state,
  peerMessageId: d.peerMessageId,
  attempts: d.attempts,
  nextAttemptAt: d.nextAttemptAt,
  error: d.error,
});

export const copyFileRef = (f: FileRef): FileRef => ({
  id: f.id,
  name: f.name,
  mime: f.mime,
  size: f.size,
  sha256: f.sha256,
});

export const copyChat = (c: Chat): Chat => ({
  id: c.id,
  clientId: c.clientId,
  caId: c.caId,
  language: c.language,
  topic: c.topic,
  state: c.state,
  endReason: c.endReason,
  createdAt: c.createdAt,
  matchedAt: c.matchedAt,
  endedAt: c.endedAt,
});

export const copyCA = (ca: CA): CA => ({
  id: ca.id,
  channel: ca.channel,
  externalId: ca.externalId,
  address: ca.address,
  name: ca.name,
  membershipNo: ca.membershipNo,
  languages: [...ca.languages],
  topics: [...ca.topics],
  approval: ca.approval,
  status: ca.status,
  maxChats: ca.maxChats,
  lastAssignedAt: ca.lastAssignedAt,
  registeredAt: ca.registeredAt,
});

export const copyClient = (c: Client): Client => ({
  id: c.id,
  tokenHash: c.tokenHash,
  name: c.name,
  language: c.language,
  createdAt: c.createdAt,
});

export const copyOffer = (o: Offer): Offer => ({
  chatId: o.chatId,
  caId: o.caId,
  ref: o.ref,
  state: o.state,
  createdAt: o.createdAt,
  closedAt: o.closedAt,
});

export const copyFileRecord = (f: FileRecord): FileRecord => ({
  id: f.id,
  name: f.name,
  mime: f.mime,
  size: f.size,
  sha256: f.sha256,
  chatId: f.chatId,
  from: f.from,
  createdAt: f.createdAt,
});

export const copyInvite = (i: Invite): Invite => ({
  codeHash: i.codeHash,
  createdAt: i.createdAt,
  expiresAt: i.expiresAt,
  usedAt: i.usedAt,
  usedBy: i.usedBy,
});

/**
 * Plug-in key/value data: plain JSON-like values (strings, numbers, null, arrays, objects),
 * copied by a walk, which is several times faster than `structuredClone`.
 */
export function copyJson<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(copyJson) as T;
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = copyJson((value as Record<string, unknown>)[key]);
  return out as T;
}
