import type { Readable } from 'node:stream';
import { CaChatError } from '@ca-chat/core';
import type { Telegraf } from 'telegraf';
import type { Opts, Telegram as TgMethods } from 'telegraf/types';
import { request } from 'undici';
import type { Scrubber } from './scrub.js';

export type BotMethod = keyof TgMethods;
export type BotResult<M extends BotMethod> = ReturnType<TgMethods[M]>;

/** What the queue needs to know about a failed call (kept in `CaChatError.details`). */
export interface BotErrorDetails {
  method: string;
  /** HTTP-ish status: Telegram's `error_code`, or null for network errors and timeouts. */
  status: number | null;
  /** Telegram's `parameters.retry_after` on a 429, in seconds. */
  retryAfterSec: number | null;
  /** Telegram's description (e.g. `Bad Request: file is too big`), scrubbed. */
  description: string;
}

export interface BotApi {
  /** One Bot API call with a timeout; every failure is a scrubbed `CaChatError('telegram_error')`. */
  call<M extends BotMethod>(
    method: M,
    payload: Opts<M>,
    options?: { timeoutMs?: number; signal?: AbortSignal },
  ): Promise<BotResult<M>>;
  /** Streams a file from `<apiRoot>/file/bot<token>/<filePath>` (never buffered whole). */
  download(
    filePath: string,
    options: { signal?: AbortSignal; timeoutMs: number },
  ): Promise<Readable>;
}

export interface BotApiOptions {
  bot: Telegraf;
  token: string;
  apiRoot: string;
  scrubber: Scrubber;
  /** Default timeout of one call (uploads pass their own). */
  requestTimeoutMs: number;
}

export function createBotApi(options: BotApiOptions): BotApi {
  const { bot, token, scrubber } = options;
  const apiRoot = options.apiRoot.replace(/\/+$/, '');

  const translate = (error: unknown, method: string, signal: AbortSignal): CaChatError => {
    if (CaChatError.isInstance(error)) return error;
    const e = error as {
      name?: string;
      response?: {
        error_code?: number;
        description?: string;
        parameters?: { retry_after?: number };
      };
    };
    if (e?.response && typeof e.response.error_code === 'number') {
      const status = e.response.error_code;
      const description = scrubber.text(String(e.response.description ?? ''));
      const retryAfterSec =
        typeof e.response.parameters?.retry_after === 'number'
          ? e.response.parameters.retry_after
          : null;
      const details: BotErrorDetails = { method, status, retryAfterSec, description };
      return new CaChatError(
        'telegram_error',
        `Telegram ${method} failed: ${status} ${description}`.trim(),
        {
          retryable: status === 429 || status >= 500,
          details: { ...details },
          cause: scrubber.error(error),
        },
      );
    }
    const timedOut =
      signal.aborted && (signal.reason as { name?: string } | undefined)?.name === 'TimeoutError';
    const details: BotErrorDetails = {
      method,
      status: null,
      retryAfterSec: null,
      description: timedOut
        ? 'timed out'
        : scrubber.text((error as Error)?.message ?? String(error)),
    };
    return new CaChatError('telegram_error', `Telegram ${method} failed: ${details.description}`, {
      retryable: true,
      details: { ...details },
      cause: scrubber.error(error),
    });
  };

  return {
    async call(method, payload, callOptions = {}) {
      const timeout = AbortSignal.timeout(callOptions.timeoutMs ?? options.requestTimeoutMs);
      const signal = callOptions.signal ? AbortSignal.any([timeout, callOptions.signal]) : timeout;
      try {
        // telegraf types its signal with the abort-controller polyfill; Node's is compatible.
        return await bot.telegram.callApi(method, payload, { signal: signal as never });
      } catch (error) {
        throw translate(error, method, signal);
      }
    },

    async download(filePath, downloadOptions) {
      const timeout = AbortSignal.timeout(downloadOptions.timeoutMs);
      const signal = downloadOptions.signal
        ? AbortSignal.any([timeout, downloadOptions.signal])
        : timeout;
      const url = `${apiRoot}/file/bot${token}/${filePath.split('/').map(encodeURIComponent).join('/')}`;
      try {
        const response = await request(url, {
          method: 'GET',
          signal,
          headersTimeout: options.requestTimeoutMs,
          // Between chunks of the body; the whole transfer is bounded by `timeoutMs`.
          bodyTimeout: options.requestTimeoutMs,
        });
        if (response.statusCode !== 200) {
          response.body.destroy();
          throw new CaChatError(
            'telegram_error',
            `Telegram file download failed: HTTP ${response.statusCode}`,
            {
              retryable: response.statusCode >= 500 || response.statusCode === 429,
              details: {
                method: 'file',
                status: response.statusCode,
                retryAfterSec: null,
                description: `HTTP ${response.statusCode}`,
              },
            },
          );
        }
        return response.body;
      } catch (error) {
        throw translate(error, 'file', signal);
      }
    },
  };
}
