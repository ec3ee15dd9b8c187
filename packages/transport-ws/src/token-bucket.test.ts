import { describe, expect, it } from 'vitest';
import { createKeyedRateLimiter, createTokenBucket } from './token-bucket.js';
import { createUrlSigner } from './signed-url.js';

describe('token bucket', () => {
  it('allows a burst, then refills at the rate', () => {
    const bucket = createTokenBucket({ ratePerSecond: 2, burst: 3 }, 0);
    expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(bucket.take(499)).toBe(false);
    expect(bucket.take(500)).toBe(true);
  });

  it('keeps at most maxKeys buckets, evicting the least recently used', () => {
    const limiter = createKeyedRateLimiter({ ratePerSecond: 0.001, burst: 1 }, 2);
    expect(limiter.take('a', 0)).toBe(true);
    expect(limiter.take('b', 0)).toBe(true);
    expect(limiter.take('a', 0)).toBe(false);
    expect(limiter.take('c', 0)).toBe(true);
    expect(limiter.size).toBe(2);
    // `b` was the least recently used: evicted, so it starts with a full bucket again.
    expect(limiter.take('b', 0)).toBe(true);
    expect(limiter.take('a', 0)).toBe(true);
  });
});

describe('signed URLs', () => {
  it('verifies its own signature until it expires, and nothing else', () => {
    const signer = createUrlSigner('secret', 1000);
    const { exp, sig } = signer.sign('file1', 5000);
    expect(signer.verify('file1', String(exp), sig, 5999)).toBe('ok');
    expect(signer.verify('file1', String(exp), sig, 6001)).toBe('expired');
    expect(signer.verify('file2', String(exp), sig, 5000)).toBe('invalid');
    expect(signer.verify('file1', String(exp + 1), sig, 5000)).toBe('invalid');
    expect(createUrlSigner('other', 1000).verify('file1', String(exp), sig, 5000)).toBe('invalid');
    expect(signer.verify('file1', null, sig, 5000)).toBe('invalid');
  });
});
