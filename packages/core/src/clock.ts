/** Every timer in the relay goes through a Clock so tests can move time by hand. */
export interface Clock {
  /** Wall-clock time in ms since the epoch: what timestamps are made of. */
  now(): number;
  /**
   * Optional: ms from an arbitrary origin that never go backwards or jump with the wall
   * clock (`performance.now()`). Deadlines that must not move when the system clock is set
   * (the outbox's channel-call timeouts) are measured with it; without it, with `now()`.
   */
  monotonic?(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerHandle {
  readonly __timer: true;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout(callback, ms) {
    const t = setTimeout(callback, ms);
    t.unref?.();
    return t as unknown as TimerHandle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as unknown as ReturnType<typeof setTimeout>);
  },
};
