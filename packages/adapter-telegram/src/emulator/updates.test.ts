import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TgUpdate } from './bot-api-types.js';
import { createTelegramEmulator } from './index.js';
import { callApi, isPollHeld, ok, waitUntil } from './test-utils.js';
import type { EmulatedBot, EmulatedUser, TelegramEmulator } from './types.js';

let emu: TelegramEmulator;
let bot: EmulatedBot;
let user: EmulatedUser;

beforeEach(async () => {
  emu = await createTelegramEmulator({ rateLimits: false });
  bot = emu.createBot({ username: 'poll_test_bot' });
  user = emu.createUser({ firstName: 'Asha' });
});
afterEach(() => emu.close());

describe('getUpdates', () => {
  it('holds a long poll until an update arrives, then answers at once', async () => {
    const poll = callApi<TgUpdate[]>(emu.url, bot.token, 'getUpdates', { timeout: 30 });
    // The poll is held: wait until the emulator has it, then act as the user.
    await waitUntil(() => isPollHeld(emu.url, bot.token));
    const sent = await emu.sendText(bot.token, user.id, 'hello');
    const answer = await poll;
    expect(answer.status).toBe(200);
    expect(answer.body.ok && answer.body.result).toEqual([
      { update_id: expect.any(Number), message: sent },
    ]);
  });

  it('answers an empty list when the timeout passes without updates', async () => {
    const started = Date.now();
    const updates = await ok<TgUpdate[]>(emu.url, bot.token, 'getUpdates', { timeout: 1 });
    expect(updates).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('redelivers unconfirmed updates and forgets the ones an offset confirms', async () => {
    await emu.sendText(bot.token, user.id, 'one');
    await emu.sendText(bot.token, user.id, 'two');
    const first = await ok<TgUpdate[]>(emu.url, bot.token, 'getUpdates');
    expect(first.map((u) => u.message?.text)).toEqual(['one', 'two']);
    const again = await ok<TgUpdate[]>(emu.url, bot.token, 'getUpdates', { offset: 0 });
    expect(again).toEqual(first);
    const afterFirst = await ok<TgUpdate[]>(emu.url, bot.token, 'getUpdates', {
      offset: first[0]!.update_id + 1,
    });
    expect(afterFirst.map((u) => u.message?.text)).toEqual(['two']);
    const afterAll = await ok<TgUpdate[]>(emu.url, bot.token, 'getUpdates', {
      offset: first[1]!.update_id + 1,
    });
    expect(afterAll).toEqual([]);
    // Confirmed means forgotten: offset 0 no longer brings them back.
    expect(await ok<TgUpdate[]>(emu.url, bot.token, 'getUpdates', { offset: 0 })).toEqual([]);
  });

  it('takes a negative offset as "the last N updates"', async () => {
    for (const text of ['a', 'b', 'c']) await emu.sendText(bot.token, user.id, text);
    const last = await ok<TgUpdate[]>(emu.url, bot.token, 'getUpdates', { offset: -1 });
    expect(last.map((u) => u.message?.text)).toEqual(['c']);
    const rest = await ok<TgUpdate[]>(emu.url, bot.token, 'getUpdates');
    expect(rest.map((u) => u.message?.text)).toEqual(['c']);
  });

  it('honours limit', async () => {
    for (const text of ['a', 'b', 'c']) await emu.sendText(bot.token, user.id, text);
    const two = await ok<TgUpdate[]>(emu.url, bot.token, 'getUpdates', { limit: 2 });
    expect(two.map((u) => u.message?.text)).toEqual(['a', 'b']);
  });

  it('answers 409 Conflict to a second poller while one is held', async () => {
    const first = callApi<TgUpdate[]>(emu.url, bot.token, 'getUpdates', { timeout: 30 });
    await waitUntil(() => isPollHeld(emu.url, bot.token));
    const second = await callApi(emu.url, bot.token, 'getUpdates', { timeout: 30 });
    expect(second).toEqual({
      status: 409,
      body: {
        ok: false,
        error_code: 409,
        description:
          'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running',
      },
    });
    await emu.sendText(bot.token, user.id, 'still delivered to the first poller');
    expect((await first).status).toBe(200);
  });

  it('frees the poller slot when the polling client hangs up', async () => {
    const aborter = new AbortController();
    const abandoned = callApi(
      emu.url,
      bot.token,
      'getUpdates',
      { timeout: 30 },
      {
        signal: aborter.signal,
      },
    ).catch(() => 'aborted');
    await waitUntil(() => isPollHeld(emu.url, bot.token));
    aborter.abort();
    expect(await abandoned).toBe('aborted');
    await waitUntil(async () => !(await isPollHeld(emu.url, bot.token)));
    const next = callApi<TgUpdate[]>(emu.url, bot.token, 'getUpdates', { timeout: 30 });
    await waitUntil(() => isPollHeld(emu.url, bot.token));
    await emu.sendText(bot.token, user.id, 'after reconnect');
    const answer = await next;
    expect(answer.body.ok && answer.body.result[0]?.message?.text).toBe('after reconnect');
  });

  it('answers 409 while a webhook is set', async () => {
    await ok(emu.url, bot.token, 'setWebhook', { url: 'http://127.0.0.1:9/hook' });
    const answer = await callApi(emu.url, bot.token, 'getUpdates');
    expect(answer.status).toBe(409);
    expect(answer.body).toMatchObject({
      ok: false,
      error_code: 409,
      description:
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    });
  });

  it('drops updates of kinds left out of allowed_updates', async () => {
    await ok(emu.url, bot.token, 'getUpdates', { allowed_updates: ['callback_query'] });
    await emu.sendText(bot.token, user.id, 'ignored');
    expect(await ok(emu.url, bot.token, 'getUpdates')).toEqual([]);
    await ok(emu.url, bot.token, 'getUpdates', { allowed_updates: [] });
    await emu.sendText(bot.token, user.id, 'seen');
    const updates = await ok<TgUpdate[]>(emu.url, bot.token, 'getUpdates');
    expect(updates.map((u) => u.message?.text)).toEqual(['seen']);
  });
});

describe('requests', () => {
  it('accepts parameters as query string, urlencoded, JSON and multipart', async () => {
    const base = `${emu.url}/bot${bot.token}/sendMessage`;
    const viaQuery = await fetch(`${base}?chat_id=${user.id}&text=query`);
    const viaForm = await fetch(base, {
      method: 'POST',
      body: new URLSearchParams({ chat_id: String(user.id), text: 'form' }),
    });
    const viaJson = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ chat_id: user.id, text: 'json' }),
    });
    const form = new FormData();
    form.set('chat_id', String(user.id));
    form.set('text', 'multipart');
    const viaMultipart = await fetch(base, { method: 'POST', body: form });
    for (const response of [viaQuery, viaForm, viaJson, viaMultipart]) {
      expect(response.status).toBe(200);
    }
    expect(emu.botMessages(bot.token, user.id).map((m) => m.text)).toEqual([
      'query',
      'form',
      'json',
      'multipart',
    ]);
  });

  it('answers an unknown method with 404 Not Found', async () => {
    expect(await callApi(emu.url, bot.token, 'sendTelepathy')).toEqual({
      status: 404,
      body: { ok: false, error_code: 404, description: 'Not Found' },
    });
  });

  it('answers an unknown token with 401 Unauthorized', async () => {
    expect(await callApi(emu.url, '123:nope', 'getMe')).toEqual({
      status: 401,
      body: { ok: false, error_code: 401, description: 'Unauthorized' },
    });
  });

  it('treats method names case-insensitively, as Telegram does', async () => {
    const me = await ok<{ username: string }>(emu.url, bot.token, 'GETME');
    expect(me.username).toBe('poll_test_bot');
  });

  it('answers a missing chat_id and an unknown chat like Telegram', async () => {
    const missing = await callApi(emu.url, bot.token, 'sendMessage', { text: 'x' });
    expect(missing.body).toMatchObject({
      error_code: 400,
      description: 'Bad Request: chat_id is empty',
    });
    const unknown = await callApi(emu.url, bot.token, 'sendMessage', { chat_id: 42, text: 'x' });
    expect(unknown.body).toMatchObject({
      error_code: 400,
      description: 'Bad Request: chat not found',
    });
  });
});
