import { CaChatError, type Logger, type RelayApi, type Storage } from '@ca-chat/core';
import type { BotApi } from './bot-api.js';
import type { LanguageOption, ResolvedOptions, TopicOption } from './options.js';
import type { OutboxQueue } from './outbox-queue.js';
import type { Scrubber } from './scrub.js';
import type { TelegramCalls } from './telegram-calls.js';

/** The channel's name, and `CA.channel` of the CAs it serves. */
export const CHANNEL_NAME = 'telegram';

/** What the channel's modules share. */
export interface ChannelContext {
  options: ResolvedOptions;
  logger: Logger;
  scrubber: Scrubber;
  api: BotApi;
  queue: OutboxQueue;
  calls: TelegramCalls;
  /** Set by `start`. */
  relay: RelayApi | null;
  languages: LanguageOption[];
  topics: TopicOption[];
}

export function relayOf(ctx: ChannelContext): RelayApi {
  if (!ctx.relay) throw new CaChatError('not_started', 'the Telegram channel has not been started');
  return ctx.relay;
}

export function storageOf(ctx: ChannelContext): Storage {
  return relayOf(ctx).storage;
}

/** A relay error's message for a CA, without internals (the code's meaning, not a stack). */
export function describeError(error: unknown): string {
  if (CaChatError.isInstance(error)) return error.message;
  return 'unexpected error';
}
