import pino, { type Logger as PinoLogger } from 'pino';
import type { ServeConfig } from './options.js';

/** JSON lines in production; pretty in a terminal (or when asked). */
export function createLogger(
  config: Pick<ServeConfig, 'logLevel' | 'logFormat'>,
  stream?: NodeJS.WritableStream,
): PinoLogger {
  const pretty =
    config.logFormat === 'pretty' ||
    (config.logFormat === 'auto' && !stream && process.stdout.isTTY === true);
  const options = {
    level: config.logLevel,
    base: { pid: process.pid },
    // Telegram file URLs and API errors may carry the bot token; never log it.
    redact: {
      paths: [
        'token',
        '*.token',
        'telegramToken',
        '*.telegramToken',
        'authorization',
        '*.authorization',
      ],
      censor: '[redacted]',
    },
  };
  if (pretty) {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  }
  return stream ? pino(options, stream as pino.DestinationStream) : pino(options);
}
