import type { Duplex } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { Connection, connectionLimits } from './connection.js';

const connection = (ratePerSecond: number, burst: number, now: number): Connection =>
  new Connection(
    {} as WebSocket,
    {} as Duplex,
    '127.0.0.1',
    connectionLimits(1024, { ratePerSecond, burst }, 1_700_000_000_000),
    now,
  );

describe('Connection frame rate limit', () => {
  it('allows a burst, then refills at the rate', () => {
    const c = connection(2, 3, 1_700_000_000_000);
    const at = (ms: number): boolean => c.takeToken(1_700_000_000_000 + ms);
    expect([at(0), at(0), at(0), at(0)]).toEqual([true, true, true, false]);
    expect(at(499)).toBe(false);
    expect(at(500)).toBe(true);
    expect(at(500)).toBe(false);
    // A long pause refills the bucket to its burst, no further.
    expect([at(10_000), at(10_000), at(10_000), at(10_000)]).toEqual([true, true, true, false]);
  });

  it('answers like a token bucket counted exactly, for any times', () => {
    // Rates that divide 1000 keep both sides in exact integer arithmetic.
    const rates = [1, 2, 4, 5, 8, 10, 20, 25, 50, 100, 1000];
    fc.assert(
      fc.property(
        fc.constantFrom(...rates),
        fc.integer({ min: 1, max: 10 }),
        fc.array(fc.integer({ min: 0, max: 1500 }), { maxLength: 60 }),
        (rate, burst, gaps) => {
          const start = 1_700_000_000_123;
          const c = connection(rate, burst, start);
          // The model: tokens in thousandths, refilled by elapsed ms × rate, capped at burst.
          let milliTokens = burst * 1000;
          let now = start;
          for (const gap of gaps) {
            now += gap;
            milliTokens = Math.min(burst * 1000, milliTokens + gap * rate);
            const allowed = milliTokens >= 1000;
            if (allowed) milliTokens -= 1000;
            expect(c.takeToken(now)).toBe(allowed);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps its flags apart', () => {
    const c = connection(1, 1, 0);
    expect([c.alive, c.closed, c.isWelcomed]).toEqual([true, false, false]);
    c.alive = false;
    c.closed = true;
    expect([c.alive, c.closed, c.isWelcomed]).toEqual([false, true, false]);
    c.alive = true;
    expect([c.alive, c.closed]).toEqual([true, true]);
  });
});
