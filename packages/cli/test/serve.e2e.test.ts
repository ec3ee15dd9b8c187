import { randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTelegramEmulator, type TelegramEmulator } from '@ca-chat/adapter-telegram/emulator';
import type { WireMessage } from '@ca-chat/transport-ws/client';
import {
  EmulatedCA,
  assertBuilt,
  collectMessages,
  connectClient,
  freePort,
  hasButton,
  nextEvent,
  runCli,
  sha256,
  spawnServe,
  textOf,
  type ServeProcess,
} from './support.js';

let emu: TelegramEmulator;
let dataDir: string;
const running: ServeProcess[] = [];

beforeAll(async () => {
  assertBuilt();
  emu = await createTelegramEmulator({
    rateLimits: { perChatPerSecond: 50, perChatBurst: 20, globalPerSecond: 1000 },
  });
});
afterAll(async () => {
  await emu.close();
});
afterEach(async () => {
  for (const p of running.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

async function serve(token: string, port = 0, registration = 'open'): Promise<ServeProcess> {
  const p = await spawnServe([
    '--port',
    String(port),
    '--data-dir',
    dataDir,
    '--telegram-token',
    token,
    '--telegram-api-root',
    emu.url,
    '--registration',
    registration,
    '--languages',
    'en,hi',
    '--log-format',
    'json',
    '--log-level',
    'warn',
    '--shutdown-timeout-ms',
    '5000',
  ]);
  running.push(p);
  return p;
}

/** Resolves when a temp file of an upload shows up in the blob folder. */
function uploadStarted(dir: string, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = watch(dir);
    const done = (error?: Error): void => {
      clearTimeout(timer);
      watcher.close();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(() => done(new Error('no upload reached the blob folder')), timeoutMs);
    watcher.on('change', (_event, name) => {
      if (String(name).startsWith('.tmp-')) done();
    });
    watcher.on('error', done);
  });
}

describe('ca-chat serve, end to end (real processes, emulated Telegram)', () => {
  it(
    'a Hindi CA registers on Telegram, accepts a web client, text and files go both ways, the client ends',
    { timeout: 90_000 },
    async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'ca-chat-e2e-'));
      const bot = emu.createBot({ username: 'e2e_full_bot' });
      const server = await serve(bot.token, 0, 'approval');

      const caUser = emu.createUser({ firstName: 'Asha' });
      const ca = new EmulatedCA(emu, bot.token, caUser.id);
      await ca.register('Asha Rao', '123456', ['hi']);
      // An operator approves her from a terminal while the server runs.
      const pending = await runCli(['cas', 'list', '--pending', '--data-dir', dataDir]);
      expect(pending.code).toBe(0);
      const caId = /^(\S+)\s+Asha Rao/m.exec(pending.stdout)?.[1];
      expect(caId, pending.stdout).toBeTruthy();
      const approved = await runCli(['cas', 'approve', caId!, '--data-dir', dataDir]);
      expect(approved.stdout).toContain('approved');
      await ca.nextAfter((m) => /approved/i.test(textOf(m)));

      const client = connectClient(server.url);
      const received = collectMessages(client);
      await client.connect();
      const chatId = await client.requestChat({
        language: 'hi',
        text: 'Namaste, I need help with GST',
      });

      const offer = await ca.nextAfter((m) => hasButton(m, `acc:${chatId}`));
      expect(textOf(offer)).toContain('Namaste, I need help with GST');
      const matched = nextEvent<{ chatId: string; ca: { name: string } }>(client, 'chat.matched');
      await ca.press(offer, `acc:${chatId}`);
      expect((await matched).ca.name).toBe('Asha Rao');

      await client.send(chatId, 'Which documents do you need?');
      await ca.next((m) => textOf(m).includes('Which documents do you need?'));

      const reply = nextEvent<WireMessage>(
        client,
        'message',
        (m) => m.text === 'Your GSTR-1 and purchase invoices',
      );
      await ca.say('Your GSTR-1 and purchase invoices');
      expect((await reply).from).toBe('ca');

      // client → CA: a file, byte-identical
      const invoice = randomBytes(700_000);
      await client.sendFile(chatId, {
        data: invoice,
        name: 'invoice-march.pdf',
        type: 'application/pdf',
      });
      const doc = await ca.next((m) => m.document?.file_name === 'invoice-march.pdf');
      expect(sha256(await emu.fileBytes(doc.document!.file_id))).toBe(sha256(invoice));

      // CA → client: a file, byte-identical through the signed download link
      const advice = randomBytes(400_000);
      const fileEvent = nextEvent<WireMessage>(
        client,
        'message',
        (m) => m.file?.name === 'advice.pdf',
      );
      await emu.sendDocument(bot.token, caUser.id, {
        data: advice,
        fileName: 'advice.pdf',
        mimeType: 'application/pdf',
      });
      const file = (await fileEvent).file!;
      expect(file.sha256).toBe(sha256(advice));
      const download = await fetch(new URL(file.url, server.url));
      expect(download.status).toBe(200);
      expect(sha256(new Uint8Array(await download.arrayBuffer()))).toBe(sha256(advice));

      const ended = nextEvent<{ reason: string }>(client, 'chat.ended');
      await client.end(chatId);
      expect((await ended).reason).toBe('client_ended');
      await ca.next((m) => /ended/i.test(textOf(m)));
      client.close();
      expect(received.filter((m) => m.from === 'ca').map((m) => m.text ?? m.file?.name)).toEqual([
        'Your GSTR-1 and purchase invoices',
        'advice.pdf',
      ]);

      // Admin commands reach the running server through its admin API.
      const list = await runCli(['chats', 'list', '--data-dir', dataDir]);
      expect(list.code).toBe(0);
      expect(list.stdout).toContain(chatId);
      expect(list.stdout).toContain('client_ended');
      const exported = await runCli(['export', chatId, '--data-dir', dataDir]);
      expect(exported.stdout).toContain('invoice-march.pdf');
      expect(exported.stdout).toContain(sha256(invoice));
      expect(exported.stdout).toContain('Which documents do you need?');

      // Metrics count what happened.
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/ca_chat_chats_matched_total 1/);
      expect(metrics).toMatch(/ca_chat_messages_relayed_total\{direction="client_to_ca"\} [3-9]/);

      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      // A clean stop leaves no admin endpoint behind, and the snapshot is a real SQLite file.
      await expect(stat(join(dataDir, 'admin.json'))).rejects.toThrow();
      const head = (await readFile(join(dataDir, 'ca-chat.db'))).subarray(0, 16).toString('latin1');
      expect(head).toBe('SQLite format 3\u0000');
    },
  );

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(
      `a restart (${signal}) in the middle of a chat loses and duplicates nothing on either side`,
      { timeout: 90_000 },
      async () => {
        dataDir = await mkdtemp(join(tmpdir(), 'ca-chat-e2e-'));
        const bot = emu.createBot({ username: `e2e_restart_${signal.toLowerCase()}_bot` });
        const port = await freePort();
        let server = await serve(bot.token, port);

        const caUser = emu.createUser({ firstName: 'Vikram' });
        const ca = new EmulatedCA(emu, bot.token, caUser.id);
        await ca.register('Vikram Iyer', '654321', ['hi', 'en']);

        const client = connectClient(server.url);
        const received = collectMessages(client);
        await client.connect();
        const chatId = await client.requestChat({ language: 'hi' });
        const offer = await ca.nextAfter((m) => hasButton(m, `acc:${chatId}`));
        const matched = nextEvent(client, 'chat.matched');
        await ca.press(offer, `acc:${chatId}`);
        await matched;

        // Before the restart: everything acknowledged and delivered.
        for (const text of ['c1', 'c2', 'c3']) {
          const delivered = nextEvent<{ state: string }>(
            client,
            'message.status',
            (s) => s.state === 'delivered',
          );
          await client.send(chatId, text);
          await delivered;
        }
        for (const text of ['a1', 'a2', 'a3']) {
          const got = nextEvent<WireMessage>(client, 'message', (m) => m.text === text);
          await ca.say(text);
          await got;
        }

        server.child.kill(signal);
        const code = await server.exited;
        if (signal === 'SIGTERM') expect(code).toBe(0);

        // While it is down, both sides keep writing.
        await ca.say('a4-while-down');
        const sentWhileDown = client.send(chatId, 'c4-while-down');

        server = await serve(bot.token, port);
        await sentWhileDown;
        await client.send(chatId, 'c5');
        const got = nextEvent<WireMessage>(client, 'message', (m) => m.text === 'a5', 20_000);
        await ca.say('a5');
        await got;
        await ca.next((m) => textOf(m).includes('c5'));
        if (!received.some((m) => m.text === 'a4-while-down')) {
          await nextEvent<WireMessage>(
            client,
            'message',
            (m) => m.text === 'a4-while-down',
            20_000,
          );
        }

        // Client side: every CA message exactly once, seqs increasing.
        const fromCa = received.filter((m) => m.from === 'ca').map((m) => m.text);
        expect(fromCa).toEqual(['a1', 'a2', 'a3', 'a4-while-down', 'a5']);
        const seqs = received.map((m) => m.seq);
        expect(new Set(seqs).size).toBe(seqs.length);
        expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);

        // CA side: every client text exactly once (texts may be coalesced into one message).
        const caTexts = ca.texts().join('\n');
        for (const text of ['c1', 'c2', 'c3', 'c4-while-down', 'c5']) {
          expect(caTexts.match(new RegExp(`(^|\\W)${text}(\\W|$)`, 'g'))?.length ?? 0, text).toBe(
            1,
          );
        }
        client.close();
      },
    );
  }

  it(
    'SIGTERM lets an upload under way finish and be stored before the process exits',
    { timeout: 90_000 },
    async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'ca-chat-e2e-'));
      const bot = emu.createBot({ username: 'e2e_drain_bot' });
      const server = await serve(bot.token);
      const caUser = emu.createUser({ firstName: 'Meera' });
      const ca = new EmulatedCA(emu, bot.token, caUser.id);
      await ca.register('Meera Shah', '222333', ['en']);
      const client = connectClient(server.url);
      const welcome = await client.connect();
      const chatId = await client.requestChat({ language: 'en' });
      const offer = await ca.nextAfter((m) => hasButton(m, `acc:${chatId}`));
      const matched = nextEvent(client, 'chat.matched');
      await ca.press(offer, `acc:${chatId}`);
      await matched;
      client.close();

      // A multipart upload written by hand, in two halves with SIGTERM in between.
      const boundary = 'ca-chat-drain-boundary';
      const bytes = randomBytes(2 * 1024 * 1024);
      const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="chatId"\r\n\r\n${chatId}\r\n` +
          `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="ledger.xlsx"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      );
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      const { request } = await import('node:http');
      const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${server.url}/chat`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${welcome.token}`,
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': head.length + bytes.length + tail.length,
          },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        // SIGTERM once the server is streaming the file into its blob store (a `.tmp-` file
        // appears): the upload is then under way on the server's side, not only on ours.
        void uploadStarted(join(dataDir, 'files')).then(() => {
          server.child.kill('SIGTERM');
          // Give the signal a moment to land before the rest of the body arrives.
          setTimeout(() => req.end(Buffer.concat([bytes.subarray(bytes.length / 2), tail])), 300);
        }, reject);
        req.write(Buffer.concat([head, bytes.subarray(0, bytes.length / 2)]));
      });
      const result = await response;
      expect(result.status, result.body).toBe(201);
      expect(await server.exited).toBe(0);

      const exported = await runCli(['export', chatId, '--data-dir', dataDir]);
      expect(exported.stdout).toContain('ledger.xlsx');
      expect(exported.stdout).toContain(sha256(bytes));
    },
  );

  it('refuses a second server on a locked data dir, and admin commands still work through the first', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'ca-chat-e2e-'));
    const bot = emu.createBot({ username: 'e2e_lock_bot' });
    const server = await serve(bot.token);
    const second = await spawnServe([
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--telegram-token',
      bot.token,
      '--telegram-api-root',
      emu.url,
    ]).catch((error: Error) => error);
    expect(second).toBeInstanceOf(Error);
    expect((second as Error).message).toMatch(/in use by pid \d+/);

    const invite = await runCli(['cas', 'invite', '--data-dir', dataDir]);
    expect(invite.code).toBe(0);
    expect(invite.stdout.trim()).toMatch(/^\S{6,}$/);
    const cas = await runCli(['cas', 'list', '--pending', '--data-dir', dataDir]);
    expect(cas.stdout).toContain('no CAs');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    // Stopped: the same commands open the store directly.
    const chats = await runCli(['chats', 'list', '--data-dir', dataDir]);
    expect(chats.code).toBe(0);
    expect(chats.stdout).toContain('no chats');
  });
});

/** Resolves with the first group of `pattern` once the server has printed it (bounded). */
function printed(server: ServeProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const match = pattern.exec(server.output());
      if (!match) return;
      clearTimeout(timer);
      server.child.stdout!.off('data', check);
      resolve(match[1]!);
    };
    const timer = setTimeout(() => {
      server.child.stdout!.off('data', check);
      reject(new Error(`not printed: ${pattern}\n${server.output()}`));
    }, 10_000);
    server.child.stdout!.on('data', check);
    check();
  });
}

describe('ca-chat serve --demo', () => {
  it('makes a throwaway data dir under the temp folder and removes it on a clean stop', async () => {
    assertBuilt();
    const server = await spawnServe(['--demo', '--port', '0', '--emulator-port', '0'], {
      CA_CHAT_DATA_DIR: '',
    });
    const made = await printed(server, /"dataDir":"([^"]+)"/);
    expect(made).toContain(join(tmpdir(), 'ca-chat-demo-'));
    expect((await stat(made)).isDirectory()).toBe(true);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    await expect(stat(made)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('ca-chat CLI validation', () => {
  it('explains a missing token and suggests --demo', async () => {
    const result = await runCli(['serve', '--port', '0'], { TELEGRAM_BOT_TOKEN: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/TELEGRAM_BOT_TOKEN.*--demo/);
  });

  it('refuses a bad port and an unknown language', async () => {
    const port = await runCli(['serve', '--demo', '--port', 'http']);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--port/);
    const lang = await runCli(['serve', '--demo', '--languages', 'en,zz']);
    expect(lang.code).toBe(2);
    expect(lang.stderr).toMatch(/unknown language code "zz"/);
  });

  it('refuses an unwritable data dir', async () => {
    const result = await runCli([
      'serve',
      '--demo',
      '--port',
      '0',
      '--emulator-port',
      '0',
      '--data-dir',
      '/proc/ca-chat-cannot-write',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/not writable/);
  });

  it('documents every option with its default in --help', async () => {
    const result = await runCli(['serve', '--help']);
    expect(result.code).toBe(0);
    for (const flag of [
      '--port',
      '--data-dir',
      '--telegram-token',
      '--languages',
      '--routing',
      '--retention-days',
      '--demo',
    ]) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toMatch(/CA_CHAT_PORT/);
    expect(result.stdout).toMatch(/default 8080/);
  });
});
