import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createTelegramEmulator,
  type EmulatedBot,
  type TelegramEmulator,
  type TgMessage,
} from '@ca-chat/adapter-telegram/emulator';
import {
  createCaChatClient,
  type CaChatClient,
  type CaChatClientEvents,
  type WebSocketConstructor,
} from '@ca-chat/transport-ws/client';
import { createApp, type EmbedApp } from '../src/app.js';

/** The SDK in Node, speaking as a signed-in user of the host app: the session cookie rides along. */
function clientFor(baseUrl: string, cookie: string | null): CaChatClient {
  const headers: Record<string, string> = cookie ? { cookie } : {};
  class CookieWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols, { headers });
    }
  }
  const cookieFetch: typeof fetch = (input, init = {}) =>
    fetch(input, { ...init, headers: { ...(init.headers as Record<string, string>), ...headers } });
  return createCaChatClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/ws`,
    WebSocket: CookieWebSocket as unknown as WebSocketConstructor,
    fetch: cookieFetch,
    reconnect: false,
  });
}

/** Resolves with the next event of `name` that matches; subscribe before causing it. */
function nextEvent<K extends keyof CaChatClientEvents>(
  client: CaChatClient,
  name: K,
  match: (...args: Parameters<CaChatClientEvents[K]>) => boolean = () => true,
  timeoutMs = 8000,
): Promise<Parameters<CaChatClientEvents[K]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${String(name)} event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.on(name, ((...args: Parameters<CaChatClientEvents[K]>) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      off();
      resolve(args[0]);
    }) as CaChatClientEvents[K]);
  });
}

async function login(baseUrl: string, username: string): Promise<string> {
  const res = await fetch(`${baseUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ username }),
    redirect: 'manual',
  });
  expect(res.status).toBe(303);
  const setCookie = res.headers.get('set-cookie');
  expect(setCookie).toMatch(/^sid=.*HttpOnly/);
  return setCookie!.split(';')[0]!;
}

const buttonOf = (message: TgMessage, label: RegExp): string | undefined =>
  message.reply_markup?.inline_keyboard.flat().find((b) => label.test(b.text))?.callback_data;

describe('embedding ca-chat in an existing Node app', () => {
  let dir: string;
  let emulator: TelegramEmulator;
  let bot: EmulatedBot;
  let app: EmbedApp;
  let baseUrl: string;
  const clients: CaChatClient[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ca-chat-embed-test-'));
    emulator = await createTelegramEmulator({ rateLimits: false });
    bot = emulator.createBot({ username: 'acme_ca_bot' });
    app = createApp({
      sessionSecret: 'a-test-secret-of-enough-length',
      dataDir: dir,
      // Faster than Telegram's 1 message/s per chat, so the test takes milliseconds, not seconds.
      telegram: {
        token: bot.token,
        apiRoot: emulator.url,
        pollingTimeoutSec: 1,
        rateLimits: { perChatPerSecond: 50, globalPerSecond: 600 },
      },
      relay: { registrationMode: 'open', languages: ['en', 'hi'] },
    });
    baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    await app.close();
    await emulator.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs a chat for the app's signed-in user with a CA on Telegram", async () => {
    const caUser = emulator.createUser({ firstName: 'Asha' });
    await app.relay.registerCA({
      channel: 'telegram',
      externalId: String(caUser.id),
      address: String(caUser.chatId),
      name: 'Asha Rao',
      membershipNo: '123456',
      languages: ['en', 'hi'],
    });

    const cookie = await login(baseUrl, 'priya');
    const client = clientFor(baseUrl, cookie);
    clients.push(client);
    const welcome = await client.connect();
    // The app's user is the ca-chat client; no ca-chat token is handed out.
    expect(welcome).toMatchObject({ clientId: 'user_priya', token: null, chats: [] });

    const matched = nextEvent(client, 'chat.matched');
    const chatId = await client.requestChat({
      language: 'en',
      text: 'Is my home office deductible?',
    });
    const offer = await emulator.waitForBotMessage(bot.token, caUser.chatId, {
      match: (m) => buttonOf(m, /accept/i)?.includes(chatId) ?? false,
    });
    expect(offer.text).toContain('Is my home office deductible?');
    await emulator.pressButton(bot.token, caUser.id, offer.message_id, buttonOf(offer, /accept/i)!);
    expect(await matched).toEqual({ chatId, ca: { name: 'Asha Rao', languages: ['en', 'hi'] } });

    const { seq } = await client.send(chatId, 'I work from home three days a week.');
    expect(seq).toBe(2);
    await emulator.waitForBotMessage(bot.token, caUser.chatId, {
      match: (m) => m.text?.includes('three days a week') ?? false,
    });

    const reply = nextEvent(client, 'message', (m) => m.from === 'ca');
    await emulator.sendText(bot.token, caUser.id, 'Partly, if it is used only for work.');
    expect(await reply).toMatchObject({
      chatId,
      from: 'ca',
      text: 'Partly, if it is used only for work.',
    });

    // The upload goes over HTTP with the same cookie: the transport's authenticate hook covers both.
    const stored = await client.sendFile(chatId, {
      data: 'date,amount\n2026-01-05,1200\n',
      name: 'rent.csv',
      type: 'text/csv',
    });
    expect(stored.file).toMatchObject({ name: 'rent.csv', size: 28 });
    const document = await emulator.waitForBotMessage(bot.token, caUser.chatId, {
      match: (m) => m.document !== undefined,
    });
    expect(document.document?.file_name).toBe('rent.csv');

    const ended = nextEvent(client, 'chat.ended');
    await client.end(chatId);
    expect(await ended).toEqual({ chatId, reason: 'client_ended' });
  });

  it('refuses a WebSocket from a visitor who is not signed in', async () => {
    const client = clientFor(baseUrl, null);
    clients.push(client);
    await expect(client.connect()).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('refuses a forged session cookie', async () => {
    const cookie = await login(baseUrl, 'priya');
    const forged = cookie.replace('sid=priya.', 'sid=admin.');
    const client = clientFor(baseUrl, forged);
    clients.push(client);
    await expect(client.connect()).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it("keeps the host app's own pages working beside ca-chat's routes", async () => {
    const anonymous = await fetch(`${baseUrl}/`);
    expect(await anonymous.text()).toContain('Sign in');
    const cookie = await login(baseUrl, 'priya');
    const home = await fetch(`${baseUrl}/`, { headers: { cookie } });
    expect(await home.text()).toContain('Signed in as <strong>priya</strong>');
    const health = await fetch(`${baseUrl}/healthz`);
    expect(health.status).toBe(200);
    const upload = await fetch(`${baseUrl}/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(upload.status).toBe(401);
  });
});
