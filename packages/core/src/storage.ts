import type {
  Approval,
  CA,
  CAStatus,
  Chat,
  ChatState,
  Client,
  Delivery,
  EndReason,
  FileRecord,
  FileRef,
  Invite,
  LanguageTag,
  Message,
  Offer,
  OfferState,
  Party,
} from './domain.js';

/**
 * Where ca-chat keeps its state. Every method is async so a networked database can
 * implement it. "Not found" is `null`. Implementations must make each method atomic on its
 * own; the methods documented as conditional (`claimChat`, `endChat`, `appendMessage`,
 * `useInvite`, `kvSetIfAbsent`) must stay correct when called concurrently.
 *
 * Returned objects are copies: mutating them never changes what is stored.
 * `@ca-chat/core/testing` exports `runStorageConformance`, which every Storage must pass.
 */
export interface Storage {
  /**
   * Set when every method only ever rejects with a `CaChatError` and never throws
   * synchronously. The relay then calls the store directly; otherwise it wraps each call to
   * turn other failures into `storage_error`, which costs a promise per call.
   */
  readonly typedErrors?: boolean;
  /**
   * Optional: synchronous forms of the two calls the relay makes for every message, for a
   * store that has the answer at once (in memory). They must behave exactly as
   * `appendMessage` and `updateDelivery`, throwing `CaChatError`s instead of rejecting with
   * them. The relay uses them only for a store with `typedErrors`, and saves a promise and a
   * turn of the microtask queue per call (the conformance suite checks them when present).
   */
  readonly immediate?: ImmediateMessages;
  /** Opens / migrates. Called once by the relay before anything else. */
  init(): Promise<void>;
  /** Flushes everything and releases resources. Further calls fail with `storage_error`. */
  close(): Promise<void>;

  // CAs
  createCA(ca: CA): Promise<void>;
  getCA(id: string): Promise<CA | null>;
  getCAByExternalId(channel: string, externalId: string): Promise<CA | null>;
  /** Applies the patch and returns the updated CA, or null when there is none. */
  updateCA(id: string, patch: CAPatch): Promise<CA | null>;
  listCAs(filter?: CAFilter): Promise<CA[]>;

  // invites
  createInvite(invite: Invite): Promise<void>;
  /** Marks an unused, unexpired invite as used by `usedBy`. False when it can't be used. */
  useInvite(codeHash: string, usedBy: string, now: number): Promise<boolean>;

  // clients
  createClient(client: Client): Promise<void>;
  getClient(id: string): Promise<Client | null>;
  updateClient(id: string, patch: ClientPatch): Promise<Client | null>;

  // chats
  createChat(chat: Chat): Promise<void>;
  getChat(id: string): Promise<Chat | null>;
  /** Ordered by `createdAt`, then id. */
  listChats(filter?: ChatFilter): Promise<Chat[]>;
  countChats(filter?: ChatFilter): Promise<number>;
  /**
   * The atomic accept: `waiting` → `active` with `caId`, `matchedAt = now`, and the CA's
   * `lastAssignedAt = now`, only when the chat is waiting, the CA exists, and the CA has
   * fewer active chats than its `maxChats`. However many claims race, at most one succeeds.
   */
  claimChat(chatId: string, caId: string, now: number): Promise<ClaimResult>;
  /** Ends a chat that is not ended yet; null when it does not exist or already ended. */
  endChat(chatId: string, reason: EndReason, now: number): Promise<Chat | null>;
  /** Deletes a chat with its messages, offers and file records; returns the deleted files. */
  deleteChat(chatId: string): Promise<FileRef[]>;

  // messages
  /**
   * Stores a message with the next seq of its chat (gapless, from 1). When `idempotencyKey`
   * is set and a message of the same chat, sender and key exists, returns that one with
   * `duplicate: true` and stores nothing.
   */
  appendMessage(message: NewMessage): Promise<AppendResult>;
  getMessage(chatId: string, seq: number): Promise<Message | null>;
  /** In seq order. */
  listMessages(chatId: string, options?: { afterSeq?: number; limit?: number }): Promise<Message[]>;
  /** The highest seq of a chat (0 when it has none). */
  lastSeq(chatId: string): Promise<number>;
  updateDelivery(chatId: string, seq: number, delivery: Delivery): Promise<void>;
  /**
   * The outbox: messages whose delivery is `pending`, ordered by chatId then seq (so each
   * chat's messages come in order), at most `limit`.
   */
  listPendingDeliveries(options?: { limit?: number }): Promise<Message[]>;

  // offers
  /** Creates or replaces the offer of (chatId, caId). */
  putOffer(offer: Offer): Promise<void>;
  getOffer(chatId: string, caId: string): Promise<Offer | null>;
  listOffers(filter?: OfferFilter): Promise<Offer[]>;

  // files (metadata only)
  createFile(file: FileRecord): Promise<void>;
  getFile(id: string): Promise<FileRecord | null>;

  /**
   * A small key/value area for plug-ins (channel conversation state, processed update ids,
   * message ↔ chat maps). Values are JSON-serialisable.
   */
  kvGet<T = unknown>(namespace: string, key: string): Promise<T | null>;
  kvSet(namespace: string, key: string, value: unknown): Promise<void>;
  /** Sets the key only if absent; true when it was set. */
  kvSetIfAbsent(namespace: string, key: string, value: unknown): Promise<boolean>;
  kvDelete(namespace: string, key: string): Promise<void>;
}

export type CAPatch = Partial<
  Pick<
    CA,
    | 'address'
    | 'name'
    | 'membershipNo'
    | 'languages'
    | 'topics'
    | 'approval'
    | 'status'
    | 'maxChats'
    | 'lastAssignedAt'
  >
>;

export type ClientPatch = Partial<Pick<Client, 'name' | 'language' | 'tokenHash'>>;

export interface CAFilter {
  approval?: Approval;
  status?: CAStatus;
  language?: LanguageTag;
  channel?: string;
}

export interface ChatFilter {
  state?: ChatState | ChatState[];
  clientId?: string;
  caId?: string;
  language?: LanguageTag;
  /** Only chats that ended before this time. */
  endedBefore?: number;
  limit?: number;
}

export interface OfferFilter {
  chatId?: string;
  caId?: string;
  state?: OfferState;
}

export type ClaimResult =
  | { ok: true; chat: Chat }
  | {
      ok: false;
      reason: 'not_found' | 'not_waiting' | 'ca_not_found' | 'at_capacity';
      chat: Chat | null;
    };

export interface NewMessage {
  chatId: string;
  from: Party;
  text: string | null;
  file: FileRef | null;
  createdAt: number;
  idempotencyKey: string | null;
  delivery: Delivery;
}

/** See `Storage.immediate`. */
export interface ImmediateMessages {
  appendMessage(message: NewMessage): AppendResult;
  updateDelivery(chatId: string, seq: number, delivery: Delivery): void;
}

export interface AppendResult {
  message: Message;
  duplicate: boolean;
}
