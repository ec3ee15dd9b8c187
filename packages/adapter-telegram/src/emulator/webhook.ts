import { STATUS_CODES } from 'node:http';
import { Agent, request } from 'undici';
import type { TgUpdate } from './bot-api-types.js';
import type { BotState, WebhookConfig } from './bot-state.js';
import type { WebhookControl } from './method-context.js';
import { ApiParams } from './params.js';
import type { EmulatorEvent, EmulatorWebhookOptions } from './types.js';

/** Runs a method the webhook answered with (Telegram's "reply to a webhook" shortcut). */
export type WebhookReplyInvoker = (
  bot: BotState,
  method: string,
  params: ApiParams,
) => Promise<void>;

interface DeliveryLoop {
  /** Set while the loop waits; calling it ends the wait (new config, stop, close). */
  wake: (() => void) | undefined;
  done: Promise<void>;
}

type DeliveryOutcome = { ok: true; reply?: Record<string, unknown> } | { ok: false; error: string };

const MAX_REPLY_BYTES = 1024 * 1024;

/**
 * Pushes each bot's updates to its webhook, one at a time and in order. A delivery counts
 * when the webhook answers 2xx; otherwise the same update is retried with doubling delays
 * and the failure shows in getWebhookInfo, as on Telegram.
 */
export class WebhookDeliverer implements WebhookControl {
  private readonly loops = new Map<BotState, DeliveryLoop>();
  private readonly agent = new Agent({ keepAliveTimeout: 1000, connections: 8 });
  private readonly closing = new AbortController();
  private readonly retryMinDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly timeoutMs: number;

  constructor(
    options: EmulatorWebhookOptions,
    private readonly invokeReply: WebhookReplyInvoker,
    private readonly nowSeconds: () => number,
    private readonly onDelivery: (event: EmulatorEvent & { type: 'webhook.delivery' }) => void,
  ) {
    this.retryMinDelayMs = options.retryMinDelayMs ?? 100;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? 5000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  start(bot: BotState): void {
    if (this.closing.signal.aborted) return;
    const existing = this.loops.get(bot);
    if (existing) {
      existing.wake?.();
      return;
    }
    const loop: DeliveryLoop = { wake: undefined, done: Promise.resolve() };
    this.loops.set(bot, loop);
    loop.done = this.run(bot, loop).finally(() => {
      if (this.loops.get(bot) === loop) this.loops.delete(bot);
    });
  }

  /** The loop ends after the delivery in flight (the config is already gone). */
  stop(bot: BotState): void {
    this.loops.get(bot)?.wake?.();
  }

  async close(): Promise<void> {
    this.closing.abort();
    for (const loop of this.loops.values()) loop.wake?.();
    await Promise.allSettled([...this.loops.values()].map((loop) => loop.done));
    await this.agent.close();
  }

  private async run(bot: BotState, loop: DeliveryLoop): Promise<void> {
    let retryDelayMs = this.retryMinDelayMs;
    while (!this.closing.signal.aborted && bot.webhook) {
      const update = bot.updates.peek(1)[0];
      if (!update) {
        await this.pause(bot, loop, undefined);
        continue;
      }
      const outcome = await this.deliver(bot.webhook, update);
      if (this.closing.signal.aborted) return;
      const event = {
        type: 'webhook.delivery',
        botId: bot.info.id,
        updateId: update.update_id,
      } as const;
      if (outcome.ok) {
        bot.updates.remove(update.update_id);
        retryDelayMs = this.retryMinDelayMs;
        this.onDelivery({ ...event, ok: true });
        if (outcome.reply) await this.runReply(bot, outcome.reply);
        continue;
      }
      bot.webhookStatus = { lastErrorDate: this.nowSeconds(), lastErrorMessage: outcome.error };
      this.onDelivery({ ...event, ok: false, error: outcome.error });
      await this.pause(bot, loop, retryDelayMs);
      retryDelayMs = Math.min(retryDelayMs * 2, this.retryMaxDelayMs);
    }
  }

  /** Waits for a new update (or, when retrying, `delayMs`), or until woken. */
  private pause(bot: BotState, loop: DeliveryLoop, delayMs: number | undefined): Promise<void> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      // While retrying, a new update must not cut the back-off short.
      const unsubscribe = delayMs === undefined ? bot.updates.onPush(() => finish()) : () => {};
      const finish = () => {
        if (timer) clearTimeout(timer);
        unsubscribe();
        loop.wake = undefined;
        resolve();
      };
      if (delayMs !== undefined) timer = setTimeout(finish, delayMs);
      loop.wake = finish;
    });
  }

  private async deliver(config: WebhookConfig, update: TgUpdate): Promise<DeliveryOutcome> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (config.secretToken !== undefined) {
      headers['x-telegram-bot-api-secret-token'] = config.secretToken;
    }
    try {
      const response = await request(config.url, {
        method: 'POST',
        headers,
        body: JSON.stringify(update),
        dispatcher: this.agent,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        signal: this.closing.signal,
      });
      const text = await readText(response.body);
      const status = response.statusCode;
      if (status < 200 || status > 299) {
        return {
          ok: false,
          error: `Wrong response from the webhook: ${status} ${STATUS_CODES[status] ?? ''}`.trim(),
        };
      }
      return { ok: true, ...parseReply(response.headers['content-type'], text) };
    } catch (error) {
      return { ok: false, error: describeNetworkError(error) };
    }
  }

  private async runReply(bot: BotState, reply: Record<string, unknown>): Promise<void> {
    const { method, ...payload } = reply;
    if (typeof method !== 'string') return;
    await this.invokeReply(bot, method, new ApiParams(new Map(Object.entries(payload))));
  }
}

async function readText(body: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size <= MAX_REPLY_BYTES) chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseReply(
  contentType: string | string[] | undefined,
  text: string,
): { reply?: Record<string, unknown> } {
  const type = Array.isArray(contentType) ? contentType[0] : contentType;
  if (!type?.toLowerCase().startsWith('application/json') || text === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && 'method' in parsed) {
      return { reply: parsed as Record<string, unknown> };
    }
  } catch {
    // Telegram ignores whatever else a webhook answers with.
  }
  return {};
}

function describeNetworkError(error: unknown): string {
  const code =
    (error as { code?: string; cause?: { code?: string } }).code ??
    (error as { cause?: { code?: string } }).cause?.code;
  if (code === 'ECONNREFUSED') return 'Connection refused';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return 'Read timeout expired';
  }
  if (code === 'ENOTFOUND') return 'Failed to resolve host: Name or service not known';
  return `Connection failed${code ? `: ${code}` : ''}`;
}
