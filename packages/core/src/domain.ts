/** Domain types shared by every ca-chat package. Times are epoch milliseconds. */

/** A BCP-47 primary language tag: `en`, `hi`, `ta`… */
export type LanguageTag = string;

export type RegistrationMode = 'approval' | 'invite' | 'open';
/** `removed` is set by an admin; a removed CA keeps its record so it can be told why. */
export type Approval = 'pending' | 'approved' | 'rejected' | 'removed';
export type CAStatus = 'available' | 'away';

export interface CA {
  id: string;
  /** The CAChannel that reaches this CA, e.g. `telegram`. */
  channel: string;
  /** The CA's identity on the channel (Telegram user id). */
  externalId: string;
  /** Where the channel sends messages (Telegram chat id). */
  address: string;
  name: string;
  /** ICAI membership number: 6 digits. */
  membershipNo: string;
  languages: LanguageTag[];
  topics: string[];
  approval: Approval;
  status: CAStatus;
  maxChats: number;
  lastAssignedAt: number | null;
  registeredAt: number;
}

export interface Client {
  id: string;
  /** SHA-256 (hex) of the client's secret; the secret itself is never stored. */
  tokenHash: string;
  name: string | null;
  language: LanguageTag | null;
  createdAt: number;
}

export type ChatState = 'waiting' | 'active' | 'ended';

export type EndReason =
  | 'client_ended'
  | 'ca_ended'
  | 'no_ca_available'
  | 'timeout'
  | 'client_gone'
  | 'ca_removed'
  | 'admin';

export interface Chat {
  id: string;
  clientId: string;
  caId: string | null;
  language: LanguageTag;
  topic: string | null;
  state: ChatState;
  endReason: EndReason | null;
  createdAt: number;
  matchedAt: number | null;
  endedAt: number | null;
}

export type Party = 'client' | 'ca' | 'system';

export interface FileRef {
  id: string;
  name: string;
  mime: string;
  size: number;
  /** Hex SHA-256 of the bytes. */
  sha256: string;
}

/** File metadata as storage keeps it (the bytes live in a BlobStore). */
export interface FileRecord extends FileRef {
  chatId: string;
  from: Party;
  createdAt: number;
}

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface Delivery {
  state: DeliveryState;
  /** The peer's id for the delivered message (Telegram message id), when it has one. */
  peerMessageId: string | null;
  attempts: number;
  /** When the outbox should try again (null when not pending). */
  nextAttemptAt: number | null;
  /** Why delivery failed (or the last retryable failure). */
  error: string | null;
}

export interface Message {
  chatId: string;
  /** Per chat, gapless, from 1, assigned by storage. */
  seq: number;
  from: Party;
  text: string | null;
  file: FileRef | null;
  createdAt: number;
  /** Idempotency key of an inbound message (`clientMsgId`, or the Telegram message id). */
  idempotencyKey: string | null;
  /** Delivery towards the other side. */
  delivery: Delivery;
}

/** `declined` and `expired` are used by round-robin routing; see docs/architecture.md. */
export type OfferState = 'open' | 'accepted' | 'withdrawn' | 'declined' | 'expired';

export interface Offer {
  chatId: string;
  caId: string;
  /** The channel's reference to its notification (to edit it later); opaque to core. */
  ref: string | null;
  state: OfferState;
  createdAt: number;
  closedAt: number | null;
}

export interface Invite {
  /** SHA-256 (hex) of the code. */
  codeHash: string;
  createdAt: number;
  expiresAt: number | null;
  usedAt: number | null;
  usedBy: string | null;
}
