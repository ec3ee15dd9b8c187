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
