/**
 * A token bucket: `ratePerSecond` tokens a second, holding at most `burst`. Time comes from
 * the caller so the outbox queue can run on a manual clock in tests.
 */
export interface TokenBucket {
  /** Milliseconds until a token is available at `now` (0 = one is available now). */
  waitMs(now: number): number;
  /** Takes one token (call only when `waitMs(now)` is 0). */
  take(now: number): void;
}

export function createTokenBucket(ratePerSecond: number, burst: number): TokenBucket {
  if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be > 0');
  const capacity = Math.max(1, burst);
  let tokens = capacity;
  let updatedAt: number | null = null;
  const refill = (now: number): void => {
    if (updatedAt === null) updatedAt = now;
    if (now > updatedAt) {
      tokens = Math.min(capacity, tokens + ((now - updatedAt) * ratePerSecond) / 1000);
      updatedAt = now;
    }
  };
  return {
    waitMs(now) {
      refill(now);
      if (tokens >= 1) return 0;
      return Math.ceil(((1 - tokens) * 1000) / ratePerSecond);
    },
    take(now) {
      refill(now);
      tokens -= 1;
    },
  };
}
