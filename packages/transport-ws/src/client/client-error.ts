import type { CaChatErrorCode } from '@ca-chat/core';

/**
 * An error the SDK rejects with: the server's error code when it sent one (`text_too_long`,
 * `chat_ended`…), or `transport_error` / `timeout` for the connection itself.
 */
export class CaChatClientError extends Error {
  override readonly name = 'CaChatClientError';
  readonly code: CaChatErrorCode;
  /** HTTP status, for errors of HTTP calls. */
  readonly status: number | undefined;

  constructor(
    code: CaChatErrorCode,
    message: string,
    options: { status?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
  }
}
