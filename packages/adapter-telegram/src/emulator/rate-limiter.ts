import { tooManyRequests } from './errors.js';
import type { EmulatorRateLimits } from './types.js';

/** A token bucket: `capacity` tokens, refilled at `perSecond`. */
class TokenBucket {
  private tokens: number;
  private updatedAtMs: number;

  constructor(
    private readonly perSecond: number,
    private readonly capacity: number,
    nowMs: number,
  ) {
    this.tokens = capacity;
    this.updatedAtMs = nowMs;
  }

  /** Milliseconds until one token is available (0 = available now). */
  waitMs(nowMs: number): number {
    this.refill(nowMs);
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.perSecond) * 1000;
  }

  take(nowMs: number): void {
    this.refill(nowMs);
    this.tokens -= 1;
  }

  isFull(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens >= this.capacity;
  }

  private refill(nowMs: number): void {
    const elapsedMs = Math.max(0, nowMs - this.updatedAtMs);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsedMs / 1000) * this.perSecond);
    this.updatedAtMs = nowMs;
  }
}

/**
 * Telegram's flood control for one bot: about one message a second per chat (with a small
 * burst) and 30 a second overall. A refused call consumes nothing and gets 429 with
 * `retry_after` in whole seconds (at least 1), as Telegram sends it.
 */
export class SendRateLimiter {
  private readonly chats = new Map<number, TokenBucket>();
  private readonly global: TokenBucket | undefined;

  constructor(
    private readonly rates: EmulatorRateLimits | false,
    private readonly nowMs: () => number = Date.now,
  ) {
    this.global = rates
      ? new TokenBucket(rates.globalPerSecond, Math.max(1, rates.globalPerSecond), nowMs())
      : undefined;
  }

  /** Throws a 429 BotApiError when sending into `chatId` now would exceed a limit. */
  acquire(chatId: number): void {
    if (!this.rates || !this.global) return;
    const now = this.nowMs();
    let chat = this.chats.get(chatId);
    if (!chat) {
      chat = new TokenBucket(
        this.rates.perChatPerSecond,
        Math.max(1, this.rates.perChatBurst),
        now,
      );
      this.chats.set(chatId, chat);
    }
    const waitMs = Math.max(chat.waitMs(now), this.global.waitMs(now));
    if (waitMs > 0) throw tooManyRequests(Math.max(1, Math.ceil(waitMs / 1000)));
    chat.take(now);
    this.global.take(now);
    if (this.chats.size > 10_000) this.forgetIdleChats(now);
  }

  private forgetIdleChats(nowMs: number): void {
    for (const [chatId, bucket] of this.chats) if (bucket.isFull(nowMs)) this.chats.delete(chatId);
  }
}
