import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TgMessage } from './bot-api-types.js';
import { createTelegramEmulator } from './index.js';
import { ok } from './test-utils.js';
import type { EmulatedBot, EmulatedUser, TelegramEmulator } from './types.js';

let emu: TelegramEmulator;
let bot: EmulatedBot;
let user: EmulatedUser;

beforeEach(async () => {
  emu = await createTelegramEmulator({
    rateLimits: false,
    bots: [{ token: '123456:preset-token', username: 'preset_bot' }],
  });
  bot = emu.createBot();
  user = emu.createUser({ id: 555, firstName: 'Ravi', lastName: 'K' });
});
afterEach(() => emu.close());

const botSays = (text: string, extra: Record<string, unknown> = {}) =>
  ok<TgMessage>(emu.url, bot.token, 'sendMessage', { chat_id: user.id, text, ...extra });

describe('driver', () => {
  it('knows preset bots by their token, with the id taken from it', async () => {
    const me = await ok<{ id: number; username: string }>(emu.url, '123456:preset-token', 'getMe');
    expect(me).toMatchObject({ id: 123456, username: 'preset_bot' });
    expect(emu.bots().map((b) => b.username)).toContain('preset_bot');
  });

  it('gives users a private chat whose id is the user id', async () => {
    expect(user).toEqual({ id: 555, chatId: 555, firstName: 'Ravi', lastName: 'K' });
    const sent = await emu.sendText(bot.token, user.id, 'hello');
    expect(sent).toMatchObject({
      from: { id: 555, is_bot: false, first_name: 'Ravi', last_name: 'K' },
      chat: { id: 555, type: 'private', first_name: 'Ravi', last_name: 'K' },
      text: 'hello',
    });
    expect(() => emu.createUser({ id: 555 })).toThrow(/already exists/);
  });

  it('creates a user who acts without createUser, as opening the bot would', async () => {
    const sent = await emu.sendText(bot.token, 777, 'first contact');
    expect(sent.chat).toEqual({ id: 777, type: 'private', first_name: 'User 777' });
    expect(emu.users().map((u) => u.id)).toContain(777);
  });

  it('resolves waitForBotMessage with a message that already exists', async () => {
    await botSays('already here');
    const found = await emu.waitForBotMessage(bot.token, user.id);
    expect(found.text).toBe('already here');
  });

  it('resolves waitForBotMessage with a later message, after afterMessageId', async () => {
    const first = await botSays('first');
    const waiting = emu.waitForBotMessage(bot.token, user.id, { afterMessageId: first.message_id });
    await botSays('second');
    expect((await waiting).text).toBe('second');
  });

  it('resolves waitForBotMessage when an edit makes a message match', async () => {
    const offer = await botSays('Offer: open');
    const taken = emu.waitForBotMessage(bot.token, user.id, {
      match: (m) => m.text === 'Offer: taken',
    });
    await ok(emu.url, bot.token, 'editMessageText', {
      chat_id: user.id,
      message_id: offer.message_id,
      text: 'Offer: taken',
    });
    expect(await taken).toMatchObject({ message_id: offer.message_id, text: 'Offer: taken' });
  });

  it('rejects waitForBotMessage on timeout with what the bot did say', async () => {
    await botSays('something else', {
      reply_markup: { inline_keyboard: [[{ text: 'Accept', callback_data: 'a' }]] },
    });
    const error = await emu
      .waitForBotMessage(bot.token, user.id, { match: (m) => m.text === 'never', timeoutMs: 50 })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'EmulatorError', code: 'timeout' });
    expect((error as Error).message).toMatch(/timed out after 50 ms/);
    expect((error as Error).message).toMatch(/"something else" \[Accept\]/);
  });

  it('rejects pending waits when the emulator closes', async () => {
    const waiting = emu.waitForBotMessage(bot.token, user.id, { timeoutMs: 60_000 });
    const rejected = expect(waiting).rejects.toMatchObject({ code: 'shutting_down' });
    await emu.close();
    await rejected;
  });

  it('keeps only the bot side in botMessages and both sides in chatHistory', async () => {
    const question = await emu.sendText(bot.token, user.id, 'question');
    const answer = await botSays('answer');
    const reply = await emu.sendText(bot.token, user.id, 'thanks', {
      replyToMessageId: answer.message_id,
    });
    expect(reply.reply_to_message).toEqual(answer);
    expect(emu.botMessages(bot.token, user.id)).toEqual([answer]);
    expect(emu.chatHistory(bot.token, user.id).map((m) => m.message_id)).toEqual([
      question.message_id,
      answer.message_id,
      reply.message_id,
    ]);
  });

  it('refuses an edit that changes nothing, like Telegram', async () => {
    const message = await botSays('same');
    const answer = await fetch(`${emu.url}/bot${bot.token}/editMessageText`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chat_id: user.id, message_id: message.message_id, text: 'same' }),
    });
    expect(await answer.json()).toMatchObject({
      error_code: 400,
      description: expect.stringMatching(/^Bad Request: message is not modified/),
    });
  });

  it('edits only the keyboard with editMessageReplyMarkup', async () => {
    const message = await botSays('pick', {
      reply_markup: { inline_keyboard: [[{ text: 'A', callback_data: 'a' }]] },
    });
    const edited = await ok<TgMessage>(emu.url, bot.token, 'editMessageReplyMarkup', {
      chat_id: user.id,
      message_id: message.message_id,
    });
    expect(edited.text).toBe('pick');
    expect(edited.reply_markup).toBeUndefined();
    await expect(emu.pressButton(bot.token, user.id, message.message_id, 'a')).rejects.toThrow(
      /no button/,
    );
  });

  it('answers each callback query once', async () => {
    const message = await botSays('pick', {
      reply_markup: { inline_keyboard: [[{ text: 'A', callback_data: 'a' }]] },
    });
    const { callbackQueryId } = await emu.pressButton(bot.token, user.id, message.message_id, 'a');
    expect(emu.callbackAnswer(callbackQueryId)).toBeUndefined();
    await ok(emu.url, bot.token, 'answerCallbackQuery', {
      callback_query_id: callbackQueryId,
      text: 'Done',
      show_alert: true,
    });
    expect(emu.callbackAnswer(callbackQueryId)).toEqual({ text: 'Done', show_alert: true });
    const again = await fetch(`${emu.url}/bot${bot.token}/answerCallbackQuery`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ callback_query_id: callbackQueryId }),
    });
    expect(await again.json()).toMatchObject({
      description:
        'Bad Request: query is too old and response timeout expired or query ID is invalid',
    });
  });

  it('notices replies to missing messages, unless allowed to send without them', async () => {
    const missing = await fetch(`${emu.url}/bot${bot.token}/sendMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chat_id: user.id, text: 'x', reply_parameters: { message_id: 999 } }),
    });
    expect(await missing.json()).toMatchObject({
      description: 'Bad Request: message to be replied not found',
    });
    const allowed = await botSays('y', {
      reply_parameters: { message_id: 999, allow_sending_without_reply: true },
    });
    expect(allowed.reply_to_message).toBeUndefined();
  });
});
