import { createHash, randomBytes } from 'node:crypto';
import { Markup, Telegraf, TelegramError } from 'telegraf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTelegramEmulator } from './index.js';
import { deferred, isPollHeld, TINY_PNG, waitUntil } from './test-utils.js';
import type { EmulatedBot, EmulatedUser, TelegramEmulator } from './types.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let emu: TelegramEmulator;
let botInfo: EmulatedBot;
let user: EmulatedUser;
let bot: Telegraf;
let running: Promise<void> | undefined;

beforeEach(async () => {
  emu = await createTelegramEmulator({ rateLimits: false });
  botInfo = emu.createBot({ username: 'ca_chat_test_bot', firstName: 'CA Chat' });
  user = emu.createUser({ firstName: 'Meera', username: 'meera_ca', languageCode: 'en' });
  bot = new Telegraf(botInfo.token, { telegram: { apiRoot: emu.url } });
});

afterEach(async () => {
  if (running) {
    bot.stop('test over');
    await running;
    running = undefined;
  }
  await emu.close();
});

/** Launches long polling and resolves once telegraf has its bot info. */
async function launch(): Promise<void> {
  const launched = deferred<void>();
  running = bot.launch(() => launched.resolve());
  await launched.promise;
}

describe('a telegraf bot on the emulator', () => {
  it('launches the way telegraf does: getMe, deleteWebhook, then getUpdates', async () => {
    await launch();
    expect(bot.botInfo).toMatchObject({
      id: botInfo.id,
      is_bot: true,
      username: 'ca_chat_test_bot',
      first_name: 'CA Chat',
    });
    const replied = emu.waitForBotMessage(botInfo.token, user.id);
    bot.on('message', (ctx) => ctx.reply('pong'));
    await emu.sendText(botInfo.token, user.id, 'ping');
    await replied;
    const methods = emu.calls(botInfo.token).map((c) => c.method);
    expect(methods.slice(0, 2)).toEqual(['getMe', 'deleteWebhook']);
    expect(methods).toContain('getUpdates');
  });

  it('routes /commands (bot_command entities) and shows inline keyboards', async () => {
    bot.command('start', (ctx) =>
      ctx.reply(
        `Welcome, ${ctx.from.first_name}`,
        Markup.inlineKeyboard([Markup.button.callback('Accept', 'accept:chat-1')]),
      ),
    );
    await launch();
    const sent = await emu.sendText(botInfo.token, user.id, '/start');
    expect(sent.entities).toEqual([{ type: 'bot_command', offset: 0, length: 6 }]);
    const welcome = await emu.waitForBotMessage(botInfo.token, user.id, {
      afterMessageId: sent.message_id,
    });
    expect(welcome).toMatchObject({
      text: 'Welcome, Meera',
      chat: { id: user.id, type: 'private' },
      from: { id: botInfo.id, is_bot: true, username: 'ca_chat_test_bot' },
      reply_markup: { inline_keyboard: [[{ text: 'Accept', callback_data: 'accept:chat-1' }]] },
    });
    expect(welcome.message_id).toBeGreaterThan(sent.message_id);
    expect(welcome.date).toBeLessThan(Date.now() / 1000 + 1);
  });

  it('delivers a button press, records the answer and applies the edit', async () => {
    bot.command('offer', (ctx) =>
      ctx.reply(
        'New chat: hi, GST',
        Markup.inlineKeyboard([Markup.button.callback('Accept', 'accept:7')]),
      ),
    );
    bot.action(/^accept:(.+)$/, async (ctx) => {
      await ctx.answerCbQuery(`Accepted ${ctx.match[1]}`);
      await ctx.editMessageText('Taken by you');
    });
    await launch();
    await emu.sendText(botInfo.token, user.id, '/offer');
    const offer = await emu.waitForBotMessage(botInfo.token, user.id, {
      match: (m) => m.reply_markup !== undefined,
    });
    const answered = deferred<void>();
    const unsubscribe = emu.subscribe((event) => {
      if (event.type === 'callback.answered') answered.resolve();
    });
    const { callbackQueryId } = await emu.pressButton(
      botInfo.token,
      user.id,
      offer.message_id,
      'accept:7',
    );
    const edited = await emu.waitForBotMessage(botInfo.token, user.id, {
      match: (m) => m.text === 'Taken by you',
    });
    await answered.promise;
    unsubscribe();
    expect(edited.message_id).toBe(offer.message_id);
    expect(edited.edit_date).toEqual(expect.any(Number));
    // Like Telegram: editing the text without reply_markup removes the keyboard.
    expect(edited.reply_markup).toBeUndefined();
    expect(emu.callbackAnswer(callbackQueryId)).toEqual({ text: 'Accepted 7' });
    expect(emu.botMessages(botInfo.token, user.id)).toEqual([edited]);
  });

  it('refuses to press a button that is not on the message', async () => {
    const message = await bot.telegram.sendMessage(user.id, 'no buttons here');
    await expect(
      emu.pressButton(botInfo.token, user.id, message.message_id, 'accept:1'),
    ).rejects.toMatchObject({ name: 'EmulatorError', code: 'not_found' });
  });

  it('uploads a document with telegraf (multipart) and keeps it byte-identical', async () => {
    const data = randomBytes(300_000);
    const sent = await bot.telegram.sendDocument(
      user.id,
      { source: data, filename: 'balance-sheet.pdf' },
      { caption: 'FY24 balance sheet' },
    );
    expect(sent.document).toMatchObject({
      file_name: 'balance-sheet.pdf',
      mime_type: 'application/pdf',
      file_size: data.length,
    });
    expect(sent.caption).toBe('FY24 balance sheet');
    const stored = await emu.fileBytes(sent.document.file_id);
    expect(sha256(stored)).toBe(sha256(data));
    // And back down through getFile + /file/bot<token>/<path>, as a bot downloads it.
    const link = await bot.telegram.getFileLink(sent.document.file_id);
    expect(link.href.startsWith(`${emu.url}/file/bot${botInfo.token}/documents/`)).toBe(true);
    const downloaded = Buffer.from(await (await fetch(link)).arrayBuffer());
    expect(sha256(downloaded)).toBe(sha256(data));
  });

  it('resends a document by file_id without a new upload', async () => {
    const first = await bot.telegram.sendDocument(user.id, {
      source: Buffer.from('x'),
      filename: 'a.txt',
    });
    const again = await bot.telegram.sendDocument(user.id, first.document.file_id);
    expect(again.document.file_id).toBe(first.document.file_id);
    await expect(bot.telegram.sendDocument(user.id, 'not-a-file-id')).rejects.toMatchObject({
      code: 400,
      description: 'Bad Request: wrong file identifier/HTTP URL specified',
    });
  });

  it('hands a file the user sent to the bot, downloadable byte-identical', async () => {
    const data = randomBytes(1_000_000);
    const digest = deferred<string>();
    bot.on('document', async (ctx) => {
      const link = await ctx.telegram.getFileLink(ctx.message.document.file_id);
      const bytes = Buffer.from(await (await fetch(link)).arrayBuffer());
      digest.resolve(sha256(bytes));
      await ctx.reply(`got ${ctx.message.document.file_name} (${ctx.message.caption})`);
    });
    await launch();
    const sent = await emu.sendDocument(
      botInfo.token,
      user.id,
      { data, fileName: 'itr.pdf' },
      { caption: 'my ITR' },
    );
    expect(sent.document).toMatchObject({ file_name: 'itr.pdf', mime_type: 'application/pdf' });
    expect(await digest.promise).toBe(sha256(data));
    const reply = await emu.waitForBotMessage(botInfo.token, user.id, {
      afterMessageId: sent.message_id,
    });
    expect(reply.text).toBe('got itr.pdf (my ITR)');
  });

  it('sends and receives photos with their dimensions', async () => {
    const photo = await bot.telegram.sendPhoto(user.id, { source: TINY_PNG }, { caption: 'stamp' });
    expect(photo.photo).toEqual([
      expect.objectContaining({ width: 1, height: 1, file_size: TINY_PNG.length }),
    ]);
    expect(photo.caption).toBe('stamp');
    await expect(
      bot.telegram.sendPhoto(user.id, { source: Buffer.from('not an image') }),
    ).rejects.toMatchObject({ code: 400, description: 'Bad Request: IMAGE_PROCESS_FAILED' });

    const received = deferred<number>();
    bot.on('photo', (ctx) => received.resolve(ctx.message.photo.at(-1)?.width ?? 0));
    await launch();
    await emu.sendPhoto(botInfo.token, user.id, { data: TINY_PNG, width: 640, height: 480 });
    expect(await received.promise).toBe(640);
  });

  it('replies to a message with reply_parameters', async () => {
    bot.on('text', (ctx) =>
      ctx.reply('noted', { reply_parameters: { message_id: ctx.message.message_id } }),
    );
    await launch();
    const question = await emu.sendText(botInfo.token, user.id, 'is GST due?');
    const answer = await emu.waitForBotMessage(botInfo.token, user.id, {
      afterMessageId: question.message_id,
    });
    expect(answer.reply_to_message).toEqual(question);
  });

  it('surfaces Telegram errors as TelegramError with code and description', async () => {
    const error = await bot.telegram.sendMessage(user.id, '').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TelegramError);
    expect(error).toMatchObject({ code: 400, description: 'Bad Request: message text is empty' });
  });

  it('redelivers nothing after a clean stop: telegraf confirms the offset', async () => {
    const seen: string[] = [];
    const first = deferred<void>();
    bot.on('text', (ctx) => {
      seen.push(ctx.message.text);
      first.resolve();
    });
    await launch();
    await emu.sendText(botInfo.token, user.id, 'before restart');
    await first.promise;
    bot.stop('restart');
    await running;
    running = undefined;

    bot = new Telegraf(botInfo.token, { telegram: { apiRoot: emu.url } });
    const second = deferred<void>();
    bot.on('text', (ctx) => {
      seen.push(ctx.message.text);
      second.resolve();
    });
    await launch();
    await emu.sendText(botInfo.token, user.id, 'after restart');
    await second.promise;
    expect(seen).toEqual(['before restart', 'after restart']);
  });

  it('fails a second telegraf instance of the same bot with 409 Conflict', async () => {
    const got = deferred<string>();
    bot.on('text', (ctx) => got.resolve(ctx.message.text));
    await launch();
    await waitUntil(() => isPollHeld(emu.url, botInfo.token));
    const second = new Telegraf(botInfo.token, { telegram: { apiRoot: emu.url } });
    await expect(second.launch()).rejects.toMatchObject({ code: 409 });
    // The first instance is unaffected.
    await emu.sendText(botInfo.token, user.id, 'still here');
    expect(await got.promise).toBe('still here');
  });

  it('sets and reads bot commands', async () => {
    await bot.telegram.setMyCommands([
      { command: 'start', description: 'Register as a CA' },
      { command: 'away', description: 'Stop receiving chats' },
    ]);
    expect(await bot.telegram.getMyCommands()).toEqual([
      { command: 'start', description: 'Register as a CA' },
      { command: 'away', description: 'Stop receiving chats' },
    ]);
  });

  it('accepts chat actions and deletes messages', async () => {
    await expect(bot.telegram.sendChatAction(user.id, 'typing')).resolves.toBe(true);
    const message = await bot.telegram.sendMessage(user.id, 'temporary');
    await bot.telegram.deleteMessage(user.id, message.message_id);
    expect(emu.botMessages(botInfo.token, user.id)).toEqual([]);
    await expect(bot.telegram.deleteMessage(user.id, message.message_id)).rejects.toMatchObject({
      description: 'Bad Request: message to delete not found',
    });
  });
});
