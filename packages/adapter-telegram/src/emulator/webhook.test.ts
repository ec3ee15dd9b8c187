import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Markup, Telegraf } from 'telegraf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TgUpdate, TgWebhookInfo } from './bot-api-types.js';
import { createTelegramEmulator } from './index.js';
import { callApi, deferred, ok } from './test-utils.js';
import type { EmulatedBot, EmulatedUser, TelegramEmulator } from './types.js';

interface Received {
  headers: IncomingHttpHeaders;
  update: TgUpdate;
}

/** A webhook receiver; `respond` decides each answer (default 200, empty body). */
async function startReceiver(
  respond: (received: Received, res: ServerResponse) => void = (_r, res) => res.end(),
) {
  const received: Received[] = [];
  const listeners = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const entry = {
        headers: req.headers,
        update: JSON.parse(Buffer.concat(chunks).toString('utf8')) as TgUpdate,
      };
      received.push(entry);
      respond(entry, res);
      for (const listener of listeners) listener();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  /** Resolves once `count` deliveries have arrived. */
  const waitFor = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (received.length >= count) {
          listeners.delete(check);
          resolve();
        }
      };
      listeners.add(check);
      check();
    });
  return { server, url, received, waitFor };
}

let emu: TelegramEmulator;
let bot: EmulatedBot;
let user: EmulatedUser;
const servers: Server[] = [];

beforeEach(async () => {
  emu = await createTelegramEmulator({
    rateLimits: false,
    webhook: { retryMinDelayMs: 5, retryMaxDelayMs: 20 },
  });
  bot = emu.createBot();
  user = emu.createUser();
});
afterEach(async () => {
  await emu.close();
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('webhooks', () => {
  it('POSTs each update with the secret token header', async () => {
    const receiver = await startReceiver();
    servers.push(receiver.server);
    const set = await callApi(emu.url, bot.token, 'setWebhook', {
      url: receiver.url,
      secret_token: 's3cret_-1',
    });
    expect(set.body).toEqual({ ok: true, result: true, description: 'Webhook was set' });
    const sent = await emu.sendText(bot.token, user.id, 'hello hook');
    await receiver.waitFor(1);
    expect(receiver.received[0]?.headers['x-telegram-bot-api-secret-token']).toBe('s3cret_-1');
    expect(receiver.received[0]?.headers['content-type']).toBe('application/json');
    expect(receiver.received[0]?.update).toEqual({ update_id: expect.any(Number), message: sent });
    const info = await ok<TgWebhookInfo>(emu.url, bot.token, 'getWebhookInfo');
    expect(info).toMatchObject({
      url: receiver.url,
      pending_update_count: 0,
      has_custom_certificate: false,
    });
  });

  it('retries a failing delivery and keeps updates in order', async () => {
    let failuresLeft = 2;
    const receiver = await startReceiver((_r, res) => {
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        res.statusCode = 500;
      }
      res.end();
    });
    servers.push(receiver.server);
    await ok(emu.url, bot.token, 'setWebhook', { url: receiver.url });
    await emu.sendText(bot.token, user.id, 'one');
    await emu.sendText(bot.token, user.id, 'two');
    await receiver.waitFor(4);
    expect(receiver.received.map((r) => r.update.message?.text)).toEqual([
      'one',
      'one',
      'one',
      'two',
    ]);
    const info = await ok<TgWebhookInfo>(emu.url, bot.token, 'getWebhookInfo');
    expect(info.last_error_message).toBe(
      'Wrong response from the webhook: 500 Internal Server Error',
    );
    expect(info.last_error_date).toEqual(expect.any(Number));
  });

  it('keeps updates pending while the webhook is unreachable', async () => {
    const receiver = await startReceiver();
    const deadUrl = receiver.url;
    receiver.server.close();
    await ok(emu.url, bot.token, 'setWebhook', { url: deadUrl });
    const failed = deferred<string | undefined>();
    emu.subscribe((event) => {
      if (event.type === 'webhook.delivery' && !event.ok) failed.resolve(event.error);
    });
    await emu.sendText(bot.token, user.id, 'nobody home');
    expect(await failed.promise).toBe('Connection refused');
    const info = await ok<TgWebhookInfo>(emu.url, bot.token, 'getWebhookInfo');
    expect(info).toMatchObject({
      last_error_message: 'Connection refused',
      pending_update_count: 1,
    });
    const deleted = await callApi(emu.url, bot.token, 'deleteWebhook', {
      drop_pending_updates: true,
    });
    expect(deleted.body).toEqual({ ok: true, result: true, description: 'Webhook was deleted' });
    expect(await ok<TgUpdate[]>(emu.url, bot.token, 'getUpdates')).toEqual([]);
  });

  it('hands pending updates to getUpdates after deleteWebhook without dropping', async () => {
    const receiver = await startReceiver((_r, res) => {
      res.statusCode = 503;
      res.end();
    });
    servers.push(receiver.server);
    await ok(emu.url, bot.token, 'setWebhook', { url: receiver.url });
    await emu.sendText(bot.token, user.id, 'kept');
    await receiver.waitFor(1);
    await ok(emu.url, bot.token, 'deleteWebhook');
    const updates = await ok<TgUpdate[]>(emu.url, bot.token, 'getUpdates');
    expect(updates.map((u) => u.message?.text)).toEqual(['kept']);
  });

  it('runs a method the webhook answers with', async () => {
    const receiver = await startReceiver(({ update }, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          method: 'sendMessage',
          chat_id: update.message?.chat.id,
          text: 'via reply',
        }),
      );
    });
    servers.push(receiver.server);
    await ok(emu.url, bot.token, 'setWebhook', { url: receiver.url });
    await emu.sendText(bot.token, user.id, 'hi');
    const reply = await emu.waitForBotMessage(bot.token, user.id);
    expect(reply.text).toBe('via reply');
  });

  it('works with a telegraf bot in webhook mode (webhookCallback + webhook replies)', async () => {
    const telegraf = new Telegraf(bot.token, { telegram: { apiRoot: emu.url } });
    telegraf.command('offer', (ctx) =>
      ctx.reply('Offer', Markup.inlineKeyboard([Markup.button.callback('Accept', 'accept')])),
    );
    // answerCbQuery goes back in the webhook response (telegraf's webhookReply).
    telegraf.action('accept', (ctx) => ctx.answerCbQuery('Accepted'));
    const callback = telegraf.webhookCallback('/tg', { secretToken: 'tg_secret' });
    const server = createServer((req, res) => void callback(req, res));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await telegraf.telegram.setWebhook(`http://127.0.0.1:${port}/tg`, {
      secret_token: 'tg_secret',
    });

    await emu.sendText(bot.token, user.id, '/offer');
    const offer = await emu.waitForBotMessage(bot.token, user.id);
    const answered = deferred<string | undefined>();
    emu.subscribe((event) => {
      if (event.type === 'callback.answered') answered.resolve(event.answer.text);
    });
    await emu.pressButton(bot.token, user.id, offer.message_id, 'accept');
    expect(await answered.promise).toBe('Accepted');
  });

  it('rejects a secret token with characters Telegram does not allow', async () => {
    const answer = await callApi(emu.url, bot.token, 'setWebhook', {
      url: 'http://127.0.0.1:9/x',
      secret_token: 'no spaces',
    });
    expect(answer.body).toMatchObject({
      error_code: 400,
      description: 'Bad Request: secret token contains unallowed characters',
    });
  });
});
