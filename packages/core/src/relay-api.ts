import type { Readable } from 'node:stream';
import type { EventEmitter } from 'eventemitter3';
import type { CaChatError } from './errors.js';
import type {
  Approval,
  CA,
  CAStatus,
  Chat,
  ChatState,
  Client,
  EndReason,
  FileRecord,
  LanguageTag,
  Message,
  Offer,
  RegistrationMode,
} from './domain.js';
import type { ClientChatSummary } from './client-transport.js';
import type { OfferCloseReason } from './ca-channel.js';
import type { Storage } from './storage.js';

/** Typed events of the relay (eventemitter3). A throwing listener never breaks the relay. */
export interface RelayEvents {
  'chat.requested': (chat: Chat) => void;
  'chat.queued': (chat: Chat, position: number) => void;
  'chat.offered': (chat: Chat, ca: CA) => void;
  'chat.offer_closed': (chat: Chat, ca: CA, reason: OfferCloseReason) => void;
  'chat.matched': (chat: Chat, ca: CA) => void;
  'chat.ended': (chat: Chat, reason: EndReason) => void;
  'message.stored': (message: Message, chat: Chat) => void;
  'message.delivered': (message: Message, chat: Chat) => void;
  'message.failed': (message: Message, chat: Chat, reason: string) => void;
  'delivery.retry': (message: Message, chat: Chat, error: CaChatError) => void;
  'ca.registered': (ca: CA) => void;
  'ca.updated': (ca: CA) => void;
  'ca.status': (ca: CA, status: CAStatus) => void;
  'ca.approval': (ca: CA, approval: Approval) => void;
  'client.connected': (clientId: string) => void;
  'client.disconnected': (clientId: string) => void;
  'file.stored': (file: FileRecord) => void;
  error: (error: CaChatError) => void;
}

export interface ClientCredentials {
  client: Client;
  /** `<clientId>.<secret>`: give it to the client once; only its hash is stored. */
  token: string;
}

export interface ChatRequest {
  language: LanguageTag;
  topic?: string | null;
  /** A first message, stored as the chat's first client message. */
  text?: string | null;
  clientMsgId?: string | null;
}

export interface ChatRequestResult {
  chat: Chat;
  /** 1 = next in line. */
  position: number;
  noCaForLanguage: boolean;
  /** The first message, when one was sent. */
  message: Message | null;
}

export interface FileUpload {
  chatId: string;
  name: string;
  mime: string;
  source: Readable | AsyncIterable<Uint8Array>;
  /** `clientMsgId` for clients, the channel's message id for CAs. */
  idempotencyKey?: string | null;
  /** An optional caption stored with the file. */
  text?: string | null;
  signal?: AbortSignal;
}

export interface CARegistration {
  channel: string;
  externalId: string;
  address: string;
  name: string;
  membershipNo: string;
  languages: LanguageTag[];
  topics?: string[];
  maxChats?: number;
  /** Required in `invite` mode. */
  inviteCode?: string;
}

export type CAProfileUpdate = Partial<
  Pick<CARegistration, 'name' | 'membershipNo' | 'languages' | 'topics' | 'maxChats' | 'address'>
>;

/** Settings a channel or transport may need to know (read only). */
export interface RelaySettings {
  registrationMode: RegistrationMode;
  /** Languages the deployment offers; empty = any valid tag. */
  languages: LanguageTag[];
  topics: string[];
  maxTextLength: number;
  maxFileBytes: number;
}

/**
 * What transports, channels and admin tools call. Every failure is a `CaChatError`;
 * a call that fails changes nothing.
 */
export interface RelayApi extends EventEmitter<RelayEvents> {
  readonly settings: RelaySettings;
  /** For plug-ins' own state (kv area); do not change relay data behind its back. */
  readonly storage: Storage;

  // ---- clients (transports)
  createClient(input?: {
    name?: string | null;
    language?: LanguageTag | null;
    id?: string;
  }): Promise<ClientCredentials>;
  /** Resolves a token to its client (constant-time compare), or null. */
  authenticateClient(token: string): Promise<Client | null>;
  /** For embedders that map their own users: returns the client with this id, creating it. */
  ensureClient(
    id: string,
    profile?: { name?: string | null; language?: LanguageTag | null },
  ): Promise<Client>;
  /** A transport's connection count for the client went from 0 to 1 or more. */
  clientConnected(clientId: string): void;
  /** The client has no live connection left: the grace period starts. */
  clientDisconnected(clientId: string): void;
  listClientChats(
    clientId: string,
    options?: { includeEnded?: boolean },
  ): Promise<ClientChatSummary[]>;
  requestChat(clientId: string, request: ChatRequest): Promise<ChatRequestResult>;
  sendClientMessage(
    clientId: string,
    input: { chatId: string; text: string; clientMsgId?: string | null },
  ): Promise<{ message: Message; duplicate: boolean }>;
  sendClientFile(
    clientId: string,
    upload: FileUpload,
  ): Promise<{ message: Message; duplicate: boolean }>;
  clientTyping(clientId: string, chatId: string): Promise<void>;
  endChatByClient(clientId: string, chatId: string): Promise<Chat>;
  /** Messages of a client's chat after `afterSeq`, in order (for resume). */
  getClientMessages(
    clientId: string,
    chatId: string,
    options?: { afterSeq?: number; limit?: number },
  ): Promise<Message[]>;
  /** A file of one of the client's chats; `not_found` for anyone else's. */
  getClientFile(clientId: string, fileId: string): Promise<FileRecord>;

  // ---- CAs (channels)
  registerCA(input: CARegistration): Promise<CA>;
  updateCAProfile(caId: string, update: CAProfileUpdate): Promise<CA>;
  getCAByExternalId(channel: string, externalId: string): Promise<CA | null>;
  setCAStatus(caId: string, status: CAStatus): Promise<CA>;
  acceptOffer(caId: string, chatId: string): Promise<Chat>;
  declineOffer(caId: string, chatId: string): Promise<void>;
  sendCAMessage(
    caId: string,
    input: { chatId: string; text: string; idempotencyKey?: string | null },
  ): Promise<{ message: Message; duplicate: boolean }>;
  sendCAFile(caId: string, upload: FileUpload): Promise<{ message: Message; duplicate: boolean }>;
  endChatByCA(caId: string, chatId: string): Promise<Chat>;
  /** The CA's active chats, oldest first. */
  listCAChats(caId: string): Promise<Chat[]>;

  // ---- files
  /** Reads a stored file's bytes (optionally a range). */
  openFile(
    fileId: string,
    range?: { start: number; end?: number },
  ): Promise<{ file: FileRecord; stream: Readable }>;

  // ---- admin
  approveCA(caId: string): Promise<CA>;
  rejectCA(caId: string): Promise<CA>;
  /** Ends the CA's chats with `ca_removed` and withdraws their offers. */
  removeCA(caId: string): Promise<CA>;
  /** A one-time invite code (invite mode). */
  createInvite(options?: { expiresInMs?: number }): Promise<string>;
  getCA(caId: string): Promise<CA | null>;
  listCAs(filter?: { approval?: Approval }): Promise<CA[]>;
  getChat(chatId: string): Promise<Chat | null>;
  listChats(filter?: { state?: ChatState; limit?: number }): Promise<Chat[]>;
  listOffers(chatId: string): Promise<Offer[]>;
  endChatByAdmin(chatId: string): Promise<Chat>;
  /** Every message of a chat, in order. */
  getTranscript(chatId: string): Promise<{ chat: Chat; messages: Message[]; ca: CA | null }>;
}
