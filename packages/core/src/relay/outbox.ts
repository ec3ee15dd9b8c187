import type { DeliveryReceipt } from '../ca-channel.js';
import type { TimerHandle } from '../clock.js';
import type { CA, Chat, Delivery, Message } from '../domain.js';
import { CaChatError } from '../errors.js';
import type { RelayContext } from './context.js';
import { FILE_CALL_TIMEOUT_MS, PLUGIN_CALL_TIMEOUT_MS } from './config.js';
import {
  channelOf,
  deliverToClient,
  noChannelFor,
  pluginFailed,
  tellCA,
  tellClient,
  timedOut,
} from './plugins.js';

/**
 * Delivers stored messages to the other side. Per chat and direction, messages go out in
 * seq order and a later one waits behind an earlier undelivered one. Retryable failures
 * back off exponentially; final failures are told to the sender and the line moves on.
 */
export interface Outbox {
  /** Something may be deliverable in this chat (or, without a chat, anywhere): deliver soon. */
  kick(chatId?: string): void;
  /**
   * A message was just stored (call under the chat's lock, so calls come in seq order; then
   * `kick`). Saves the worker reading it back when nothing is pending before it.
   */
  stored(message: Message): void;
  /**
   * Something the outbox may have read changed outside it: a chat was claimed or ended, a CA
   * was updated, deliveries were settled elsewhere (matching handed a CA the history). What
   * it read before is read again.
   */
  touched(): void;
  /**
   * The chat as last read by the outbox, if nothing that could change it happened since
   * (see `touched`); undefined otherwise. Read-only: it is shared.
   */
  knownChat(chatId: string): Chat | undefined;
  /** Runs a pass now and waits until every due delivery was attempted once. */
  flush(): Promise<void>;
  /** Starts delivering (and resumes what storage has pending). */
  start(): void;
  /** Stops starting new deliveries; resolves when those in flight have finished. */
  stop(): Promise<void>;
}

type Outcome = 'delivered' | 'failed' | 'retry' | 'blocked';
type Recipient = 'ca' | 'client';

/** Pending messages read by a full pass (start, a client back); the rest wait for the next. */
const PASS_LIMIT = 5000;
/** Messages of one chat read at a time. */
const CHAT_BATCH = 100;
/** Chats delivered to in parallel. */
const MAX_PARALLEL_CHATS = 16;
/** Chats remembered (cursor, chat and CA) once idle; past this, idle ones are forgotten. */
const MAX_TRACKED_CHATS = 10_000;

const recipientOf = (m: Message): Recipient => (m.from === 'client' ? 'ca' : 'client');

/** Where all `messages` go, if they all go one way (null when there are none). */
const oneWayOf = (messages: readonly Message[]): Recipient | null => {
  const way = messages.length > 0 ? recipientOf(messages[0]!) : null;
  for (let i = 1; i < messages.length; i++) if (recipientOf(messages[i]!) !== way) return null;
  return way;
};

/** `ChatLine.worker` while `startWorker` calls the worker (which may end before it returns). */
const STARTING: Promise<void> = Promise.resolve();

/** No messages (shared: never added to). */
const NONE: readonly Message[] = [];

/** What `runLine` answers when the watchdog gave up on its worker (see `abandon`). */
const ABANDONED = -1;

/** A channel call the watchdog gave up on, for the worker that takes over its line. */
interface TimedOutCall {
  message: Message;
  chat: Chat;
  error: CaChatError;
}

/**
 * Who a line of messages goes to. A chat's CA never changes once claimed, so the chat and
 * its CA are read once and kept in its ChatLine; whatever could change them (a claim, an
 * end, a CA update) calls `touched()`, which bumps `generation` and so makes every kept
 * copy stale.
 */
type Target =
  { kind: 'blocked' } | { kind: 'client'; chat: Chat } | { kind: 'ca'; chat: Chat; ca: CA | null };
const BLOCKED: Target = { kind: 'blocked' };

/** The chat and its CA as read at generation `at`, and the targets they make (made once). */
class Known {
  readonly toClient: Target;
  readonly toCA: Target;
  constructor(
    readonly at: number,
    readonly chat: Chat,
    readonly ca: CA | null,
  ) {
    this.toClient = { kind: 'client', chat };
    this.toCA = { kind: 'ca', chat, ca };
  }
}

/**
 * What the outbox keeps per chat. Kept between runs rather than deleted after each: on this
 * path (every message) a Map that shrinks and regrows its table on every delete cost more
 * than the delivery itself.
 */
class ChatLine {
  /** The one worker of this chat, so its messages are never delivered twice at once. */
  worker: Promise<void> | null = null;
  /** Woken while the worker ran: it reads the chat again before it stops. */
  dirty = false;
  /** The seq up to which nothing is pending (a wake reads only the tail); unknown at first. */
  settled: number | undefined = undefined;
  /** Messages `stored` handed over since the worker last looked: gapless, in seq order… */
  fresh: Message[] = [];
  /** An empty array `fresh` becomes once handed over (null while the worker uses it). */
  spare: Message[] | null = [];
  /** …since `generation` was this… */
  freshAt = 0;
  /** …unless they stopped being a gapless run (then storage is read instead). */
  freshBroken = false;
  known: Known | null = null;
  /**
   * Bumped when the watchdog gives up on this line's channel call: the worker awaiting that
   * call is no longer this line's, and does nothing more when (if ever) it wakes.
   */
  epoch = 0;
  /** This line's channel call, watched while in flight (made on first use, then reused). */
  call: Call | null = null;

  idle(): boolean {
    return this.worker === null && !this.dirty && this.fresh.length === 0;
  }
}

/**
 * A message to a CA being handed to its channel, watched for its deadline (see `watch`). The
 * outbox keeps these in a list with one timer for all, instead of a timer and a promise per
 * call wrapped around the channel's answer: on this path, every message, those cost ~15% of
 * the relay's CPU time (bench/README.md `## ws`).
 */
class Call {
  message: Message | null = null;
  chat: Chat | null = null;
  channel = '';
  timeoutMs = 0;
  due = 0;
  prev: Call | null = null;
  next: Call | null = null;
  constructor(
    readonly chatId: string,
    readonly line: ChatLine,
  ) {}
}

export function createOutbox(ctx: RelayContext): Outbox {
  const { storage, clock } = ctx;
  const { immediate } = storage;
  /** What channel-call deadlines are measured on: monotonic when the clock has it. */
  const elapsed: () => number =
    clock.monotonic !== undefined ? clock.monotonic.bind(clock) : clock.now.bind(clock);
  const retry = ctx.config.deliveryRetry;
  let enabled = false;
  let passRunning: Promise<void> | null = null;
  let passAgain = false;
  /** Per chat: its worker and what it remembers (see ChatLine). */
  const lines = new Map<string, ChatLine>();
  /** Workers running now (at most MAX_PARALLEL_CHATS). */
  let running = 0;
  /** Chats woken while the maximum number of workers ran, first come first served. */
  const waiting = new Set<string>();
  /** Bumped by `touched()`; see `runLine`. */
  let generation = 0;
  /** Channel calls in flight (at most one per running worker), newest first. */
  let calls: Call | null = null;
  /** The watchdog's timer, and when it fires (Infinity while none is set). */
  let watchTimer: TimerHandle | null = null;
  let watchAt = Infinity;
  /** Called (and dropped) when the watchdog gives a worker up: `stop` and `flush` wait on them. */
  const onAbandon = new Set<() => void>();

  /** The chat's line, made on first use; idle lines are dropped past MAX_TRACKED_CHATS. */
  const lineOf = (chatId: string): ChatLine => {
    let line = lines.get(chatId);
    if (line === undefined) {
      if (lines.size >= MAX_TRACKED_CHATS) {
        for (const [id, l] of lines) if (l.idle()) lines.delete(id);
      }
      line = new ChatLine();
      lines.set(chatId, line);
    }
    return line;
  };

  const backoffMs = (attempts: number): number => {
    const base = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** Math.max(0, attempts - 1));
    // "Equal jitter": spreads retries of many messages, never waits longer than `base`.
    return Math.ceil(base / 2 + Math.random() * (base / 2));
  };

  const scheduleRetry = (chatId: string, delayMs: number): void => {
    ctx.timers.set(`retry:${chatId}`, delayMs, () => wake(chatId));
  };

  /** Stores a message's delivery (at once, when the store can: see `Storage.immediate`). */
  const settle = (m: Message, delivery: Delivery): Promise<void> | undefined => {
    if (immediate === undefined) return storage.updateDelivery(m.chatId, m.seq, delivery);
    immediate.updateDelivery(m.chatId, m.seq, delivery);
    return undefined;
  };

  const deliveredAs = (m: Message, peerMessageId: string | null): Delivery => ({
    state: 'delivered',
    peerMessageId,
    attempts: m.delivery.attempts + 1,
    nextAttemptAt: null,
    error: null,
  });

  /** After `delivery` (see `deliveredAs`) was stored: the event, and the client's status. */
  const announceDelivered = (
    m: Message,
    chat: Chat,
    delivery: Delivery,
  ): Promise<void> | undefined => {
    if (ctx.listens('message.delivered')) ctx.emit('message.delivered', { ...m, delivery }, chat);
    if (recipientOf(m) !== 'ca') return undefined;
    return tellClient(ctx, chat.clientId, {
      type: 'message.status',
      chatId: chat.id,
      seq: m.seq,
      state: 'delivered',
    });
  };

  const delivered = async (
    m: Message,
    chat: Chat,
    peerMessageId: string | null,
  ): Promise<Outcome> => {
    const delivery = deliveredAs(m, peerMessageId);
    const saving = settle(m, delivery);
    if (saving) await saving;
    const told = announceDelivered(m, chat, delivery);
    if (told) await told;
    return 'delivered';
  };

  const failed = async (m: Message, chat: Chat, error: unknown): Promise<Outcome> => {
    const err = CaChatError.wrap(error, 'delivery_failed', 'delivery failed');
    const attempts = m.delivery.attempts + 1;
    const now = clock.now();
    if (err.retryable && attempts < retry.maxAttempts) {
      const delayMs = backoffMs(attempts);
      const delivery: Delivery = {
        state: 'pending',
        peerMessageId: null,
        attempts,
        nextAttemptAt: now + delayMs,
        error: err.message,
      };
      await storage.updateDelivery(m.chatId, m.seq, delivery);
      ctx.emit('delivery.retry', { ...m, delivery }, chat, err);
      scheduleRetry(m.chatId, delayMs);
      return 'retry';
    }
    const reason = err.message;
    const delivery: Delivery = {
      state: 'failed',
      peerMessageId: null,
      attempts,
      nextAttemptAt: null,
      error: reason,
    };
    await storage.updateDelivery(m.chatId, m.seq, delivery);
    ctx.logger.warn(
      { chatId: m.chatId, seq: m.seq, code: err.code, attempts },
      'message delivery failed',
    );
    ctx.emit('message.failed', { ...m, delivery }, chat, reason);
    if (m.from === 'client') {
      await tellClient(ctx, chat.clientId, {
        type: 'message.status',
        chatId: chat.id,
        seq: m.seq,
        state: 'failed',
        reason,
      });
    } else if (m.from === 'ca' && chat.caId) {
      const ca = await storage.getCA(chat.caId);
      if (ca)
        await tellCA(ctx, ca, 'notify', (ch) =>
          ch.notify(ca, { type: 'delivery_failed', chatId: chat.id, seq: m.seq, reason }),
        );
    }
    return 'failed';
  };

  /** Puts `line`'s channel call for `m` on the watch list until `unwatch`. */
  const watch = (
    line: ChatLine,
    chatId: string,
    m: Message,
    chat: Chat,
    channel: string,
    timeoutMs: number,
  ): Call => {
    const now = elapsed();
    const call = (line.call ??= new Call(chatId, line));
    call.message = m;
    call.chat = chat;
    call.channel = channel;
    call.timeoutMs = timeoutMs;
    call.due = now + timeoutMs;
    call.prev = null;
    call.next = calls;
    if (calls !== null) calls.prev = call;
    calls = call;
    // The timer is left running when calls end (it finds nothing due and sets itself for the
    // next call in flight, if any): setting and clearing one per message is what this avoids.
    if (call.due < watchAt) armWatch(call.due, now);
    return call;
  };

  const unwatch = (call: Call): void => {
    if (call.prev !== null) call.prev.next = call.next;
    else calls = call.next;
    if (call.next !== null) call.next.prev = call.prev;
    call.prev = call.next = null;
    call.message = null;
    call.chat = null;
  };

  const armWatch = (at: number, now: number): void => {
    if (watchTimer !== null) clock.clearTimeout(watchTimer);
    watchAt = at;
    watchTimer = clock.setTimeout(checkCalls, Math.max(0, at - now));
  };

  const disarmWatch = (): void => {
    if (watchTimer !== null) clock.clearTimeout(watchTimer);
    watchTimer = null;
    watchAt = Infinity;
  };

  /** The watchdog: gives up on every call past its deadline, then waits for the next one. */
  function checkCalls(): void {
    watchTimer = null;
    watchAt = Infinity;
    const now = elapsed();
    let next = Infinity;
    for (let call = calls; call !== null;) {
      const following = call.next;
      if (call.due <= now) abandon(call);
      else next = Math.min(next, call.due);
      call = following;
    }
    if (next !== Infinity) armWatch(next, now);
  }

  /**
   * A channel call took too long. Its worker is stuck awaiting it and may never wake, so the
   * line gets a new worker, which records the timeout (a retryable failure, as any other) and
   * carries on; the old one, if the channel ever answers, sees the line's epoch moved and
   * does nothing more. Stopped, the line is only let go of: the message stays pending.
   */
  function abandon(call: Call): void {
    const { line, chatId, message, chat, channel, timeoutMs } = call;
    unwatch(call);
    line.epoch++;
    line.worker = null;
    running--;
    // What was handed over is read again from storage, after what is settled (`settled` was
    // set before the call, below its message). Dropped rather than left to the seq check: a
    // message stored while the old worker listed storage can be both in its batch and first
    // in `fresh`, and would otherwise be taken from there with its pre-timeout delivery
    // state. The old worker keeps the array it took; `spare` stays null.
    line.fresh.length = 0;
    line.freshBroken = false;
    if (enabled && message !== null && chat !== null) {
      const error = timedOut('channel_error', channel, 'deliverMessage', timeoutMs);
      startWorker(chatId, line, { message, chat, error });
    }
    for (const wake of onAbandon) wake();
    onAbandon.clear();
  }

  /** Waits until `workers` all settled, or the watchdog gave one up. */
  const settledOrAbandoned = async (workers: Promise<void>[]): Promise<void> => {
    let wake: () => void = () => {};
    const abandoned = new Promise<void>((resolve) => onAbandon.add((wake = resolve)));
    try {
      await Promise.race([Promise.allSettled(workers), abandoned]);
    } finally {
      onAbandon.delete(wake);
    }
  };

  const targetOf = (m: Message, known: Known): Target => {
    if (recipientOf(m) === 'client') return known.toClient;
    const { chat, ca } = known;
    // No CA yet (they get the history when matched), or being handed the chat right now.
    if (chat.caId === null || ctx.modules.matching.isMatching(chat.id)) return BLOCKED;
    // No channel serves this CA in this process (an admin tool opened the store, or the
    // channel was left out of this deployment): keep it pending for a relay that has one.
    if (ca && !channelOf(ctx, ca)) return BLOCKED;
    return known.toCA;
  };

  /** Synchronous when the chat is known and nothing changed since it was read. */
  const readTarget = (m: Message, line: ChatLine): Target | Promise<Target> => {
    const known = line.known;
    if (known !== null && known.at === generation) return targetOf(m, known);
    return (async () => {
      const at = generation;
      const chat = await storage.getChat(m.chatId);
      if (!chat) return BLOCKED;
      const ca = chat.caId === null ? null : await storage.getCA(chat.caId);
      line.known = new Known(at, chat, ca);
      return targetOf(m, line.known);
    })();
  };

  /** Not async: answers at once when the transport did (or the client is offline). */
  const toClient = (m: Message, chat: Chat): Outcome | Promise<Outcome> => {
    const event = {
      type: 'message' as const,
      chatId: m.chatId,
      seq: m.seq,
      from: m.from,
      ...(m.text !== null ? { text: m.text } : {}),
      ...(m.file !== null ? { file: m.file } : {}),
      at: m.createdAt,
    };
    let took: boolean | Promise<boolean>;
    try {
      took = deliverToClient(ctx, chat.clientId, event);
    } catch (error) {
      return failed(m, chat, error);
    }
    if (typeof took !== 'boolean') return toClientLater(m, chat, took);
    // Offline everywhere: stays pending, attempts untouched, until the client comes back.
    return took ? delivered(m, chat, null) : 'blocked';
  };

  /** A transport that answered with a promise. */
  const toClientLater = async (
    m: Message,
    chat: Chat,
    took: Promise<boolean>,
  ): Promise<Outcome> => {
    try {
      if (!(await took)) return 'blocked';
    } catch (error) {
      return await failed(m, chat, error);
    }
    return await delivered(m, chat, null);
  };

  /**
   * Delivers one direction of a chat in seq order until a message can't go yet; returns how
   * many are settled (delivered or failed, by it or meanwhile by someone else). `line` was
   * read at `listedAt`: only this chat's worker changes those deliveries, unless
   * `generation` moved since.
   */
  const runLine = async (
    chatId: string,
    chatLine: ChatLine,
    line: readonly Message[],
    listedAt: number,
    epoch: number,
  ): Promise<number> => {
    let settledCount = 0;
    let target: Target | null = null;
    let readAt = listedAt;
    for (const queued of line) {
      if (!enabled) break;
      let m: Message | null = queued;
      // Until message and target are both read since the last change behind our back
      // (usually no read at all).
      for (;;) {
        if (generation !== readAt) {
          readAt = generation;
          target = null;
          m = await storage.getMessage(queued.chatId, queued.seq);
          if (!m || m.delivery.state !== 'pending') break;
        }
        if (target !== null) break;
        const read = readTarget(m, chatLine);
        target = read instanceof Promise ? await read : read;
      }
      if (!m || m.delivery.state !== 'pending' || target === null) {
        settledCount++; // settled by someone else meanwhile
        continue;
      }
      const now = clock.now();
      if (m.delivery.nextAttemptAt !== null && m.delivery.nextAttemptAt > now) {
        scheduleRetry(chatId, m.delivery.nextAttemptAt - now);
        break;
      }
      if (target.kind === 'blocked') break;
      let outcome: Outcome;
      if (target.kind === 'ca') {
        const { chat, ca } = target;
        if (ctx.modules.matching.isMatching(chat.id)) break;
        if (!ca) {
          const error = new CaChatError(
            'ca_not_registered',
            'the CA of this chat no longer exists',
          );
          outcome = await failed(m, chat, error);
        } else {
          // Written out here rather than in a function of its own: every message to a CA
          // comes here, and each async function awaited costs a promise and a turn. The
          // channel's answer is awaited as it is; the watchdog bounds it (see `watch`).
          const channel = channelOf(ctx, ca);
          let receipt: DeliveryReceipt | null | undefined;
          let failure: { error: unknown } | null = null;
          let call: Call | null = null;
          if (channel === null) failure = { error: noChannelFor(ca) };
          else {
            try {
              const answer = channel.deliverMessage(ca, chat, m);
              const timeoutMs = m.file ? FILE_CALL_TIMEOUT_MS : PLUGIN_CALL_TIMEOUT_MS;
              call = watch(chatLine, chatId, m, chat, channel.name, timeoutMs);
              receipt = await answer;
            } catch (error) {
              failure = {
                error: pluginFailed('channel_error', channel.name, 'deliverMessage', error),
              };
            }
          }
          // Given up on meanwhile: this worker is no longer the line's.
          if (chatLine.epoch !== epoch) return ABANDONED;
          if (call !== null) unwatch(call);
          if (failure !== null) outcome = await failed(m, chat, failure.error);
          else {
            const peer = receipt?.peerMessageId;
            const delivery = deliveredAs(m, typeof peer === 'string' ? peer : null);
            // Not through `settle`: an async function called here costs a promise a message.
            if (immediate !== undefined) immediate.updateDelivery(m.chatId, m.seq, delivery);
            else await storage.updateDelivery(m.chatId, m.seq, delivery);
            const told = announceDelivered(m, chat, delivery);
            if (told) await told;
            outcome = 'delivered';
          }
        }
      } else {
        const tried = toClient(m, target.chat);
        outcome = typeof tried === 'string' ? tried : await tried;
      }
      if (outcome === 'retry' || outcome === 'blocked') break;
      settledCount++;
    }
    return settledCount;
  };

  /**
   * The chat's worker: one async function (not a chain of `.catch`/`.finally`, nor one per
   * pass) that reads what is pending in this chat, or takes what `stored` handed over, and
   * delivers it, as often as the chat was woken meanwhile.
   */
  const work = async (
    chatId: string,
    line: ChatLine,
    timeout: TimedOutCall | null,
  ): Promise<void> => {
    const epoch = line.epoch;
    try {
      // Taking over from a worker the watchdog gave up on: its call's timeout first.
      if (timeout !== null) await failed(timeout.message, timeout.chat, timeout.error);
      do {
        line.dirty = false;
        const cursor = line.settled;
        const after = cursor ?? 0;
        const listedAt = generation;
        // What `stored` handed over is all there is when it directly follows the settled part
        // and nothing changed since; otherwise storage says what is pending.
        const handed = line.fresh;
        const direct =
          handed.length > 0 &&
          !line.freshBroken &&
          line.freshAt === listedAt &&
          cursor !== undefined &&
          handed[0]!.seq === cursor + 1;
        if (direct) {
          line.fresh = line.spare ?? [];
          line.spare = null;
        } else handed.length = 0;
        line.freshBroken = false;
        const messages = direct
          ? handed
          : await storage.listMessages(chatId, { afterSeq: after, limit: CHAT_BATCH });
        // Handed-over messages are all pending and usually all go one way: then they are the
        // line as they are. Otherwise one pass sorts the pending ones into their two lines.
        let toCA: readonly Message[] = NONE;
        let toClient: readonly Message[] = NONE;
        const oneWay = direct ? oneWayOf(messages) : null;
        if (oneWay === 'ca') toCA = messages;
        else if (oneWay === 'client') toClient = messages;
        else {
          const pendingToCA: Message[] = [];
          const pendingToClient: Message[] = [];
          for (const m of messages) {
            if (m.delivery.state === 'pending')
              (recipientOf(m) === 'ca' ? pendingToCA : pendingToClient).push(m);
          }
          toCA = pendingToCA;
          toClient = pendingToClient;
        }
        const firstPending = Math.min(toCA[0]?.seq ?? Infinity, toClient[0]?.seq ?? Infinity);
        const upTo = firstPending !== Infinity ? firstPending - 1 : (messages.at(-1)?.seq ?? after);
        line.settled = upTo;
        // The client's line first (a transport answers at once or within its timeout), then the
        // CA's, one after the other: a channel call the watchdog gives up on is then the only
        // thing its worker was doing.
        let progress = 0;
        if (toClient.length > 0) progress += await runLine(chatId, line, toClient, listedAt, epoch);
        if (toCA.length > 0) {
          const sent = await runLine(chatId, line, toCA, listedAt, epoch);
          if (sent === ABANDONED) return;
          progress += sent;
        }
        // Everything read is settled: the cursor moves past it, so what `stored` hands over next
        // follows on directly.
        const last = messages.at(-1);
        if (last !== undefined && progress === toCA.length + toClient.length)
          line.settled = last.seq;
        // A full batch: read on while that gets somewhere (the cursor moved or messages went out).
        if (messages.length === CHAT_BATCH && (upTo > after || progress > 0)) line.dirty = true;
        if (direct) {
          handed.length = 0;
          line.spare = handed;
        }
      } while (line.dirty && enabled);
    } catch (error) {
      if (line.epoch !== epoch) return;
      ctx.reportError(error, { op: 'outbox', chatId });
      // A storage failure: try this chat again later rather than spin.
      scheduleRetry(chatId, retry.initialDelayMs);
    } finally {
      // Unless the watchdog gave this worker up, and the line has another.
      if (line.epoch === epoch) {
        line.worker = null;
        running--;
        if (line.dirty) wake(chatId);
        if (waiting.size > 0) {
          const next = waiting.values().next().value!;
          waiting.delete(next);
          wake(next);
        }
      }
    }
  };

  const startWorker = (
    chatId: string,
    line: ChatLine,
    timeout: TimedOutCall | null = null,
  ): void => {
    running++;
    line.worker = STARTING;
    const worker = work(chatId, line, timeout);
    // Unless `work` already ran to its end (only a store throwing instead of rejecting,
    // before the first await, makes it), whose `finally` cleared or replaced the marker.
    if (line.worker === STARTING) line.worker = worker;
  };

  /** Something may be deliverable in this chat. */
  function wake(chatId: string): void {
    if (!enabled) return;
    const line = lineOf(chatId);
    if (line.worker !== null) {
      line.dirty = true;
      return;
    }
    if (running >= MAX_PARALLEL_CHATS) {
      waiting.add(chatId);
      return;
    }
    startWorker(chatId, line);
  }

  /** Wakes every chat storage has pending deliveries for. */
  const pass = async (): Promise<void> => {
    const pending = await storage.listPendingDeliveries({ limit: PASS_LIMIT });
    for (const chatId of new Set(pending.map((m) => m.chatId))) wake(chatId);
  };

  function kick(chatId?: string): void {
    if (!enabled) return;
    if (chatId !== undefined) return wake(chatId);
    if (passRunning) {
      passAgain = true;
      return;
    }
    passRunning = (async () => {
      try {
        do {
          passAgain = false;
          await pass();
        } while (passAgain && enabled);
      } catch (error) {
        ctx.reportError(error, { op: 'outbox pass' });
      } finally {
        passRunning = null;
      }
    })();
  }

  const workersNow = (): Promise<void>[] => {
    const out: Promise<void>[] = [];
    for (const line of lines.values()) if (line.worker !== null) out.push(line.worker);
    return out;
  };

  const quiet = async (): Promise<void> => {
    // Bounded, in case something keeps waking chats.
    for (let round = 0; round < 1000 && (running > 0 || waiting.size > 0 || passRunning); round++) {
      if (passRunning) await passRunning;
      await settledOrAbandoned(workersNow());
    }
  };

  function stored(message: Message): void {
    if (!enabled) return;
    const line = lineOf(message.chatId);
    if (line.freshBroken) return;
    const fresh = line.fresh;
    const last = fresh[fresh.length - 1];
    if (fresh.length >= CHAT_BATCH || (last !== undefined && message.seq !== last.seq + 1)) {
      line.freshBroken = true;
      fresh.length = 0;
      return;
    }
    if (fresh.length === 0) line.freshAt = generation;
    fresh.push(message);
  }

  return {
    kick,
    stored,
    knownChat(chatId) {
      const known = lines.get(chatId)?.known;
      return known != null && known.at === generation ? known.chat : undefined;
    },
    touched() {
      generation++;
    },
    async flush() {
      if (!enabled) return;
      if (passRunning) await passRunning;
      await pass();
      await quiet();
    },
    start() {
      enabled = true;
      kick();
    },
    async stop() {
      enabled = false;
      waiting.clear();
      for (const line of lines.values()) line.fresh.length = 0;
      ctx.timers.clearPrefix('retry:');
      if (passRunning) await passRunning;
      // A channel call in flight is waited for until the watchdog gives up on it.
      while (running > 0) await settledOrAbandoned(workersNow());
      if (calls === null) disarmWatch();
    },
  };
}
