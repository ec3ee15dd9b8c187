import { describe, expect, it } from 'vitest';
import type { TgMessage } from './emulator/index.js';
import { harnessPerTest, hasButton, matches, type Harness } from './test-harness.js';

const harness = harnessPerTest();

async function matched(h: Harness) {
  const ca = h.user('Asha');
  await h.addCA(ca, { languages: ['hi'] });
  const { clientId, chatId } = await h.clientChat('hi', 'first');
  const offer = await h.waitBot(ca, (m) => hasButton(m, `acc:${chatId}`));
  await h.press(ca, offer, `acc:${chatId}`);
  const notice = await h.waitBot(ca, matches(/now chatting/), offer.message_id);
  return { ca, clientId, chatId, notice };
}

/** Every text the bot sent the CA after `afterId`, split back into the client's messages. */
const receivedTexts = (
  h: Harness,
  chatId: number,
  afterId: number,
): { messages: TgMessage[]; texts: string[] } => {
  const messages = h.emu
    .botMessages(h.bot.token, chatId)
    .filter((m) => m.message_id > afterId && m.text !== undefined);
  return { messages, texts: messages.flatMap((m) => m.text!.split('\n\n')) };
};

async function sendBurst(
  h: Harness,
  clientId: string,
  chatId: string,
  count: number,
  tag: string,
): Promise<string[]> {
  const texts = Array.from({ length: count }, (_, i) => `${tag} ${i}`);
  let lastSeq = 0;
  for (const [i, text] of texts.entries()) {
    lastSeq = (
      await h.relay.sendClientMessage(clientId, { chatId, text, clientMsgId: `${tag}-${i}` })
    ).message.seq;
  }
  await h.transport.waitFor(
    clientId,
    'message.status',
    (e) => e.seq === lastSeq && e.state === 'delivered',
    { includePast: true, timeoutMs: 25_000 },
  );
  return texts;
}

describe('outgoing queue', () => {
  it('a burst of 200 client messages to one CA arrives complete, in order, coalesced into fewer Telegram messages', async () => {
    const h = await harness({ mode: 'open' });
    const { ca, clientId, chatId, notice } = await matched(h);
    const texts = await sendBurst(h, clientId, chatId, 200, 'burst');
    const got = receivedTexts(h, ca.id, notice.message_id);
    expect(got.texts).toEqual(texts);
    expect(got.messages.length).toBeLessThan(200);
    expect(got.messages.every((m) => m.text!.length <= 4096)).toBe(true);
    expect(h.channel.stats.coalesced).toBe(200 - got.messages.length);
    // Every message was marked delivered with the Telegram id of the message that carried it.
    const transcript = await h.relay.getTranscript(chatId);
    const ids = new Set(got.messages.map((m) => String(m.message_id)));
    for (const m of transcript.messages.filter((x) => x.text?.startsWith('burst'))) {
      expect(m.delivery.state).toBe('delivered');
      expect(ids.has(m.delivery.peerMessageId!)).toBe(true);
    }
  });

  it('injected 429s, 5xx answers and dropped connections lose nothing, in both directions', async () => {
    // Only the injected faults: the emulator's own flood limit could add a real 429 on a
    // busy machine (harmless, but it would blur the counts asserted below).
    const h = await harness({
      mode: 'open',
      emulator: { rateLimits: false },
      relay: { deliveryRetry: { initialDelayMs: 50, maxDelayMs: 500 } },
    });
    const { ca, clientId, chatId, notice } = await matched(h);
    const token = h.bot.token;
    h.emu.injectFault(token, {
      method: 'sendMessage',
      kind: 'rate_limit',
      retryAfter: 1,
      count: 1,
    });
    h.emu.injectFault(token, {
      method: 'sendMessage',
      kind: 'server_error',
      status: 502,
      count: 2,
    });
    h.emu.injectFault(token, { method: 'sendMessage', kind: 'drop', count: 2 });
    const texts = await sendBurst(h, clientId, chatId, 30, 'faulty');
    expect(receivedTexts(h, ca.id, notice.message_id).texts).toEqual(texts);
    const statuses = h.emu
      .calls(token)
      .filter((c) => c.method === 'sendMessage')
      .map((c) => c.status);
    expect(statuses.filter((s) => s === 429)).toHaveLength(1);
    expect(statuses.filter((s) => s === 502)).toHaveLength(2);
    expect(statuses.filter((s) => s === 0)).toHaveLength(2);
    expect(h.channel.stats.rateLimited).toBe(1);

    // CA → client while polling fails (5xx, a dropped poll, a poll answered but lost).
    h.emu.injectFault(token, { method: 'getUpdates', kind: 'server_error', count: 1 });
    h.emu.injectFault(token, {
      method: 'getUpdates',
      kind: 'drop',
      afterProcessing: true,
      count: 1,
    });
    const replies = ['one', 'two', 'three', 'four', 'five'];
    for (const text of replies) await h.emu.sendText(token, ca.id, text);
    const last = await h.transport.waitFor(
      clientId,
      'message',
      (e) => e.from === 'ca' && e.text === 'five',
      { includePast: true, timeoutMs: 15_000 },
    );
    expect(last.chatId).toBe(chatId);
    const fromCa = (await h.relay.getTranscript(chatId)).messages
      .filter((m) => m.from === 'ca')
      .map((m) => m.text);
    expect(fromCa).toEqual(replies);
  });
});
