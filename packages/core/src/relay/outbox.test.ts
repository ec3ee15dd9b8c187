import { afterEach, describe, expect, it } from 'vitest';
import type { CaChatError } from '../errors.js';
import { createManualClock, type ManualClock } from '../testing/manual-clock.js';
import { createHarness, type Harness } from './test-harness.js';

const harnesses: Harness[] = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) {
    await h.close();
    expect(h.errors()).toEqual([]);
  }
});

async function activeChat(options: Parameters<typeof createHarness>[0] = {}) {
  const h = await createHarness({
    deliveryRetry: { initialDelayMs: 1000, maxDelayMs: 8000, maxAttempts: 5 },
    ...options,
  });
  harnesses.push(h);
  return { h, ...(await h.activeChat()) };
}

describe('outbox', () => {
  it('a failing delivery is retried in order after the channel recovers (1..5 arrive as 1..5)', async () => {
    const { h, client, chat } = await activeChat();
    const retries: CaChatError[] = [];
    h.relay.on('delivery.retry', (_m, _c, error) => retries.push(error));
    h.channel.failNextDeliveries(1, { retryable: true });
    for (let i = 1; i <= 5; i++)
      await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: `m${i}` });
    await h.relay.flushOutbox();

    expect(h.channel.deliveredMessages()).toEqual([]);
    expect(retries).toHaveLength(1);
    expect((await h.storage.getMessage(chat.id, 1))?.delivery).toMatchObject({
      state: 'pending',
      attempts: 1,
    });
    expect((await h.storage.getMessage(chat.id, 2))?.delivery).toMatchObject({
      state: 'pending',
      attempts: 0,
    });

    await h.clock.advance(1000);
    await h.relay.flushOutbox();

    expect(h.channel.deliveredMessages().map((m) => m.text)).toEqual([
      'm1',
      'm2',
      'm3',
      'm4',
      'm5',
    ]);
    for (let seq = 1; seq <= 5; seq++) {
      expect((await h.storage.getMessage(chat.id, seq))?.delivery).toMatchObject({
        state: 'delivered',
        peerMessageId: `${chat.id}:${seq}`,
      });
    }
    const statuses = h.transport.eventsFor(client.id, 'message.status');
    expect(statuses.map((s) => [s.seq, s.state])).toEqual(
      [1, 2, 3, 4, 5].map((seq) => [seq, 'delivered']),
    );
  });

  it('a backlog of 250 messages behind a failed delivery arrives complete and in order', async () => {
    const { h, client, chat } = await activeChat();
    h.channel.failNextDeliveries(1, { retryable: true });
    const texts = Array.from({ length: 250 }, (_, i) => `m${i + 1}`);
    for (const text of texts) await h.relay.sendClientMessage(client.id, { chatId: chat.id, text });
    await h.relay.flushOutbox();
    expect(h.channel.deliveredMessages()).toEqual([]);

    await h.clock.advance(1000);
    await h.relay.flushOutbox();

    expect(h.channel.deliveredMessages().map((m) => m.text)).toEqual(texts);
    expect(await h.storage.listPendingDeliveries()).toEqual([]);
  });

  it('a non-retryable failure marks the message failed, tells the client, and the next message goes on', async () => {
    const { h, client, chat } = await activeChat();
    const failed: string[] = [];
    h.relay.on('message.failed', (_m, _c, reason) => failed.push(reason));
    h.channel.failNextDeliveries(1, { retryable: false, message: 'blocked by user' });
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'first' });
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'second' });
    await h.relay.flushOutbox();

    expect((await h.storage.getMessage(chat.id, 1))?.delivery).toMatchObject({
      state: 'failed',
      attempts: 1,
      error: 'blocked by user',
    });
    expect(h.transport.eventsFor(client.id, 'message.status')).toContainEqual({
      type: 'message.status',
      chatId: chat.id,
      seq: 1,
      state: 'failed',
      reason: 'blocked by user',
    });
    expect(failed).toEqual(['blocked by user']);
    expect(h.channel.deliveredMessages().map((m) => m.text)).toEqual(['second']);
  });

  it('gives up after maxAttempts of retryable failures and tells the CA when its own message failed', async () => {
    const { h, client, ca, chat } = await activeChat({
      deliveryRetry: { initialDelayMs: 100, maxDelayMs: 100, maxAttempts: 3 },
    });
    h.transport.failNextDeliveries(3, { retryable: true });
    await h.relay.sendCAMessage(ca.id, { chatId: chat.id, text: 'hello' });
    await h.relay.flushOutbox();
    await h.clock.advance(100);
    await h.relay.flushOutbox();
    await h.clock.advance(100);
    await h.relay.flushOutbox();

    expect((await h.storage.getMessage(chat.id, 1))?.delivery).toMatchObject({
      state: 'failed',
      attempts: 3,
    });
    expect(h.channel.callsOf('notify').map((c) => c.notice)).toEqual([
      expect.objectContaining({ type: 'delivery_failed', chatId: chat.id, seq: 1 }),
    ]);
    expect(h.transport.eventsFor(client.id, 'message')).toEqual([]);
  });

  it('CA messages to an offline client stay pending without burning attempts and arrive when it reconnects', async () => {
    const { h, client, ca, chat } = await activeChat();
    h.transport.setOffline(client.id);
    await h.relay.sendCAMessage(ca.id, { chatId: chat.id, text: 'are you there?' });
    await h.relay.flushOutbox();
    expect((await h.storage.getMessage(chat.id, 1))?.delivery).toMatchObject({
      state: 'pending',
      attempts: 0,
    });

    const arrived = h.transport.waitFor(client.id, 'message');
    h.transport.connect(client.id);
    expect(await arrived).toMatchObject({
      chatId: chat.id,
      seq: 1,
      from: 'ca',
      text: 'are you there?',
    });
  });

  it('pending deliveries resume after a relay restart on the same storage', async () => {
    const { h, client, ca, chat } = await activeChat();
    h.channel.failNextDeliveries(1, { retryable: true });
    h.transport.setOffline(client.id);
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'c1', clientMsgId: 'a' });
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'c2', clientMsgId: 'b' });
    await h.relay.sendCAMessage(ca.id, { chatId: chat.id, text: 'from ca' });
    await h.relay.flushOutbox();
    expect(h.channel.deliveredMessages()).toEqual([]);

    const h2 = await h.restart();
    harnesses.push(h2);
    const caGot = h2.transport.waitFor(client.id, 'message', undefined, { includePast: true });
    await h2.clock.advance(1000);
    await h2.relay.flushOutbox();

    expect(h2.channel.deliveredMessages().map((m) => m.text)).toEqual(['c1', 'c2']);
    expect(await caGot).toMatchObject({ seq: 3, text: 'from ca' });
    expect(await h2.storage.listPendingDeliveries()).toEqual([]);
  });

  it('a duplicate inbound message (same clientMsgId, same CA key) is stored once', async () => {
    const { h, client, ca, chat } = await activeChat();
    const first = await h.relay.sendClientMessage(client.id, {
      chatId: chat.id,
      text: 'hi',
      clientMsgId: 'k1',
    });
    const again = await h.relay.sendClientMessage(client.id, {
      chatId: chat.id,
      text: 'hi',
      clientMsgId: 'k1',
    });
    const caFirst = await h.relay.sendCAMessage(ca.id, {
      chatId: chat.id,
      text: 'yes',
      idempotencyKey: 'tg-42',
    });
    const caAgain = await h.relay.sendCAMessage(ca.id, {
      chatId: chat.id,
      text: 'yes',
      idempotencyKey: 'tg-42',
    });
    await h.relay.flushOutbox();

    expect([first.duplicate, again.duplicate, caFirst.duplicate, caAgain.duplicate]).toEqual([
      false,
      true,
      false,
      true,
    ]);
    expect(again.message.seq).toBe(first.message.seq);
    expect(caAgain.message.seq).toBe(caFirst.message.seq);
    expect(await h.storage.lastSeq(chat.id)).toBe(2);
    expect(h.channel.deliveredMessages()).toHaveLength(1);
    expect(h.transport.eventsFor(client.id, 'message')).toHaveLength(1);
  });

  it('a message is stored before it is acknowledged: the awaited seq is in storage even while delivery fails', async () => {
    const { h, client, chat } = await activeChat();
    h.channel.failNextDeliveries(10, { retryable: true });
    const { message } = await h.relay.sendClientMessage(client.id, {
      chatId: chat.id,
      text: 'kept',
      clientMsgId: 'x',
    });
    expect(message.seq).toBe(1);
    expect(await h.storage.getMessage(chat.id, 1)).toMatchObject({
      text: 'kept',
      from: 'client',
      idempotencyKey: 'x',
    });
  });

  it('what a client wrote while waiting reaches the CA with the match and is marked delivered', async () => {
    const h = await createHarness();
    harnesses.push(h);
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, {
      language: 'en',
      text: 'need help with GST',
    });
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'still there?' });
    await h.relay.flushOutbox();
    const ca = await h.addCA();
    await h.channel.waitFor('sendOffer', (c) => c.offer.chatId === chat.id, { includePast: true });
    expect(h.channel.callsOf('sendOffer')[0]!.offer.firstMessage).toBe('need help with GST');

    await h.relay.acceptOffer(ca.id, chat.id);
    await h.relay.flushOutbox();

    expect(h.channel.callsOf('chatMatched')[0]!.history.map((m) => m.text)).toEqual([
      'need help with GST',
      'still there?',
    ]);
    expect(h.channel.deliveredMessages()).toEqual([]);
    expect((await h.storage.listMessages(chat.id)).map((m) => m.delivery.state)).toEqual([
      'delivered',
      'delivered',
    ]);
    expect(h.transport.eventsFor(client.id, 'chat.matched')).toEqual([
      { type: 'chat.matched', chatId: chat.id, ca: { name: ca.name, languages: ['en'] } },
    ]);
  });

  it('a CA updated between two deliveries is read again for the next one', async () => {
    const { h, ca, client, chat } = await activeChat();
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'one' });
    await h.relay.flushOutbox();
    await h.relay.updateCAProfile(ca.id, { name: 'Renamed CA' });
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'two' });
    await h.relay.flushOutbox();
    const calls = h.channel.callsOf('deliverMessage');
    expect(calls.map((c) => [c.message.text, c.ca.name])).toEqual([
      ['one', ca.name],
      ['two', 'Renamed CA'],
    ]);
  });

  it('messages sent back to back while deliveries are in flight each arrive once, in order', async () => {
    const { h, client, chat } = await activeChat();
    const texts = Array.from({ length: 40 }, (_, i) => `m${i + 1}`);
    await Promise.all(
      texts.map((text) =>
        h.relay.sendClientMessage(client.id, { chatId: chat.id, text, clientMsgId: text }),
      ),
    );
    await h.relay.flushOutbox();
    expect(h.channel.deliveredMessages().map((m) => m.text)).toEqual(texts);
    expect(h.transport.eventsFor(client.id, 'message.status').map((e) => [e.seq, e.state])).toEqual(
      texts.map((_, i) => [i + 1, 'delivered']),
    );
    expect(await h.storage.listPendingDeliveries()).toEqual([]);
  });

  it('a chat the outbox knows is read again once it ends: the next message is refused', async () => {
    const { h, ca, client, chat } = await activeChat();
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'before' });
    await h.relay.flushOutbox(); // the outbox now holds this chat (and its CA)
    await h.relay.endChatByCA(ca.id, chat.id);
    await expect(
      h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'after' }),
    ).rejects.toMatchObject({ code: 'chat_ended' });
    expect((await h.storage.listMessages(chat.id)).map((m) => m.text)).toEqual(['before']);
  });

  it('a channel call that never answers times out as a retryable, named timeout; a throw fails as a named channel_error', async () => {
    const { h, client, chat } = await activeChat();
    const retries: CaChatError[] = [];
    const failures: string[] = [];
    h.relay.on('delivery.retry', (_m, _c, error) => retries.push(error));
    h.relay.on('message.failed', (_m, _c, reason) => failures.push(reason));
    h.channel.deliverMessage = () => new Promise(() => {});
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'hello' });
    await h.clock.advance(29_999);
    expect(retries).toEqual([]);
    h.channel.deliverMessage = () => {
      throw new Error('boom');
    };
    await h.clock.advance(1);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({
      code: 'timeout',
      retryable: true,
      message: 'channel test.deliverMessage took longer than 30000 ms',
    });
    await h.clock.advance(1000);
    expect(failures).toEqual(['channel test.deliverMessage failed: boom']);
  });

  it('a channel call answered after its timeout changes nothing: the retry delivers the message once', async () => {
    const { h, client, chat } = await activeChat();
    const original = h.channel.deliverMessage.bind(h.channel);
    let answerLate: (() => void) | null = null;
    h.channel.deliverMessage = () =>
      new Promise((resolve) => (answerLate = () => resolve({ peerMessageId: 'late' })));
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'one' });
    await h.clock.advance(30_000);
    expect((await h.storage.getMessage(chat.id, 1))?.delivery).toMatchObject({
      state: 'pending',
      attempts: 1,
      error: 'channel test.deliverMessage took longer than 30000 ms',
    });

    // The channel works again; a second message waits behind the first, in order.
    h.channel.deliverMessage = original;
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'two' });
    await h.clock.advance(1000);
    await h.relay.flushOutbox();
    expect(h.channel.deliveredMessages().map((m) => m.text)).toEqual(['one', 'two']);

    // The first call answers at last: its worker was given up on and records nothing.
    answerLate!();
    await h.clock.advance(0);
    expect((await h.storage.getMessage(chat.id, 1))?.delivery).toMatchObject({
      state: 'delivered',
      peerMessageId: `${chat.id}:1`,
      attempts: 2,
    });
    const statuses = h.transport.eventsFor(client.id, 'message.status');
    expect(statuses.map((s) => [s.seq, s.state])).toEqual([
      [1, 'delivered'],
      [2, 'delivered'],
    ]);
  });

  it('stop() waits for a channel call in flight until it times out, and leaves its message pending', async () => {
    const { h, client, chat } = await activeChat();
    const recorded: string[] = [];
    h.relay.on('delivery.retry', (m) => recorded.push(`retry ${m.seq}`));
    h.relay.on('message.failed', (m) => recorded.push(`failed ${m.seq}`));
    h.channel.deliverMessage = () => new Promise(() => {});
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'stuck' });
    await h.clock.advance(0);
    let stopped = false;
    const stopping = h.relay.stop({ drainTimeoutMs: 60_000 }).then(() => (stopped = true));
    await h.clock.advance(29_999);
    expect(stopped).toBe(false);
    await h.clock.advance(1);
    await stopping;
    expect(h.clock.pendingTimers()).toBe(0);
    // Stopping, the relay lets the call go without recording anything: still pending.
    expect(recorded).toEqual([]);
    await h.storage.init(); // the memory store reopens on its data
    expect((await h.storage.getMessage(chat.id, 1))?.delivery).toMatchObject({
      state: 'pending',
      attempts: 0,
    });
  });

  it('a call that answered in time is not timed out later, and stop() leaves no watchdog timer', async () => {
    const { h, client, chat } = await activeChat();
    const retries: string[] = [];
    h.relay.on('delivery.retry', (m) => retries.push(`${m.seq}`));
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'one' });
    await h.clock.advance(31_000);
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'two' });
    await h.clock.advance(31_000);
    expect(retries).toEqual([]);
    expect(h.channel.deliveredMessages().map((m) => m.text)).toEqual(['one', 'two']);
    for (const seq of [1, 2])
      expect((await h.storage.getMessage(chat.id, seq))?.delivery).toMatchObject({
        state: 'delivered',
        attempts: 1,
      });
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'three' });
    await h.relay.flushOutbox();
    await h.relay.stop(); // 30 s before the watchdog would look again
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('calls stuck in two chats time out each at its own deadline, each chat carrying on with its next message', async () => {
    const { h, client, chat } = await activeChat();
    const second = await h.activeChat();
    const original = h.channel.deliverMessage.bind(h.channel);
    const stuck = new Set<string>();
    h.channel.deliverMessage = (ca, c, m) =>
      m.text?.startsWith('stuck') ? (stuck.add(m.text), new Promise(() => {})) : original(ca, c, m);
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'stuck 1' });
    await h.clock.advance(10_000);
    await h.relay.sendClientMessage(second.client.id, { chatId: second.chat.id, text: 'stuck 2' });
    await h.relay.sendClientMessage(second.client.id, { chatId: second.chat.id, text: 'next 2' });
    await h.clock.advance(20_000);
    // The first chat's call is due; the second's is not yet, and its next message waits.
    expect((await h.storage.getMessage(chat.id, 1))?.delivery.attempts).toBe(1);
    expect((await h.storage.getMessage(second.chat.id, 1))?.delivery.attempts).toBe(0);
    expect(h.channel.deliveredMessages()).toEqual([]);
    h.channel.deliverMessage = original;
    // The second chat's call times out at 40 s; retries come within a second.
    await h.clock.advance(12_000);
    await h.relay.flushOutbox();
    expect(stuck).toEqual(new Set(['stuck 1', 'stuck 2']));
    expect(h.channel.deliveredMessages().map((m) => m.text)).toEqual([
      'stuck 1',
      'stuck 2',
      'next 2',
    ]);
  });

  it('channel-call deadlines are measured on the monotonic clock: setting the wall clock does not move them', async () => {
    const base = createManualClock();
    let wallOffset = 0;
    // The wall clock can jump; the monotonic one (the manual clock's own time) does not.
    const clock: ManualClock = {
      ...base,
      now: () => base.now() + wallOffset,
      monotonic: () => base.now(),
    };
    const { h, client, chat } = await activeChat({ clock });
    const second = await h.activeChat();
    const retries: string[] = [];
    h.relay.on('delivery.retry', (m) => retries.push(m.chatId));
    const original = h.channel.deliverMessage.bind(h.channel);
    h.channel.deliverMessage = () => new Promise(() => {});
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'stuck at 0 s' });
    await h.clock.advance(20_000);
    await h.relay.sendClientMessage(second.client.id, { chatId: second.chat.id, text: 'at 20 s' });
    await h.clock.advance(5_000);
    wallOffset = 3600_000; // the system clock is set an hour ahead
    await h.clock.advance(5_000);
    // At 30 s the first call is due, the second (due at 50 s) not, whatever the wall clock says.
    expect(retries).toEqual([chat.id]);
    h.channel.deliverMessage = original; // the retries go through
    await h.clock.advance(20_000);
    expect(retries).toEqual([chat.id, second.chat.id]);
  });

  it('calls due at the same instant all time out in one check', async () => {
    const { h, client, chat } = await activeChat();
    const others = [await h.activeChat(), await h.activeChat()];
    const retries: string[] = [];
    h.relay.on('delivery.retry', (m) => retries.push(m.chatId));
    const original = h.channel.deliverMessage.bind(h.channel);
    h.channel.deliverMessage = () => new Promise(() => {});
    for (const c of [{ client, chat }, ...others])
      await h.relay.sendClientMessage(c.client.id, { chatId: c.chat.id, text: 'stuck' });
    await h.clock.advance(29_999);
    expect(retries).toEqual([]);
    h.channel.deliverMessage = original;
    await h.clock.advance(1);
    expect(retries.sort()).toEqual([chat.id, ...others.map((o) => o.chat.id)].sort());
    await h.clock.advance(1000);
    await h.relay.flushOutbox();
    expect(h.channel.deliveredMessages()).toHaveLength(3);
  });

  it('a store that throws instead of rejecting does not leave the chat without a worker', async () => {
    // Not in `harnesses`: the failure is logged at error level on purpose.
    const h = await createHarness({
      deliveryRetry: { initialDelayMs: 1000, maxDelayMs: 8000, maxAttempts: 5 },
    });
    try {
      const { client, chat } = await h.activeChat();
      h.channel.failNextDeliveries(1, { retryable: true });
      await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'hello' });
      await h.relay.flushOutbox();
      expect(h.channel.deliveredMessages()).toEqual([]);

      // The retry reads storage first; this time the (typed-errors) store throws at once.
      const storage = h.storage as { listMessages: unknown };
      const listMessages = storage.listMessages;
      storage.listMessages = () => {
        storage.listMessages = listMessages;
        throw new Error('thrown, not rejected');
      };
      await h.clock.advance(1000);
      expect(h.errors()).toHaveLength(1);
      await h.clock.advance(1000);
      expect(h.channel.deliveredMessages().map((m) => m.text)).toEqual(['hello']);
    } finally {
      await h.close();
    }
  });
});
