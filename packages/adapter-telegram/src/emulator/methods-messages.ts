import type { TgBotCommand, TgMessage, TgMessageEntity } from './bot-api-types.js';
import { badRequest } from './errors.js';
import { checkInlineKeyboard, checkMessageText } from './limits.js';
import {
  type MethodContext,
  newBotMessage,
  requireChat,
  requireMessageId,
  resolveReply,
} from './method-context.js';
import type { CallbackAnswer } from './types.js';

export function getMe({ bot }: MethodContext) {
  return bot.user;
}

export function sendMessage(context: MethodContext): TgMessage {
  const { params, state, bot } = context;
  const { chat } = requireChat(context);
  const text = checkMessageText(params.string('text'), state.limits);
  const markup = checkInlineKeyboard(params.json('reply_markup'), state.limits);
  const replyTo = resolveReply(context, chat.id);
  bot.limiter.acquire(chat.id);
  const message = newBotMessage(context, chat);
  message.text = text;
  const entities = explicitEntities(context.params.json('entities'));
  if (entities) message.entities = entities;
  if (replyTo) message.reply_to_message = replyTo;
  if (markup) message.reply_markup = markup;
  return bot.addMessage(message, true);
}

/** parse_mode is accepted and ignored; explicit entities are echoed back like Telegram does. */
function explicitEntities(value: unknown): TgMessageEntity[] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  return value as TgMessageEntity[];
}

function editableMessage(context: MethodContext, chatId: number) {
  const messageId = requireMessageId(context);
  const stored = context.bot.findMessage(chatId, messageId);
  if (!stored) throw badRequest('message to edit not found');
  if (!stored.fromBot) throw badRequest("message can't be edited");
  return stored.message;
}

const NOT_MODIFIED =
  'message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message';

/** Like Telegram, an edit without reply_markup removes the message's inline keyboard. */
export function editMessageText(context: MethodContext): TgMessage {
  const { params, state, bot } = context;
  if (!params.has('chat_id') && params.has('inline_message_id')) {
    throw badRequest('inline messages are not supported by the emulator');
  }
  const { chat } = requireChat(context);
  const text = checkMessageText(params.string('text'), state.limits);
  const markup = checkInlineKeyboard(params.json('reply_markup'), state.limits);
  const current = editableMessage(context, chat.id);
  if (current.text === undefined) throw badRequest('there is no text in the message to edit');
  if (current.text === text && sameJson(current.reply_markup, markup))
    throw badRequest(NOT_MODIFIED);
  const edited: TgMessage = { ...current, text, edit_date: state.nowSeconds() };
  delete edited.entities;
  const entities = explicitEntities(params.json('entities'));
  if (entities) edited.entities = entities;
  if (markup) edited.reply_markup = markup;
  else delete edited.reply_markup;
  return bot.replaceMessage(edited);
}

export function editMessageReplyMarkup(context: MethodContext): TgMessage {
  const { params, state, bot } = context;
  if (!params.has('chat_id') && params.has('inline_message_id')) {
    throw badRequest('inline messages are not supported by the emulator');
  }
  const { chat } = requireChat(context);
  const markup = checkInlineKeyboard(params.json('reply_markup'), state.limits);
  const current = editableMessage(context, chat.id);
  if (sameJson(current.reply_markup, markup)) throw badRequest(NOT_MODIFIED);
  const edited: TgMessage = { ...current, edit_date: state.nowSeconds() };
  if (markup) edited.reply_markup = markup;
  else delete edited.reply_markup;
  return bot.replaceMessage(edited);
}

export function deleteMessage(context: MethodContext): true {
  const { chat } = requireChat(context);
  const messageId = requireMessageId(context);
  if (!context.bot.deleteMessage(chat.id, messageId)) {
    throw badRequest('message to delete not found');
  }
  return true;
}

const CHAT_ACTIONS = new Set([
  'typing',
  'upload_photo',
  'record_video',
  'upload_video',
  'record_voice',
  'upload_voice',
  'upload_document',
  'choose_sticker',
  'find_location',
  'record_video_note',
  'upload_video_note',
]);

export function sendChatAction(context: MethodContext): true {
  const { chat } = requireChat(context);
  const action = context.params.string('action');
  if (action === undefined || !CHAT_ACTIONS.has(action)) {
    throw badRequest('wrong parameter action in request');
  }
  context.state.hub.emit({
    type: 'chat.action',
    botId: context.bot.info.id,
    chatId: chat.id,
    action,
  });
  return true;
}

export function answerCallbackQuery(context: MethodContext): true {
  const { params, state, bot } = context;
  const id = params.string('callback_query_id');
  const query = id === undefined ? undefined : state.callbackQueries.get(id);
  if (!query || query.botId !== bot.info.id || query.answer !== undefined) {
    throw badRequest('query is too old and response timeout expired or query ID is invalid');
  }
  const answer: CallbackAnswer = {};
  const text = params.string('text');
  if (text !== undefined) {
    if (text.length > 200) throw badRequest('MESSAGE_TOO_LONG');
    answer.text = text;
  }
  const showAlert = params.boolean('show_alert');
  if (showAlert !== undefined) answer.show_alert = showAlert;
  const url = params.string('url');
  if (url !== undefined) answer.url = url;
  const cacheTime = params.integer('cache_time');
  if (cacheTime !== undefined) answer.cache_time = cacheTime;
  query.answer = answer;
  state.hub.emit({
    type: 'callback.answered',
    botId: bot.info.id,
    chatId: query.userId,
    messageId: query.messageId,
    callbackQueryId: query.id,
    answer,
  });
  return true;
}

export function setMyCommands(context: MethodContext): true {
  const commands = context.params.json('commands');
  if (!Array.isArray(commands)) throw badRequest('parameter "commands" is required');
  if (commands.length > 100) throw badRequest('too many commands specified');
  const clean: TgBotCommand[] = commands.map((entry: unknown) => {
    const { command, description } = (entry ?? {}) as Record<string, unknown>;
    if (typeof command !== 'string' || !/^[a-z0-9_]{1,32}$/.test(command)) {
      throw badRequest('BOT_COMMAND_INVALID');
    }
    if (typeof description !== 'string' || description.length < 1 || description.length > 256) {
      throw badRequest('command description must be non-empty');
    }
    return { command, description };
  });
  context.bot.commands = clean;
  return true;
}

export function getMyCommands(context: MethodContext): TgBotCommand[] {
  return context.bot.commands.map((command) => ({ ...command }));
}

export function deleteMyCommands(context: MethodContext): true {
  context.bot.commands = [];
  return true;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
