import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { TgFile, TgMessage } from './bot-api-types.js';
import { createTelegramEmulator } from './index.js';
import { callApi, ok } from './test-utils.js';
import type {
  EmulatedBot,
  EmulatedUser,
  TelegramEmulator,
  TelegramEmulatorOptions,
} from './types.js';

const MB = 1024 * 1024;
let emu: TelegramEmulator | undefined;

async function start(options: TelegramEmulatorOptions = { rateLimits: false }) {
  emu = await createTelegramEmulator(options);
  const bot = emu.createBot();
  const user = emu.createUser();
  return { emu, bot, user };
}

afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

describe('text limits', () => {
  it('takes 4096 characters and refuses 4097 with "message is too long"', async () => {
    const { emu, bot, user } = await start();
    const longest = await callApi(emu.url, bot.token, 'sendMessage', {
      chat_id: user.id,
      text: 'x'.repeat(4096),
    });
    expect(longest.status).toBe(200);
    const tooLong = await callApi(emu.url, bot.token, 'sendMessage', {
      chat_id: user.id,
      text: 'x'.repeat(4097),
    });
    expect(tooLong).toEqual({
      status: 400,
      body: { ok: false, error_code: 400, description: 'Bad Request: message is too long' },
    });
  });

  it('refuses empty text', async () => {
    const { emu, bot, user } = await start();
    const empty = await callApi(emu.url, bot.token, 'sendMessage', {
      chat_id: user.id,
      text: '  ',
    });
    expect(empty.body).toMatchObject({
      error_code: 400,
      description: 'Bad Request: message text is empty',
    });
  });

  it('applies the text limit to edits too', async () => {
    const { emu, bot, user } = await start();
    const sent = await ok<TgMessage>(emu.url, bot.token, 'sendMessage', {
      chat_id: user.id,
      text: 'short',
    });
    const edit = await callApi(emu.url, bot.token, 'editMessageText', {
      chat_id: user.id,
      message_id: sent.message_id,
      text: 'y'.repeat(4097),
    });
    expect(edit.body).toMatchObject({
      error_code: 400,
      description: 'Bad Request: message is too long',
    });
    expect(emu.botMessages(bot.token, user.id)[0]?.text).toBe('short');
  });

  it('takes a 1024-character caption and refuses 1025', async () => {
    const { emu, bot, user } = await start();
    const send = (caption: string) => {
      const form = new FormData();
      form.set('chat_id', String(user.id));
      form.set('caption', caption);
      form.set('document', new Blob([Buffer.from('pdf')]), 'a.pdf');
      return fetch(`${emu.url}/bot${bot.token}/sendDocument`, { method: 'POST', body: form });
    };
    expect((await send('c'.repeat(1024))).status).toBe(200);
    const tooLong = await send('c'.repeat(1025));
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toMatchObject({
      description: 'Bad Request: message caption is too long',
    });
  });

  it('takes 64 bytes of callback_data and refuses 65 (counted in UTF-8 bytes)', async () => {
    const { emu, bot, user } = await start();
    const withData = (data: string) =>
      callApi(emu.url, bot.token, 'sendMessage', {
        chat_id: user.id,
        text: 'offer',
        reply_markup: { inline_keyboard: [[{ text: 'Accept', callback_data: data }]] },
      });
    expect((await withData('a'.repeat(64))).status).toBe(200);
    // 33 characters, 66 bytes.
    const tooLong = await withData('é'.repeat(33));
    expect(tooLong.body).toMatchObject({
      error_code: 400,
      description: 'Bad Request: BUTTON_DATA_INVALID',
    });
  });
});

describe('upload limit', () => {
  it('answers 413 to a 50 MB+ upload and stops reading the body', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'emu-limits-'));
    try {
      const { emu, bot, user } = await start({ rateLimits: false, dataDir });
      let producedBytes = 0;
      const boundary = 'emulator-test-boundary';
      async function* endlessMultipart() {
        yield Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="chat_id"\r\n\r\n${user.id}\r\n` +
            `--${boundary}\r\nContent-Disposition: form-data; name="document"; filename="huge.bin"\r\n` +
            'Content-Type: application/octet-stream\r\n\r\n',
        );
        const chunk = Buffer.alloc(256 * 1024, 7);
        // Never ends on its own: only the server hanging up stops it.
        for (;;) {
          producedBytes += chunk.length;
          yield chunk;
        }
      }
      const response = await request(`${emu.url}/bot${bot.token}/sendDocument`, {
        method: 'POST',
        headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
        body: Readable.from(endlessMultipart()),
      });
      expect(response.statusCode).toBe(413);
      expect(await response.body.json()).toEqual({
        ok: false,
        error_code: 413,
        description: 'Request Entity Too Large',
      });
      expect(producedBytes).toBeGreaterThan(50 * MB);
      // Socket buffers hold a few MB at most; reading on would have taken everything.
      expect(producedBytes).toBeLessThan(70 * MB);
      expect(emu.botMessages(bot.token, user.id)).toEqual([]);
      expect(emu.calls(bot.token).at(-1)).toMatchObject({ method: 'sendDocument', status: 413 });
      // The temp file of the refused upload is gone, and the emulator still answers.
      expect(await readdir(join(dataDir, 'tmp'))).toEqual([]);
      expect((await callApi(emu.url, bot.token, 'getMe')).status).toBe(200);
    } finally {
      await emu?.close();
      emu = undefined;
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('takes a file of exactly maxUploadBytes and refuses one byte more', async () => {
    const { emu, bot, user } = await start({ rateLimits: false, limits: { maxUploadBytes: 1000 } });
    const upload = (size: number) => {
      const form = new FormData();
      form.set('chat_id', String(user.id));
      form.set('document', new Blob([Buffer.alloc(size, 1)]), 'f.bin');
      return fetch(`${emu.url}/bot${bot.token}/sendDocument`, { method: 'POST', body: form });
    };
    expect((await upload(1000)).status).toBe(200);
    expect((await upload(1001)).status).toBe(413);
  });

  it('refuses an empty file', async () => {
    const { emu, bot, user } = await start();
    const form = new FormData();
    form.set('chat_id', String(user.id));
    form.set('document', new Blob([]), 'empty.txt');
    const response = await fetch(`${emu.url}/bot${bot.token}/sendDocument`, {
      method: 'POST',
      body: form,
    });
    expect(await response.json()).toMatchObject({
      error_code: 400,
      description: 'Bad Request: file must be non-empty',
    });
  });
});

describe('download limit', () => {
  it('gives a file_path up to 20 MB and "file is too big" above', async () => {
    const { emu, bot, user } = await start();
    const exactly = await emu.sendDocument(bot.token, user.id, {
      data: Buffer.alloc(20 * MB, 1),
      fileName: 'a.bin',
    });
    const over = await emu.sendDocument(bot.token, user.id, {
      data: Buffer.alloc(20 * MB + 1, 1),
      fileName: 'b.bin',
    });
    const file = await ok<TgFile>(emu.url, bot.token, 'getFile', {
      file_id: exactly.document!.file_id,
    });
    expect(file).toMatchObject({
      file_size: 20 * MB,
      file_path: expect.stringMatching(/^documents\/file_\d+\.bin$/),
    });
    const tooBig = await callApi(emu.url, bot.token, 'getFile', {
      file_id: over.document!.file_id,
    });
    expect(tooBig).toEqual({
      status: 400,
      body: { ok: false, error_code: 400, description: 'Bad Request: file is too big' },
    });
  });

  it('serves only paths getFile handed out, and only to the owning bot', async () => {
    const { emu, bot, user } = await start();
    const other: EmulatedBot = emu.createBot();
    const sent = await emu.sendDocument(bot.token, user.id, {
      data: Buffer.from('secret'),
      fileName: 's.txt',
    });
    const fileId = sent.document!.file_id;
    expect(
      (await callApi(emu.url, other.token, 'getFile', { file_id: fileId })).body,
    ).toMatchObject({
      description: 'Bad Request: invalid file_id',
    });
    const file = await ok<TgFile>(emu.url, bot.token, 'getFile', { file_id: fileId });
    expect((await fetch(`${emu.url}/file/bot${bot.token}/${file.file_path}`)).status).toBe(200);
    expect((await fetch(`${emu.url}/file/bot${other.token}/${file.file_path}`)).status).toBe(404);
    expect((await fetch(`${emu.url}/file/bot${bot.token}/documents/file_999.txt`)).status).toBe(
      404,
    );
  });
});

describe('flood limits', () => {
  const send = (url: string, bot: EmulatedBot, chatId: number) =>
    callApi(url, bot.token, 'sendMessage', { chat_id: chatId, text: 'hi' });

  it('lets a chat burst 3 messages, then answers 429 with retry_after', async () => {
    const { emu, bot, user } = await start({});
    for (let i = 0; i < 3; i++) expect((await send(emu.url, bot, user.id)).status).toBe(200);
    const limited = await send(emu.url, bot, user.id);
    expect(limited).toEqual({
      status: 429,
      body: {
        ok: false,
        error_code: 429,
        description: 'Too Many Requests: retry after 1',
        parameters: { retry_after: 1 },
      },
    });
    expect(emu.botMessages(bot.token, user.id)).toHaveLength(3);
  });

  it('limits one bot across chats with globalPerSecond', async () => {
    const { emu, bot } = await start({ rateLimits: { globalPerSecond: 5, perChatBurst: 100 } });
    const users: EmulatedUser[] = Array.from({ length: 6 }, () => emu.createUser());
    const statuses: number[] = [];
    for (const u of users) statuses.push((await send(emu.url, bot, u.id)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it('keeps bots apart: one bot being limited does not limit another', async () => {
    const { emu, bot, user } = await start({ rateLimits: { perChatBurst: 1 } });
    const other = emu.createBot();
    expect((await send(emu.url, bot, user.id)).status).toBe(200);
    expect((await send(emu.url, bot, user.id)).status).toBe(429);
    expect((await send(emu.url, other, user.id)).status).toBe(200);
  });

  it('scales: a high per-chat rate lets tests send quickly', async () => {
    const { emu, bot, user } = await start({
      rateLimits: { perChatPerSecond: 1000, perChatBurst: 50, globalPerSecond: 1000 },
    });
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () => send(emu.url, bot, user.id)),
    );
    expect(statuses.every((s) => s.status === 200)).toBe(true);
  });
});
