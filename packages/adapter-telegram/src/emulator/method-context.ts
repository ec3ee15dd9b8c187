import type { TgChat, TgMessage } from './bot-api-types.js';
import type { BotState } from './bot-state.js';
import type { EmulatorState } from './emulator-state.js';
import { badRequest } from './errors.js';
import type { ApiParams } from './params.js';
import type { EmulatedUser } from './types.js';

/** Starts and stops webhook delivery loops (implemented in webhook.ts). */
export interface WebhookControl {
  start(bot: BotState): void;
  stop(bot: BotState): void;
}

/** What a Bot API method handler gets for one call. */
export interface MethodContext {
  state: EmulatorState;
  bot: BotState;
  params: ApiParams;
  /** Aborted when the caller hangs up (ends a held long poll). */
  signal: AbortSignal;
  webhooks: WebhookControl;
}

export type MethodHandler = (context: MethodContext) => unknown;

/** A successful result that also carries Telegram's `description` (setWebhook does this). */
export class DescribedResult {
  constructor(
    readonly result: unknown,
    readonly description: string,
  ) {}
}

/** The target private chat; Telegram's errors for a missing or unknown `chat_id`. */
export function requireChat(context: MethodContext): { user: EmulatedUser; chat: TgChat } {
  const raw = context.params.string('chat_id');
  if (raw === undefined || raw === '') throw badRequest('chat_id is empty');
  if (!/^-?\d{1,15}$/.test(raw)) throw badRequest('chat not found');
  const user = context.state.findUser(Number(raw));
  if (!user) throw badRequest('chat not found');
  return { user, chat: context.state.privateChat(user) };
}

export function requireMessageId(context: MethodContext): number {
  const messageId = context.params.integer('message_id');
  if (messageId === undefined) throw badRequest('message identifier is not specified');
  return messageId;
}

/**
 * The message being replied to, from `reply_parameters` or the older `reply_to_message_id`,
 * as Telegram embeds it: one level deep.
 */
export function resolveReply(context: MethodContext, chatId: number): TgMessage | undefined {
  const parameters = context.params.json('reply_parameters') as
    { message_id?: unknown; allow_sending_without_reply?: unknown } | undefined;
  let messageId: number | undefined;
  let allowWithout = context.params.boolean('allow_sending_without_reply') ?? false;
  if (parameters !== undefined) {
    if (typeof parameters !== 'object' || parameters === null) {
      throw badRequest("can't parse reply parameters JSON object");
    }
    if (typeof parameters.message_id !== 'number') {
      throw badRequest('message identifier is not specified');
    }
    messageId = parameters.message_id;
    allowWithout = parameters.allow_sending_without_reply === true;
  } else {
    messageId = context.params.integer('reply_to_message_id');
  }
  if (messageId === undefined || messageId === 0) return undefined;
  const stored = context.bot.findMessage(chatId, messageId);
  if (!stored) {
    if (allowWithout) return undefined;
    throw badRequest('message to be replied not found');
  }
  return withoutReply(stored.message);
}

export function withoutReply(message: TgMessage): TgMessage {
  const copy = { ...message };
  delete copy.reply_to_message;
  return copy;
}

/** The fields every message the bot sends into `chat` starts with. */
export function newBotMessage(context: MethodContext, chat: TgChat): TgMessage {
  const { bot, state } = context;
  return {
    message_id: bot.allocateMessageId(chat.id),
    from: {
      id: bot.user.id,
      is_bot: true,
      first_name: bot.user.first_name,
      username: bot.user.username,
    },
    chat,
    date: state.nowSeconds(),
  };
}
