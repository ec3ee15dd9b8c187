import type { Chat, Delivery, Message } from '../domain.js';
import { CaChatError } from '../errors.js';
import type { RelayContext } from './context.js';
import { FILE_CALL_TIMEOUT_MS } from './config.js';
import { callChannel, channelOf, deliverToClient, tellCA, tellClient } from './plugins.js';

/**
 * Delivers stored messages to the other side. Per chat and direction, messages go out in
 * seq order and a later one waits behind an earlier undelivered one. Retryable failures
 * back off exponentially; final failures are told to the sender and the line moves on.
 */
export interface Outbox {
  /** Something may be deliverable in this chat (or, without a chat, anywhere): deliver soon. */
  kick(chatId?: string): void;
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
/** Chats whose delivery cursor is remembered. */
const MAX_TRACKED_CHATS = 10_000;

const recipientOf = (m: Message): Recipient => (m.from === 'client' ? 'ca' : 'client');

export function createOutbox(ctx: RelayContext): Outbox {
  const { storage, clock } = ctx;
  const retry = ctx.config.deliveryRetry;
  let enabled = false;
  let passRunning: Promise<void> | null = null;
  let passAgain = false;
  /** One worker per chat, so a chat's messages are never delivered twice at once. */
  const workers = new Map<string, Promise<void>>();
  /** Chats woken while their worker ran: it reads them again before it stops. */
  const dirty = new Set<string>();
  /** Chats woken while the maximum number of workers ran, first come first served. */
  const waiting = new Set<string>();
  /** Per chat, the seq up to which nothing is pending (so a wake reads only the tail). */
  const settled = new Map<string, number>();

  const backoffMs = (attempts: number): number => {
    const base = Math.min(retry.maxDelayMs, retry.initialDelayMs * 2 ** Math.max(0, attempts - 1));
    // "Equal jitter": spreads retries of many messages, never waits longer than `base`.
    return Math.ceil(base / 2 + Math.random() * (base / 2));
  };

  const scheduleRetry = (chatId: string, delayMs: number): void => {
    ctx.timers.set(`retry:${chatId}`, delayMs, () => wake(chatId));
  };

  const delivered = async (
    m: Message,
    chat: Chat,
    peerMessageId: string | null,
  ): Promise<Outcome> => {
    const delivery: Delivery = {
      state: 'delivered',
      peerMessageId,
      attempts: m.delivery.attempts + 1,
      nextAttemptAt: null,
      error: null,
    };
    await storage.updateDelivery(m.chatId, m.seq, delivery);
    const message = { ...m, delivery };
    ctx.emit('message.delivered', message, chat);
    if (recipientOf(m) === 'ca') {
      await tellClient(ctx, chat.clientId, {
        type: 'message.status',
        chatId: chat.id,
        seq: m.seq,
        state: 'delivered',
      });
    }
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

  const attempt = async (m: Message): Promise<Outcome> => {
    const chat = await storage.getChat(m.chatId);
    if (!chat) return 'blocked';
    if (recipientOf(m) === 'ca') {
      // No CA yet (they get the history when matched), or being handed the chat right now.
      if (chat.caId === null || ctx.modules.matching.isMatching(chat.id)) return 'blocked';
      const ca = await storage.getCA(chat.caId);
      if (!ca)
        return failed(
          m,
          chat,
          new CaChatError('ca_not_registered', 'the CA of this chat no longer exists'),
        );
      // No channel serves this CA in this process (an admin tool opened the store, or the
      // channel was left out of this deployment): keep it pending for a relay that has one.
      if (!channelOf(ctx, ca)) return 'blocked';
      try {
        const receipt = await callChannel(
          ctx,
          ca,
          'deliverMessage',
          (ch) => ch.deliverMessage(ca, chat, m),
          m.file ? FILE_CALL_TIMEOUT_MS : undefined,
        );
        return delivered(
          m,
          chat,
          typeof receipt?.peerMessageId === 'string' ? receipt.peerMessageId : null,
        );
      } catch (error) {
        return failed(m, chat, error);
      }
    }
    const event = {
      type: 'message' as const,
      chatId: m.chatId,
      seq: m.seq,
      from: m.from,
      ...(m.text !== null ? { text: m.text } : {}),
      ...(m.file !== null ? { file: m.file } : {}),
      at: m.createdAt,
    };
    try {
      // Offline everywhere: stays pending, attempts untouched, until the client comes back.
      if (!(await deliverToClient(ctx, chat.clientId, event))) return 'blocked';
    } catch (error) {
      return failed(m, chat, error);
    }
    return delivered(m, chat, null);
  };

  /**
   * Delivers one direction of a chat in seq order until a message can't go yet; returns how
   * many it settled (delivered or failed).
   */
  const runLine = async (chatId: string, line: Message[]): Promise<number> => {
    let settledCount = 0;
    for (const queued of line) {
      if (!enabled) break;
      const m = await storage.getMessage(queued.chatId, queued.seq);
      if (!m || m.delivery.state !== 'pending') continue;
      const now = clock.now();
      if (m.delivery.nextAttemptAt !== null && m.delivery.nextAttemptAt > now) {
        scheduleRetry(chatId, m.delivery.nextAttemptAt - now);
        break;
      }
      const outcome = await attempt(m);
      if (outcome === 'retry' || outcome === 'blocked') break;
      settledCount++;
    }
    return settledCount;
  };

  const processChat = async (chatId: string): Promise<void> => {
    const after = settled.get(chatId) ?? 0;
    const messages = await storage.listMessages(chatId, { afterSeq: after, limit: CHAT_BATCH });
    // One pass sorts the pending messages into their two lines (to the CA, to the client).
    const toCA: Message[] = [];
    const toClient: Message[] = [];
    let firstPending = 0;
    for (const m of messages) {
      if (m.delivery.state !== 'pending') continue;
      if (firstPending === 0) firstPending = m.seq;
      (recipientOf(m) === 'ca' ? toCA : toClient).push(m);
    }
    const upTo = firstPending > 0 ? firstPending - 1 : (messages.at(-1)?.seq ?? after);
    if (settled.size >= MAX_TRACKED_CHATS && !settled.has(chatId)) settled.clear();
    settled.set(chatId, upTo);
    // Usually only one line has anything: no promise for the empty one.
    const progress =
      toClient.length === 0
        ? await runLine(chatId, toCA)
        : toCA.length === 0
          ? await runLine(chatId, toClient)
          : (await Promise.all([runLine(chatId, toCA), runLine(chatId, toClient)])).reduce(
              (a, b) => a + b,
            );
    // A full batch: read on while that gets somewhere (the cursor moved or messages went out).
    if (messages.length === CHAT_BATCH && (upTo > after || progress > 0)) {
      dirty.add(chatId);
    }
  };

  const startWorker = (chatId: string): void => {
    // One async function (not a chain of `.catch`/`.finally`): it runs for every message.
    const worker = (async () => {
      try {
        do {
          dirty.delete(chatId);
          await processChat(chatId);
        } while (dirty.has(chatId) && enabled);
      } catch (error) {
        ctx.reportError(error, { op: 'outbox', chatId });
        // A storage failure: try this chat again later rather than spin.
        scheduleRetry(chatId, retry.initialDelayMs);
      } finally {
        workers.delete(chatId);
        if (dirty.has(chatId)) wake(chatId);
        const next = waiting.values().next();
        if (!next.done) {
          waiting.delete(next.value);
          if (enabled) startWorker(next.value);
        }
      }
    })();
    workers.set(chatId, worker);
  };

  /** Something may be deliverable in this chat. */
  function wake(chatId: string): void {
    if (!enabled) return;
    if (workers.has(chatId)) {
      dirty.add(chatId);
      return;
    }
    if (workers.size >= MAX_PARALLEL_CHATS) {
      waiting.add(chatId);
      return;
    }
    startWorker(chatId);
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

  const quiet = async (): Promise<void> => {
    // Bounded, in case something keeps waking chats.
    for (
      let round = 0;
      round < 1000 && (workers.size > 0 || waiting.size > 0 || passRunning);
      round++
    ) {
      if (passRunning) await passRunning;
      await Promise.allSettled([...workers.values()]);
    }
  };

  return {
    kick,
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
      ctx.timers.clearPrefix('retry:');
      if (passRunning) await passRunning;
      while (workers.size > 0) await Promise.allSettled([...workers.values()]);
    },
  };
}
