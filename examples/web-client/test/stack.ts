/**
 * The real stack for the browser test, in this process: the relay on memory storage, a
 * file blob store, the WebSocket transport serving the built page, and the Telegram channel
 * against the local emulator (the test plays the CA through the emulator's driver).
 */
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createFsBlobStore,
  createMemoryStorage,
  createRelay,
  type CA,
  type Relay,
} from '@ca-chat/core';
import { createTelegramChannel } from '@ca-chat/adapter-telegram';
import {
  createTelegramEmulator,
  type EmulatedBot,
  type EmulatedUser,
  type TelegramEmulator,
} from '@ca-chat/adapter-telegram/emulator';
import { createWsTransport, type WsTransport } from '@ca-chat/transport-ws';

export const WEB_CLIENT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface Stack {
  url: string;
  relay: Relay;
  transport: WsTransport;
  emulator: TelegramEmulator;
  bot: EmulatedBot;
  caUser: EmulatedUser;
  ca: CA;
  close(): Promise<void>;
}

/** Builds the page when `dist` is missing (CI builds it before testing). */
export function ensureBuilt(): void {
  if (existsSync(join(WEB_CLIENT_DIR, 'dist', 'index.html'))) return;
  const result = spawnSync('npx', ['tsup'], {
    cwd: WEB_CLIENT_DIR,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.status !== 0)
    throw new Error(`building the web client failed:\n${result.stdout}\n${result.stderr}`);
}

/**
 * Serves a copy of the built page with the operator's data attributes set, the way a
 * deployment would tune it (`data-languages`, `data-max-file-bytes`).
 */
async function configuredPage(attributes: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ca-chat-page-'));
  await cp(join(WEB_CLIENT_DIR, 'dist'), dir, { recursive: true });
  const file = join(dir, 'index.html');
  const attrs = Object.entries(attributes)
    .map(([k, v]) => ` data-${k}="${v}"`)
    .join('');
  await writeFile(
    file,
    (await readFile(file, 'utf8')).replace(
      '<div id="app" class="app"',
      `<div id="app" class="app"${attrs}`,
    ),
  );
  return dir;
}

export async function startStack(options: {
  maxFileBytes: number;
  languages: string[];
}): Promise<Stack> {
  ensureBuilt();
  const dataDir = await mkdtemp(join(tmpdir(), 'ca-chat-browser-'));
  const pageDir = await configuredPage({
    languages: options.languages.join(','),
    'max-file-bytes': String(options.maxFileBytes),
  });
  const emulator = await createTelegramEmulator({ rateLimits: false });
  const bot = emulator.createBot({ username: 'ca_chat_browser_bot' });
  const transport = createWsTransport({ host: '127.0.0.1', port: 0, staticDir: pageDir });
  const relay = createRelay({
    storage: createMemoryStorage(),
    blobs: createFsBlobStore({ dir: join(dataDir, 'files') }),
    transports: [transport],
    channels: [
      createTelegramChannel({
        token: bot.token,
        apiRoot: emulator.url,
        pollingTimeoutSec: 1,
        rateLimits: { perChatPerSecond: 50, globalPerSecond: 600 },
      }),
    ],
    options: {
      registrationMode: 'open',
      languages: options.languages,
      maxFileBytes: options.maxFileBytes,
    },
  });
  await relay.start();
  const caUser = emulator.createUser({ firstName: 'Asha' });
  const ca = await relay.registerCA({
    channel: 'telegram',
    externalId: String(caUser.id),
    address: String(caUser.chatId),
    name: 'Asha Rao',
    membershipNo: '123456',
    languages: ['en', 'hi'],
  });
  return {
    url: transport.url!,
    relay,
    transport,
    emulator,
    bot,
    caUser,
    ca,
    async close() {
      await relay.stop();
      await emulator.close();
      await rm(dataDir, { recursive: true, force: true });
      await rm(pageDir, { recursive: true, force: true });
    },
  };
}
