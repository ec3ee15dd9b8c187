import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  CaChatError,
  silentLogger,
  type LanguageTag,
  type Logger,
  type RelaySettings,
} from '@ca-chat/core';

export interface LanguageOption {
  tag: LanguageTag;
  /** What the CA sees on the button, e.g. `Hindi (हिन्दी)`. */
  name: string;
}

export interface TopicOption {
  id: string;
  name: string;
}

export interface TelegramWebhookOptions {
  /**
   * The public HTTPS URL Telegram should post updates to; the channel calls `setWebhook`
   * with it at start. Omit it when you register the webhook yourself. With `port` and no
   * `url`, the channel registers `http://<host>:<port><path>` (local Bot API servers, tests).
   */
  url?: string;
  /** Request path the handler answers. Default `/telegram/webhook`. */
  path?: string;
  /** Sent by Telegram in `X-Telegram-Bot-Api-Secret-Token`; a request without it gets 403. */
  secretToken: string;
  /** Listen on this port (0 = any free port) with the channel's own HTTP server. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** Largest update body accepted, in bytes. Default 1 MB. */
  maxBodyBytes?: number;
}

export interface TelegramRateLimits {
  /** Default 1 (Telegram's advice for one chat). */
  perChatPerSecond?: number;
  /** Messages one chat may get back to back. Default 3. */
  perChatBurst?: number;
  /** Default 30 (Telegram's limit for one bot). */
  globalPerSecond?: number;
}

export interface TelegramChannelOptions {
  /** The bot token from @BotFather. Never logged, never put in an error. */
  token: string;
  /** Bot API root. Default `https://api.telegram.org`; the emulator's `url` in tests. */
  apiRoot?: string;
  /** Webhook mode; long polling when absent. */
  webhook?: TelegramWebhookOptions;
  /**
   * Languages a CA can pick. Plain tags get their English name from `Intl.DisplayNames`.
   * Default: the relay's `settings.languages`.
   */
  languages?: Array<LanguageTag | LanguageOption>;
  /** Topics a CA can pick. Default: the relay's `settings.topics` (none: the step is skipped). */
  topics?: Array<string | TopicOption>;
  /** Telegram user ids that receive approval requests and may press Approve / Reject. */
  adminIds?: number[];
  logger?: Logger;
  rateLimits?: TelegramRateLimits;
  /** Largest file a CA can send (Telegram's getFile limit). Default 20 MB. */
  maxDownloadBytes?: number;
  /** Largest file sent to a CA (Telegram's upload limit). Default 50 MB. */
  maxUploadBytes?: number;
  /** Long-poll timeout of one getUpdates call, in seconds. Default 30. */
  pollingTimeoutSec?: number;
  /** Timeout of one Bot API call (uploads and downloads get `transferTimeoutMs`). Default 30 s. */
  requestTimeoutMs?: number;
  /** Timeout of one file upload or download. Default 10 min. */
  transferTimeoutMs?: number;
  /** How long `stop()` lets queued messages go out. Default 5 s. */
  drainTimeoutMs?: number;
  /** Largest `maxChats` a CA can choose in /profile. Default 5. */
  maxChatsLimit?: number;
  /**
   * Retries of one Bot API call on 5xx answers, network errors and timeouts before it fails
   * as retryable (the relay then retries the delivery later). Defaults: 4 attempts, backoff
   * from 250 ms doubling to 5 s.
   */
  retry?: { maxAttempts?: number; backoffInitialMs?: number; backoffMaxMs?: number };
}

export type WebhookHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: () => void,
) => Promise<void>;

export interface ResolvedOptions {
  token: string;
  apiRoot: string;
  webhook: (TelegramWebhookOptions & { path: string; host: string; maxBodyBytes: number }) | null;
  adminIds: number[];
  logger: Logger;
  rateLimits: Required<TelegramRateLimits>;
  maxDownloadBytes: number;
  maxUploadBytes: number;
  pollingTimeoutSec: number;
  requestTimeoutMs: number;
  transferTimeoutMs: number;
  drainTimeoutMs: number;
  maxChatsLimit: number;
  retry: { maxAttempts: number; backoffInitialMs: number; backoffMaxMs: number };
}

export const MB = 1024 * 1024;

export function resolveOptions(options: TelegramChannelOptions): ResolvedOptions {
  if (!options || typeof options.token !== 'string' || options.token.trim() === '') {
    throw new CaChatError('config_invalid', 'createTelegramChannel: `token` is required');
  }
  if (options.webhook && !options.webhook.secretToken) {
    throw new CaChatError(
      'config_invalid',
      'createTelegramChannel: webhook mode needs `webhook.secretToken`',
    );
  }
  if (options.webhook?.secretToken && !/^[A-Za-z0-9_-]{1,256}$/.test(options.webhook.secretToken)) {
    throw new CaChatError(
      'config_invalid',
      'webhook.secretToken must be 1-256 characters of A-Z, a-z, 0-9, _ and -',
    );
  }
  const positive = (value: number | undefined, fallback: number, name: string): number => {
    const v = value ?? fallback;
    if (!(typeof v === 'number' && v > 0 && Number.isFinite(v))) {
      throw new CaChatError(
        'config_invalid',
        `createTelegramChannel: ${name} must be a positive number`,
      );
    }
    return v;
  };
  return {
    token: options.token,
    apiRoot: (options.apiRoot ?? 'https://api.telegram.org').replace(/\/+$/, ''),
    webhook: options.webhook
      ? {
          ...options.webhook,
          path: options.webhook.path ?? '/telegram/webhook',
          host: options.webhook.host ?? '127.0.0.1',
          maxBodyBytes: options.webhook.maxBodyBytes ?? MB,
        }
      : null,
    adminIds: [...(options.adminIds ?? [])],
    logger: options.logger ?? silentLogger,
    rateLimits: {
      perChatPerSecond: positive(
        options.rateLimits?.perChatPerSecond,
        1,
        'rateLimits.perChatPerSecond',
      ),
      perChatBurst: positive(options.rateLimits?.perChatBurst, 3, 'rateLimits.perChatBurst'),
      globalPerSecond: positive(
        options.rateLimits?.globalPerSecond,
        30,
        'rateLimits.globalPerSecond',
      ),
    },
    maxDownloadBytes: positive(options.maxDownloadBytes, 20 * MB, 'maxDownloadBytes'),
    maxUploadBytes: positive(options.maxUploadBytes, 50 * MB, 'maxUploadBytes'),
    pollingTimeoutSec: pollingTimeout(options.pollingTimeoutSec),
    requestTimeoutMs: positive(options.requestTimeoutMs, 30_000, 'requestTimeoutMs'),
    transferTimeoutMs: positive(options.transferTimeoutMs, 10 * 60_000, 'transferTimeoutMs'),
    drainTimeoutMs: options.drainTimeoutMs ?? 5_000,
    maxChatsLimit: positive(options.maxChatsLimit, 5, 'maxChatsLimit'),
    retry: {
      maxAttempts: positive(options.retry?.maxAttempts, 4, 'retry.maxAttempts'),
      backoffInitialMs: positive(options.retry?.backoffInitialMs, 250, 'retry.backoffInitialMs'),
      backoffMaxMs: positive(options.retry?.backoffMaxMs, 5_000, 'retry.backoffMaxMs'),
    },
  };
}

function pollingTimeout(value: number | undefined): number {
  const v = value ?? 30;
  if (!Number.isInteger(v) || v < 0 || v > 60) {
    throw new CaChatError(
      'config_invalid',
      'createTelegramChannel: pollingTimeoutSec must be a whole number from 0 to 60',
    );
  }
  return v;
}

const languageNames = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'code' });

/** The languages offered to CAs: the channel's own list, else the relay's. */
export function resolveLanguages(
  configured: TelegramChannelOptions['languages'],
  settings: RelaySettings,
): LanguageOption[] {
  const list = configured && configured.length > 0 ? configured : settings.languages;
  const out = list.map((item) =>
    typeof item === 'string' ? { tag: item, name: displayLanguage(item) } : { ...item },
  );
  if (out.length === 0) {
    throw new CaChatError(
      'config_invalid',
      "the Telegram channel needs `languages` (or the relay's `languages`) to offer CAs",
    );
  }
  return out;
}

export function resolveTopics(
  configured: TelegramChannelOptions['topics'],
  settings: RelaySettings,
): TopicOption[] {
  const list = configured && configured.length > 0 ? configured : settings.topics;
  return list.map((item) =>
    typeof item === 'string' ? { id: item, name: humanizeTopic(item) } : { ...item },
  );
}

export function displayLanguage(tag: string): string {
  try {
    return languageNames.of(tag) ?? tag;
  } catch {
    return tag;
  }
}

function humanizeTopic(id: string): string {
  const special: Record<string, string> = { gst: 'GST', tds: 'TDS', itr: 'ITR' };
  return id
    .split(/[-_]/)
    .map((w) => special[w.toLowerCase()] ?? (w ? w[0]!.toUpperCase() + w.slice(1) : w))
    .join(' ');
}
