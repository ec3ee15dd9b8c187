import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './test-harness.js';

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    await h.close();
    expect(h.errors()).toEqual([]);
  }
});

async function harness(options: Parameters<typeof createHarness>[0] = {}): Promise<Harness> {
  const h = await createHarness(options);
  harnesses.push(h);
  return h;
}

describe('relay start and stop', () => {
  it('stop() clears every timer, stops the plug-ins and closes storage', async () => {
    const h = await harness({ routing: 'round-robin', retentionDays: 1 });
    await h.addCA();
    const client = await h.addClient();
    await h.relay.requestChat(client.id, { language: 'en' });
    h.transport.connect(client.id);
    h.transport.disconnect(client.id);
    await h.clock.advance(0);
    expect(h.clock.pendingTimers()).toBeGreaterThan(0);

    await h.relay.stop();

    expect(h.clock.pendingTimers()).toBe(0);
    expect(h.channel.started).toBe(false);
    expect(h.transport.started).toBe(false);
    await expect(h.storage.listChats()).rejects.toMatchObject({ code: 'storage_error' });
  });

  it('a restart re-arms the match timeout of a waiting chat', async () => {
    const h = await harness({ matchTimeoutMs: 60_000 });
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    await h.clock.advance(30_000);

    const h2 = await h.restart();
    harnesses.push(h2);
    const ended = h2.transport.waitFor(client.id, 'chat.ended');
    await h2.clock.advance(30_000);
    expect((await ended).reason).toBe('no_ca_available');
    expect((await h2.storage.getChat(chat.id))?.endReason).toBe('no_ca_available');
  });

  it('a restart gives each open chat its client grace period: a client who never comes back loses it, one who does keeps it', async () => {
    const h = await harness({ clientGraceMs: 120_000 });
    const gone = await h.activeChat();
    const back = await h.activeChat();
    // Connected when the process went away: no disconnect (and no grace timer) ever ran.
    h.transport.connect(gone.client.id);
    h.transport.connect(back.client.id);

    const h2 = await h.restart({ clientGraceMs: 120_000 });
    harnesses.push(h2);
    const ended = h2.channel.waitFor('chatEnded');
    await h2.clock.advance(60_000);
    h2.transport.connect(back.client.id);
    await h2.clock.advance(60_000);

    expect((await ended).reason).toBe('client_gone');
    expect(await h2.storage.getChat(gone.chat.id)).toMatchObject({
      state: 'ended',
      endReason: 'client_gone',
    });
    expect((await h2.storage.getChat(back.chat.id))?.state).toBe('active');
    await h2.clock.advance(600_000);
    expect((await h2.storage.getChat(back.chat.id))?.state).toBe('active');
  });

  it('a restart counts the idle timeout of an open chat from the start', async () => {
    const options = { idleChatTimeoutMs: 60_000, clientGraceMs: 3600_000 };
    const h = await harness(options);
    const { chat } = await h.activeChat();
    await h.clock.advance(30_000);

    const h2 = await h.restart(options);
    harnesses.push(h2);
    await h2.clock.advance(59_999);
    expect((await h2.storage.getChat(chat.id))?.state).toBe('active');
    const ended = h2.channel.waitFor('chatEnded');
    await h2.clock.advance(1);
    expect((await ended).reason).toBe('timeout');
  });

  it('a restart re-offers waiting chats and resumes round-robin offer timeouts', async () => {
    const h = await harness({ routing: 'round-robin', offerTimeoutMs: 10_000 });
    const [a, b] = [await h.addCA(), await h.addCA()];
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    const first = h.channel.callsOf('sendOffer')[0]!.ca.id;

    const h2 = await h.restart();
    harnesses.push(h2);
    const next = h2.channel.waitFor('sendOffer', (c) => c.offer.chatId === chat.id, {
      includePast: true,
    });
    await h2.clock.advance(10_000);
    const second = (await next).ca.id;
    expect(second).not.toBe(first);
    expect([a.id, b.id]).toContain(second);
    expect((await h2.storage.getOffer(chat.id, first))?.state).toBe('expired');
  });
});

describe('plug-in failures', () => {
  it('a channel failing sendOffer is reported as an error event and the next CA is offered the chat', async () => {
    const h = await harness({ routing: 'round-robin' });
    await h.addCA();
    await h.addCA();
    const errors: string[] = [];
    h.relay.on('error', (error) => errors.push(error.code));
    h.channel.failNextOffers(1, { retryable: false });
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });

    expect(h.channel.callsOf('sendOffer').map((c) => c.offer.chatId)).toEqual([chat.id]);
    expect(errors).toEqual(['channel_error']);
    const offers = await h.storage.listOffers({ chatId: chat.id });
    expect(offers.map((o) => o.state).sort()).toEqual(['open', 'withdrawn']);
    h.logged.splice(0);
  });

  it('a transport that throws (even non-retryably) gets the CA message retried, not lost', async () => {
    const h = await harness({
      deliveryRetry: { initialDelayMs: 100, maxDelayMs: 100, maxAttempts: 5 },
    });
    const ca = await h.addCA();
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    await h.relay.acceptOffer(ca.id, chat.id);
    h.transport.failNextDeliveries(2, { retryable: false });
    await h.relay.sendCAMessage(ca.id, { chatId: chat.id, text: 'hello' });
    await h.relay.flushOutbox();
    for (let i = 0; i < 2; i++) {
      await h.clock.advance(100);
      await h.relay.flushOutbox();
    }
    expect(h.transport.eventsFor(client.id, 'message').map((e) => e.text)).toEqual(['hello']);
    expect((await h.storage.getMessage(chat.id, 1))?.delivery).toMatchObject({
      state: 'delivered',
      attempts: 3,
    });
  });
});
