import type { TgUpdate, TgUpdateType } from './bot-api-types.js';
import { conflict } from './errors.js';

/** Telegram's default when allowed_updates is empty: every kind the emulator produces. */
const DEFAULT_ALLOWED: ReadonlySet<string> = new Set<TgUpdateType>([
  'message',
  'edited_message',
  'callback_query',
]);

export interface PollRequest {
  offset?: number;
  /** 1-100, default 100. */
  limit?: number;
  /** Long-poll seconds; 0 answers at once. */
  timeoutSeconds?: number;
  /** Aborted when the client goes away: frees the poller slot. */
  signal?: AbortSignal;
  /** Persisting subscription change (undefined keeps the current one). */
  allowedUpdates?: string[];
}

/** How long a second getUpdates waits for a held one to end before it gets 409. */
const CONFLICT_GRACE_MS = 100;

/**
 * One bot's unconfirmed updates and its (single) long poll. An update stays here until a
 * getUpdates with a larger offset confirms it, or a webhook delivery succeeds.
 */
export class UpdateQueue {
  private nextUpdateId: number;
  private readonly pending: TgUpdate[] = [];
  private allowed: ReadonlySet<string> = DEFAULT_ALLOWED;
  private allowedList: string[] = [];
  private activePoll: { finish: (updates: TgUpdate[]) => void } | undefined;
  private readonly pushListeners = new Set<() => void>();
  private readonly releaseWaiters = new Set<() => void>();

  constructor(firstUpdateId: number) {
    this.nextUpdateId = firstUpdateId;
  }

  get size(): number {
    return this.pending.length;
  }

  get allowedUpdates(): string[] {
    return [...this.allowedList];
  }

  /** Persists like Telegram's: later calls without the parameter keep the last list. */
  setAllowedUpdates(list: string[] | undefined): void {
    if (list === undefined) return;
    this.allowedList = [...list];
    this.allowed = list.length === 0 ? DEFAULT_ALLOWED : new Set(list);
  }

  /** Queues an update unless the bot did not subscribe to its kind (then it is dropped). */
  push<K extends TgUpdateType>(type: K, payload: NonNullable<TgUpdate[K]>): TgUpdate | undefined {
    if (!this.allowed.has(type)) return undefined;
    const update = { update_id: this.nextUpdateId++, [type]: payload } as TgUpdate;
    this.pending.push(update);
    for (const listener of [...this.pushListeners]) listener();
    return update;
  }

  /** Forgets updates the offset confirms (negative: keep only the last -offset). */
  confirm(offset: number | undefined): void {
    if (offset === undefined || offset === 0) return;
    if (offset < 0) {
      const keep = -offset;
      if (this.pending.length > keep) this.pending.splice(0, this.pending.length - keep);
      return;
    }
    let confirmed = 0;
    while (confirmed < this.pending.length && (this.pending[confirmed]?.update_id ?? 0) < offset) {
      confirmed += 1;
    }
    this.pending.splice(0, confirmed);
  }

  peek(limit = 100): TgUpdate[] {
    return this.pending.slice(0, limit);
  }

  /** Removes one delivered update (webhook mode). */
  remove(updateId: number): void {
    const index = this.pending.findIndex((update) => update.update_id === updateId);
    if (index >= 0) this.pending.splice(index, 1);
  }

  clear(): void {
    this.pending.length = 0;
  }

  onPush(listener: () => void): () => void {
    this.pushListeners.add(listener);
    return () => {
      this.pushListeners.delete(listener);
    };
  }

  /**
   * getUpdates: confirms by offset, then answers with what is pending, or holds until an
   * update arrives or `timeoutSeconds` pass. A second poll while one is held is a 409 --
   * after a short grace, because a client that hangs up and polls again at once (telegraf
   * does on stop) may be heard before its hang-up is.
   */
  async poll(request: PollRequest): Promise<TgUpdate[]> {
    while (this.activePoll) {
      if (!(await this.waitForRelease(CONFLICT_GRACE_MS))) {
        throw conflict(
          'terminated by other getUpdates request; make sure that only one bot instance is running',
        );
      }
    }
    this.setAllowedUpdates(request.allowedUpdates);
    const limit = Math.min(100, Math.max(1, request.limit ?? 100));
    this.confirm(request.offset);
    const ready = this.peek(limit);
    const timeoutSeconds = request.timeoutSeconds ?? 0;
    if (ready.length > 0 || timeoutSeconds <= 0 || request.signal?.aborted) return ready;
    return new Promise((resolve) => {
      let done = false;
      const finish = (updates: TgUpdate[]) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        unsubscribe();
        request.signal?.removeEventListener('abort', onAbort);
        this.activePoll = undefined;
        for (const waiter of [...this.releaseWaiters]) waiter();
        resolve(updates);
      };
      const onAbort = () => finish([]);
      const timer = setTimeout(() => finish([]), timeoutSeconds * 1000);
      const unsubscribe = this.onPush(() => finish(this.peek(limit)));
      request.signal?.addEventListener('abort', onAbort, { once: true });
      this.activePoll = { finish };
    });
  }

  /** Resolves true as soon as the held poll ends, false if it is still held after `ms`. */
  private waitForRelease(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (released: boolean) => {
        clearTimeout(timer);
        this.releaseWaiters.delete(onRelease);
        resolve(released);
      };
      const onRelease = () => done(true);
      const timer = setTimeout(() => done(false), ms);
      this.releaseWaiters.add(onRelease);
    });
  }

  /** Answers a held poll with nothing (a webhook was set, or the emulator is closing). */
  endPoll(): void {
    this.activePoll?.finish([]);
  }
}
