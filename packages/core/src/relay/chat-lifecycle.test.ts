import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from './test-harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
  expect(h.errors()).toEqual([]);
});

async function activeChat(options: Parameters<typeof createHarness>[0] = {}) {
  h = await createHarness(options);
  return h.activeChat();
}

describe('chat lifecycle', () => {
  it('a client ending a chat tells both sides and frees the CA', async () => {
    const { ca, client, chat } = await activeChat();
    const ended = await h.relay.endChatByClient(client.id, chat.id);
    expect(ended).toMatchObject({ state: 'ended', endReason: 'client_ended' });
    expect(h.transport.eventsFor(client.id, 'chat.ended')).toEqual([
      { type: 'chat.ended', chatId: chat.id, reason: 'client_ended' },
    ]);
    expect(h.channel.callsOf('chatEnded')).toEqual([
      expect.objectContaining({
        reason: 'client_ended',
        chat: expect.objectContaining({ id: chat.id }),
      }),
    ]);
    expect(await h.relay.listCAChats(ca.id)).toEqual([]);
  });

  it('a CA ending a chat tells both sides', async () => {
    const { ca, client, chat } = await activeChat();
    await h.relay.endChatByCA(ca.id, chat.id);
    expect(await h.storage.getChat(chat.id)).toMatchObject({
      state: 'ended',
      endReason: 'ca_ended',
    });
    expect(h.transport.eventsFor(client.id, 'chat.ended')).toEqual([
      { type: 'chat.ended', chatId: chat.id, reason: 'ca_ended' },
    ]);
    expect(h.channel.callsOf('chatEnded').map((c) => c.reason)).toEqual(['ca_ended']);
  });

  it('an admin ending a chat tells both sides', async () => {
    const { client, chat } = await activeChat();
    await h.relay.endChatByAdmin(chat.id);
    expect(await h.storage.getChat(chat.id)).toMatchObject({ state: 'ended', endReason: 'admin' });
    expect(h.transport.eventsFor(client.id, 'chat.ended').map((e) => e.reason)).toEqual(['admin']);
    expect(h.channel.callsOf('chatEnded').map((c) => c.reason)).toEqual(['admin']);
  });

  it('ending a waiting chat withdraws its open offers', async () => {
    h = await createHarness();
    const ca = await h.addCA({ maxChats: 1 });
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    await h.relay.endChatByClient(client.id, chat.id);
    expect((await h.storage.getOffer(chat.id, ca.id))?.state).toBe('withdrawn');
    expect(h.channel.callsOf('closeOffer')).toEqual([
      expect.objectContaining({ chatId: chat.id, reason: 'withdrawn' }),
    ]);
  });

  it('a client who reconnects within the grace period keeps the chat', async () => {
    const { client, chat } = await activeChat({ clientGraceMs: 120_000 });
    h.transport.connect(client.id);
    h.transport.disconnect(client.id);
    await h.clock.advance(60_000);
    h.transport.connect(client.id);
    await h.clock.advance(120_000);
    expect((await h.storage.getChat(chat.id))?.state).toBe('active');
    expect(h.channel.callsOf('chatEnded')).toEqual([]);
  });

  it('a client gone longer than the grace period: the chat ends with client_gone', async () => {
    const { client, chat } = await activeChat({ clientGraceMs: 120_000 });
    h.transport.connect(client.id);
    const ended = h.channel.waitFor('chatEnded');
    h.transport.disconnect(client.id);
    await h.clock.advance(119_999);
    expect((await h.storage.getChat(chat.id))?.state).toBe('active');
    await h.clock.advance(1);
    expect((await ended).reason).toBe('client_gone');
    expect(await h.storage.getChat(chat.id)).toMatchObject({
      state: 'ended',
      endReason: 'client_gone',
    });
  });

  it('an active chat nobody wrote in for idleChatTimeoutMs ends with timeout; each message starts the wait again', async () => {
    const { ca, client, chat } = await activeChat({ idleChatTimeoutMs: 60_000 });
    h.transport.connect(client.id);
    await h.clock.advance(50_000);
    await h.relay.sendClientMessage(client.id, { chatId: chat.id, text: 'still there?' });
    await h.clock.advance(50_000);
    await h.relay.sendCAMessage(ca.id, { chatId: chat.id, text: 'yes' });
    await h.clock.advance(59_999);
    expect((await h.storage.getChat(chat.id))?.state).toBe('active');

    const ended = h.channel.waitFor('chatEnded');
    await h.clock.advance(1);
    expect((await ended).reason).toBe('timeout');
    expect(await h.storage.getChat(chat.id)).toMatchObject({
      state: 'ended',
      endReason: 'timeout',
    });
    expect(h.transport.eventsFor(client.id, 'chat.ended')).toEqual([
      { type: 'chat.ended', chatId: chat.id, reason: 'timeout' },
    ]);
    expect(await h.relay.listCAChats(ca.id)).toEqual([]);
  });

  it('without idleChatTimeoutMs a quiet chat stays open', async () => {
    const { client, chat } = await activeChat();
    h.transport.connect(client.id);
    await h.clock.advance(7 * 24 * 3600_000);
    expect((await h.storage.getChat(chat.id))?.state).toBe('active');
    expect(h.clock.pendingTimers()).toBe(0);
  });

  it('the grace period only runs out when every transport lost the client', async () => {
    const { client, chat } = await activeChat({ clientGraceMs: 1000 });
    h.relay.clientConnected(client.id);
    h.relay.clientConnected(client.id);
    h.relay.clientDisconnected(client.id);
    await h.clock.advance(5000);
    expect((await h.storage.getChat(chat.id))?.state).toBe('active');
  });

  it('removing a CA ends their chats with ca_removed, withdraws their offers and tells them', async () => {
    h = await createHarness();
    const ca = await h.addCA({ maxChats: 2 });
    const [a, b] = [await h.addClient(), await h.addClient()];
    const { chat: active } = await h.relay.requestChat(a.id, { language: 'en' });
    await h.relay.acceptOffer(ca.id, active.id);
    const { chat: waiting } = await h.relay.requestChat(b.id, { language: 'en' });
    expect(h.channel.offersTo(ca.id, waiting.id)).toHaveLength(1);

    const removed = await h.relay.removeCA(ca.id);

    expect(removed.approval).toBe('removed');
    expect(await h.storage.getChat(active.id)).toMatchObject({
      state: 'ended',
      endReason: 'ca_removed',
    });
    expect(h.transport.eventsFor(a.id, 'chat.ended').map((e) => e.reason)).toEqual(['ca_removed']);
    expect(h.channel.callsOf('chatEnded').map((c) => c.reason)).toEqual(['ca_removed']);
    expect((await h.storage.getOffer(waiting.id, ca.id))?.state).toBe('withdrawn');
    expect((await h.storage.getChat(waiting.id))?.state).toBe('waiting');
    expect(h.channel.callsOf('notify').map((c) => c.notice)).toEqual([{ type: 'removed' }]);
  });
});
