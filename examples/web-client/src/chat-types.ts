/** The types of the page's state (see `chat-state.ts` for the reducer). */

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';
export type ChatPhase = 'waiting' | 'active' | 'ended';
export type Party = 'client' | 'ca' | 'system';
/** Delivery of the client's own messages: `sent` = stored (acked), `delivered` = the CA has it. */
export type OwnDelivery = 'sending' | 'sent' | 'delivered' | 'failed';

export interface FileInfo {
  id: string | null;
  name: string;
  mime: string;
  size: number;
  sha256: string | null;
  /** A short-lived signed download link (absent for a file still uploading). */
  url: string | null;
}

export interface CaProfile {
  name: string;
  languages: string[];
}

export interface Bubble {
  /** Stable DOM key: `s:<seq>` once stored, `l:<clientMsgId>` before. */
  key: string;
  seq: number | null;
  clientMsgId: string | null;
  from: Party;
  text: string | null;
  file: FileInfo | null;
  at: number;
  /** Only for the client's own messages. */
  delivery: OwnDelivery | null;
  failReason: string | null;
  /** Upload progress of an own file, 0..1; null when not uploading. */
  progress: number | null;
}

export interface ChatView {
  chatId: string;
  phase: ChatPhase;
  language: string | null;
  topic: string | null;
  position: number | null;
  noCaForLanguage: boolean;
  ca: CaProfile | null;
  endReason: string | null;
  /** Stored messages by ascending seq, then own messages still waiting for a seq. */
  bubbles: Bubble[];
  /** Status frames that arrived before the message they describe. */
  earlyStatus: Record<number, { state: 'delivered' | 'failed'; reason: string | null }>;
}

export interface AppState {
  connection: ConnectionState;
  clientId: string | null;
  chats: Record<string, ChatView>;
  /** The chat on screen: the newest one the client opened or resumed. */
  currentChatId: string | null;
  /** The last error the server or the page reported; `message` is the words shown to the user. */
  lastError: { code: string; message: string } | null;
}

export interface WelcomeChat {
  chatId: string;
  state: ChatPhase;
  language?: string | null;
  topic?: string | null;
  ca?: CaProfile | null;
  lastSeq?: number;
  position?: number | null;
}

export interface IncomingMessage {
  chatId: string;
  seq: number;
  from: Party;
  text?: string | null;
  file?: {
    id: string;
    name: string;
    mime: string;
    size: number;
    sha256: string;
    url: string;
  } | null;
  at: number;
}

export type Action =
  | { type: 'connection'; state: ConnectionState }
  | { type: 'welcome'; clientId: string; chats: WelcomeChat[] }
  | { type: 'chat.requested'; chatId: string; language: string; topic: string | null }
  | { type: 'chat.queued'; chatId: string; position: number; noCaForLanguage?: boolean }
  | { type: 'chat.matched'; chatId: string; ca: CaProfile }
  | { type: 'chat.ended'; chatId: string; reason: string | null }
  | { type: 'message'; message: IncomingMessage }
  | { type: 'local.send'; chatId: string; clientMsgId: string; text: string; at: number }
  | {
      type: 'local.upload';
      chatId: string;
      clientMsgId: string;
      file: { name: string; mime: string; size: number };
      at: number;
    }
  | { type: 'local.progress'; chatId: string; clientMsgId: string; progress: number }
  | { type: 'local.failed'; chatId: string; clientMsgId: string; reason: string }
  | {
      type: 'ack';
      chatId: string;
      clientMsgId: string;
      seq: number;
      file?: IncomingMessage['file'];
    }
  | {
      type: 'status';
      chatId: string;
      seq: number;
      state: 'pending' | 'delivered' | 'failed';
      reason?: string | null;
    }
  | { type: 'error'; code: string; message: string }
  | { type: 'error.clear' }
  | { type: 'show'; chatId: string | null };
