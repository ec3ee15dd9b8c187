import { expect } from 'vitest';
import type { CA, Chat, Client, FileRecord, FileRef, Invite, Offer } from '../../domain.js';
import { CaChatError, type CaChatErrorCode } from '../../errors.js';
import type { NewMessage, Storage } from '../../storage.js';

/** What every case file gets: the storage under test, swapped by `reopen`. */
export interface ConformanceContext {
  storage: Storage;
  /** Closes the storage and opens the same durable data again; undefined when not durable. */
  reopen: (() => Promise<void>) | undefined;
}

/** A fixed start time; tests move forward from here so order never depends on the real clock. */
export const T0 = Date.UTC(2026, 0, 1);

let counter = 0;
/** Ids unique within the process, so a storage shared by mistake still shows up as a failure. */
export const uid = (prefix: string): string =>
  `${prefix}-${(++counter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

export function makeCA(overrides: Partial<CA> = {}): CA {
  const id = overrides.id ?? uid('ca');
  return {
    id,
    channel: 'telegram',
    externalId: uid('tg'),
    address: uid('addr'),
    name: `CA ${id}`,
    membershipNo: '123456',
    languages: ['en', 'hi'],
    topics: ['gst'],
    approval: 'approved',
    status: 'available',
    maxChats: 1,
    lastAssignedAt: null,
    registeredAt: T0,
    ...overrides,
  };
}

export function makeClient(overrides: Partial<Client> = {}): Client {
  return {
    id: uid('client'),
    tokenHash: 'a'.repeat(64),
    name: null,
    language: 'en',
    createdAt: T0,
    ...overrides,
  };
}

export function makeChat(overrides: Partial<Chat> = {}): Chat {
  return {
    id: uid('chat'),
    clientId: uid('client'),
    caId: null,
    language: 'en',
    topic: null,
    state: 'waiting',
    endReason: null,
    createdAt: T0,
    matchedAt: null,
    endedAt: null,
    ...overrides,
  };
}

export function makeMessage(chatId: string, overrides: Partial<NewMessage> = {}): NewMessage {
  return {
    chatId,
    from: 'client',
    text: 'hello',
    file: null,
    createdAt: T0,
    idempotencyKey: null,
    delivery: {
      state: 'pending',
      peerMessageId: null,
      attempts: 0,
      nextAttemptAt: T0,
      error: null,
    },
    ...overrides,
  };
}

export function makeFileRef(overrides: Partial<FileRef> = {}): FileRef {
  return {
    id: uid('file'),
    name: 'invoice.pdf',
    mime: 'application/pdf',
    size: 1234,
    sha256: 'b'.repeat(64),
    ...overrides,
  };
}

export function makeFileRecord(chatId: string, overrides: Partial<FileRecord> = {}): FileRecord {
  return { ...makeFileRef(), chatId, from: 'client', createdAt: T0, ...overrides };
}

export function makeOffer(chatId: string, caId: string, overrides: Partial<Offer> = {}): Offer {
  return {
    chatId,
    caId,
    ref: uid('ref'),
    state: 'open',
    createdAt: T0,
    closedAt: null,
    ...overrides,
  };
}

export function makeInvite(overrides: Partial<Invite> = {}): Invite {
  return {
    codeHash: uid('code'),
    createdAt: T0,
    expiresAt: null,
    usedAt: null,
    usedBy: null,
    ...overrides,
  };
}

/** Asserts that `promise` rejects with a CaChatError carrying `code`. */
export async function expectCode(promise: Promise<unknown>, code: CaChatErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(
    CaChatError.isInstance(error),
    `expected a CaChatError with code ${code}, got ${String(error)}`,
  ).toBe(true);
  expect((error as CaChatError).code).toBe(code);
}

/** Asserts that `promise` rejects with some CaChatError (duplicate ids: the code is the storage's choice). */
export async function expectCaChatError(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(CaChatError.isInstance(error), `expected a CaChatError, got ${String(error)}`).toBe(true);
}

/** Creates a waiting chat and returns it as passed in. */
export async function seedChat(storage: Storage, overrides: Partial<Chat> = {}): Promise<Chat> {
  const chat = makeChat(overrides);
  await storage.createChat(chat);
  return chat;
}

export async function seedCA(storage: Storage, overrides: Partial<CA> = {}): Promise<CA> {
  const ca = makeCA(overrides);
  await storage.createCA(ca);
  return ca;
}

export const byKey =
  <T>(key: (item: T) => string) =>
  (a: T, b: T): number =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
