/**
 * Every error ca-chat raises or sends over a wire carries one of these codes.
 * Codes are stable: embedders and clients may switch on them.
 */
export const ERROR_CODES = [
  // input
  'invalid_input',
  'malformed',
  'unknown_type',
  'payload_too_large',
  'empty_text',
  'text_too_long',
  'file_too_large',
  'unsupported_language',
  'unsupported_protocol',
  'rate_limited',
  // identity / authorisation
  'unauthorized',
  'forbidden',
  'not_found',
  // chats
  'unknown_chat',
  'not_your_chat',
  'chat_ended',
  'chat_not_active',
  'too_many_chats',
  // CAs
  'ca_not_registered',
  'ca_not_approved',
  'ca_already_registered',
  'ca_at_capacity',
  'invalid_membership_no',
  'invalid_invite',
  'registration_closed',
  'offer_not_open',
  'chat_already_taken',
  // plumbing
  'storage_error',
  'storage_full',
  'schema_too_new',
  'corrupt_data',
  'locked',
  'channel_error',
  'transport_error',
  'telegram_error',
  'delivery_failed',
  'timeout',
  'not_started',
  'shutting_down',
  'config_invalid',
  'internal',
] as const;

export type CaChatErrorCode = (typeof ERROR_CODES)[number];

const MARKER = Symbol.for('ca-chat.error');

export interface CaChatErrorOptions {
  cause?: unknown;
  /** Whether repeating the same operation later may succeed (network blips, 429s, 5xx). */
  retryable?: boolean;
  /** Extra structured detail, safe to log and to send to the caller. */
  details?: Record<string, unknown>;
}

/** The one error class of ca-chat. Check with `CaChatError.isInstance(e)` across duplicate installs. */
export class CaChatError extends Error {
  override readonly name = 'CaChatError';
  readonly code: CaChatErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;
  readonly [MARKER] = true;

  constructor(code: CaChatErrorCode, message: string, options: CaChatErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }

  static isInstance(value: unknown): value is CaChatError {
    return typeof value === 'object' && value !== null && (value as any)[MARKER] === true;
  }

  /** True when `value` is a CaChatError with the given code. */
  static is(value: unknown, code: CaChatErrorCode): value is CaChatError {
    return CaChatError.isInstance(value) && value.code === code;
  }

  /** Wraps anything thrown by a plug-in into a CaChatError, keeping the original as `cause`. */
  static wrap(value: unknown, code: CaChatErrorCode, message: string): CaChatError {
    if (CaChatError.isInstance(value)) return value;
    return new CaChatError(code, `${message}: ${errorMessage(value)}`, { cause: value });
  }

  toJSON(): { code: CaChatErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function errorMessage(value: unknown): string {
  if (value instanceof Error) return value.message;
  return String(value);
}

export function isErrorCode(value: unknown): value is CaChatErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}
