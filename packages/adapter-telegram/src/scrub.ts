import type { Logger } from '@ca-chat/core';

/**
 * The bot token is a password: anyone holding it controls the bot and can download every
 * file CAs ever sent. Telegram puts it in every URL (`/bot<token>/method`,
 * `/file/bot<token>/path`), and HTTP libraries copy URLs into their error messages, so
 * everything this package logs or raises passes through a scrubber first.
 */
export interface Scrubber {
  /** Replaces every occurrence of the token (and its URL-encoded form) with `[REDACTED]`. */
  text(value: string): string;
  /** A plain Error carrying the scrubbed name, message and code of `error` (never the original). */
  error(error: unknown): Error;
  /** A deep copy of a log payload with secrets removed (errors become `{name, message, code}`). */
  value(value: unknown): unknown;
}

const MAX_DEPTH = 6;

export function createScrubber(secrets: string[]): Scrubber {
  const needles = [...new Set(secrets.flatMap((s) => (s ? [s, encodeURIComponent(s)] : [])))].sort(
    (a, b) => b.length - a.length,
  );
  const text = (value: string): string => {
    let out = value;
    for (const needle of needles)
      if (out.includes(needle)) out = out.split(needle).join('[REDACTED]');
    return out;
  };
  const error = (value: unknown): Error => {
    if (value instanceof Error) {
      const copy = new Error(text(value.message));
      copy.name = value.name;
      const code = (value as { code?: unknown }).code;
      if (typeof code === 'string' || typeof code === 'number')
        (copy as { code?: unknown }).code = code;
      copy.stack = value.stack ? text(value.stack) : copy.stack;
      return copy;
    }
    return new Error(text(String(value)));
  };
  const deep = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return text(value);
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH) return '[…]';
    if (value instanceof Error) {
      const out: Record<string, unknown> = { name: value.name, message: text(value.message) };
      const code = (value as { code?: unknown }).code;
      if (code !== undefined) out.code = deep(code, depth + 1);
      if (value.cause !== undefined) out.cause = deep(value.cause, depth + 1);
      return out;
    }
    if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
    if (Array.isArray(value)) return value.map((v) => deep(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = deep(v, depth + 1);
    return out;
  };
  return { text, error, value: (v) => deep(v, 0) };
}

/** Wraps a Logger so nothing it receives can carry the token. */
export function scrubLogger(logger: Logger, scrubber: Scrubber): Logger {
  const wrap =
    (fn: (obj: object, msg?: string) => void) =>
    (obj: object, msg?: string): void => {
      const clean = scrubber.value(obj) as object;
      if (msg === undefined) fn.call(logger, clean);
      else fn.call(logger, clean, scrubber.text(msg));
    };
  const scrubbed: Logger = {
    debug: wrap(logger.debug),
    info: wrap(logger.info),
    warn: wrap(logger.warn),
    error: wrap(logger.error),
  };
  if (logger.child) {
    const child = logger.child.bind(logger);
    scrubbed.child = (bindings: object) =>
      scrubLogger(child(scrubber.value(bindings) as object), scrubber);
  }
  return scrubbed;
}
