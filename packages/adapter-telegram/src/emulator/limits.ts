import type { TgInlineKeyboardMarkup } from './bot-api-types.js';
import { badRequest } from './errors.js';
import type { EmulatorLimits, EmulatorRateLimits } from './types.js';

const MB = 1024 * 1024;

export const DEFAULT_LIMITS: Readonly<EmulatorLimits> = Object.freeze({
  maxTextLength: 4096,
  maxCaptionLength: 1024,
  maxCallbackDataBytes: 64,
  maxUploadBytes: 50 * MB,
  maxDownloadBytes: 20 * MB,
});

export const DEFAULT_RATE_LIMITS: Readonly<EmulatorRateLimits> = Object.freeze({
  perChatPerSecond: 1,
  perChatBurst: 3,
  globalPerSecond: 30,
});

export function resolveLimits(partial: Partial<EmulatorLimits> = {}): EmulatorLimits {
  const limits = { ...DEFAULT_LIMITS, ...stripUndefined(partial) };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(`limits.${name} must be a positive number, got ${String(value)}`);
    }
  }
  return limits;
}

export function resolveRateLimits(
  partial: false | Partial<EmulatorRateLimits> | undefined,
): EmulatorRateLimits | false {
  if (partial === false) return false;
  const rates = { ...DEFAULT_RATE_LIMITS, ...stripUndefined(partial ?? {}) };
  for (const [name, value] of Object.entries(rates)) {
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(`rateLimits.${name} must be a positive number, got ${String(value)}`);
    }
  }
  return rates;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** sendMessage / editMessageText: Telegram rejects, never truncates. */
export function checkMessageText(text: string | undefined, limits: EmulatorLimits): string {
  if (text === undefined || text.trim() === '') throw badRequest('message text is empty');
  if (text.length > limits.maxTextLength) throw badRequest('message is too long');
  return text;
}

export function checkCaption(caption: string | undefined, limits: EmulatorLimits): void {
  if (caption !== undefined && caption.length > limits.maxCaptionLength) {
    throw badRequest('message caption is too long');
  }
}

/** Validates an inline keyboard the way Telegram does; `undefined` means "no keyboard". */
export function checkInlineKeyboard(
  markup: unknown,
  limits: EmulatorLimits,
): TgInlineKeyboardMarkup | undefined {
  if (markup === undefined || markup === null) return undefined;
  if (typeof markup !== 'object') throw badRequest("can't parse reply keyboard markup JSON object");
  const rows = (markup as { inline_keyboard?: unknown }).inline_keyboard;
  // Reply keyboards (keyboard / remove_keyboard / force_reply) are accepted but not modelled:
  // they never show up on the message object.
  if (rows === undefined) return undefined;
  if (!Array.isArray(rows))
    throw badRequest("can't parse inline keyboard button: InlineKeyboardButton must be an Object");
  const clean: TgInlineKeyboardMarkup = { inline_keyboard: [] };
  for (const row of rows) {
    if (!Array.isArray(row))
      throw badRequest(
        'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays',
      );
    const cleanRow = [];
    for (const button of row) {
      if (typeof button !== 'object' || button === null) {
        throw badRequest(
          "can't parse inline keyboard button: InlineKeyboardButton must be an Object",
        );
      }
      const { text, callback_data: data, url } = button as Record<string, unknown>;
      if (typeof text !== 'string') {
        throw badRequest(
          'can\'t parse inline keyboard button: Field "text" must be of type String',
        );
      }
      if (text === '') throw badRequest('text buttons are unallowed in the inline keyboard');
      if (typeof data === 'string') {
        const bytes = Buffer.byteLength(data, 'utf8');
        if (bytes === 0 || bytes > limits.maxCallbackDataBytes)
          throw badRequest('BUTTON_DATA_INVALID');
        cleanRow.push({ text, callback_data: data });
      } else if (typeof url === 'string') {
        if (!/^(https?|tg):\/\//i.test(url)) throw badRequest('BUTTON_URL_INVALID');
        cleanRow.push({ text, url });
      } else {
        throw badRequest('text buttons are unallowed in the inline keyboard');
      }
    }
    if (cleanRow.length > 0) clean.inline_keyboard.push(cleanRow);
  }
  return clean.inline_keyboard.length > 0 ? clean : undefined;
}
