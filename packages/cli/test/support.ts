import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import type { TelegramEmulator, TgMessage } from '@ca-chat/adapter-telegram/emulator';
import {
  createCaChatClient,
  type CaChatClient,
  type WireMessage,
} from '@ca-chat/transport-ws/client';

export const BIN = fileURLToPath(new URL('../bin/ca-chat.js', import.meta.url));
export const DIST_BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

export function assertBuilt(): void {
  if (!existsSync(DIST_BIN)) {
    throw new Error(
      'packages/cli is not built: run `npm run build` first (`npm test` does it for you)',
    );
  }
}

export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Spawns `ca-chat serve` and resolves once it prints the URL it serves at. */
export function spawnServe(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return new Promise((resolve, reject) => {
    const onData = (): void => {
      const match = /serving at (http:\/\/[^\s]+)/.exec(out);
      if (match) {
        child.stdout!.off('data', onData);
        resolve({ child, url: match[1]!, output: () => out, exited });
      }
    };
    child.stdout!.on('data', onData);
    void exited.then((code) =>
      reject(new Error(`ca-chat serve exited (${code}) before serving:\n${out}`)),
    );
  });
}

/** Runs a one-shot `ca-chat` command; resolves with its exit code and output. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 25_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    // Never leave a stuck child behind a failed test.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export const hasButton = (m: TgMessage, data: string): boolean =>
  (m.reply_markup?.inline_keyboard.flat() ?? []).some(
    (b) => 'callback_data' in b && b.callback_data === data,
  );
export const textOf = (m: TgMessage): string => m.text ?? m.caption ?? '';

/** Plays a CA in the emulated Telegram. */
export class EmulatedCA {
  private lastSeen = 0;
  constructor(
    readonly emu: TelegramEmulator,
    readonly token: string,
    readonly userId: number,
  ) {}

  async next(match: (m: TgMessage) => boolean, timeoutMs = 15_000): Promise<TgMessage> {
    const m = await this.emu.waitForBotMessage(this.token, this.userId, {
      match,
      afterMessageId: 0,
      timeoutMs,
    });
    this.lastSeen = Math.max(this.lastSeen, m.message_id);
    return m;
  }

  async nextAfter(match: (m: TgMessage) => boolean, timeoutMs = 15_000): Promise<TgMessage> {
    const m = await this.emu.waitForBotMessage(this.token, this.userId, {
      match,
      afterMessageId: this.lastSeen,
      timeoutMs,
    });
    this.lastSeen = Math.max(this.lastSeen, m.message_id);
    return m;
  }

  async say(text: string, expect?: (m: TgMessage) => boolean): Promise<TgMessage | null> {
    await this.emu.sendText(this.token, this.userId, text);
    return expect ? this.nextAfter(expect) : null;
  }

  press(message: TgMessage, data: string): Promise<{ callbackQueryId: string }> {
    return this.emu.pressButton(this.token, this.userId, message.message_id, data);
  }

  /** /start → name → membership number → languages → skip topics → confirm. */
  async register(name: string, membershipNo: string, languages: string[]): Promise<void> {
    await this.say('/start', (m) => /full name/i.test(textOf(m)));
    await this.say(name, (m) => /membership number/i.test(textOf(m)));
    const form = (await this.say(membershipNo, (m) => hasButton(m, 'f:done')))!;
    for (const tag of languages) {
      await this.press(form, `f:l:${tag}`);
      await this.emu.waitForBotMessage(this.token, this.userId, {
        match: (m) =>
          m.message_id === form.message_id &&
          new RegExp(`✓|✅`).test(JSON.stringify(m.reply_markup)),
        timeoutMs: 10_000,
      });
    }
    await this.press(form, 'f:done');
    const topics = await this.nextAfter((m) => hasButton(m, 'f:skip'));
    await this.press(topics, 'f:skip');
    const confirm = await this.nextAfter((m) => hasButton(m, 'f:ok'));
    await this.press(confirm, 'f:ok');
    await this.nextAfter((m) => /registered/i.test(textOf(m)));
  }

  /** Every text the bot sent this CA, in order (edits applied). */
  texts(): string[] {
    return this.emu.botMessages(this.token, this.userId).map(textOf);
  }
}

export function connectClient(url: string, token?: string): CaChatClient {
  return createCaChatClient({
    url: `${url.replace(/^http/, 'ws')}/ws`,
    WebSocket: WebSocket as never,
    reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
    ...(token ? { token } : {}),
  });
}

/** Collects every message a client receives (the SDK dedupes by chat and seq). */
export function collectMessages(client: CaChatClient): WireMessage[] {
  const messages: WireMessage[] = [];
  client.on('message', (m) => messages.push(m));
  return messages;
}

export function nextEvent<T>(
  client: CaChatClient,
  event: string,
  match: (e: T) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      (client as any).off(event, handler);
      reject(new Error(`timed out waiting for client event ${event}`));
    }, timeoutMs);
    const handler = (e: T): void => {
      if (!match(e)) return;
      clearTimeout(timer);
      (client as any).off(event, handler);
      resolve(e);
    };
    (client as any).on(event, handler);
  });
}
