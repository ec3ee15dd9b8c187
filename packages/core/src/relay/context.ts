import type { BlobStore } from '../blob-store.js';
import type { CAChannel } from '../ca-channel.js';
import type { ClientTransport } from '../client-transport.js';
import type { Clock, TimerHandle } from '../clock.js';
import { CaChatError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RelayEvents } from '../relay-api.js';
import type { Storage } from '../storage.js';
import type { ChatLifecycle } from './chat-lifecycle.js';
import type { RelayConfig } from './config.js';
import type { Matching } from './matching.js';
import type { Offers } from './offers.js';
import type { Outbox } from './outbox.js';
import type { Queue } from './queue.js';

/** Lock key of a chat: everything that changes one chat's state runs under it. */
export const matchTimerKey = (chatId: string): string => `match:${chatId}`;

export type EmitFn = <E extends keyof RelayEvents>(
  event: E,
  ...args: Parameters<RelayEvents[E]>
) => void;

/** What every relay module shares. Built once by `createRelay`. */
export interface RelayContext {
  config: RelayConfig;
  clock: Clock;
  logger: Logger;
  /** Guarded: every failure is a CaChatError (`storage_error` unless the store said more). */
  storage: Storage;
  blobs: BlobStore;
  transports: readonly ClientTransport[];
  channels: ReadonlyMap<string, CAChannel>;
  emit: EmitFn;
  /** Whether anyone listens to `event`: lets the hot path skip building its arguments. */
  listens(event: keyof RelayEvents): boolean;
  timers: Timers;
  /** Locks of other keys (a client, a CA registration). */
  locks: KeyedLock;
  /** One lock per chat, keyed by its id: what changes a chat or appends to it holds it. */
  chatLocks: KeyedLock;
  tasks: Tasks;
  /** Logs an error and emits `error`; returns it as a CaChatError. */
  reportError(error: unknown, context: Record<string, unknown>): CaChatError;
  /** Filled by `createRelay` right after the modules are built (they call each other). */
  modules: RelayModules;
}

export interface RelayModules {
  queue: Queue;
  offers: Offers;
  matching: Matching;
  lifecycle: ChatLifecycle;
  outbox: Outbox;
}

/** Named timers on the injected clock; setting a name again replaces the old timer. */
export interface Timers {
  set(key: string, delayMs: number, callback: () => Promise<unknown> | void): void;
  clear(key: string): void;
  has(key: string): boolean;
  /** Clears every timer whose key starts with `prefix`. */
  clearPrefix(prefix: string): void;
  clearAll(): void;
  /** Once closed, `set` does nothing (the relay is stopping). */
  close(): void;
}

export function createTimers(clock: Clock, tasks: Tasks): Timers {
  const handles = new Map<string, TimerHandle>();
  let closed = false;
  const clear = (key: string): void => {
    const handle = handles.get(key);
    if (handle === undefined) return;
    clock.clearTimeout(handle);
    handles.delete(key);
  };
  return {
    set(key, delayMs, callback) {
      if (closed) return;
      clear(key);
      const handle = clock.setTimeout(
        () => {
          if (handles.get(key) !== handle) return;
          handles.delete(key);
          tasks.run(`timer ${key}`, async () => callback());
        },
        Math.max(0, delayMs),
      );
      handles.set(key, handle);
    },
    clear,
    has: (key) => handles.has(key),
    clearPrefix(prefix) {
      for (const key of [...handles.keys()]) if (key.startsWith(prefix)) clear(key);
    },
    clearAll() {
      for (const key of [...handles.keys()]) clear(key);
    },
    close() {
      closed = true;
      this.clearAll();
    },
  };
}

/** Runs async work one at a time per key (a chat, a client). Never nest two keys' locks. */
export interface KeyedLock {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Takes the lock by hand, for hot paths: nothing (no promise, no turn) when it was free,
   * else a promise that resolves once it is yours. Always pair with `release` in `finally`.
   */
  acquire(key: string): Promise<void> | undefined;
  release(key: string): void;
}

/** Keys remembered once free; past this many, free ones are forgotten in one sweep. */
const MAX_IDLE_LOCKS = 10_000;
/** A held lock nobody waits for (no list allocated). */
const HELD = Symbol('held');

export function createKeyedLock(): KeyedLock {
  /**
   * Key → whoever waits for it, in arrival order (HELD: held, nobody waiting; null: free).
   * Free keys stay rather than being deleted on each release: a Map that shrinks and regrows
   * its table on every delete cost more than the rest of the lock.
   */
  const waiters = new Map<string, (() => void)[] | typeof HELD | null>();
  const acquire = (key: string): Promise<void> | undefined => {
    const queue = waiters.get(key);
    if (queue === undefined || queue === null) {
      if (queue === undefined && waiters.size >= MAX_IDLE_LOCKS) {
        for (const [k, q] of waiters) if (q === null) waiters.delete(k);
      }
      waiters.set(key, HELD);
      return undefined;
    }
    const line = queue === HELD ? [] : queue;
    if (queue === HELD) waiters.set(key, line);
    return new Promise<void>((resolve) => line.push(resolve));
  };
  const release = (key: string): void => {
    const queue = waiters.get(key);
    // Handed straight to the next in line, who then holds it.
    const next = queue === HELD || queue === null ? undefined : queue?.shift();
    if (next) next();
    else waiters.set(key, null);
  };
  return {
    acquire,
    release,
    async run(key, fn) {
      const wait = acquire(key);
      if (wait) await wait;
      try {
        return await fn();
      } finally {
        release(key);
      }
    },
  };
}

/** Background work the relay starts and must not lose track of (so `stop()` can drain it). */
export interface Tasks {
  run(label: string, task: () => Promise<unknown>): void;
  /** Resolves when every task (including ones started while waiting) has finished. */
  idle(): Promise<void>;
  readonly size: number;
}

export function createTasks(onError: (label: string, error: unknown) => void): Tasks {
  const running = new Set<Promise<unknown>>();
  return {
    run(label, task) {
      const promise: Promise<unknown> = Promise.resolve()
        .then(task)
        .catch((error) => onError(label, error))
        .finally(() => running.delete(promise));
      running.add(promise);
    },
    async idle() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
    get size() {
      return running.size;
    },
  };
}

export function toCaChatError(error: unknown, code: CaChatError['code'] = 'internal'): CaChatError {
  return CaChatError.wrap(error, code, 'unexpected failure');
}
