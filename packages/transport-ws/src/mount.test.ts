import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createFsBlobStore, createMemoryStorage, createRelay } from '@ca-chat/core';
import type { Relay } from '@ca-chat/core';
import { createRecordingChannel } from '@ca-chat/core/testing';
import { createWsTransport, type WsTransport } from './ws-transport.js';
import type { WsTransportOptions } from './options.js';
import { openRaw } from './test-support/harness.js';

/** An embedder's own server with its own route, the transport mounted on it. */
async function embedded(
  options: Partial<WsTransportOptions> = {},
): Promise<{ server: Server; base: string; transport: WsTransport; relay: Relay; dir: string }> {
  const server = createServer((req, res) => {
    if (req.url === '/app/hello') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('hello from the app');
      return;
    }
    res.writeHead(404);
    res.end('app 404');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dir = await mkdtemp(join(tmpdir(), 'ca-chat-mount-'));
  const transport = createWsTransport({ server, ...options });
  const relay = createRelay({
    storage: createMemoryStorage(),
    blobs: createFsBlobStore({ dir }),
    transports: [transport],
    channels: [createRecordingChannel()],
  });
  await relay.start();
  return {
    server,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    transport,
    relay,
    dir,
  };
}

describe('mounting on an existing http.Server', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it('serves its routes and /ws while the server keeps serving its own routes, and leaves the server running on stop', async () => {
    const { server, base, relay, dir, transport } = await embedded();
    cleanups.push(async () => {
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    });
    expect(transport.url).toBeNull();
    expect(await (await fetch(`${base}/app/hello`)).text()).toBe('hello from the app');
    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ ok: true });
    expect(await (await fetch(`${base}/app/other`)).text()).toBe('app 404');
    const raw = await openRaw(`${base.replace('http', 'ws')}/ws`);
    expect((await raw.hello()).type).toBe('welcome');

    await relay.stop();
    expect((await raw.closed).code).toBe(1001);
    expect(await (await fetch(`${base}/app/hello`)).text()).toBe('hello from the app');
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('app 404');
  });

  it('identifies callers with the embedder’s authenticate hook (no token handed out)', async () => {
    const { server, base, relay, dir } = await embedded({
      authenticate: async (req) =>
        req.headers.cookie === 'session=alice' ? { clientId: 'user-alice', name: 'Alice' } : null,
    });
    cleanups.push(async () => {
      await relay.stop();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    });
    const raw = await openRaw(`${base.replace('http', 'ws')}/ws`, {
      headers: { Cookie: 'session=alice' },
    });
    expect(await raw.hello()).toMatchObject({ clientId: 'user-alice', token: null });
    raw.send({ type: 'chat.request', language: 'en', text: 'hi', ref: 'r' });
    const { chatId } = await raw.next('chat.queued', (f) => f.ref === 'r');
    const res = await fetch(`${base}/chat`, {
      method: 'POST',
      headers: { Cookie: 'session=alice', 'Content-Type': 'application/json' },
      body: JSON.stringify({ chatId, text: 'again' }),
    });
    expect(res.status).toBe(201);
    expect((await relay.getChat(chatId))?.clientId).toBe('user-alice');
    raw.socket.close();
  });

  it('serves a static folder at / when given staticDir, falling through for missing files', async () => {
    const staticDir = await mkdtemp(join(tmpdir(), 'ca-chat-static-'));
    await writeFile(join(staticDir, 'index.html'), '<h1>chat</h1>');
    const { server, base, relay, dir } = await embedded({ staticDir });
    cleanups.push(async () => {
      await relay.stop();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
      await rm(staticDir, { recursive: true, force: true });
    });
    const page = await fetch(`${base}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toBe('<h1>chat</h1>');
    expect(await (await fetch(`${base}/app/hello`)).text()).toBe('hello from the app');
    expect(await (await fetch(`${base}/..%2f..%2fetc%2fpasswd`)).text()).toBe('app 404');
  });

  it('refuses upgrades on other paths only when nobody else handles upgrades', async () => {
    const { server, base, relay, dir } = await embedded();
    cleanups.push(async () => {
      await relay.stop();
      await new Promise((resolve) => server.close(resolve));
      await rm(dir, { recursive: true, force: true });
    });
    const other = new WebSocket(`${base.replace('http', 'ws')}/elsewhere`);
    const status = await new Promise<number>((resolve) =>
      other.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(404);
  });
});
