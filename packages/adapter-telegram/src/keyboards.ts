import { CaChatError } from '@ca-chat/core';
import type { InlineKeyboardButton, InlineKeyboardMarkup } from 'telegraf/types';
import type { LanguageOption, TopicOption } from './options.js';

/** Telegram's limit on `callback_data`, in bytes. */
const MAX_CALLBACK_BYTES = 64;

/**
 * Every button's `callback_data`, in one place. Ids are the relay's (short) chat and CA ids;
 * topics go by index so long topic names never hit the 64-byte limit.
 */
export type CallbackAction =
  | { kind: 'accept'; chatId: string }
  | { kind: 'decline'; chatId: string }
  | { kind: 'end'; chatId: string }
  | { kind: 'approve'; caId: string }
  | { kind: 'reject'; caId: string }
  | { kind: 'form.language'; tag: string }
  | { kind: 'form.topic'; index: number }
  | { kind: 'form.done' }
  | { kind: 'form.skip' }
  | { kind: 'form.confirm' }
  | { kind: 'form.restart' }
  | { kind: 'profile.edit'; field: 'name' | 'languages' | 'topics' | 'maxChats' }
  | { kind: 'profile.maxChats'; value: number };

const PROFILE_FIELDS = ['name', 'languages', 'topics', 'maxChats'] as const;

export function encodeCallback(action: CallbackAction): string {
  let data: string;
  switch (action.kind) {
    case 'accept':
      data = `acc:${action.chatId}`;
      break;
    case 'decline':
      data = `dec:${action.chatId}`;
      break;
    case 'end':
      data = `end:${action.chatId}`;
      break;
    case 'approve':
      data = `apr:${action.caId}`;
      break;
    case 'reject':
      data = `rej:${action.caId}`;
      break;
    case 'form.language':
      data = `f:l:${action.tag}`;
      break;
    case 'form.topic':
      data = `f:t:${action.index}`;
      break;
    case 'form.done':
      data = 'f:done';
      break;
    case 'form.skip':
      data = 'f:skip';
      break;
    case 'form.confirm':
      data = 'f:ok';
      break;
    case 'form.restart':
      data = 'f:again';
      break;
    case 'profile.edit':
      data = `p:${action.field}`;
      break;
    case 'profile.maxChats':
      data = `p:max:${action.value}`;
      break;
  }
  if (Buffer.byteLength(data) > MAX_CALLBACK_BYTES) {
    throw new CaChatError(
      'internal',
      `callback data over ${MAX_CALLBACK_BYTES} bytes (an id is too long)`,
    );
  }
  return data;
}

/** Null for anything this bot did not produce (old buttons, forged data). */
export function decodeCallback(data: string | undefined): CallbackAction | null {
  if (!data) return null;
  const [head, ...restParts] = data.split(':');
  const rest = restParts.join(':');
  switch (head) {
    case 'acc':
      return rest ? { kind: 'accept', chatId: rest } : null;
    case 'dec':
      return rest ? { kind: 'decline', chatId: rest } : null;
    case 'end':
      return rest ? { kind: 'end', chatId: rest } : null;
    case 'apr':
      return rest ? { kind: 'approve', caId: rest } : null;
    case 'rej':
      return rest ? { kind: 'reject', caId: rest } : null;
    case 'f': {
      if (rest === 'done') return { kind: 'form.done' };
      if (rest === 'skip') return { kind: 'form.skip' };
      if (rest === 'ok') return { kind: 'form.confirm' };
      if (rest === 'again') return { kind: 'form.restart' };
      if (rest.startsWith('l:') && rest.length > 2)
        return { kind: 'form.language', tag: rest.slice(2) };
      if (rest.startsWith('t:') && /^\d{1,3}$/.test(rest.slice(2)))
        return { kind: 'form.topic', index: Number(rest.slice(2)) };
      return null;
    }
    case 'p': {
      if (rest.startsWith('max:') && /^\d{1,2}$/.test(rest.slice(4)))
        return { kind: 'profile.maxChats', value: Number(rest.slice(4)) };
      const field = PROFILE_FIELDS.find((f) => f === rest);
      return field ? { kind: 'profile.edit', field } : null;
    }
    default:
      return null;
  }
}

const button = (text: string, action: CallbackAction): InlineKeyboardButton => ({
  text,
  callback_data: encodeCallback(action),
});

/** Rows of two, so long language names stay readable on a phone. */
const pairs = <T>(items: T[]): T[][] => {
  const rows: T[][] = [];
  for (let i = 0; i < items.length; i += 2) rows.push(items.slice(i, i + 2));
  return rows;
};

export function languagesKeyboard(
  languages: LanguageOption[],
  selected: string[],
): InlineKeyboardMarkup {
  const buttons = languages.map((l) =>
    button(`${selected.includes(l.tag) ? '✓ ' : ''}${l.name}`, {
      kind: 'form.language',
      tag: l.tag,
    }),
  );
  return { inline_keyboard: [...pairs(buttons), [button('Done', { kind: 'form.done' })]] };
}

export function topicsKeyboard(
  topics: TopicOption[],
  selected: string[],
  allowSkip: boolean,
): InlineKeyboardMarkup {
  const buttons = topics.map((t, index) =>
    button(`${selected.includes(t.id) ? '✓ ' : ''}${t.name}`, { kind: 'form.topic', index }),
  );
  const last = [button('Done', { kind: 'form.done' })];
  if (allowSkip) last.push(button('Skip', { kind: 'form.skip' }));
  return { inline_keyboard: [...pairs(buttons), last] };
}

export function confirmKeyboard(): InlineKeyboardMarkup {
  return {
    inline_keyboard: [
      [button('Confirm', { kind: 'form.confirm' }), button('Start over', { kind: 'form.restart' })],
    ],
  };
}

export function offerKeyboard(chatId: string): InlineKeyboardMarkup {
  return {
    inline_keyboard: [
      [
        button('Accept', { kind: 'accept', chatId }),
        button('Decline', { kind: 'decline', chatId }),
      ],
    ],
  };
}

export function approvalKeyboard(caId: string): InlineKeyboardMarkup {
  return {
    inline_keyboard: [
      [button('Approve', { kind: 'approve', caId }), button('Reject', { kind: 'reject', caId })],
    ],
  };
}

export function profileKeyboard(hasTopics: boolean): InlineKeyboardMarkup {
  const rows: InlineKeyboardButton[][] = [
    [
      button('Edit name', { kind: 'profile.edit', field: 'name' }),
      button('Edit languages', { kind: 'profile.edit', field: 'languages' }),
    ],
  ];
  const second = [button('Max chats', { kind: 'profile.edit', field: 'maxChats' })];
  if (hasTopics) second.unshift(button('Edit topics', { kind: 'profile.edit', field: 'topics' }));
  rows.push(second);
  return { inline_keyboard: rows };
}

export function maxChatsKeyboard(limit: number, current: number): InlineKeyboardMarkup {
  const buttons = Array.from({ length: limit }, (_, i) =>
    button(`${i + 1 === current ? '✓ ' : ''}${i + 1}`, { kind: 'profile.maxChats', value: i + 1 }),
  );
  return { inline_keyboard: [buttons] };
}

export function endChoiceKeyboard(
  chats: Array<{ chatId: string; label: string }>,
): InlineKeyboardMarkup {
  return {
    inline_keyboard: chats.map((c) => [
      button(`End: ${c.label}`, { kind: 'end', chatId: c.chatId }),
    ]),
  };
}

export const NO_KEYBOARD: InlineKeyboardMarkup = { inline_keyboard: [] };
