import { afterEach, describe, expect, it } from 'vitest';
import type { Chat } from '../domain.js';
import { CaChatError } from '../errors.js';
import { createHarness, type Harness } from './test-harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
  expect(h.errors()).toEqual([]);
});

describe('matching', () => {
  it("the seed's rule: a CA engaged in a chat gets no offer", async () => {
    h = await createHarness();
    const busy = await h.addCA();
    const first = await h.addClient();
    const { chat: chatA } = await h.relay.requestChat(first.id, { language: 'en' });
    await h.relay.acceptOffer(busy.id, chatA.id);

    const free = await h.addCA();
    const second = await h.addClient();
    const { chat: chatB } = await h.relay.requestChat(second.id, { language: 'en' });

    expect(h.channel.offersTo(free.id, chatB.id)).toHaveLength(1);
    expect(h.channel.offersTo(busy.id, chatB.id)).toHaveLength(0);
  });

  it('an unapproved (pending, rejected or removed) CA gets no offer', async () => {
    h = await createHarness({ registrationMode: 'approval' });
    const pending = await h.addCA();
    const rejected = await h.relay.rejectCA((await h.addCA()).id);
    const removed = await h.addCA();
    await h.relay.approveCA(removed.id);
    await h.relay.removeCA(removed.id);
    const approved = await h.relay.approveCA((await h.addCA()).id);

    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });

    expect(h.channel.offersTo(approved.id, chat.id)).toHaveLength(1);
    for (const ca of [pending, rejected, removed])
      expect(h.channel.offersTo(ca.id, chat.id)).toHaveLength(0);
  });

  it('offers a chat only to CAs who speak its language', async () => {
    h = await createHarness();
    const english = await h.addCA({ languages: ['en'] });
    const hindi = await h.addCA({ languages: ['hi', 'en'] });
    const tamil = await h.addCA({ languages: ['ta'] });
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'hi' });

    expect(h.channel.offersTo(hindi.id, chat.id)).toHaveLength(1);
    expect(h.channel.offersTo(english.id, chat.id)).toHaveLength(0);
    expect(h.channel.offersTo(tamil.id, chat.id)).toHaveLength(0);
  });

  it('offers a chat with a topic to CAs covering it (and to generalists), not to other specialists', async () => {
    h = await createHarness();
    const gst = await h.addCA({ topics: ['gst'] });
    const audit = await h.addCA({ topics: ['audit'] });
    const generalist = await h.addCA({ topics: [] });
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en', topic: 'GST' });

    expect(chat.topic).toBe('gst');
    expect(h.channel.offersTo(gst.id, chat.id)).toHaveLength(1);
    expect(h.channel.offersTo(generalist.id, chat.id)).toHaveLength(1);
    expect(h.channel.offersTo(audit.id, chat.id)).toHaveLength(0);
  });

  it('broadcast race: of 50 CAs accepting at once exactly one wins, the others get chat_already_taken and their offers close as taken', async () => {
    h = await createHarness();
    const cas = [];
    for (let i = 0; i < 50; i++) cas.push(await h.addCA());
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    expect(h.channel.callsOf('sendOffer').filter((c) => c.offer.chatId === chat.id)).toHaveLength(
      50,
    );

    const results = await Promise.allSettled(cas.map((ca) => h.relay.acceptOffer(ca.id, chat.id)));

    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(49);
    for (const r of lost) expect(CaChatError.is(r.reason, 'chat_already_taken')).toBe(true);
    const stored = await h.storage.getChat(chat.id);
    const winner = cas[results.findIndex((r) => r.status === 'fulfilled')]!;
    expect(stored).toMatchObject({ state: 'active', caId: winner.id });
    const taken = h.channel
      .callsOf('closeOffer')
      .filter((c) => c.chatId === chat.id && c.reason === 'taken');
    expect(new Set(taken.map((c) => c.ca.id))).toEqual(
      new Set(cas.filter((c) => c.id !== winner.id).map((c) => c.id)),
    );
    const offers = await h.storage.listOffers({ chatId: chat.id });
    expect(offers.filter((o) => o.state === 'accepted').map((o) => o.caId)).toEqual([winner.id]);
    expect(offers.filter((o) => o.state === 'withdrawn')).toHaveLength(49);
    expect(h.channel.callsOf('chatMatched')).toHaveLength(1);
  });

  it('round-robin offers one CA at a time and moves on after the offer timeout', async () => {
    h = await createHarness({ routing: 'round-robin', offerTimeoutMs: 1000 });
    const cas = [await h.addCA(), await h.addCA(), await h.addCA()];
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    const offersOf = () => h.channel.callsOf('sendOffer').filter((c) => c.offer.chatId === chat.id);
    expect(offersOf()).toHaveLength(1);
    const first = offersOf()[0]!.ca;

    const next = h.channel.waitFor('sendOffer', (c) => c.offer.chatId === chat.id);
    await h.clock.advance(1000);
    const second = (await next).ca;

    expect(second.id).not.toBe(first.id);
    expect(cas.map((c) => c.id)).toContain(second.id);
    expect(h.channel.callsOf('closeOffer')).toContainEqual(
      expect.objectContaining({
        chatId: chat.id,
        reason: 'expired',
        ca: expect.objectContaining({ id: first.id }),
      }),
    );
    expect((await h.storage.getOffer(chat.id, first.id))?.state).toBe('expired');
    expect(
      (await h.storage.listOffers({ chatId: chat.id, state: 'open' })).map((o) => o.caId),
    ).toEqual([second.id]);
  });

  it('round-robin moves on after a decline', async () => {
    h = await createHarness({ routing: 'round-robin', offerTimeoutMs: 60_000 });
    await h.addCA();
    await h.addCA();
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    const first = h.channel.callsOf('sendOffer')[0]!.ca;

    await h.relay.declineOffer(first.id, chat.id);

    const offers = h.channel.callsOf('sendOffer').filter((c) => c.offer.chatId === chat.id);
    expect(offers).toHaveLength(2);
    expect(offers[1]!.ca.id).not.toBe(first.id);
    expect((await h.storage.getOffer(chat.id, first.id))?.state).toBe('declined');
  });

  it('round-robin offers the least recently assigned CA first', async () => {
    h = await createHarness({ routing: 'round-robin' });
    const veteran = await h.addCA({ maxChats: 2 });
    const c1 = await h.addClient();
    const { chat: warmUp } = await h.relay.requestChat(c1.id, { language: 'en' });
    await h.relay.acceptOffer(veteran.id, warmUp.id);
    const fresh = await h.addCA();

    const c2 = await h.addClient();
    const { chat } = await h.relay.requestChat(c2.id, { language: 'en' });

    expect(
      h.channel
        .callsOf('sendOffer')
        .filter((c) => c.offer.chatId === chat.id)
        .map((c) => c.ca.id),
    ).toEqual([fresh.id]);
  });

  it('queue positions are re-sent when an earlier chat is matched or ended', async () => {
    h = await createHarness();
    const clients = [await h.addClient(), await h.addClient(), await h.addClient()];
    const chats: Chat[] = [];
    for (const c of clients) chats.push((await h.relay.requestChat(c.id, { language: 'en' })).chat);
    expect(h.transport.eventsFor(clients[2]!.id, 'chat.queued').map((e) => e.position)).toEqual([
      3,
    ]);

    const ca = await h.addCA();
    await h.channel.waitFor('sendOffer', (c) => c.offer.chatId === chats[0]!.id, {
      includePast: true,
    });
    const secondMoves = h.transport.waitFor(clients[1]!.id, 'chat.queued', (e) => e.position === 1);
    const thirdMoves = h.transport.waitFor(clients[2]!.id, 'chat.queued', (e) => e.position === 2);
    await h.relay.acceptOffer(ca.id, chats[0]!.id);
    await Promise.all([secondMoves, thirdMoves]);

    const thirdFirst = h.transport.waitFor(clients[2]!.id, 'chat.queued', (e) => e.position === 1);
    await h.relay.endChatByClient(clients[1]!.id, chats[1]!.id);
    await thirdFirst;
    expect(h.transport.eventsFor(clients[2]!.id, 'chat.queued').map((e) => e.position)).toEqual([
      3, 2, 1,
    ]);
  });

  it('re-offers the queue to a CA who ends a chat', async () => {
    h = await createHarness();
    const ca = await h.addCA();
    const [a, b] = [await h.addClient(), await h.addClient()];
    const { chat: first } = await h.relay.requestChat(a.id, { language: 'en' });
    await h.relay.acceptOffer(ca.id, first.id);
    const { chat: second } = await h.relay.requestChat(b.id, { language: 'en' });
    expect(h.channel.offersTo(ca.id, second.id)).toHaveLength(0);

    const offered = h.channel.waitFor(
      'sendOffer',
      (c) => c.ca.id === ca.id && c.offer.chatId === second.id,
    );
    await h.relay.endChatByCA(ca.id, first.id);
    await offered;
    await h.relay.acceptOffer(ca.id, second.id);
    expect((await h.storage.getChat(second.id))?.state).toBe('active');
  });

  it('re-offers the queue to a CA who comes back available', async () => {
    h = await createHarness();
    const ca = await h.addCA();
    await h.relay.setCAStatus(ca.id, 'away');
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    expect(h.channel.offersTo(ca.id, chat.id)).toHaveLength(0);

    const offered = h.channel.waitFor(
      'sendOffer',
      (c) => c.ca.id === ca.id && c.offer.chatId === chat.id,
    );
    await h.relay.setCAStatus(ca.id, 'available');
    await offered;
  });

  it('withdraws a CA’s other open offers when they reach capacity', async () => {
    h = await createHarness();
    const ca = await h.addCA();
    const [a, b] = [await h.addClient(), await h.addClient()];
    const { chat: first } = await h.relay.requestChat(a.id, { language: 'en' });
    const { chat: second } = await h.relay.requestChat(b.id, { language: 'en' });
    const withdrawn = h.channel.waitFor(
      'closeOffer',
      (c) => c.chatId === second.id && c.reason === 'withdrawn',
    );
    await h.relay.acceptOffer(ca.id, first.id);
    await withdrawn;
    expect((await h.storage.getOffer(second.id, ca.id))?.state).toBe('withdrawn');
  });

  it('a chat nobody accepts ends with no_ca_available after matchTimeoutMs', async () => {
    h = await createHarness({ matchTimeoutMs: 10_000 });
    await h.addCA();
    const client = await h.addClient();
    const { chat } = await h.relay.requestChat(client.id, { language: 'en' });
    await h.clock.advance(9_999);
    expect((await h.storage.getChat(chat.id))?.state).toBe('waiting');

    const ended = h.transport.waitFor(client.id, 'chat.ended');
    await h.clock.advance(1);
    expect(await ended).toEqual({ type: 'chat.ended', chatId: chat.id, reason: 'no_ca_available' });
    expect(await h.storage.getChat(chat.id)).toMatchObject({
      state: 'ended',
      endReason: 'no_ca_available',
    });
    expect(h.channel.callsOf('closeOffer')).toContainEqual(
      expect.objectContaining({ chatId: chat.id, reason: 'withdrawn' }),
    );
  });

  it('tells the client at once when no approved CA speaks the language (noCaForLanguage)', async () => {
    h = await createHarness();
    await h.addCA({ languages: ['en'] });
    const client = await h.addClient();
    const result = await h.relay.requestChat(client.id, { language: 'ta' });
    expect(result).toMatchObject({ noCaForLanguage: true, position: 1 });
    expect(h.transport.eventsFor(client.id, 'chat.queued')).toEqual([
      { type: 'chat.queued', chatId: result.chat.id, position: 1, noCaForLanguage: true },
    ]);
    const english = await h.relay.requestChat(client.id, { language: 'en' });
    expect(english.noCaForLanguage).toBe(false);
  });
});
