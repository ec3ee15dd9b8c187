import type { Clock, TimerHandle } from '../clock.js';

/** A Clock whose time moves only when a test says so. */
export interface ManualClock extends Clock {
  /** Moves time forward, firing due timers in order, letting promises settle between them. */
  advance(ms: number): Promise<void>;
  /** Timers not yet fired. */
  pendingTimers(): number;
}

export function createManualClock(startAt = Date.UTC(2026, 0, 1)): ManualClock {
  let now = startAt;
  let nextId = 1;
  const timers = new Map<number, { at: number; callback: () => void; id: number }>();
  const settle = async (): Promise<void> => {
    // Several macrotask turns so chains of awaits inside timer callbacks finish.
    for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return {
    now: () => now,
    setTimeout(callback, ms) {
      const id = nextId++;
      timers.set(id, { at: now + Math.max(0, ms), callback, id });
      return { __timer: true, id } as unknown as TimerHandle;
    },
    clearTimeout(handle) {
      timers.delete((handle as unknown as { id: number }).id);
    },
    async advance(ms) {
      const target = now + ms;
      await settle();
      for (;;) {
        let due: { at: number; callback: () => void; id: number } | undefined;
        for (const t of timers.values())
          if (t.at <= target && (!due || t.at < due.at || (t.at === due.at && t.id < due.id)))
            due = t;
        if (!due) break;
        timers.delete(due.id);
        now = Math.max(now, due.at);
        due.callback();
        await settle();
      }
      now = target;
      await settle();
    },
    pendingTimers: () => timers.size,
  };
}
