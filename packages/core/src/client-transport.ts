import type { CaChatErrorCode } from './errors.js';
import type { ChatState, DeliveryState, EndReason, FileRef, LanguageTag, Party } from './domain.js';
import type { RelayApi } from './relay-api.js';

/**
 * How clients reach the relay (WebSocket, HTTP, …). A transport translates its wire format
 * into calls on the relay and turns `deliver` calls into frames; it never decides anything.
 */
export interface ClientTransport {
  readonly name: string;
  start(relay: RelayApi): Promise<void>;
  stop(): Promise<void>;
  /**
   * Hands an event to every live connection of the client. True when at least one
   * connection took it, false when the client has none (the relay then keeps the message
   * pending and delivers it when the client comes back, or the client resumes).
   *
   * A transport that knows at once may answer with a plain boolean: this runs for every
   * message, and the relay then skips the timeout and promises it wraps around a promise.
   */
  deliver(clientId: string, event: ClientEvent): boolean | Promise<boolean>;
}

/** The public face of a CA, as a client sees it. */
export interface CAPublicProfile {
  name: string;
  languages: LanguageTag[];
}

export interface ClientChatSummary {
  chatId: string;
  state: ChatState;
  language: LanguageTag;
  topic: string | null;
  ca: CAPublicProfile | null;
  lastSeq: number;
  /** Queue position while waiting (1 = next). */
  position: number | null;
}

/** Events the relay sends to a client. The names are the wire protocol's `type`s. */
export type ClientEvent =
  | {
      type: 'chat.queued';
      chatId: string;
      position: number;
      /** True when no registered CA speaks the language at all (the client may wait anyway). */
      noCaForLanguage?: boolean;
    }
  | { type: 'chat.matched'; chatId: string; ca: CAPublicProfile }
  | {
      type: 'message';
      chatId: string;
      seq: number;
      from: Party;
      text?: string;
      /** The transport adds a `url` (a short-lived signed download link). */
      file?: FileRef;
      at: number;
    }
  | { type: 'message.status'; chatId: string; seq: number; state: DeliveryState; reason?: string }
  | { type: 'chat.ended'; chatId: string; reason: EndReason }
  | { type: 'error'; code: CaChatErrorCode; message: string; ref?: string };
