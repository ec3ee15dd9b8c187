/**
 * The `ca-chat.v1` wire protocol: JSON text frames, one object each with a `type`.
 * Types only (no runtime code) so the browser SDK and the server share them.
 * See DESIGN.md "Wire protocol" and this package's README.
 */
import type {
  CAPublicProfile,
  CaChatErrorCode,
  ChatState,
  DeliveryState,
  EndReason,
  FileRef,
  LanguageTag,
  Party,
} from '@ca-chat/core';

export const SUBPROTOCOL = 'ca-chat.v1';

/** Every client frame may carry a `ref` (a client-chosen correlation id, ≤ 128 chars) that the server echoes in its reply. */
interface ClientFrameBase {
  ref?: string;
}

export type ClientFrame =
  | (ClientFrameBase & { type: 'hello'; token?: string | null })
  | (ClientFrameBase & {
      type: 'chat.request';
      language: LanguageTag;
      topic?: string | null;
      text?: string | null;
      /** Idempotency key of the first message, when `text` is given. */
      clientMsgId?: string | null;
    })
  | (ClientFrameBase & { type: 'message'; chatId: string; text: string; clientMsgId: string })
  | (ClientFrameBase & { type: 'typing'; chatId: string })
  | (ClientFrameBase & { type: 'chat.end'; chatId: string })
  | (ClientFrameBase & { type: 'resume'; chatId: string; afterSeq: number })
  | (ClientFrameBase & { type: 'ping' });

export type ClientFrameType = ClientFrame['type'];

export interface WireChatSummary {
  chatId: string;
  state: ChatState;
  language: LanguageTag;
  topic: string | null;
  ca?: CAPublicProfile;
  lastSeq: number;
  /** Queue position while waiting (1 = next). */
  position?: number;
}

/** A file as the client sees it: the stored reference plus a short-lived signed download URL. */
export interface WireFile extends FileRef {
  url: string;
}

export interface WireMessage {
  type: 'message';
  chatId: string;
  seq: number;
  from: Party;
  text?: string;
  file?: WireFile;
  /** Epoch milliseconds. */
  at: number;
}

export type ServerFrame =
  | {
      type: 'welcome';
      clientId: string;
      /** The identity's secret token; null when the embedder's `authenticate` hook identified the client. */
      token: string | null;
      chats: WireChatSummary[];
    }
  | {
      type: 'chat.queued';
      chatId: string;
      position: number;
      noCaForLanguage?: boolean;
      ref?: string;
    }
  | { type: 'chat.matched'; chatId: string; ca: CAPublicProfile }
  | WireMessage
  | { type: 'message.ack'; chatId: string; clientMsgId: string; seq: number; ref?: string }
  | { type: 'message.status'; chatId: string; seq: number; state: DeliveryState; reason?: string }
  | { type: 'chat.ended'; chatId: string; reason: EndReason; ref?: string }
  | { type: 'error'; code: CaChatErrorCode; message: string; ref?: string }
  | { type: 'pong'; ref?: string };

export type ServerFrameType = ServerFrame['type'];

/** The body of every HTTP error response. */
export interface HttpErrorBody {
  error: { code: CaChatErrorCode; message: string };
}

/** What `POST /chat` answers (201): the stored message. */
export interface StoredMessageBody {
  chatId: string;
  seq: number;
  from: Party;
  text?: string;
  file?: WireFile;
  at: number;
  clientMsgId: string | null;
  duplicate: boolean;
}
