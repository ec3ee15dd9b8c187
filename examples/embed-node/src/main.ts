/**
 * Runs the example host app. With TELEGRAM_BOT_TOKEN set it talks to the real Telegram;
 * otherwise it starts the local Telegram emulator and prints where CAs can act.
 *
 *   npm run build && npm run build -w @ca-chat/example-embed-node
 *   node examples/embed-node/dist/main.js
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTelegramEmulator } from '@ca-chat/adapter-telegram/emulator';
import { createApp } from './app.js';

const here = dirname(fileURLToPath(import.meta.url));
const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '127.0.0.1';
const dataDir = process.env.DATA_DIR ?? (await mkdtemp(join(tmpdir(), 'ca-chat-embed-')));

const realToken = process.env.TELEGRAM_BOT_TOKEN;
const emulator = realToken ? null : await createTelegramEmulator({ host });
const token =
  realToken ??
  emulator!.createBot({ username: 'acme_books_ca_bot', firstName: 'Acme Books CA desk' }).token;
const apiRoot = emulator?.url;

const app = createApp({
  sessionSecret: process.env.SESSION_SECRET ?? randomBytes(32).toString('hex'),
  dataDir,
  telegram: { token, ...(apiRoot ? { apiRoot } : {}) },
  webClientDir: resolve(here, '..', '..', 'web-client', 'dist'),
  // The emulator is a demo on your machine: let CAs in without an admin's approval.
  relay: {
    registrationMode: emulator ? 'open' : 'approval',
    languages: ['en', 'hi'],
    topics: ['gst', 'income-tax'],
  },
});
app.relay.on('error', (error) => console.error(`relay error ${error.code}: ${error.message}`));

const url = await app.listen({ port, host });
console.log(`Acme Books (the host app): ${url}/`);
if (emulator)
  console.log(`Telegram emulator (CAs): ${emulator.url}/  — message the bot /start to register`);

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await app.close();
  await emulator?.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
