import type { TgResponse } from './bot-api-types.js';
import { BotApiError } from './errors.js';
import { DescribedResult, type MethodContext, type MethodHandler } from './method-context.js';
import { getFile, sendDocument, sendPhoto } from './methods-files.js';
import {
  answerCallbackQuery,
  deleteMessage,
  deleteMyCommands,
  editMessageReplyMarkup,
  editMessageText,
  getMe,
  getMyCommands,
  sendChatAction,
  sendMessage,
  setMyCommands,
} from './methods-messages.js';
import { deleteWebhook, getUpdates, getWebhookInfo, setWebhook } from './methods-updates.js';

/** The Bot API methods the emulator speaks. */
const METHODS: Record<string, MethodHandler> = {
  getMe,
  getUpdates,
  setWebhook,
  deleteWebhook,
  getWebhookInfo,
  sendMessage,
  editMessageText,
  editMessageReplyMarkup,
  deleteMessage,
  sendChatAction,
  answerCallbackQuery,
  sendDocument,
  sendPhoto,
  getFile,
  setMyCommands,
  getMyCommands,
  deleteMyCommands,
};

const BY_LOWER_NAME = new Map(
  Object.entries(METHODS).map(([name, handler]) => [name.toLowerCase(), { name, handler }]),
);

export const SUPPORTED_METHODS: readonly string[] = Object.freeze(Object.keys(METHODS));

/** Telegram matches method names case-insensitively. */
export function findMethod(name: string): { name: string; handler: MethodHandler } | undefined {
  return BY_LOWER_NAME.get(name.toLowerCase());
}

/** Sending methods carry a `chat_id` worth recording in the call log. */
export function chatIdOf(context: Pick<MethodContext, 'params'>): number | undefined {
  try {
    const raw = context.params.string('chat_id');
    return raw !== undefined && /^-?\d{1,15}$/.test(raw) ? Number(raw) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs a handler and shapes its outcome as Telegram's response. Errors that are not
 * BotApiErrors are emulator bugs: they become a 500 and are handed to `onError`.
 */
export async function runMethod(
  handler: MethodHandler,
  context: MethodContext,
  onError: (error: unknown) => void,
): Promise<{ status: number; body: TgResponse<unknown> & { description?: string } }> {
  try {
    const outcome = await handler(context);
    if (outcome instanceof DescribedResult) {
      return {
        status: 200,
        body: { ok: true, result: outcome.result, description: outcome.description },
      };
    }
    return { status: 200, body: { ok: true, result: outcome } };
  } catch (error) {
    if (error instanceof BotApiError) return { status: error.errorCode, body: error.toResponse() };
    onError(error);
    return {
      status: 500,
      body: { ok: false, error_code: 500, description: 'Internal Server Error' },
    };
  }
}
