import { CaChatError, silentLogger, systemClock, type TimerHandle } from '@ca-chat/core';
import type { BotErrorDetails } from './bot-api.js';
import type {
  CallJob,
  OutboxQueue,
  OutboxQueueOptions,
  TextExtension,
  TextJob,
} from './outbox-types.js';
import { createTokenBucket, type TokenBucket } from './token-bucket.js';

export type * from './outbox-types.js';

/** Telegram's longest text message, in characters. */
export const MAX_MESSAGE_CHARS = 4096;
const COALESCE_SEPARATOR = '\n\n';

interface Job {
  chatId: number | string | undefined;
  limited: boolean;
  skipIfBusy: boolean;
  orderKey: string | undefined;
  coalesce: { key: string; prefix: string; text: string } | undefined;
  extend: ((roomChars: number) => Promise<TextExtension<unknown> | null>) | undefined;
  /** Waited for the rate limit at the head of its lane (so it is "backed up"). */
  waited: boolean;
  /** Past this time the job fails instead of waiting any longer. */
  deadline: number;
  run(text: string | null, signal: AbortSignal): Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
  attempts: number;
  rateLimitedCount: number;
  settled: boolean;
}

interface Lane {
  jobs: Job[];
  bucket: TokenBucket;
  pausedUntil: number;
  running: boolean;
}

export function createOutboxQueue(options: OutboxQueueOptions = {}): OutboxQueue {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const perChatPerSecond = options.perChatPerSecond ?? 1;
  const perChatBurst = options.perChatBurst ?? 3;
  const global = createTokenBucket(
    options.globalPerSecond ?? 30,
    options.globalBurst ?? options.globalPerSecond ?? 30,
  );
  const maxAttempts = options.maxAttempts ?? 4;
  const max429Retries = options.max429Retries ?? 10;
  const backoffInitialMs = options.backoffInitialMs ?? 250;
  const backoffMaxMs = options.backoffMaxMs ?? 5_000;
  const maxQueuedJobs = options.maxQueuedJobs ?? 10_000;
  const maxQueueWaitMs = options.maxQueueWaitMs ?? 25_000;
  const tooLate = (): CaChatError =>
    new CaChatError(
      'rate_limited',
      `Telegram rate limits kept this message queued for over ${Math.round(maxQueueWaitMs / 1000)} s`,
      {
        retryable: true,
      },
    );

  const lanes = new Map<string, Lane>();
  /**
   * Buckets of chats with no queued work: a new lane must not start with a full bucket
   * (that would let a chat exceed its rate). One idle longer than it takes to refill is
   * full anyway, so dropping it loses nothing.
   */
  const idleBuckets = new Map<string, { bucket: TokenBucket; since: number }>();
  const refillMs = (Math.max(1, perChatBurst) / perChatPerSecond) * 1000;
  const parkBucket = (key: string, bucket: TokenBucket): void => {
    const now = clock.now();
    idleBuckets.set(key, { bucket, since: now });
    if (idleBuckets.size > 1_000) {
      for (const [k, v] of idleBuckets) if (now - v.since >= refillMs) idleBuckets.delete(k);
    }
  };
  const unlimitedInFlight = new Set<Promise<unknown>>();
  const abort = new AbortController();
  let globalPausedUntil = 0;
  let queued = 0;
  let stopping = false;
  const stats = { sent: 0, coalesced: 0, rateLimited: 0, retries: 0, failed: 0 };
  const idleWaiters = new Set<() => void>();

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (abort.signal.aborted) return resolve();
      let handle: TimerHandle | null = null;
      const done = (): void => {
        abort.signal.removeEventListener('abort', done);
        if (handle) clock.clearTimeout(handle);
        resolve();
      };
      handle = clock.setTimeout(done, ms);
      abort.signal.addEventListener('abort', done, { once: true });
    });

  const backoffMs = (attempt: number): number =>
    Math.min(backoffMaxMs, backoffInitialMs * 2 ** Math.max(0, attempt - 1));

  const settle = (job: Job, ok: boolean, value: unknown): void => {
    if (job.settled) return;
    job.settled = true;
    queued--;
    if (ok) job.resolve(value);
    else job.reject(value);
    if (queued === 0) for (const wake of [...idleWaiters]) wake();
  };

  /** What to do after a failed call. */
  const classify = (
    error: unknown,
  ): { kind: 'rate_limit'; waitMs: number } | { kind: 'retry' } | { kind: 'fatal' } => {
    if (!CaChatError.isInstance(error)) return { kind: 'fatal' };
    const details = error.details as Partial<BotErrorDetails> | undefined;
    if (details?.status === 429)
      return { kind: 'rate_limit', waitMs: Math.max(1, details.retryAfterSec ?? 1) * 1000 };
    return error.retryable && error.code === 'telegram_error'
      ? { kind: 'retry' }
      : { kind: 'fatal' };
  };

  const gaveUp = (error: unknown, why: string): CaChatError =>
    new CaChatError(
      'telegram_error',
      `${why}: ${CaChatError.isInstance(error) ? error.message : String(error)}`,
      {
        retryable: true,
        cause: error,
        details: CaChatError.isInstance(error) ? error.details : undefined,
      },
    );

  /** The head job plus the queued texts right behind it that can share its message. */
  const formGroup = async (
    lane: Lane,
  ): Promise<{ jobs: Job[]; text: string | null; extension: TextExtension<unknown> | null }> => {
    const head = lane.jobs[0]!;
    if (!head.coalesce) return { jobs: [head], text: null, extension: null };
    const group = [head];
    let length = head.coalesce.prefix.length + head.coalesce.text.length;
    for (let i = 1; i < lane.jobs.length; i++) {
      const next = lane.jobs[i]!;
      if (!next.coalesce || next.coalesce.key !== head.coalesce.key) break;
      const added = COALESCE_SEPARATOR.length + next.coalesce.text.length;
      if (length + added > MAX_MESSAGE_CHARS) break;
      length += added;
      group.push(next);
    }
    const texts = group.map((j) => j.coalesce!.text);
    const last = group[group.length - 1]!;
    let extension: TextExtension<unknown> | null = null;
    if (head.waited && last.extend && group.length === lane.jobs.length) {
      const room = MAX_MESSAGE_CHARS - length - COALESCE_SEPARATOR.length;
      extension = room > 0 ? await last.extend(room).catch(() => null) : null;
      if (extension) texts.push(...extension.texts);
    }
    return { jobs: group, text: head.coalesce.prefix + texts.join(COALESCE_SEPARATOR), extension };
  };

  const failGroup = (lane: Lane, group: Job[], error: unknown, cascade: boolean): void => {
    const failed = new Set(group);
    if (cascade) {
      const keys = new Set(
        group.map((j) => j.orderKey).filter((k): k is string => k !== undefined),
      );
      for (const job of lane.jobs)
        if (job.orderKey !== undefined && keys.has(job.orderKey)) failed.add(job);
    }
    lane.jobs = lane.jobs.filter((j) => !failed.has(j));
    stats.failed += failed.size;
    for (const job of failed) settle(job, false, error);
  };

  const drainLane = async (key: string, lane: Lane): Promise<void> => {
    lane.running = true;
    try {
      while (lane.jobs.length > 0 && !abort.signal.aborted) {
        const head = lane.jobs[0]!;
        if (head.skipIfBusy && lane.jobs.length > 1) {
          lane.jobs.shift();
          settle(head, true, null);
          continue;
        }
        const now = clock.now();
        let waitMs = Math.max(lane.pausedUntil - now, globalPausedUntil - now, 0);
        if (head.limited && waitMs === 0)
          waitMs = Math.max(lane.bucket.waitMs(now), global.waitMs(now));
        if (waitMs > 0 && now + waitMs > head.deadline) {
          failGroup(lane, [head], tooLate(), true);
          continue;
        }
        if (waitMs > 0) {
          head.waited = true;
          await sleep(waitMs);
          continue;
        }
        if (head.limited) {
          lane.bucket.take(now);
          global.take(now);
        }
        const group = await formGroup(lane);
        try {
          const result = await head.run(group.text, abort.signal);
          lane.jobs.splice(0, group.jobs.length);
          stats.sent++;
          stats.coalesced += group.jobs.length - 1 + (group.extension?.texts.length ?? 0);
          group.extension?.settle({ ok: true, value: result });
          for (const job of group.jobs) settle(job, true, result);
        } catch (error) {
          group.extension?.settle({ ok: false, error });
          if (abort.signal.aborted) break;
          const verdict = classify(error);
          if (verdict.kind === 'rate_limit') {
            stats.rateLimited++;
            head.rateLimitedCount++;
            lane.pausedUntil = clock.now() + verdict.waitMs;
            logger.warn(
              { chatId: head.chatId, retryAfterMs: verdict.waitMs },
              'telegram rate limit (429): pausing chat',
            );
            if (head.rateLimitedCount > max429Retries)
              failGroup(lane, group.jobs, gaveUp(error, 'still rate limited'), true);
          } else if (verdict.kind === 'retry') {
            head.attempts++;
            if (head.attempts >= maxAttempts) {
              failGroup(
                lane,
                group.jobs,
                gaveUp(error, `gave up after ${head.attempts} attempts`),
                true,
              );
            } else {
              stats.retries++;
              lane.pausedUntil = clock.now() + backoffMs(head.attempts);
            }
          } else {
            failGroup(lane, group.jobs, error, false);
          }
        }
      }
    } finally {
      lane.running = false;
      if (lane.jobs.length === 0 && lanes.get(key) === lane) {
        lanes.delete(key);
        parkBucket(key, lane.bucket);
      }
    }
  };

  const runUnlimited = async (job: Job): Promise<void> => {
    for (;;) {
      const waitMs = globalPausedUntil - clock.now();
      if (waitMs > 0 && clock.now() + waitMs > job.deadline) {
        stats.failed++;
        return settle(job, false, tooLate());
      }
      if (waitMs > 0) await sleep(waitMs);
      if (abort.signal.aborted) return settle(job, false, shuttingDown());
      try {
        const result = await job.run(null, abort.signal);
        stats.sent++;
        return settle(job, true, result);
      } catch (error) {
        if (abort.signal.aborted) return settle(job, false, shuttingDown());
        const verdict = classify(error);
        if (verdict.kind === 'rate_limit') {
          stats.rateLimited++;
          job.rateLimitedCount++;
          // A 429 on a call that names no chat is about the bot as a whole.
          globalPausedUntil = Math.max(globalPausedUntil, clock.now() + verdict.waitMs);
          if (job.rateLimitedCount > max429Retries) {
            stats.failed++;
            return settle(job, false, gaveUp(error, 'still rate limited'));
          }
        } else if (verdict.kind === 'retry' && job.attempts + 1 < maxAttempts) {
          job.attempts++;
          stats.retries++;
          await sleep(backoffMs(job.attempts));
        } else {
          stats.failed++;
          return settle(
            job,
            false,
            verdict.kind === 'retry'
              ? gaveUp(error, `gave up after ${job.attempts + 1} attempts`)
              : error,
          );
        }
      }
    }
  };

  const shuttingDown = (): CaChatError =>
    new CaChatError('shutting_down', 'the Telegram channel is stopping', { retryable: true });

  const enqueue = (
    spec: Omit<
      Job,
      'resolve' | 'reject' | 'attempts' | 'rateLimitedCount' | 'settled' | 'deadline'
    >,
  ): Promise<unknown> => {
    if (stopping) return Promise.reject(shuttingDown());
    if (queued >= maxQueuedJobs) {
      return Promise.reject(
        new CaChatError('rate_limited', 'too many Telegram calls queued', { retryable: true }),
      );
    }
    return new Promise((resolve, reject) => {
      const job: Job = {
        ...spec,
        resolve,
        reject,
        attempts: 0,
        rateLimitedCount: 0,
        settled: false,
        deadline: clock.now() + maxQueueWaitMs,
      };
      queued++;
      if (job.chatId === undefined) {
        const p = runUnlimited(job);
        unlimitedInFlight.add(p);
        void p.finally(() => unlimitedInFlight.delete(p));
        return;
      }
      const key = String(job.chatId);
      let lane = lanes.get(key);
      if (!lane) {
        const parked = idleBuckets.get(key);
        idleBuckets.delete(key);
        lane = {
          jobs: [],
          bucket: parked?.bucket ?? createTokenBucket(perChatPerSecond, perChatBurst),
          pausedUntil: 0,
          running: false,
        };
        lanes.set(key, lane);
      }
      lane.jobs.push(job);
      if (!lane.running) void drainLane(key, lane);
    });
  };

  return {
    async call<T>(job: CallJob<T>): Promise<T | null> {
      return (await enqueue({
        chatId: job.chatId,
        limited: job.limited ?? job.chatId !== undefined,
        skipIfBusy: job.skipIfBusy ?? false,
        orderKey: job.orderKey,
        coalesce: undefined,
        extend: undefined,
        waited: false,
        run: (_text, signal) => job.run(signal),
      })) as T | null;
    },

    async text<T>(job: TextJob<T>): Promise<T> {
      return (await enqueue({
        chatId: job.chatId,
        limited: true,
        skipIfBusy: false,
        orderKey: job.orderKey,
        coalesce: { key: job.coalesceKey, prefix: job.prefix ?? '', text: job.text },
        extend: job.extend as Job['extend'],
        waited: false,
        run: (text, signal) => job.send(text ?? (job.prefix ?? '') + job.text, signal),
      })) as T;
    },

    stats: () => ({ ...stats, queued }),

    async stop(drainTimeoutMs) {
      stopping = true;
      if (queued > 0) {
        await new Promise<void>((resolve) => {
          const handle = clock.setTimeout(() => {
            idleWaiters.delete(wake);
            resolve();
          }, drainTimeoutMs);
          const wake = (): void => {
            idleWaiters.delete(wake);
            clock.clearTimeout(handle);
            resolve();
          };
          idleWaiters.add(wake);
        });
      }
      abort.abort();
      for (const lane of lanes.values()) {
        const rest = lane.jobs.splice(0);
        for (const job of rest) settle(job, false, shuttingDown());
      }
      lanes.clear();
      await Promise.allSettled([...unlimitedInFlight]);
    },
  };
}
