import { describe, expect, it } from 'vitest';
import { harnessPerTest, hasButton, matches, textOf } from './test-harness.js';

const harness = harnessPerTest();

const offerFor =
  (chatId: string) => (m: { reply_markup?: unknown } & Parameters<typeof hasButton>[0]) =>
    hasButton(m, `acc:${chatId}`) && hasButton(m, `dec:${chatId}`);

describe('offers', () => {
  it('an unapproved (pending) CA never receives an offer', async () => {
    const h = await harness({ mode: 'approval' });
    const pendingUser = h.user('Pending');
    await h.registerViaBot(pendingUser, { languages: ['hi'] });
    const approved = h.user('Approved');
    await h.addCA(approved, { languages: ['hi'] });
    const { chatId } = await h.clientChat('hi', 'Need help with TDS');
    // The approved CA's offer proves routing for this chat has run.
    const offer = await h.waitBot(approved, offerFor(chatId));
    expect(textOf(offer)).toMatch(/New chat request[\s\S]*Hindi[\s\S]*Need help with TDS/);
    const offers = await h.relay.listOffers(chatId);
    expect(offers.map((o) => o.caId)).toEqual([
      (await h.relay.getCAByExternalId('telegram', String(approved.id)))!.id,
    ]);
    expect(
      h.emu
        .botMessages(h.bot.token, pendingUser.id)
        .some((m) => /New chat request/.test(textOf(m))),
    ).toBe(false);
  });

  it("the seed's rule: a CA in a chat gets no offer; after /end they get the waiting chat", async () => {
    const h = await harness({ mode: 'open' });
    const busy = h.user('Busy');
    const other = h.user('Other');
    await h.addCA(busy, { languages: ['hi'] });
    const first = await h.clientChat('hi', 'first client');
    const offer1 = await h.waitBot(busy, offerFor(first.chatId));
    await h.press(busy, offer1, `acc:${first.chatId}`);
    await h.waitBot(
      busy,
      matches(/now chatting with a client[\s\S]*first client/),
      offer1.message_id,
    );

    await h.addCA(other, { languages: ['hi'] });
    const second = await h.clientChat('hi', 'second client');
    const offer2 = await h.waitBot(other, offerFor(second.chatId));
    const busyCa = (await h.relay.getCAByExternalId('telegram', String(busy.id)))!;
    expect((await h.relay.listOffers(second.chatId)).some((o) => o.caId === busyCa.id)).toBe(false);
    expect(h.emu.botMessages(h.bot.token, busy.id).some((m) => offerFor(second.chatId)(m))).toBe(
      false,
    );

    // The other CA declines; the busy CA ends their chat and is offered the waiting one.
    await h.press(other, offer2, `dec:${second.chatId}`);
    await h.waitBot(
      other,
      (m) => m.message_id === offer2.message_id && /— Declined/.test(textOf(m)),
    );
    const lastBefore = h.lastId(busy);
    await h.say(busy, '/end', matches(/Chat ended: you ended the chat/));
    const waiting = await h.waitBot(busy, offerFor(second.chatId), lastBefore);
    expect(textOf(waiting)).toMatch(/second client/);
  });

  it('accept race: two CAs press Accept at once, one wins, the other is told and their offer says taken', async () => {
    const h = await harness({ mode: 'open' });
    const a = h.user('Anil');
    const b = h.user('Bina');
    await h.addCA(a, { languages: ['hi'] });
    await h.addCA(b, { languages: ['hi'] });
    const { clientId, chatId } = await h.clientChat('hi', 'race me');
    const [offerA, offerB] = await Promise.all([
      h.waitBot(a, offerFor(chatId)),
      h.waitBot(b, offerFor(chatId)),
    ]);
    const [answerA, answerB] = await Promise.all([
      h.press(a, offerA!, `acc:${chatId}`),
      h.press(b, offerB!, `acc:${chatId}`),
    ]);
    const answers = [answerA.text, answerB.text];
    expect(answers.filter((t) => t === 'Accepted')).toHaveLength(1);
    expect(answers.filter((t) => /another CA already took/.test(t ?? ''))).toHaveLength(1);
    const [winner, loser, winnerOffer, loserOffer] =
      answerA.text === 'Accepted' ? [a, b, offerA!, offerB!] : [b, a, offerB!, offerA!];

    const taken = await h.waitBot(
      loser,
      (m) => m.message_id === loserOffer.message_id && /— Taken by another CA/.test(textOf(m)),
    );
    expect(taken.reply_markup?.inline_keyboard ?? []).toHaveLength(0);
    const accepted = await h.waitBot(
      winner,
      (m) => m.message_id === winnerOffer.message_id && /— Accepted ✅/.test(textOf(m)),
    );
    expect(accepted.reply_markup?.inline_keyboard ?? []).toHaveLength(0);
    const matched = await h.transport.waitFor(clientId, 'chat.matched', undefined, {
      includePast: true,
    });
    expect(matched.ca.name).toBe(winner.firstName);
    const chat = await h.relay.getChat(chatId);
    expect(chat?.state).toBe('active');
  });
});
