import type { Clock, Logger } from '@ca-chat/core';

/** The contract of the outgoing queue (`outbox-queue.ts`): what callers hand it and get back. */

export interface OutboxQueueOptions {
  /** Messages a second to one Telegram chat (Telegram: about 1). */
  perChatPerSecond?: number;
  /** How many messages one chat may get back to back before the per-chat rate applies. Default 3. */
  perChatBurst?: number;
  /** Messages a second over all chats (Telegram: about 30). */
  globalPerSecond?: number;
  globalBurst?: number;
  /** Tries of one call on 5xx / network errors before it fails as retryable. Default 4. */
  maxAttempts?: number;
  /** 429 answers one call may get before it fails as retryable. Default 10. */
  max429Retries?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Queued calls over all chats; beyond it new calls fail with a retryable `rate_limited`. */
  maxQueuedJobs?: number;
  /**
   * A call not sent within this long of being queued (rate limits, a long 429 pause) fails
   * as retryable instead of going out late: the relay gives up on a channel call after 30 s
   * and retries it, and a late send would then arrive twice. Default 25 s.
   */
  maxQueueWaitMs?: number;
  clock?: Clock;
  logger?: Logger;
}

export interface CallJob<T> {
  /** The Telegram chat the call writes to. Calls without one are not rate limited or ordered. */
  chatId?: number | string;
  /** Counts against the message limits (default: true when `chatId` is set). */
  limited?: boolean;
  /** Best effort (typing): resolved with null without sending when the chat has work queued. */
  skipIfBusy?: boolean;
  /** Jobs with the same key never overtake each other: when one fails for good, the later ones fail too. */
  orderKey?: string;
  run(signal: AbortSignal): Promise<T>;
}

export interface TextJob<T> {
  chatId: number | string;
  /** Consecutive queued texts with the same key may be sent as one message. */
  coalesceKey: string;
  /** Put once in front of a (coalesced) message, e.g. the chat's label. */
  prefix?: string;
  text: string;
  orderKey?: string;
  send(text: string, signal: AbortSignal): Promise<T>;
  /**
   * Called when this text had to wait for the rate limit and nothing is queued behind it:
   * may return more texts to append (the relay hands over one message at a time, so the
   * chat's next pending messages are not in this queue yet). `settle` learns the outcome.
   */
  extend?(roomChars: number): Promise<TextExtension<T> | null>;
}

export interface TextExtension<T> {
  texts: string[];
  settle(outcome: { ok: true; value: T } | { ok: false; error: unknown }): void;
}

export interface OutboxStats {
  /** Telegram calls that succeeded. */
  sent: number;
  /** Texts merged into another message instead of being sent alone. */
  coalesced: number;
  /** 429 answers received. */
  rateLimited: number;
  /** Calls repeated after a 5xx, a network error or a timeout. */
  retries: number;
  /** Calls that failed for good. */
  failed: number;
  /** Calls waiting or in flight now. */
  queued: number;
}

export interface OutboxQueue {
  call<T>(job: CallJob<T>): Promise<T | null>;
  text<T>(job: TextJob<T>): Promise<T>;
  stats(): OutboxStats;
  /** Lets queued work finish for up to `drainTimeoutMs`, then aborts and fails the rest (retryable). */
  stop(drainTimeoutMs: number): Promise<void>;
}
