import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CaChatError, type Approval, type CA, type CAChannel, type RelayApi } from '@ca-chat/core';
import { Telegraf } from 'telegraf';
import { createAdminApproval } from './admin-approval.js';
import { createBotApi } from './bot-api.js';
import { CHANNEL_NAME, type ChannelContext } from './channel-context.js';
import { createChatRelay } from './chat-relay.js';
import { createConversations } from './conversation.js';
import { createOffers } from './offers.js';
import {
  resolveLanguages,
  resolveOptions,
  resolveTopics,
  type TelegramChannelOptions,
  type WebhookHandler,
} from './options.js';
import { createOutboxQueue, type OutboxStats } from './outbox-queue.js';
import { createScrubber, scrubLogger } from './scrub.js';
import { createTelegramCalls } from './telegram-calls.js';
import { approval as approvalTexts, chat as chatTexts, COMMANDS } from './texts.js';
import { createUpdateDedup } from './update-dedup.js';
import { createUpdateDispatcher, type UpdateDispatcher } from './update-dispatcher.js';
import { createUpdateRouter } from './update-router.js';
import {
  ALLOWED_UPDATES,
  closeServer,
  createPoller,
  createWebhookHandler,
  listenWebhook,
  type Poller,
} from './update-source.js';

export type TelegramChannelStats = OutboxStats;

export interface TelegramChannel extends CAChannel {
  readonly name: 'telegram';
  /**
   * Webhook mode: mount this on your own HTTP server (Node `(req, res, next?)`; Express and
   * connect fit). Answers 403 to a wrong secret token, 503 before `start`.
   */
  readonly webhookHandler: WebhookHandler;
  /** Where the channel's own webhook server listens (with `webhook.port`), once started. */
  readonly webhookAddress: AddressInfo | null;
  /** Counters of the outgoing queue (429s received, retries, coalesced texts…), for metrics. */
  readonly stats: TelegramChannelStats;
}

/** A `CAChannel` that reaches CAs through a Telegram bot (telegraf). */
export function createTelegramChannel(input: TelegramChannelOptions): TelegramChannel {
  const options = resolveOptions(input);
  const scrubber = createScrubber([options.token]);
  const logger = scrubLogger(
    options.logger.child ? options.logger.child({ channel: CHANNEL_NAME }) : options.logger,
    scrubber,
  );
  const bot = new Telegraf(options.token, {
    telegram: { apiRoot: options.apiRoot, webhookReply: false },
    // Big file transfers happen inside an update's handling.
    handlerTimeout: options.transferTimeoutMs + 60_000,
  });
  const api = createBotApi({
    bot,
    token: options.token,
    apiRoot: options.apiRoot,
    scrubber,
    requestTimeoutMs: options.requestTimeoutMs,
  });

  const newQueue = () => createOutboxQueue({ ...options.rateLimits, ...options.retry, logger });
  const queue = newQueue();
  const ctx: ChannelContext = {
    options,
    logger,
    scrubber,
    api,
    queue,
    calls: createTelegramCalls(queue, api, logger),
    relay: null,
    languages: [],
    topics: [],
  };
  /** A stopped queue refuses work for good; a restart gets a new one. */
  let queueStopped = false;

  const conversations = createConversations(ctx);
  const chatRelay = createChatRelay(ctx);
  const offers = createOffers(ctx);
  const admin = createAdminApproval(ctx);
  const router = createUpdateRouter(
    ctx,
    { conversations, chatRelay, offers, admin },
    () => bot.botInfo?.username ?? null,
  );
  const dedup = createUpdateDedup(() => {
    if (!ctx.relay) throw new CaChatError('not_started', 'not started');
    return ctx.relay.storage;
  });
  const dispatcher: UpdateDispatcher = createUpdateDispatcher({ dedup, router, logger });
  bot.use((tctx) => dispatcher.dispatch(tctx.update));
  bot.catch((error) => logger.error({ err: error }, 'telegraf error'));

  let running = false;
  let poller: Poller | null = null;
  let server: Server | null = null;
  let address: AddressInfo | null = null;
  const background = new Set<Promise<void>>();
  const inBackground = (label: string, task: () => Promise<void>): void => {
    const p = task().catch((error) => logger.warn({ err: error }, `${label} failed`));
    background.add(p);
    void p.finally(() => background.delete(p));
  };
  const onRegistered = (ca: CA): void =>
    inBackground('approval request', () => admin.onRegistered(ca));
  const onApproval = (ca: CA, approval: Approval): void =>
    inBackground('approval update', () => admin.onApproval(ca, approval));

  const webhookHandler: WebhookHandler = options.webhook
    ? createWebhookHandler({ bot, webhook: options.webhook, isRunning: () => running, logger })
    : async (_req, res) => {
        res.statusCode = 404;
        res.end();
      };

  const tgChat = (ca: CA): number | string =>
    /^-?\d+$/.test(ca.address) ? Number(ca.address) : ca.address;

  const channel: TelegramChannel = {
    name: CHANNEL_NAME,
    webhookHandler,
    get webhookAddress() {
      return address;
    },
    get stats() {
      return ctx.queue.stats();
    },

    async start(relay: RelayApi) {
      if (running)
        throw new CaChatError('invalid_input', 'the Telegram channel is already started');
      ctx.relay = relay;
      ctx.languages = resolveLanguages(input.languages, relay.settings);
      ctx.topics = resolveTopics(input.topics, relay.settings);
      if (queueStopped) {
        ctx.queue = newQueue();
        ctx.calls = createTelegramCalls(ctx.queue, api, logger);
        queueStopped = false;
      }
      const call = <T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> =>
        ctx.queue.call({ run }) as Promise<T>;
      try {
        try {
          bot.botInfo = await call((signal) => api.call('getMe', {}, { signal }));
        } catch (error) {
          const status = CaChatError.isInstance(error)
            ? (error.details as { status?: number } | undefined)?.status
            : undefined;
          if (status === 401 || status === 404) {
            throw new CaChatError(
              'config_invalid',
              'Telegram rejected the bot token (check TELEGRAM_BOT_TOKEN)',
              { cause: error },
            );
          }
          throw error;
        }
        await call((signal) => api.call('setMyCommands', { commands: COMMANDS }, { signal })).catch(
          (error) => logger.warn({ err: error }, 'setMyCommands failed'),
        );
        relay.on('ca.registered', onRegistered);
        relay.on('ca.approval', onApproval);
        running = true;
        if (options.webhook) {
          const hook = options.webhook;
          if (hook.port !== undefined) {
            const listening = await listenWebhook(webhookHandler, hook.host, hook.port, logger);
            server = listening.server;
            address = listening.address;
          }
          const url =
            hook.url ?? (address ? `http://${hook.host}:${address.port}${hook.path}` : null);
          if (url) {
            await call((signal) =>
              api.call(
                'setWebhook',
                { url, secret_token: hook.secretToken, allowed_updates: [...ALLOWED_UPDATES] },
                { signal },
              ),
            );
          }
          logger.info(
            { mode: 'webhook', path: hook.path, port: address?.port ?? null },
            'telegram channel started',
          );
        } else {
          // getUpdates is refused while a webhook is set.
          await call((signal) =>
            api.call('deleteWebhook', { drop_pending_updates: false }, { signal }),
          );
          poller = createPoller({
            api,
            bot,
            timeoutSec: options.pollingTimeoutSec,
            requestTimeoutMs: options.requestTimeoutMs,
            logger,
          });
          poller.start();
          logger.info({ mode: 'polling', bot: bot.botInfo.username }, 'telegram channel started');
        }
      } catch (error) {
        // A failed start leaves nothing running.
        running = false;
        relay.off('ca.registered', onRegistered);
        relay.off('ca.approval', onApproval);
        if (server) await closeServer(server);
        server = null;
        address = null;
        throw error;
      }
    },

    async stop() {
      if (!running) return;
      running = false;
      const deadline = Date.now() + options.drainTimeoutMs;
      const left = (): number => Math.max(0, deadline - Date.now());
      if (poller) await poller.stop(left());
      poller = null;
      if (server) await closeServer(server);
      server = null;
      address = null;
      await withTimeout(dispatcher.idle(), left());
      await withTimeout(
        Promise.allSettled([...background]).then(() => undefined),
        left(),
      );
      ctx.relay?.off('ca.registered', onRegistered);
      ctx.relay?.off('ca.approval', onApproval);
      await ctx.queue.stop(left());
      queueStopped = true;
      logger.info({ stats: ctx.queue.stats() }, 'telegram channel stopped');
    },

    sendOffer: (ca, offer) => offers.sendOffer(ca, offer),
    closeOffer: (ca, ref, chatId, reason) => offers.closeOffer(ca, ref, chatId, reason),
    chatMatched: (ca, chat, history) => chatRelay.chatMatched(ca, chat, history),
    deliverMessage: (ca, chat, message) => chatRelay.deliverMessage(ca, chat, message),
    chatEnded: (ca, chat, reason) => chatRelay.chatEnded(ca, chat, reason),
    clientTyping: (ca, chat) => chatRelay.clientTyping(ca, chat),

    async notify(ca, notice) {
      const text =
        notice.type === 'delivery_failed'
          ? chatTexts.deliveryFailed(notice.reason)
          : approvalTexts.notices[notice.type];
      await ctx.calls.send(tgChat(ca), text);
    },
  };
  return channel;
}

async function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}
