/** A rate: `ratePerSecond` tokens refill each second, up to `burst` saved. */
export interface RateLimit {
  ratePerSecond: number;
  burst: number;
}

export interface TokenBucket {
  /** Takes one token; false when none is left (the caller refuses the action). */
  take(now: number): boolean;
}

export function createTokenBucket(limit: RateLimit, now: number): TokenBucket {
  let tokens = limit.burst;
  let updatedAt = now;
  return {
    take(at) {
      const elapsedMs = Math.max(0, at - updatedAt);
      updatedAt = at;
      tokens = Math.min(limit.burst, tokens + (elapsedMs / 1000) * limit.ratePerSecond);
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

/**
 * One token bucket per key (an IP address), in a map bounded to `maxKeys`: the least
 * recently used key is evicted first. An evicted key starts again with a full bucket, which
 * is the price of bounded memory under a flood of distinct addresses.
 */
export interface KeyedRateLimiter {
  take(key: string, now: number): boolean;
  readonly size: number;
}

export function createKeyedRateLimiter(limit: RateLimit, maxKeys: number): KeyedRateLimiter {
  const buckets = new Map<string, TokenBucket>();
  return {
    take(key, now) {
      let bucket = buckets.get(key);
      if (bucket) {
        // Re-insert so Map iteration order is least-recently-used first.
        buckets.delete(key);
      } else {
        bucket = createTokenBucket(limit, now);
        while (buckets.size >= maxKeys) {
          const oldest = buckets.keys().next();
          if (oldest.done) break;
          buckets.delete(oldest.value);
        }
      }
      buckets.set(key, bucket);
      return bucket.take(now);
    },
    get size() {
      return buckets.size;
    },
  };
}
