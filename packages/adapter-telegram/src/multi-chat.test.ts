import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, hasButton, matches, textOf, type Harness } from './test-harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe('several chats at once (maxChats: 2)', () => {
  it('routes a CA reply to the chat of the message replied to, asks when there is no reply, refuses replies into ended chats', async () => {
    h = await createHarness({ mode: 'open' });
    const ca = h.user('Multi');
    await h.addCA(ca, { languages: ['hi'], maxChats: 2 });
    const one = await h.clientChat('hi', 'client one here');
    const offer1 = await h.waitBot(ca, (m) => hasButton(m, `acc:${one.chatId}`));
    await h.press(ca, offer1, `acc:${one.chatId}`);
    const notice1 = await h.waitBot(
      ca,
      matches(/now chatting[\s\S]*client one here/),
      offer1.message_id,
    );
    const two = await h.clientChat('hi', 'client two here');
    const offer2 = await h.waitBot(
      ca,
      (m) => hasButton(m, `acc:${two.chatId}`),
      notice1.message_id,
    );
    await h.press(ca, offer2, `acc:${two.chatId}`);
    await h.waitBot(ca, matches(/now chatting[\s\S]*client two here/), offer2.message_id);

    await h.relay.sendClientMessage(two.clientId, {
      chatId: two.chatId,
      text: 'question from two',
      clientMsgId: 't1',
    });
    const fromTwo = await h.waitBot(ca, matches(/question from two/));
    expect(textOf(fromTwo)).toMatch(new RegExp(`#${two.chatId.slice(-4)}`));

    // A reply goes to the chat of the message replied to.
    await h.emu.sendText(h.bot.token, ca.id, 'answer for two', {
      replyToMessageId: fromTwo.message_id,
    });
    await h.transport.waitFor(two.clientId, 'message', (e) => e.text === 'answer for two', {
      includePast: true,
    });
    // Replying to the match notice works too.
    await h.emu.sendText(h.bot.token, ca.id, 'answer for one', {
      replyToMessageId: notice1.message_id,
    });
    await h.transport.waitFor(one.clientId, 'message', (e) => e.text === 'answer for one', {
      includePast: true,
    });
    // No reply with two chats open: the CA is asked, nothing is sent.
    await h.say(ca, 'which one?', matches(/Please reply \(swipe left/));

    await h.relay.endChatByClient(one.clientId, one.chatId);
    await h.waitBot(ca, matches(/Chat ended: the client ended the chat/));
    await h.say(
      ca,
      'late answer',
      matches(/has ended, so your message was not sent/),
      notice1.message_id,
    );

    const texts = async (chatId: string) =>
      (await h.relay.getTranscript(chatId)).messages
        .filter((m) => m.from === 'ca')
        .map((m) => m.text);
    expect(await texts(one.chatId)).toEqual(['answer for one']);
    expect(await texts(two.chatId)).toEqual(['answer for two']);
  });
});
