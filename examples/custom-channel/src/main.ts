/**
 * A runnable demo: you are the CA, in this terminal. Clients use the web client page (when
 * `examples/web-client` is built) or any ca-chat client SDK against the printed URL.
 *
 *   npm run build -w @ca-chat/example-custom-channel && node examples/custom-channel/dist/main.js
 */
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFsBlobStore, createMemoryStorage, createRelay } from '@ca-chat/core';
import { createWsTransport } from '@ca-chat/transport-ws';
import { createConsoleChannel } from './console-channel.js';

const here = dirname(fileURLToPath(import.meta.url));
const webClient = resolve(here, '..', '..', 'web-client', 'dist');
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';

const dataDir = await mkdtemp(join(tmpdir(), 'ca-chat-console-'));
const transport = createWsTransport({
  host,
  port,
  staticDir: existsSync(join(webClient, 'index.html')) ? webClient : undefined,
});
const relay = createRelay({
  storage: createMemoryStorage(),
  blobs: createFsBlobStore({ dir: join(dataDir, 'files') }),
  transports: [transport],
  channels: [createConsoleChannel({ input: process.stdin, output: process.stdout })],
  // `open` registration: a demo on your own machine; real deployments approve CAs.
  options: { registrationMode: 'open', languages: ['en', 'hi', 'ta'] },
});
relay.on('error', (error) => console.error(`relay error ${error.code}: ${error.message}`));

await relay.start();
console.log(
  `clients: ${transport.url}/  (web page ${existsSync(join(webClient, 'index.html')) ? 'served' : 'not built: npm run build -w @ca-chat/example-web-client'})`,
);
console.log('try: register asha 123456 en,hi Asha Rao');

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await relay.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
