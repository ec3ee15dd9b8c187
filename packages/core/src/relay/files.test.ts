import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { CaChatError } from '../errors.js';
import { createHarness, type Harness } from './test-harness.js';

let h: Harness;
afterEach(async () => {
  await h?.close();
  expect(h.errors()).toEqual([]);
});

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}
/** A source that yields `bytes` in small chunks, like a network upload. */
function chunked(bytes: Buffer, size = 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
    })(),
  );
}

async function activeChat(options: Parameters<typeof createHarness>[0] = {}) {
  h = await createHarness(options);
  return h.activeChat();
}

describe('files', () => {
  it('files travel both ways through the blob store with their sha256', async () => {
    const { ca, client, chat } = await activeChat();
    const invoice = randomBytes(100_000);
    const reply = randomBytes(5_000);

    const up = await h.relay.sendClientFile(client.id, {
      chatId: chat.id,
      name: '../invoice.pdf',
      mime: 'application/pdf',
      source: chunked(invoice),
      idempotencyKey: 'f1',
    });
    const down = await h.relay.sendCAFile(ca.id, {
      chatId: chat.id,
      name: 'reply.xlsx',
      mime: '',
      source: chunked(reply),
      text: 'see attached',
    });
    await h.relay.flushOutbox();

    expect(up.message.file).toMatchObject({
      name: 'invoice.pdf',
      mime: 'application/pdf',
      size: invoice.length,
      sha256: sha256(invoice),
    });
    expect(down.message).toMatchObject({
      text: 'see attached',
      file: { mime: 'application/octet-stream', size: reply.length, sha256: sha256(reply) },
    });
    const toCA = h.channel.deliveredMessages()[0]!;
    expect(toCA.file).toEqual(up.message.file);
    const opened = await h.relay.openFile(toCA.file!.id);
    expect(sha256(await readAll(opened.stream))).toBe(sha256(invoice));
    expect(opened.file).toMatchObject({ chatId: chat.id, from: 'client' });

    const toClient = h.transport.eventsFor(client.id, 'message').find((e) => e.file)!;
    expect(toClient.file).toEqual(down.message.file);
    const record = await h.relay.getClientFile(client.id, toClient.file!.id);
    const bytes = await readAll((await h.relay.openFile(record.id)).stream);
    expect(sha256(bytes)).toBe(toClient.file!.sha256);
    expect(await h.blobFiles()).toHaveLength(2);
  });

  it('a file over maxFileBytes fails with file_too_large and leaves nothing in storage or the blob folder', async () => {
    const { client, chat } = await activeChat({ maxFileBytes: 10_000 });
    const before = await h.storage.listMessages(chat.id);
    const error = await h.relay
      .sendClientFile(client.id, {
        chatId: chat.id,
        name: 'big.bin',
        mime: 'application/octet-stream',
        source: chunked(randomBytes(50_000)),
      })
      .catch((e: unknown) => e);
    expect(CaChatError.is(error, 'file_too_large')).toBe(true);
    expect(await h.storage.listMessages(chat.id)).toEqual(before);
    expect(await h.blobFiles()).toEqual([]);
  });

  it('a retried upload with the same clientMsgId is stored once and keeps one blob', async () => {
    const { client, chat } = await activeChat();
    const bytes = randomBytes(5_000);
    const upload = () =>
      h.relay.sendClientFile(client.id, {
        chatId: chat.id,
        name: 'form16.pdf',
        mime: 'application/pdf',
        source: chunked(bytes),
        idempotencyKey: 'upload-1',
      });
    const first = await upload();
    const again = await upload();
    expect(again.duplicate).toBe(true);
    expect(again.message.seq).toBe(first.message.seq);
    expect((await h.storage.listMessages(chat.id)).filter((m) => m.file)).toHaveLength(1);
    expect(await h.blobFiles()).toEqual([first.message.file!.id]);
  });

  it('a client can only fetch files of its own chats (not_found for anyone else’s)', async () => {
    const { client, chat } = await activeChat();
    const { message } = await h.relay.sendClientFile(client.id, {
      chatId: chat.id,
      name: 'a.txt',
      mime: 'text/plain',
      source: chunked(Buffer.from('secret')),
    });
    const stranger = await h.addClient();
    await expect(h.relay.getClientFile(stranger.id, message.file!.id)).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(h.relay.getClientFile(client.id, 'nope')).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(h.relay.getClientFile(client.id, message.file!.id)).resolves.toMatchObject({
      name: 'a.txt',
    });
  });

  it('the retention sweep deletes old ended chats with their blobs, but not other chats or their files', async () => {
    const { client, chat: old } = await activeChat({
      retentionDays: 30,
      retentionSweepIntervalMs: 365 * 86_400_000,
    });
    const same = Buffer.from('identical bytes in both chats');
    await h.relay.sendClientFile(client.id, {
      chatId: old.id,
      name: 'a.txt',
      mime: 'text/plain',
      source: chunked(same),
    });
    await h.relay.endChatByClient(client.id, old.id);
    await h.clock.advance(20 * 86_400_000);

    const ca2 = await h.addCA();
    const { chat: recent } = await h.relay.requestChat(client.id, { language: 'en' });
    await h.relay.acceptOffer(ca2.id, recent.id);
    const kept = await h.relay.sendClientFile(client.id, {
      chatId: recent.id,
      name: 'a.txt',
      mime: 'text/plain',
      source: chunked(same),
    });
    await h.relay.endChatByClient(client.id, recent.id);
    expect(await h.blobFiles()).toHaveLength(2);

    await h.clock.advance(11 * 86_400_000);
    expect(await h.relay.sweepRetention()).toBe(1);

    expect(await h.storage.getChat(old.id)).toBeNull();
    expect(await h.storage.listMessages(old.id)).toEqual([]);
    expect(await h.storage.getChat(recent.id)).not.toBeNull();
    expect(await h.blobFiles()).toEqual([kept.message.file!.id]);
    const bytes = await readAll((await h.relay.openFile(kept.message.file!.id)).stream);
    expect(bytes.equals(same)).toBe(true);
  });

  it('the retention sweep also runs periodically on the clock', async () => {
    const { client, chat } = await activeChat({
      retentionDays: 1,
      retentionSweepIntervalMs: 3_600_000,
    });
    await h.relay.endChatByClient(client.id, chat.id);
    await h.clock.advance(86_400_000 + 2 * 3_600_000);
    expect(await h.storage.getChat(chat.id)).toBeNull();
  });

  it('with retentionDays 0 nothing is ever deleted', async () => {
    const { client, chat } = await activeChat({ retentionDays: 0 });
    await h.relay.endChatByClient(client.id, chat.id);
    await h.clock.advance(10_000 * 86_400_000);
    expect(await h.relay.sweepRetention()).toBe(0);
    expect(await h.storage.getChat(chat.id)).not.toBeNull();
  });
});
