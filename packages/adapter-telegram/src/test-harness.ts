/**
 * Shared set-up for this package's tests (not exported): the Bot API emulator over HTTP on
 * 127.0.0.1, the real relay on the in-memory store, a file-system blob store in a temp
 * folder, the recording client transport, and the Telegram channel under test. Rate limits
 * are scaled up (20 messages/s per chat) so the suite stays fast.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { afterEach } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createFsBlobStore,
  createMemoryStorage,
  createRelay,
  type CA,
  type Logger,
  type RegistrationMode,
  type Relay,
  type RelayOptions,
  type Storage,
} from '@ca-chat/core';
import { createRecordingTransport, type RecordingTransport } from '@ca-chat/core/testing';
import {
  createTelegramEmulator,
  type EmulatedBot,
  type EmulatedUser,
  type TelegramEmulator,
  type TelegramEmulatorOptions,
  type TgMessage,
} from './emulator/index.js';
import type { TelegramChannelOptions } from './options.js';
import { createTelegramChannel, type TelegramChannel } from './telegram-channel.js';

export const FAST_RATES = { perChatPerSecond: 20, globalPerSecond: 600 };
export const LANGUAGES = ['en', 'hi', 'ta'];
export const TOPICS = ['gst', 'income-tax', 'audit'];

export interface LogEntry {
  level: string;
  obj: object;
  msg?: string;
}

export function createRecordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: string) => (obj: object, msg?: string) =>
    void entries.push({ level, obj, ...(msg ? { msg } : {}) });
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface HarnessOptions {
  mode?: RegistrationMode;
  relay?: Partial<RelayOptions>;
  channel?: Partial<TelegramChannelOptions>;
  emulator?: TelegramEmulatorOptions;
  /** Reuse (restart tests). */
  storage?: Storage;
  blobDir?: string;
  emu?: TelegramEmulator;
  bot?: EmulatedBot;
}

export interface Harness {
  emu: TelegramEmulator;
  bot: EmulatedBot;
  relay: Relay;
  channel: TelegramChannel;
  transport: RecordingTransport;
  storage: Storage;
  blobDir: string;
  logger: ReturnType<typeof createRecordingLogger>;
  /** A Telegram user (a CA, an admin…). */
  user(firstName?: string): EmulatedUser;
  /** The next bot message in the user's chat after `after` matching `match`. */
  waitBot(
    user: EmulatedUser,
    match: (m: TgMessage) => boolean,
    after?: number,
    timeoutMs?: number,
  ): Promise<TgMessage>;
  /** Sends a text and waits for the bot's answer matching `match`. */
  say(
    user: EmulatedUser,
    text: string,
    match: (m: TgMessage) => boolean,
    replyTo?: number,
  ): Promise<TgMessage>;
  /** Presses a button and waits until the bot answered the callback query. */
  press(
    user: EmulatedUser,
    message: TgMessage,
    data: string,
  ): Promise<{ text?: string; show_alert?: boolean }>;
  /** Registers through the bot conversation (/start → … → Confirm); resolves with the final answer. */
  registerViaBot(
    user: EmulatedUser,
    profile?: { name?: string; membershipNo?: string; languages?: string[]; invite?: string },
  ): Promise<TgMessage>;
  /** An approved, available CA on this channel, registered directly with the relay. */
  addCA(
    user: EmulatedUser,
    profile?: { languages?: string[]; maxChats?: number; topics?: string[] },
  ): Promise<CA>;
  /** A client asking for a chat; resolves with its ids. */
  clientChat(language?: string, text?: string): Promise<{ clientId: string; chatId: string }>;
  lastId(user: EmulatedUser): number;
  blobFiles(): Promise<string[]>;
  /** A new relay + channel on the same storage, blobs and emulator bot. */
  restart(options?: Omit<HarnessOptions, 'storage' | 'blobDir' | 'emu' | 'bot'>): Promise<Harness>;
  /** Stops relay and channel (keeps the emulator). */
  stop(): Promise<void>;
  close(): Promise<void>;
}

export const hasButton = (m: TgMessage, data: string): boolean =>
  (m.reply_markup?.inline_keyboard.flat() ?? []).some((b) => b.callback_data === data);
export const buttonTexts = (m: TgMessage): string[] =>
  (m.reply_markup?.inline_keyboard.flat() ?? []).map((b) => b.text);
export const textOf = (m: TgMessage): string => m.text ?? m.caption ?? '';
export const matches = (re: RegExp) => (m: TgMessage) => re.test(textOf(m));

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const emu =
    options.emu ??
    (await createTelegramEmulator({
      rateLimits: { perChatPerSecond: 20, perChatBurst: 3, globalPerSecond: 600 },
      ...options.emulator,
    }));
  const bot = options.bot ?? emu.createBot({ username: 'ca_chat_test_bot' });
  const storage = options.storage ?? createMemoryStorage();
  const blobDir = options.blobDir ?? (await mkdtemp(join(tmpdir(), 'ca-chat-tg-blobs-')));
  const logger = createRecordingLogger();
  const channel = createTelegramChannel({
    token: bot.token,
    apiRoot: emu.url,
    logger,
    rateLimits: FAST_RATES,
    pollingTimeoutSec: 5,
    drainTimeoutMs: 2_000,
    ...options.channel,
  });
  const transport = createRecordingTransport();
  const relay = createRelay({
    storage,
    blobs: createFsBlobStore({ dir: blobDir }),
    transports: [transport],
    channels: [channel],
    options: {
      registrationMode: options.mode ?? 'open',
      languages: LANGUAGES,
      topics: TOPICS,
      logger,
      ...options.relay,
    },
  });
  await relay.start();
  const seen = new Map<number, number>();
  let stopped = false;

  const harness: Harness = {
    emu,
    bot,
    relay,
    channel,
    transport,
    storage,
    blobDir,
    logger,
    user: (firstName) => emu.createUser(firstName ? { firstName } : {}),
    async waitBot(user, match, after, timeoutMs = 8_000) {
      const m = await emu.waitForBotMessage(bot.token, user.id, {
        match,
        afterMessageId: after ?? 0,
        timeoutMs,
      });
      seen.set(user.id, Math.max(seen.get(user.id) ?? 0, m.message_id));
      return m;
    },
    async say(user, text, match, replyTo) {
      const sent = await emu.sendText(
        bot.token,
        user.id,
        text,
        replyTo ? { replyToMessageId: replyTo } : {},
      );
      return harness.waitBot(user, match, sent.message_id);
    },
    async press(user, message, data) {
      const answered = new Promise<{ text?: string; show_alert?: boolean }>((resolve) => {
        let id: string | null = null;
        const pending: Array<{ callbackQueryId: string; answer: object }> = [];
        const unsubscribe = emu.subscribe((event) => {
          if (event.type !== 'callback.answered') return;
          if (id === null)
            pending.push({ callbackQueryId: event.callbackQueryId, answer: event.answer });
          else if (event.callbackQueryId === id) {
            unsubscribe();
            resolve(event.answer);
          }
        });
        void emu
          .pressButton(bot.token, user.id, message.message_id, data)
          .then(({ callbackQueryId }) => {
            id = callbackQueryId;
            const early = pending.find((p) => p.callbackQueryId === id);
            if (early) {
              unsubscribe();
              resolve(early.answer);
            }
          });
      });
      return answered;
    },
    async registerViaBot(user, profile = {}) {
      const start = profile.invite ? `/start ${profile.invite}` : '/start';
      await harness.say(user, start, matches(/full name/));
      await harness.say(user, profile.name ?? 'Asha Rao', matches(/membership number/));
      const form = await harness.say(user, profile.membershipNo ?? '123456', (m) =>
        hasButton(m, 'f:done'),
      );
      for (const tag of profile.languages ?? ['hi']) {
        await harness.press(user, form, `f:l:${tag}`);
      }
      await harness.press(user, form, 'f:done');
      const topics = await harness.waitBot(user, (m) => hasButton(m, 'f:skip'), form.message_id);
      await harness.press(user, topics, 'f:skip');
      const confirm = await harness.waitBot(user, (m) => hasButton(m, 'f:ok'), topics.message_id);
      await harness.press(user, confirm, 'f:ok');
      return harness.waitBot(user, matches(/registered/), confirm.message_id);
    },
    async addCA(user, profile = {}) {
      const ca = await relay.registerCA({
        channel: 'telegram',
        externalId: String(user.id),
        address: String(user.chatId),
        name: user.firstName,
        membershipNo: '654321',
        languages: profile.languages ?? ['hi'],
        topics: profile.topics ?? [],
        ...(profile.maxChats ? { maxChats: profile.maxChats } : {}),
      });
      if (ca.approval !== 'approved') return relay.approveCA(ca.id);
      return ca;
    },
    async clientChat(language = 'hi', text = 'Namaste, I need help with my GST return.') {
      const { client } = await relay.createClient();
      transport.connect(client.id);
      const { chat } = await relay.requestChat(client.id, { language, text });
      return { clientId: client.id, chatId: chat.id };
    },
    lastId: (user) => seen.get(user.id) ?? 0,
    async blobFiles() {
      return (await readdir(blobDir)).filter((f) => !f.startsWith('.'));
    },
    async restart(more = {}) {
      await harness.stop();
      return createHarness({ ...options, ...more, storage, blobDir, emu, bot });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await relay.stop();
    },
    async close() {
      await harness.stop();
      await emu.close();
      await rm(blobDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/**
 * A `createHarness` for one test file: every harness it made, or was handed with `track`
 * (a restarted one), is closed after each test.
 */
export function harnessPerTest(): ((
  ...args: Parameters<typeof createHarness>
) => Promise<Harness>) & {
  track(h: Harness): Harness;
} {
  let open: Harness[] = [];
  afterEach(async () => {
    for (const h of open.reverse()) await h.close();
    open = [];
  });
  const track = (h: Harness): Harness => {
    open.push(h);
    return h;
  };
  return Object.assign(
    async (...args: Parameters<typeof createHarness>) => track(await createHarness(...args)),
    {
      track,
    },
  );
}
