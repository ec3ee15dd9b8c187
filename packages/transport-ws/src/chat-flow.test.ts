import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { WireMessage } from './protocol.js';
import { startHarness, type Harness } from './test-support/harness.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function collect(client: {
  on(event: 'message', listener: (m: WireMessage) => void): unknown;
}): WireMessage[] {
  const messages: WireMessage[] = [];
  client.on('message', (m) => messages.push(m));
  return messages;
}

function nextMessage(client: {
  once(event: 'message', listener: (m: WireMessage) => void): unknown;
}): Promise<WireMessage> {
  return new Promise((resolve) => client.once('message', resolve));
}

describe('chat flow over WebSocket + HTTP', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('carries a full chat: request, CA accepts, text and files both ways, end', async () => {
    h = await startHarness();
    const client = h.client();
    const welcome = await client.connect();
    expect(welcome.token).toMatch(/\S/);
    expect(welcome.chats).toEqual([]);

    const offered = h.channel.waitFor('sendOffer');
    const chatId = await client.requestChat({
      language: 'en',
      topic: 'gst',
      text: 'Hello, I need help with GST',
    });
    const offer = await offered;
    expect(offer.offer).toMatchObject({
      chatId,
      language: 'en',
      firstMessage: 'Hello, I need help with GST',
    });

    const matched = new Promise((resolve) => client.once('chat.matched', resolve));
    await h.accept(chatId);
    expect(await matched).toEqual({ chatId, ca: { name: 'Asha', languages: ['en', 'hi'] } });

    // client → CA text
    const delivered = h.channel.waitFor(
      'deliverMessage',
      (c) => c.message.text === 'What documents do you need?',
    );
    const { seq } = await client.send(chatId, 'What documents do you need?');
    expect((await delivered).message.seq).toBe(seq);

    // CA → client text
    const caText = nextMessage(client);
    await h.relay.sendCAMessage(h.ca.id, { chatId, text: 'Your GSTIN, please.' });
    expect(await caText).toMatchObject({ chatId, from: 'ca', text: 'Your GSTIN, please.' });

    // client → CA file, streamed over HTTP
    const clientBytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 251);
    const fileDelivered = h.channel.waitFor('deliverMessage', (c) => c.message.file !== null);
    const stored = await client.sendFile(chatId, {
      data: clientBytes,
      name: '../../etc/invoice.pdf',
      type: 'application/pdf',
    });
    expect(stored).toMatchObject({
      chatId,
      from: 'client',
      file: {
        name: 'invoice.pdf',
        mime: 'application/pdf',
        size: clientBytes.length,
        sha256: sha256(clientBytes),
      },
    });
    const atCa = (await fileDelivered).message.file!;
    const opened = await h.relay.openFile(atCa.id);
    const chunks: Buffer[] = [];
    for await (const chunk of opened.stream) chunks.push(chunk as Buffer);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(clientBytes));

    // CA → client file: the client downloads it through the signed URL in the message
    const caBytes = Buffer.from('balance sheet '.repeat(5000));
    const caFile = new Promise<WireMessage>((resolve) =>
      client.on('message', (m) => m.file && m.from === 'ca' && resolve(m)),
    );
    await h.relay.sendCAFile(h.ca.id, {
      chatId,
      name: 'sheet.txt',
      mime: 'text/plain',
      source: Readable.from([caBytes]),
    });
    const received = await caFile;
    expect(received.file).toMatchObject({
      name: 'sheet.txt',
      size: caBytes.length,
      sha256: sha256(caBytes),
    });
    expect(received.file!.url).toMatch(new RegExp(`^${h.httpUrl}/files/`));
    const download = await fetch(received.file!.url);
    expect(download.status).toBe(200);
    expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(caBytes));

    // end
    const ended = new Promise((resolve) => client.once('chat.ended', resolve));
    const caTold = h.channel.waitFor('chatEnded');
    await client.end(chatId);
    expect(await ended).toEqual({ chatId, reason: 'client_ended' });
    expect((await caTold).reason).toBe('client_ended');
    expect((await h.storage.getChat(chatId))?.state).toBe('ended');
  });

  it('resumes after the server drops the socket: nothing lost, nothing twice', async () => {
    h = await startHarness();
    const client = h.client();
    await client.connect();
    const chatId = await client.requestChat({ language: 'en' });
    await h.accept(chatId);
    const messages = collect(client);
    const first = nextMessage(client);
    await h.relay.sendCAMessage(h.ca.id, { chatId, text: 'm1' });
    await first;

    // Cut every socket server-side, then send while the client is away.
    const reconnected = new Promise((resolve) => client.once('welcome', resolve));
    expect(h.transport.disconnectClient(client.clientId!, { terminate: true })).toBe(1);
    for (const text of ['m2', 'm3', 'm4']) await h.relay.sendCAMessage(h.ca.id, { chatId, text });
    const pendingSend = client.send(chatId, 'sent while reconnecting');
    await reconnected;
    const last = new Promise<void>((resolve) =>
      client.on('message', (m) => m.text === 'm5' && resolve()),
    );
    await h.relay.sendCAMessage(h.ca.id, { chatId, text: 'm5' });
    await last;
    await pendingSend;

    const caTexts = messages.filter((m) => m.from === 'ca').map((m) => m.text);
    expect(caTexts).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    const seqs = messages.map((m) => m.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    const stored = await h.storage.listMessages(chatId);
    expect(stored.filter((m) => m.text === 'sent while reconnecting')).toHaveLength(1);
  });

  it('shows every event to every tab of the same client', async () => {
    h = await startHarness();
    const tab1 = h.client();
    const { token } = await tab1.connect();
    const tab2 = h.client({ token });
    expect((await tab2.connect()).clientId).toBe(tab1.clientId);

    const chatId = await tab1.requestChat({ language: 'en' });
    await h.accept(chatId);
    const inTab1 = nextMessage(tab1);
    const inTab2 = nextMessage(tab2);
    await h.relay.sendCAMessage(h.ca.id, { chatId, text: 'to both tabs' });
    expect((await inTab1).text).toBe('to both tabs');
    expect((await inTab2).text).toBe('to both tabs');

    // What one tab sends, the other sees.
    const echoed = nextMessage(tab2);
    const { seq } = await tab1.send(chatId, 'from tab 1');
    expect(await echoed).toMatchObject({ chatId, seq, from: 'client', text: 'from tab 1' });
  });
});
