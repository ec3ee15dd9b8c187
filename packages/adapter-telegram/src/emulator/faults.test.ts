import { Telegraf } from 'telegraf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTelegramEmulator } from './index.js';
import { callApi, deferred } from './test-utils.js';
import type { EmulatedBot, EmulatedUser, TelegramEmulator } from './types.js';

let emu: TelegramEmulator;
let bot: EmulatedBot;
let user: EmulatedUser;

beforeEach(async () => {
  emu = await createTelegramEmulator({ rateLimits: false });
  bot = emu.createBot();
  user = emu.createUser();
});
afterEach(() => emu.close());

const send = (text = 'hi') =>
  callApi(emu.url, bot.token, 'sendMessage', { chat_id: user.id, text });

describe('injected faults', () => {
  it('rate_limit answers 429 with retry_after and does not send', async () => {
    emu.injectFault(bot.token, { method: 'sendMessage', kind: 'rate_limit', retryAfter: 7 });
    expect(await send()).toEqual({
      status: 429,
      body: {
        ok: false,
        error_code: 429,
        description: 'Too Many Requests: retry after 7',
        parameters: { retry_after: 7 },
      },
    });
    expect(emu.botMessages(bot.token, user.id)).toEqual([]);
    expect((await send()).status).toBe(200);
    expect(emu.calls(bot.token).map((c) => [c.method, c.status, c.chatId])).toEqual([
      ['sendMessage', 429, user.id],
      ['sendMessage', 200, user.id],
    ]);
  });

  it('server_error answers the given 5xx, which telegraf reports as a TelegramError', async () => {
    emu.injectFault(bot.token, { kind: 'server_error', status: 502 });
    const telegraf = new Telegraf(bot.token, { telegram: { apiRoot: emu.url } });
    await expect(telegraf.telegram.sendMessage(user.id, 'x')).rejects.toMatchObject({
      code: 502,
      description: 'Bad Gateway',
    });
    await expect(telegraf.telegram.sendMessage(user.id, 'y')).resolves.toMatchObject({ text: 'y' });
  });

  it('delay holds the call for the given time, then performs it', async () => {
    emu.injectFault(bot.token, { method: 'sendMessage', kind: 'delay', ms: 150 });
    const started = Date.now();
    expect((await send('late')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(emu.botMessages(bot.token, user.id).map((m) => m.text)).toEqual(['late']);
  });

  it('drop hangs up without an answer and without performing the call', async () => {
    emu.injectFault(bot.token, { method: 'sendMessage', kind: 'drop' });
    await expect(send('lost')).rejects.toThrow();
    expect(emu.botMessages(bot.token, user.id)).toEqual([]);
    expect(emu.calls(bot.token).at(-1)).toMatchObject({ method: 'sendMessage', status: 0 });
  });

  it('drop with afterProcessing performs the call, then hangs up (the duplicate-send case)', async () => {
    emu.injectFault(bot.token, { method: 'sendMessage', kind: 'drop', afterProcessing: true });
    await expect(send('sent but unanswered')).rejects.toThrow();
    expect(emu.botMessages(bot.token, user.id).map((m) => m.text)).toEqual(['sent but unanswered']);
  });

  it('applies to the next `count` matching calls only', async () => {
    emu.injectFault(bot.token, { method: 'sendMessage', kind: 'server_error', count: 2 });
    expect((await callApi(emu.url, bot.token, 'getMe')).status).toBe(200);
    expect((await send()).status).toBe(500);
    expect((await send()).status).toBe(500);
    expect((await send()).status).toBe(200);
  });

  it('without a method, matches any call except getUpdates', async () => {
    emu.injectFault(bot.token, { kind: 'server_error' });
    expect((await callApi(emu.url, bot.token, 'getUpdates')).status).toBe(200);
    expect((await callApi(emu.url, bot.token, 'getMe')).status).toBe(500);
  });

  it('telegraf polling survives a 429 on getUpdates and carries on', async () => {
    emu.injectFault(bot.token, { method: 'getUpdates', kind: 'rate_limit', retryAfter: 1 });
    const telegraf = new Telegraf(bot.token, { telegram: { apiRoot: emu.url } });
    const got = deferred<string>();
    telegraf.on('text', (ctx) => got.resolve(ctx.message.text));
    const launched = deferred<void>();
    const running = telegraf.launch(() => launched.resolve());
    await launched.promise;
    await emu.sendText(bot.token, user.id, 'after the flood');
    expect(await got.promise).toBe('after the flood');
    expect(emu.calls(bot.token).filter((c) => c.method === 'getUpdates')[0]?.status).toBe(429);
    telegraf.stop();
    await running;
  });

  it('refuses malformed faults loudly', () => {
    expect(() => emu.injectFault(bot.token, { kind: 'rate_limit', retryAfter: 0 })).toThrow(
      /retryAfter/,
    );
    expect(() => emu.injectFault(bot.token, { kind: 'server_error', status: 404 })).toThrow(/5xx/);
    expect(() => emu.injectFault('1:unknown', { kind: 'drop' })).toThrow(/no emulated bot/);
  });
});
