import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../test-support/harness.js';
import { CaChatClientError } from './client-error.js';
import { memoryTokenStore } from './token-store.js';
import type { ConnectionState } from './ca-chat-client.js';
import { httpUrlOf } from './ca-chat-client.js';

describe('client SDK', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('keeps its identity in the token store across clients', async () => {
    h = await startHarness();
    const store = memoryTokenStore();
    const first = h.client({ tokenStore: store });
    const { clientId, token } = await first.connect();
    expect(store.load()).toBe(token);
    first.close();
    const second = h.client({ tokenStore: store });
    expect((await second.connect()).clientId).toBe(clientId);
  });

  it('starts a new identity when the stored token is unknown to the server', async () => {
    h = await startHarness();
    const store = memoryTokenStore('stale.token');
    const client = h.client({ tokenStore: store });
    const welcome = await client.connect();
    expect(welcome.token).not.toBe('stale.token');
    expect(store.load()).toBe(welcome.token);
  });

  it('rejects send with the server’s error code and does not retry it', async () => {
    h = await startHarness({ relay: { maxTextLength: 10 } });
    const client = h.client();
    await client.connect();
    const chatId = await client.requestChat({ language: 'en' });
    const error = await client.send(chatId, 'far too long for the limit').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaChatClientError);
    expect((error as CaChatClientError).code).toBe('text_too_long');
    expect(await h.storage.listMessages(chatId)).toEqual([]);
  });

  it('rejects requestChat for a language the deployment does not offer', async () => {
    h = await startHarness();
    const client = h.client();
    await client.connect();
    await expect(client.requestChat({ language: 'fr' })).rejects.toMatchObject({
      code: 'unsupported_language',
    });
  });

  it('reports its state through a drop and a reconnect', async () => {
    h = await startHarness();
    const client = h.client();
    const states: ConnectionState[] = [];
    client.on('state', (s) => states.push(s));
    await client.connect();
    const back = new Promise((resolve) => client.once('welcome', resolve));
    h.transport.disconnectClient(client.clientId!, { terminate: true });
    await back;
    expect(states).toEqual(['connecting', 'open', 'closed', 'connecting', 'open']);
  });

  it('reports upload progress and resolves sendFile with the stored file', async () => {
    h = await startHarness();
    const client = h.client({ fetch });
    await client.connect();
    const chatId = await client.requestChat({ language: 'en' });
    const progress: number[] = [];
    const stored = await client.sendFile(
      chatId,
      new File([new Uint8Array(1234)], 'blob.bin', { type: 'application/octet-stream' }),
      {
        onProgress: (p) => progress.push(p.loadedBytes),
      },
    );
    expect(progress).toEqual([0, 1234]);
    expect(stored.file).toMatchObject({ name: 'blob.bin', size: 1234 });
    expect(stored.file!.url.startsWith(`${h.httpUrl}/files/`)).toBe(true);
  });

  it('rejects sendFile over the limit with file_too_large and status 413', async () => {
    h = await startHarness({ relay: { maxFileBytes: 100 } });
    const client = h.client();
    await client.connect();
    const chatId = await client.requestChat({ language: 'en' });
    await expect(
      client.sendFile(chatId, { data: new Uint8Array(101), name: 'x.bin' }),
    ).rejects.toMatchObject({ code: 'file_too_large', status: 413 });
  });

  it('resolves end when the chat has ended, and again for an already ended chat', async () => {
    h = await startHarness();
    const client = h.client();
    await client.connect();
    const chatId = await client.requestChat({ language: 'en' });
    await client.end(chatId);
    expect(client.chats.get(chatId)?.state).toBe('ended');
    await client.end(chatId);
    expect((await h.storage.getChat(chatId))?.endReason).toBe('client_ended');
  });

  it('learns on reconnect that a chat ended while it was away', async () => {
    h = await startHarness();
    // Slow enough to come back that the chat surely ends while it is away.
    const client = h.client({ reconnect: { initialDelayMs: 400, maxDelayMs: 400 } });
    await client.connect();
    const chatId = await client.requestChat({ language: 'en' });
    await h.accept(chatId);
    const ended = new Promise((resolve) => client.once('chat.ended', resolve));
    const gone = new Promise((resolve) => client.once('state', resolve));
    h.transport.disconnectClient(client.clientId!, { terminate: true });
    await gone;
    expect(h.transport.stats().connections).toBe(0);
    await h.relay.endChatByCA(h.ca.id, chatId);
    expect(await ended).toEqual({ chatId, reason: 'ca_ended' });
    expect(client.chats.get(chatId)?.state).toBe('ended');
  });

  it('rejects pending calls when closed', async () => {
    h = await startHarness();
    const client = h.client();
    const pending = client.send('some-chat', 'hello');
    client.close();
    await expect(pending).rejects.toMatchObject({ code: 'transport_error' });
  });
});

describe('client SDK (no server)', () => {
  it('derives the HTTP base from the WebSocket URL', () => {
    expect(httpUrlOf('ws://127.0.0.1:8080/ws')).toBe('http://127.0.0.1:8080');
    expect(httpUrlOf('wss://chat.example.com/support/ws')).toBe('https://chat.example.com/support');
  });

  it('imports no node builtins (it is bundled for browsers)', async () => {
    const dir = new URL('.', import.meta.url).pathname;
    const files = [
      ...(await readdir(dir))
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
        .map((f) => join(dir, f)),
      join(dir, '..', 'protocol.ts'),
    ];
    for (const file of files) {
      const source = await readFile(file, 'utf8');
      const imports = [...source.matchAll(/^import\s(?!type\b)[^;]*?from\s+'([^']+)'/gm)].map(
        (m) => m[1],
      );
      for (const spec of imports) expect(spec, `${file} imports ${spec}`).toMatch(/^\.\.?\//);
    }
  });
});
