import { CaChatError, type Logger } from '@ca-chat/core';
import type { InlineKeyboardMarkup, Message } from 'telegraf/types';
import type { BotApi } from './bot-api.js';
import { NO_KEYBOARD } from './keyboards.js';
import { MAX_MESSAGE_CHARS, type OutboxQueue } from './outbox-queue.js';
import { splitText } from './split-text.js';

export type ChatId = number | string;

export interface SendOptions {
  keyboard?: InlineKeyboardMarkup;
  replyTo?: number;
  /** Ordering key for deliveries (see `CallJob.orderKey`). */
  orderKey?: string;
}

/**
 * The bot's outgoing vocabulary, every call through the one outbox queue. Long texts are
 * split at line / word boundaries into several messages, never truncated.
 */
export interface TelegramCalls {
  /** Sends a text (split when over 4096 chars); resolves with the first message. */
  send(chatId: ChatId, text: string, options?: SendOptions): Promise<Message.TextMessage>;
  /** Replaces a message's text and keyboard. "Not modified" and "not found" are ignored. */
  edit(
    chatId: ChatId,
    messageId: number,
    text: string,
    keyboard?: InlineKeyboardMarkup,
  ): Promise<void>;
  /** Replaces only the keyboard of a message. */
  editKeyboard(chatId: ChatId, messageId: number, keyboard: InlineKeyboardMarkup): Promise<void>;
  /** Stops the button's spinner, optionally with a toast (or an alert when `alert`). */
  answer(callbackQueryId: string, text?: string, alert?: boolean): Promise<void>;
  typing(chatId: ChatId): Promise<void>;
}

/** Telegram 400s that mean "nothing to do" when editing. */
const HARMLESS_EDIT = /message is not modified|message to edit not found|message can't be edited/i;

export function createTelegramCalls(
  queue: OutboxQueue,
  api: BotApi,
  logger: Logger,
): TelegramCalls {
  const sendOne = (
    chatId: ChatId,
    text: string,
    options: SendOptions,
    keyboard: boolean,
  ): Promise<Message.TextMessage> =>
    queue.call({
      chatId,
      ...(options.orderKey !== undefined ? { orderKey: options.orderKey } : {}),
      run: (signal) =>
        api.call(
          'sendMessage',
          {
            chat_id: chatId,
            text,
            ...(keyboard && options.keyboard ? { reply_markup: options.keyboard } : {}),
            ...(options.replyTo !== undefined
              ? {
                  reply_parameters: {
                    message_id: options.replyTo,
                    allow_sending_without_reply: true,
                  },
                }
              : {}),
            link_preview_options: { is_disabled: true },
          },
          { signal },
        ),
    }) as Promise<Message.TextMessage>;

  const harmless = (error: unknown): boolean =>
    CaChatError.isInstance(error) &&
    HARMLESS_EDIT.test(
      String((error.details as { description?: string } | undefined)?.description ?? ''),
    );

  return {
    async send(chatId, text, options = {}) {
      const parts = splitText(text, MAX_MESSAGE_CHARS);
      // All parts are queued at once so nothing else for this chat slips in between; the
      // keyboard goes on the last part, where the CA's eyes end up.
      const sent = await Promise.all(
        parts.map((part, i) => sendOne(chatId, part, options, i === parts.length - 1)),
      );
      return sent[0]!;
    },

    async edit(chatId, messageId, text, keyboard = NO_KEYBOARD) {
      try {
        await queue.call({
          chatId,
          run: (signal) =>
            api.call(
              'editMessageText',
              {
                chat_id: chatId,
                message_id: messageId,
                text: splitText(text, MAX_MESSAGE_CHARS)[0]!,
                reply_markup: keyboard,
              },
              { signal },
            ),
        });
      } catch (error) {
        if (!harmless(error)) throw error;
        logger.debug({ chatId, messageId }, 'edit skipped: message unchanged or gone');
      }
    },

    async editKeyboard(chatId, messageId, keyboard) {
      try {
        await queue.call({
          chatId,
          run: (signal) =>
            api.call(
              'editMessageReplyMarkup',
              { chat_id: chatId, message_id: messageId, reply_markup: keyboard },
              { signal },
            ),
        });
      } catch (error) {
        if (!harmless(error)) throw error;
      }
    },

    async answer(callbackQueryId, text, alert) {
      try {
        await queue.call({
          run: (signal) =>
            api.call(
              'answerCallbackQuery',
              {
                callback_query_id: callbackQueryId,
                ...(text ? { text: text.slice(0, 200) } : {}),
                ...(alert ? { show_alert: true } : {}),
              },
              { signal },
            ),
        });
      } catch (error) {
        // An old query can't be answered any more; nobody is waiting on it.
        logger.debug({ err: error }, 'answerCallbackQuery failed');
      }
    },

    async typing(chatId) {
      await queue
        .call({
          chatId,
          limited: false,
          skipIfBusy: true,
          run: (signal) =>
            api.call('sendChatAction', { chat_id: chatId, action: 'typing' }, { signal }),
        })
        .catch((error) => logger.debug({ err: error }, 'sendChatAction failed'));
    },
  };
}
