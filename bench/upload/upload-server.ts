/**
 * The server side of the upload bench, run in a child process so its RSS is its own.
 * `ca`: the ws transport + relay (memory storage, fs blob store). `plain`: a bare
 * `req.pipe(fs.createWriteStream())` handler, the baseline.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createFsBlobStore, createMemoryStorage, createRelay } from '@ca-chat/core';
import { createWsTransport } from '@ca-chat/transport-ws';

const [mode, dir] = process.argv.slice(2) as ['ca' | 'plain', string];
const send = (message: object): void => void process.send!(message);

let baselineRss = process.memoryUsage().rss;
let maxRss = baselineRss;
const sampler = setInterval(() => {
  maxRss = Math.max(maxRss, process.memoryUsage().rss);
}, 20);
sampler.unref();

async function startCa(): Promise<{
  port: number;
  token: string;
  chatId: string;
  stop(): Promise<void>;
}> {
  const transport = createWsTransport({ host: '127.0.0.1', port: 0 });
  const relay = createRelay({
    storage: createMemoryStorage(),
    blobs: createFsBlobStore({ dir }),
    transports: [transport],
    options: { maxFileBytes: 2 * 1024 ** 3, languages: ['en'] },
  });
  await relay.start();
  const { client, token } = await relay.createClient();
  const { chat } = await relay.requestChat(client.id, { language: 'en' });
  return { port: transport.address()!.port, token, chatId: chat.id, stop: () => relay.stop() };
}

async function startPlain(): Promise<{
  port: number;
  token: string;
  chatId: string;
  stop(): Promise<void>;
}> {
  let n = 0;
  const server = createServer((req, res) => {
    const out = createWriteStream(join(dir, `plain-${++n}`));
    req.pipe(out);
    out.on('finish', () => {
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    token: '',
    chatId: '',
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

await mkdir(dir, { recursive: true });
const server = mode === 'ca' ? await startCa() : await startPlain();
process.on('message', async (message: { type: string }) => {
  if (message.type === 'reset') {
    globalThis.gc?.();
    baselineRss = process.memoryUsage().rss;
    maxRss = baselineRss;
    send({ type: 'reset' });
  } else if (message.type === 'stats') {
    send({ type: 'stats', baselineRss, maxRss });
  } else if (message.type === 'stop') {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
    send({ type: 'stopped' });
    process.exit(0);
  }
});
send({ type: 'ready', port: server.port, token: server.token, chatId: server.chatId });
