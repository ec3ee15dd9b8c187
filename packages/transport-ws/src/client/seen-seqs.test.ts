import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SeenSeqs } from './seen-seqs.js';
import { reconnectDelayMs } from './backoff.js';

describe('SeenSeqs', () => {
  it('recognises duplicates and moves the watermark over filled gaps', () => {
    const seen = new SeenSeqs();
    expect(seen.add(1)).toBe(true);
    expect(seen.add(3)).toBe(true);
    expect(seen.watermark).toBe(1);
    expect(seen.add(3)).toBe(false);
    expect(seen.add(2)).toBe(true);
    expect(seen.watermark).toBe(3);
    expect(seen.add(1)).toBe(false);
  });

  it('in any arrival order, says true exactly once per seq and keeps the contiguous watermark', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 120 }), (seqs) => {
        const seen = new SeenSeqs();
        const model = new Set<number>();
        for (const seq of seqs) {
          expect(seen.add(seq)).toBe(!model.has(seq));
          model.add(seq);
          let watermark = 0;
          while (model.has(watermark + 1)) watermark++;
          expect(seen.watermark).toBe(watermark);
          expect(seen.has(seq)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('reconnectDelayMs', () => {
  it('grows exponentially up to the cap, with jitter in the upper half', () => {
    const low = (attempt: number): number =>
      reconnectDelayMs(attempt, { initialDelayMs: 100, maxDelayMs: 1000 }, () => 0);
    const high = (attempt: number): number =>
      reconnectDelayMs(attempt, { initialDelayMs: 100, maxDelayMs: 1000 }, () => 1);
    expect([0, 1, 2, 3, 4, 10].map(low)).toEqual([50, 100, 200, 400, 500, 500]);
    expect([0, 1, 2, 3, 4, 10].map(high)).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
});
