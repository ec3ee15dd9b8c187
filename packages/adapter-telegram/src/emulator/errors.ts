import type { TgResponse } from './bot-api-types.js';

/** An error answered to a bot the way Telegram answers it: HTTP status = `errorCode`. */
export class BotApiError extends Error {
  override readonly name = 'BotApiError';

  constructor(
    readonly errorCode: number,
    readonly description: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(description);
  }

  toResponse(): TgResponse<never> {
    const body: TgResponse<never> = {
      ok: false,
      error_code: this.errorCode,
      description: this.description,
    };
    if (this.retryAfterSeconds !== undefined) {
      body.parameters = { retry_after: this.retryAfterSeconds };
    }
    return body;
  }
}

export const badRequest = (what: string): BotApiError =>
  new BotApiError(400, `Bad Request: ${what}`);

export const unauthorized = (): BotApiError => new BotApiError(401, 'Unauthorized');

export const notFound = (): BotApiError => new BotApiError(404, 'Not Found');

export const entityTooLarge = (): BotApiError => new BotApiError(413, 'Request Entity Too Large');

export const tooManyRequests = (retryAfterSeconds: number): BotApiError =>
  new BotApiError(429, `Too Many Requests: retry after ${retryAfterSeconds}`, retryAfterSeconds);

export const conflict = (what: string): BotApiError => new BotApiError(409, `Conflict: ${what}`);

/**
 * Codes of errors the driver API raises (a subset of `@ca-chat/core`'s CaChatErrorCode, so
 * callers can treat both alike).
 */
export type EmulatorErrorCode =
  'invalid_input' | 'not_found' | 'timeout' | 'payload_too_large' | 'shutting_down';

/** Misuse of the driver API (unknown bot, no such button, a wait that timed out...). */
export class EmulatorError extends Error {
  override readonly name = 'EmulatorError';

  constructor(
    readonly code: EmulatorErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static isInstance(value: unknown): value is EmulatorError {
    return value instanceof Error && value.name === 'EmulatorError' && 'code' in value;
  }
}
