import { describe, expect, it } from 'vitest';
import { createKeyedLock } from './context.js';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('keyed lock', () => {
  it('runs work on one key one at a time, in arrival order, and other keys alongside', async () => {
    const lock = createKeyedLock();
    const log: string[] = [];
    const job = (key: string, name: string) =>
      lock.run(key, async () => {
        log.push(`${name} start`);
        await turn();
        log.push(`${name} end`);
      });
    await Promise.all([job('a', 'a1'), job('a', 'a2'), job('b', 'b1'), job('a', 'a3')]);
    expect(log.filter((l) => l.startsWith('a'))).toEqual([
      'a1 start',
      'a1 end',
      'a2 start',
      'a2 end',
      'a3 start',
      'a3 end',
    ]);
    expect(log.indexOf('b1 start')).toBeLessThan(log.indexOf('a1 end'));
  });

  it('acquire answers at once for a free key and with a promise for a held one; release hands it on', async () => {
    const lock = createKeyedLock();
    expect(lock.acquire('k')).toBeUndefined();
    const second = lock.acquire('k');
    expect(second).toBeInstanceOf(Promise);
    let secondHolds = false;
    void second!.then(() => (secondHolds = true));
    lock.release('k');
    await second;
    expect(secondHolds).toBe(true);
    expect(lock.acquire('k')).toBeInstanceOf(Promise); // still held by the second
    lock.release('k');
    lock.release('k');
    expect(lock.acquire('k')).toBeUndefined(); // free again
    lock.release('k');
  });

  it('a failing job releases its key', async () => {
    const lock = createKeyedLock();
    await expect(lock.run('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow(
      'boom',
    );
    expect(lock.acquire('k')).toBeUndefined();
  });

  it('forgetting thousands of free keys never frees a held one', async () => {
    const lock = createKeyedLock();
    expect(lock.acquire('held')).toBeUndefined();
    for (let i = 0; i < 25_000; i++) {
      expect(lock.acquire(`k${i}`)).toBeUndefined();
      lock.release(`k${i}`);
    }
    expect(lock.acquire('held')).toBeInstanceOf(Promise);
  });
});
