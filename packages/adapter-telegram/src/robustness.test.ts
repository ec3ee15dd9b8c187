import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { TgMessage } from './emulator/index.js';
import { harnessPerTest, hasButton, matches, textOf, type Harness } from './test-harness.js';
import { createTelegramChannel } from './telegram-channel.js';

const harness = harnessPerTest();

const SECRET = 'test_secret-123';

/** POSTs JSON to the channel's own webhook server. */
function post(port: number, path: string, body: unknown, secret: string | null): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(secret === null ? {} : { 'x-telegram-bot-api-secret-token': secret }),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

async function matched(h: Harness) {
  const ca = h.user('Asha');
  await h.addCA(ca, { languages: ['hi'] });
  const { clientId, chatId } = await h.clientChat('hi', 'hello');
  const offer = await h.waitBot(ca, (m) => hasButton(m, `acc:${chatId}`));
  await h.press(ca, offer, `acc:${chatId}`);
  await h.waitBot(ca, matches(/now chatting/), offer.message_id);
  return { ca, clientId, chatId };
}

describe('webhook mode', () => {
  it('runs the same flow over a webhook (registration, offer, text both ways); a wrong or missing secret gets 403', async () => {
    const h = await harness({
      mode: 'open',
      channel: { webhook: { secretToken: SECRET, port: 0 } },
    });
    const port = h.channel.webhookAddress!.port;
    expect(await post(port, '/telegram/webhook', { update_id: 1 }, 'wrong')).toBe(403);
    expect(await post(port, '/telegram/webhook', { update_id: 1 }, null)).toBe(403);

    const u = h.user('Hooked');
    expect(textOf(await h.registerViaBot(u, { languages: ['hi'] }))).toMatch(/registered/);
    const { clientId, chatId } = await h.clientChat('hi', 'via webhook');
    const offer = await h.waitBot(u, (m) => hasButton(m, `acc:${chatId}`));
    await h.press(u, offer, `acc:${chatId}`);
    await h.waitBot(u, matches(/now chatting[\s\S]*via webhook/), offer.message_id);
    await h.emu.sendText(h.bot.token, u.id, 'hello from the CA');
    await h.transport.waitFor(clientId, 'message', (e) => e.text === 'hello from the CA', {
      includePast: true,
    });
    await h.relay.sendClientMessage(clientId, {
      chatId,
      text: 'hello from the client',
      clientMsgId: 'w1',
    });
    await h.waitBot(u, (m) => m.text === 'hello from the client');
    // No polling happened: updates came by webhook only.
    expect(h.emu.calls(h.bot.token).some((c) => c.method === 'getUpdates')).toBe(false);
  });
});

describe('idempotency', () => {
  it('a redelivered update (same update_id) changes nothing', async () => {
    const h = await harness({
      mode: 'open',
      channel: { webhook: { secretToken: SECRET, port: 0 } },
    });
    const { ca, clientId, chatId } = await matched(h);
    const message: TgMessage = await h.emu.sendText(h.bot.token, ca.id, 'only once');
    await h.transport.waitFor(clientId, 'message', (e) => e.text === 'only once', {
      includePast: true,
    });
    // The newest update the channel recorded is the one that carried this message.
    const updateId = (await h.storage.kvGet<number>('tg.update', 'lastUpdateId'))!;
    expect(await h.storage.kvGet('tg.update', String(updateId))).toBe(1);
    const botMessagesBefore = h.emu.botMessages(h.bot.token, ca.id).length;

    const port = h.channel.webhookAddress!.port;
    expect(await post(port, '/telegram/webhook', { update_id: updateId, message }, SECRET)).toBe(
      200,
    );
    expect(await post(port, '/telegram/webhook', { update_id: updateId, message }, SECRET)).toBe(
      200,
    );

    const fromCa = (await h.relay.getTranscript(chatId)).messages.filter((m) => m.from === 'ca');
    expect(fromCa.map((m) => m.text)).toEqual(['only once']);
    expect(
      h.transport.eventsFor(clientId, 'message').filter((e) => e.text === 'only once'),
    ).toHaveLength(1);
    expect(h.emu.botMessages(h.bot.token, ca.id)).toHaveLength(botMessagesBefore);
    expect(await h.storage.kvGet('tg.update', 'lastUpdateId')).toBe(updateId);
  });
});

describe('the bot token', () => {
  /** Everything reachable from a value (errors' message, stack, cause and details included). */
  const dump = (value: unknown, seen = new Set<unknown>()): string => {
    if (value === null || value === undefined) return '';
    if (typeof value !== 'object') return String(value);
    if (seen.has(value)) return '';
    seen.add(value);
    const parts: string[] = [];
    if (value instanceof Error)
      parts.push(value.message, value.stack ?? '', dump(value.cause, seen));
    for (const key of Object.getOwnPropertyNames(value))
      parts.push(key, dump((value as Record<string, unknown>)[key], seen));
    return parts.join(' ');
  };

  it('never appears in logs, errors, relay events or anything sent to clients or CAs', async () => {
    const h = await harness({
      mode: 'open',
      relay: { deliveryRetry: { initialDelayMs: 20, maxDelayMs: 50, maxAttempts: 2 } },
      channel: { retry: { backoffInitialMs: 10, backoffMaxMs: 20 } },
    });
    const token = h.bot.token;
    const secretPart = token.slice(token.indexOf(':') + 1);
    const collected: unknown[] = [];
    h.relay.on('error', (e) => collected.push(e));
    h.relay.on('message.failed', (m, _c, reason) => collected.push(m, reason));
    const { ca, clientId, chatId } = await matched(h);

    // Network failures (their messages carry the request URL, token included).
    h.emu.injectFault(token, { method: 'sendMessage', kind: 'drop', count: 8 });
    const { message } = await h.relay.sendClientMessage(clientId, {
      chatId,
      text: 'lost in transit',
      clientMsgId: 'x',
    });
    await h.transport.waitFor(
      clientId,
      'message.status',
      (e) => e.seq === message.seq && e.state === 'failed',
      { includePast: true, timeoutMs: 15_000 },
    );
    // A direct call failing, as an embedder would see it.
    const caRecord = (await h.relay.getCAByExternalId('telegram', String(ca.id)))!;
    const chat = (await h.relay.getChat(chatId))!;
    h.emu.injectFault(token, { method: 'sendMessage', kind: 'drop', count: 8 });
    const direct = await h.channel
      .deliverMessage(caRecord, chat, { ...message, seq: 999 })
      .catch((e: unknown) => e);
    collected.push(direct);
    expect(dump(direct)).toMatch(/REDACTED|socket hang up|gave up/);
    // A channel that can't reach Telegram at all fails to start, with a clean error.
    const unreachable = createTelegramChannel({
      token,
      apiRoot: 'http://127.0.0.1:9',
      languages: ['hi'],
      logger: h.logger,
      retry: { maxAttempts: 1 },
    });
    collected.push(await unreachable.start(h.relay).catch((e: unknown) => e));
    // Failed polls are logged (and retried).
    h.emu.injectFault(token, { method: 'getUpdates', kind: 'server_error', count: 2 });
    await h.emu.sendText(token, ca.id, 'after the poll faults');
    await h.transport.waitFor(clientId, 'message', (e) => e.text === 'after the poll faults', {
      includePast: true,
      timeoutMs: 15_000,
    });

    const everything = [
      dump(h.logger.entries),
      dump(collected),
      dump(h.transport.events),
      JSON.stringify(h.emu.botMessages(token, ca.id)),
      JSON.stringify(h.channel.stats),
    ].join('\n');
    expect(everything.length).toBeGreaterThan(1000);
    expect(everything).toMatch(/socket hang up|ECONNREFUSED/);
    expect(everything).toContain('[REDACTED]');
    expect(everything).not.toContain(token);
    expect(everything).not.toContain(encodeURIComponent(token));
    expect(everything).not.toContain(secretPart);
  });
});
