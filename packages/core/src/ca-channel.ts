import type { CA, Chat, EndReason, Message } from './domain.js';
import type { RelayApi } from './relay-api.js';

/**
 * How CAs reach the relay (Telegram, a web console, Slack…). The relay calls these methods;
 * the channel calls the relay (`RelayApi`) for registration, accept/decline, messages,
 * files, ending and availability. A channel translates; it never decides.
 *
 * A method that fails with a `CaChatError` whose `retryable` is true is retried by the relay
 * (outbox deliveries with backoff); any other failure is final for that call.
 */
export interface CAChannel {
  /** Matches `CA.channel` of the CAs this channel serves, e.g. `telegram`. */
  readonly name: string;
  start(relay: RelayApi): Promise<void>;
  stop(): Promise<void>;

  /** Notifies the CA of a chat they may accept; returns a reference used to edit it later. */
  sendOffer(ca: CA, offer: OfferNotice): Promise<string | null>;
  /** Edits an earlier offer notification: it was taken by another CA, withdrawn, expired… */
  closeOffer(ca: CA, ref: string | null, chatId: string, reason: OfferCloseReason): Promise<void>;
  /** The CA won the chat: tell them it started (and show what the client already wrote). */
  chatMatched(ca: CA, chat: Chat, history: Message[]): Promise<void>;
  /** Delivers a client message or file to the CA; returns the channel's message id. */
  deliverMessage(ca: CA, chat: Chat, message: Message): Promise<DeliveryReceipt>;
  chatEnded(ca: CA, chat: Chat, reason: EndReason): Promise<void>;
  /** The client is typing (best effort; failures are ignored). */
  clientTyping?(ca: CA, chat: Chat): Promise<void>;
  /** Something the CA should know that is not part of a chat. */
  notify(ca: CA, notice: CANotice): Promise<void>;
}

export interface OfferNotice {
  chatId: string;
  language: string;
  topic: string | null;
  /** The client's first message, if it sent one. */
  firstMessage: string | null;
  createdAt: number;
}

/**
 * `taken`: another CA accepted. `withdrawn`: the chat ended or the CA can no longer take it.
 * `expired`: round-robin moved on. `declined`: the CA declined. `accepted`: this CA won it.
 */
export type OfferCloseReason = 'taken' | 'withdrawn' | 'expired' | 'declined' | 'accepted';

export interface DeliveryReceipt {
  peerMessageId: string | null;
}

export type CANotice =
  | { type: 'approved' }
  | { type: 'rejected' }
  | { type: 'removed' }
  | { type: 'delivery_failed'; chatId: string; seq: number; reason: string };
