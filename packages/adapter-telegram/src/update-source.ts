import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CaChatError, type Logger } from '@ca-chat/core';
import type { Telegraf } from 'telegraf';
import type { Update } from 'telegraf/types';
import type { BotApi } from './bot-api.js';
import type { ResolvedOptions, WebhookHandler } from './options.js';

/** The update kinds the channel handles; Telegram sends nothing else. */
export const ALLOWED_UPDATES = ['message', 'edited_message', 'callback_query'] as const;

/**
 * Long polling (our own loop around telegraf's client: telegraf's built-in poller has a fixed
 * 50 s timeout, handles a batch concurrently and can't be interrupted while backing off).
 * Each batch is handed to `bot.handleUpdate` and fully processed before the next
 * `getUpdates` confirms it, so an update is never lost to a crash: at worst it is redelivered
 * and skipped by the dedup set.
 */
export interface Poller {
  start(): void;
  stop(timeoutMs: number): Promise<void>;
}

export function createPoller(options: {
  api: BotApi;
  bot: Telegraf;
  timeoutSec: number;
  requestTimeoutMs: number;
  logger: Logger;
}): Poller {
  const { api, bot, logger } = options;
  const abort = new AbortController();
  let offset = 0;
  let loop: Promise<void> | null = null;
  let failures = 0;

  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      abort.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), {
        once: true,
      });
    });

  const run = async (): Promise<void> => {
    while (!abort.signal.aborted) {
      let updates: Update[];
      try {
        updates = await api.call(
          'getUpdates',
          { offset, timeout: options.timeoutSec, allowed_updates: [...ALLOWED_UPDATES] },
          { timeoutMs: options.timeoutSec * 1000 + options.requestTimeoutMs, signal: abort.signal },
        );
        failures = 0;
      } catch (error) {
        if (abort.signal.aborted) return;
        failures++;
        const details = CaChatError.isInstance(error)
          ? (error.details as { status?: number; retryAfterSec?: number | null })
          : {};
        const waitMs =
          details?.retryAfterSec != null
            ? details.retryAfterSec * 1000
            : Math.min(30_000, 250 * 2 ** Math.min(failures, 7));
        const level = details?.status === 401 || details?.status === 409 ? 'error' : 'warn';
        logger[level]({ err: error, retryInMs: waitMs }, 'getUpdates failed');
        await pause(waitMs);
        continue;
      }
      if (updates.length === 0) continue;
      offset = updates[updates.length - 1]!.update_id + 1;
      // Per-user ordering is kept by the dispatcher; different users proceed in parallel.
      await Promise.all(updates.map((u) => bot.handleUpdate(u)));
    }
  };

  return {
    start() {
      loop ??= run().catch((error) => logger.error({ err: error }, 'polling stopped unexpectedly'));
    },
    async stop(timeoutMs) {
      abort.abort();
      if (!loop) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        loop,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
      clearTimeout(timer);
      // Confirm what was processed so the next poller (or a webhook) does not get it again.
      if (offset > 0) {
        await api
          .call('getUpdates', { offset, limit: 1, timeout: 0 }, { timeoutMs: 2_000 })
          .catch((error) => logger.debug({ err: error }, 'could not confirm the last updates'));
      }
    },
  };
}

const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

/**
 * The webhook endpoint: telegraf's `webhookCallback` checks method, path and secret token
 * (403 when wrong) and parses the update; before it, the body is read with a size limit so
 * nobody can make us buffer an endless request.
 */
export function createWebhookHandler(options: {
  bot: Telegraf;
  webhook: NonNullable<ResolvedOptions['webhook']>;
  isRunning: () => boolean;
  logger: Logger;
}): WebhookHandler {
  const { bot, webhook } = options;
  const callback = bot.webhookCallback(webhook.path, { secretToken: webhook.secretToken });
  return async (req, res, next) => {
    if (!options.isRunning()) {
      res.statusCode = 503;
      res.end();
      return;
    }
    if (req.method !== 'POST' || req.url !== webhook.path) {
      if (next) return next();
      res.statusCode = req.url === webhook.path ? 405 : 404;
      res.end();
      return;
    }
    if (!sameSecret(req.headers[SECRET_HEADER], webhook.secretToken)) {
      // Let telegraf answer (403) so its filter stays the one source of truth.
      return callback(req, res);
    }
    let body: Buffer;
    try {
      body = await readBody(req, webhook.maxBodyBytes);
    } catch (error) {
      res.statusCode = CaChatError.is(error, 'payload_too_large') ? 413 : 400;
      res.end();
      return;
    }
    (req as IncomingMessage & { body?: Buffer }).body = body;
    await callback(req, res);
  };
}

function sameSecret(got: string | string[] | undefined, expected: string): boolean {
  if (typeof got !== 'string') return false;
  const a = Buffer.from(got);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw new CaChatError('payload_too_large', 'update body too large');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      req.destroy();
      throw new CaChatError('payload_too_large', 'update body too large');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The channel's own HTTP server for webhook mode (when `webhook.port` is set). */
export async function listenWebhook(
  handler: WebhookHandler,
  host: string,
  port: number,
  logger: Logger,
): Promise<{ server: Server; address: AddressInfo }> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    handler(req, res).catch((error) => {
      logger.error({ err: error }, 'webhook request failed');
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, address: server.address() as AddressInfo };
}

export async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
