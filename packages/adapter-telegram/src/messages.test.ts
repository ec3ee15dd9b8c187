import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TgMessage } from './emulator/index.js';
import { MB } from './options.js';
import { harnessPerTest, hasButton, matches, textOf, type Harness } from './test-harness.js';

const harness = harnessPerTest();

/** One random buffer; smaller files are prefixes of it (generating 51 MB once is enough). */
let big: Buffer;
beforeAll(() => {
  big = randomBytes(51 * MB + 1);
});
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');
const streamSha256 = async (stream: AsyncIterable<Buffer>): Promise<string> => {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk);
  return hash.digest('hex');
};
/** A 2x2 PNG. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==',
  'base64',
);

/** A CA in an active chat with a new client. */
async function matched(h: Harness, name = 'Asha') {
  const ca = h.user(name);
  await h.addCA(ca, { languages: ['hi'] });
  const { clientId, chatId } = await h.clientChat('hi', 'Hello, I have a question');
  const offer = await h.waitBot(ca, (m) => hasButton(m, `acc:${chatId}`));
  await h.press(ca, offer, `acc:${chatId}`);
  const notice = await h.waitBot(ca, matches(/now chatting/), offer.message_id);
  return { ca, clientId, chatId, notice };
}

describe('messages and files', () => {
  it('text, typing and files both ways arrive byte-identical (sha256): a photo and a 19 MB document from the CA, a 45 MB document from the client', async () => {
    const h = await harness({ mode: 'open' });
    const { ca, clientId, chatId, notice } = await matched(h);
    expect(textOf(notice)).toMatch(/Hello, I have a question/);

    // client typing → "typing…" in the CA's chat
    const typing = new Promise<void>((resolve) => {
      const off = h.emu.subscribe((e) => {
        if (e.type === 'chat.action' && e.chatId === ca.id && e.action === 'typing') {
          off();
          resolve();
        }
      });
    });
    await h.relay.clientTyping(clientId, chatId);
    await typing;

    // client → CA text
    await h.relay.sendClientMessage(clientId, {
      chatId,
      text: 'Is advance tax due this quarter?',
      clientMsgId: 'c1',
    });
    await h.waitBot(ca, (m) => m.text === 'Is advance tax due this quarter?');

    // CA → client text
    await h.emu.sendText(h.bot.token, ca.id, 'Yes, by 15 June.');
    const reply = await h.transport.waitFor(
      clientId,
      'message',
      (e) => e.from === 'ca' && e.text === 'Yes, by 15 June.',
      { includePast: true },
    );
    expect(reply.chatId).toBe(chatId);

    // CA → client photo
    await h.emu.sendPhoto(h.bot.token, ca.id, { data: PNG }, { caption: 'the notice' });
    const photo = await h.transport.waitFor(
      clientId,
      'message',
      (e) => e.from === 'ca' && e.file !== undefined,
      { includePast: true },
    );
    expect(photo.file).toMatchObject({ mime: 'image/jpeg', size: PNG.length, sha256: sha256(PNG) });
    expect(photo.text).toBe('the notice');
    expect(await streamSha256((await h.relay.openFile(photo.file!.id)).stream)).toBe(sha256(PNG));

    // CA → client 19 MB document
    const doc19 = big.subarray(0, 19 * MB);
    await h.emu.sendDocument(h.bot.token, ca.id, {
      data: doc19,
      fileName: 'balance-sheet.pdf',
      mimeType: 'application/pdf',
    });
    const doc = await h.transport.waitFor(
      clientId,
      'message',
      (e) => e.file?.name === 'balance-sheet.pdf',
      { includePast: true, timeoutMs: 20_000 },
    );
    expect(doc.file).toMatchObject({
      size: 19 * MB,
      mime: 'application/pdf',
      sha256: sha256(doc19),
    });
    expect(await streamSha256((await h.relay.openFile(doc.file!.id)).stream)).toBe(sha256(doc19));

    // client → CA 45 MB document
    const doc45 = big.subarray(0, 45 * MB);
    const before = h.lastId(ca);
    await h.relay.sendClientFile(clientId, {
      chatId,
      name: 'ledger 2024.xlsx',
      mime: 'application/octet-stream',
      source: Readable.from([doc45]),
      text: 'my ledger',
    });
    const received = await h.waitBot(ca, (m) => m.document !== undefined, before, 30_000);
    expect(received.document).toMatchObject({ file_name: 'ledger 2024.xlsx', file_size: 45 * MB });
    expect(received.caption).toBe('my ledger');
    expect(sha256(await h.emu.fileBytes(received.document!.file_id))).toBe(sha256(doc45));
    await h.transport.waitFor(
      clientId,
      'message.status',
      (e) => e.state === 'delivered' && e.chatId === chatId,
      { includePast: true },
    );
  });

  it('a 21 MB document from a CA and a 51 MB one to a CA fail with clear messages and leave nothing half-stored', async () => {
    const h = await harness({ mode: 'open', relay: { maxFileBytes: 60 * MB } });
    const { ca, clientId, chatId } = await matched(h);
    const blobsBefore = await h.blobFiles();
    const seqBefore = (await h.relay.getTranscript(chatId)).messages.length;

    // CA → client: over Telegram's 20 MB download limit.
    const sent = await h.emu.sendDocument(h.bot.token, ca.id, {
      data: big.subarray(0, 21 * MB),
      fileName: 'scan.zip',
    });
    const told = await h.waitBot(ca, matches(/up to 20 MB/), sent.message_id);
    expect(textOf(told)).toMatch(/This file is 21 MB/);
    expect(await h.blobFiles()).toEqual(blobsBefore);
    expect((await h.relay.getTranscript(chatId)).messages).toHaveLength(seqBefore);

    // client → CA: over Telegram's 50 MB upload limit.
    const { message } = await h.relay.sendClientFile(clientId, {
      chatId,
      name: 'huge.bin',
      mime: 'application/octet-stream',
      source: Readable.from([big.subarray(0, 51 * MB)]),
    });
    const failed = await h.transport.waitFor(
      clientId,
      'message.status',
      (e) => e.seq === message.seq && e.state === 'failed',
      { includePast: true, timeoutMs: 20_000 },
    );
    expect(failed.reason).toMatch(/at most 50 MB/);
    expect(h.emu.botMessages(h.bot.token, ca.id).some((m) => m.document !== undefined)).toBe(false);
    const stored = await h.relay.getTranscript(chatId);
    expect(stored.messages.find((m) => m.seq === message.seq)?.delivery.state).toBe('failed');
  });

  it('when getFile itself answers "file is too big" the CA is told and nothing is stored', async () => {
    // The channel's own pre-check is loosened so the Bot API's answer is what stops it.
    const h = await harness({ mode: 'open', channel: { maxDownloadBytes: 25 * MB } });
    const { ca, chatId } = await matched(h);
    const sent = await h.emu.sendDocument(h.bot.token, ca.id, {
      data: big.subarray(0, 21 * MB),
      fileName: 'scan.zip',
    });
    await h.waitBot(ca, matches(/not sent to the client/), sent.message_id);
    expect(await h.blobFiles()).toEqual([]);
    expect((await h.relay.getTranscript(chatId)).messages.every((m) => m.from !== 'ca')).toBe(true);
    expect(h.emu.calls(h.bot.token).some((c) => c.method === 'getFile' && c.status === 400)).toBe(
      true,
    );
  });

  it('a client text over 4096 characters is split at line boundaries, never truncated', async () => {
    const h = await harness({ mode: 'open' });
    const { ca, clientId, chatId } = await matched(h);
    const lines = Array.from({ length: 120 }, (_, i) => `Line ${i}: ${'x'.repeat(50)}`);
    const text = lines.join('\n');
    expect(text.length).toBeGreaterThan(4096);
    await h.relay.sendClientMessage(clientId, { chatId, text, clientMsgId: 'long' });
    const first = await h.waitBot(ca, (m) => (m.text ?? '').startsWith('Line 0:'));
    const second = await h.waitBot(
      ca,
      (m) => (m.text ?? '').includes('Line 119:'),
      first.message_id,
    );
    const received: TgMessage[] = h.emu
      .botMessages(h.bot.token, ca.id)
      .filter((m) => m.message_id >= first.message_id && m.message_id <= second.message_id);
    expect(received.every((m) => (m.text ?? '').length <= 4096)).toBe(true);
    expect(received.map((m) => m.text!.trim()).join('\n')).toBe(text);
  });
});
