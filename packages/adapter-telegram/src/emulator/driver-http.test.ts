import { createHash, randomBytes } from 'node:crypto';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TgMessage } from './bot-api-types.js';
import { createTelegramEmulator } from './index.js';
import { ok, TINY_PNG } from './test-utils.js';
import type { EmulatedBot, EmulatedUser, EmulatorEvent, TelegramEmulator } from './types.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let emu: TelegramEmulator;

beforeEach(async () => {
  emu = await createTelegramEmulator({ rateLimits: false });
});
afterEach(() => emu.close());

/** Calls a driver endpoint with JSON, as a test in another process would. */
async function driver<T>(method: 'GET' | 'POST', path: string, body?: unknown) {
  const response = await fetch(`${emu.url}/_emulator${path}`, {
    method,
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function setup(): Promise<{ bot: EmulatedBot; user: EmulatedUser }> {
  const bot = await driver<EmulatedBot>('POST', '/bots', { username: 'remote_bot' });
  const user = await driver<EmulatedUser>('POST', '/users', { firstName: 'Priya' });
  expect(bot.status).toBe(200);
  expect(user.status).toBe(200);
  return { bot: bot.body, user: user.body };
}

describe('driver over HTTP', () => {
  it('creates bots and users and lists them', async () => {
    const { bot, user } = await setup();
    expect(bot).toMatchObject({ username: 'remote_bot', token: expect.stringMatching(/^\d+:/) });
    expect((await driver<EmulatedBot[]>('GET', '/bots')).body).toEqual([bot]);
    expect((await driver<EmulatedUser[]>('GET', '/users')).body).toEqual([user]);
  });

  it('sends text as the user, waits for the bot, presses its button', async () => {
    const { bot, user } = await setup();
    const sent = await driver<TgMessage>('POST', '/send-text', {
      token: bot.token,
      userId: user.id,
      text: 'hi',
    });
    expect(sent.body).toMatchObject({ text: 'hi', chat: { id: user.id } });

    const waiting = driver<TgMessage>(
      'GET',
      `/wait-message?token=${encodeURIComponent(bot.token)}&chatId=${user.id}&afterMessageId=${sent.body.message_id}&textIncludes=Accept`,
    );
    const offer = await ok<TgMessage>(emu.url, bot.token, 'sendMessage', {
      chat_id: user.id,
      text: 'Accept this chat?',
      reply_markup: { inline_keyboard: [[{ text: 'Accept', callback_data: 'acc' }]] },
    });
    expect((await waiting).body).toEqual(offer);

    const pressed = await driver<{ callbackQueryId: string }>('POST', '/press-button', {
      token: bot.token,
      userId: user.id,
      messageId: offer.message_id,
      callbackData: 'acc',
    });
    expect(pressed.status).toBe(200);
    const pending = await driver('GET', `/callback-answer?id=${pressed.body.callbackQueryId}`);
    expect(pending.status).toBe(404);
    await ok(emu.url, bot.token, 'answerCallbackQuery', {
      callback_query_id: pressed.body.callbackQueryId,
      text: 'ok',
    });
    expect(
      (await driver('GET', `/callback-answer?id=${pressed.body.callbackQueryId}`)).body,
    ).toEqual({ text: 'ok' });

    const messages = await driver<TgMessage[]>(
      'GET',
      `/messages?token=${encodeURIComponent(bot.token)}&chatId=${user.id}`,
    );
    expect(messages.body).toEqual([offer]);
    const history = await driver<TgMessage[]>(
      'GET',
      `/messages?token=${encodeURIComponent(bot.token)}&chatId=${user.id}&all=true`,
    );
    expect(history.body.map((m) => m.text)).toEqual(['hi', 'Accept this chat?']);
  });

  it('answers 408 with code "timeout" when nothing arrives in time', async () => {
    const { bot, user } = await setup();
    const waited = await driver<{ error: { code: string; message: string } }>(
      'GET',
      `/wait-message?token=${encodeURIComponent(bot.token)}&chatId=${user.id}&timeoutMs=30`,
    );
    expect(waited.status).toBe(408);
    expect(waited.body.error.code).toBe('timeout');
  });

  it('sends documents as multipart or base64 JSON, byte-identical', async () => {
    const { bot, user } = await setup();
    const data = randomBytes(200_000);
    const form = new FormData();
    form.set('token', bot.token);
    form.set('userId', String(user.id));
    form.set('caption', 'Form 16');
    form.set('file', new Blob([new Uint8Array(data)], { type: 'application/pdf' }), 'form16.pdf');
    const viaMultipart = await fetch(`${emu.url}/_emulator/send-document`, {
      method: 'POST',
      body: form,
    });
    const multipartMessage = (await viaMultipart.json()) as TgMessage;
    expect(multipartMessage).toMatchObject({
      caption: 'Form 16',
      document: { file_name: 'form16.pdf', mime_type: 'application/pdf', file_size: data.length },
    });

    const viaJson = await driver<TgMessage>('POST', '/send-document', {
      token: bot.token,
      userId: user.id,
      fileName: 'notes.txt',
      dataBase64: data.toString('base64'),
    });
    expect(viaJson.body.document).toMatchObject({
      file_name: 'notes.txt',
      mime_type: 'text/plain',
    });

    for (const message of [multipartMessage, viaJson.body]) {
      const download = await fetch(`${emu.url}/_emulator/files/${message.document!.file_id}`);
      expect(sha256(Buffer.from(await download.arrayBuffer()))).toBe(sha256(data));
    }
  });

  it('sends photos, reading their size from the image', async () => {
    const { bot, user } = await setup();
    const photo = await driver<TgMessage>('POST', '/send-photo', {
      token: bot.token,
      userId: user.id,
      dataBase64: TINY_PNG.toString('base64'),
      caption: 'receipt',
    });
    expect(photo.body.photo).toEqual([expect.objectContaining({ width: 1, height: 1 })]);
    expect(photo.body.caption).toBe('receipt');
  });

  it('arms faults and lists calls', async () => {
    const { bot, user } = await setup();
    const armed = await driver('POST', '/faults', {
      token: bot.token,
      fault: { method: 'sendMessage', kind: 'rate_limit', retryAfter: 3 },
    });
    expect(armed.status).toBe(200);
    const limited = await fetch(`${emu.url}/bot${bot.token}/sendMessage?chat_id=${user.id}&text=x`);
    expect(limited.status).toBe(429);
    const flat = await driver('POST', '/faults', { token: bot.token, kind: 'server_error' });
    expect(flat.status).toBe(200);
    expect((await fetch(`${emu.url}/bot${bot.token}/getMe`)).status).toBe(500);
    const calls = await driver<Array<{ method: string; status: number }>>(
      'GET',
      `/calls?token=${encodeURIComponent(bot.token)}`,
    );
    expect(calls.body.map((c) => [c.method, c.status])).toEqual([
      ['sendMessage', 429],
      ['getMe', 500],
    ]);
    const bad = await driver<{ error: { code: string } }>('POST', '/faults', {
      token: bot.token,
      kind: 'nonsense',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_input');
  });

  it('streams events as Server-Sent Events', async () => {
    const { bot, user } = await setup();
    const aborter = new AbortController();
    const response = await fetch(
      `${emu.url}/_emulator/events?token=${encodeURIComponent(bot.token)}`,
      {
        signal: aborter.signal,
      },
    );
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const first = await reader.read();
    expect(first.value).toContain(': connected');

    const sent = await ok<TgMessage>(emu.url, bot.token, 'sendMessage', {
      chat_id: user.id,
      text: 'to the CA view',
    });
    let buffer = '';
    while (!buffer.includes('\n\n')) buffer += (await reader.read()).value ?? '';
    const [eventLine, dataLine] = buffer.trim().split('\n');
    expect(eventLine).toBe('event: message.created');
    const event = JSON.parse(dataLine!.slice('data: '.length)) as EmulatorEvent;
    expect(event).toEqual({
      type: 'message.created',
      botId: bot.id,
      chatId: user.id,
      fromBot: true,
      message: sent,
    });
    aborter.abort();
  });

  it('answers unknown driver endpoints with 404 and bad input with 400', async () => {
    expect((await driver('GET', '/nope')).status).toBe(404);
    const noToken = await driver<{ error: { code: string; message: string } }>(
      'POST',
      '/send-text',
      { userId: 1, text: 'x' },
    );
    expect(noToken).toEqual({
      status: 400,
      body: { error: { code: 'invalid_input', message: '"token" is required' } },
    });
    const unknownBot = await driver<{ error: { code: string } }>('POST', '/send-text', {
      token: '1:x',
      userId: 1,
      text: 'x',
    });
    expect(unknownBot.status).toBe(404);
  });

  it('refuses driver requests addressed to a foreign host name (DNS rebinding)', async () => {
    const response = await request(`${emu.url}/_emulator/bots`, {
      headers: { host: 'evil.example' },
    });
    expect(response.statusCode).toBe(403);
    await response.body.dump();
    const page = await request(`${emu.url}/`, { headers: { host: 'localhost:1234' } });
    expect(page.statusCode).toBe(200);
    await page.body.dump();
  });
});
