import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { Markup, Telegraf } from 'telegraf';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTelegramEmulator } from './index.js';
import { deferred } from './test-utils.js';
import type { EmulatedBot, TelegramEmulator } from './types.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

let emu: TelegramEmulator;
let botInfo: EmulatedBot;

beforeEach(async () => {
  emu = await createTelegramEmulator({ rateLimits: false });
  botInfo = emu.createBot({ username: 'ca_desk_bot' });
  emu.createUser({ firstName: 'Meera', username: 'meera_ca' });
});
afterEach(() => emu.close());

describe('the CA view page', () => {
  it('is one self-contained page that loads nothing from elsewhere', async () => {
    const response = await fetch(`${emu.url}/`);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await response.text();
    expect(html).not.toMatch(/(src|href)=["']?https?:/i);
    expect(html).not.toMatch(/@import|url\(\s*['"]?https?:/i);
  });
});

// Drives the page in a real browser where one is installed (CHROMIUM_PATH to point elsewhere).
describe.skipIf(!existsSync(CHROMIUM))('the CA view page in a browser', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  afterAll(() => browser.close());

  it('plays Telegram for a CA: messages, buttons, edits, files both ways', async () => {
    const bot = new Telegraf(botInfo.token, { telegram: { apiRoot: emu.url } });
    const receivedDocument = deferred<string>();
    bot.command('start', (ctx) =>
      ctx.reply(
        'New chat request (hi, GST)',
        Markup.inlineKeyboard([Markup.button.callback('Accept', 'accept')]),
      ),
    );
    bot.action('accept', async (ctx) => {
      await ctx.answerCbQuery('You are connected');
      await ctx.editMessageText('Chat accepted');
      await ctx.replyWithDocument({
        source: Buffer.from('client invoice'),
        filename: 'invoice.txt',
      });
    });
    bot.on('document', async (ctx) => {
      const link = await ctx.telegram.getFileLink(ctx.message.document.file_id);
      receivedDocument.resolve(sha256(Buffer.from(await (await fetch(link)).arrayBuffer())));
    });
    const launched = deferred<void>();
    const running = bot.launch(() => launched.resolve());
    await launched.promise;

    const page = await browser.newPage();
    // Fail at the step that did not happen, well before the test's own timeout.
    page.setDefaultTimeout(10_000);
    const foreign: string[] = [];
    page.on('request', (request) => {
      if (!request.url().startsWith(emu.url)) foreign.push(request.url());
    });
    try {
      await page.goto(emu.url);
      await expect.poll(() => page.getByLabel('Bot').inputValue()).toBe(String(botInfo.id));
      await page.getByLabel('Message (or caption)').fill('/start');
      await page.getByRole('button', { name: 'Send', exact: true }).click();
      await page.getByRole('button', { name: 'Accept' }).click();
      await page.getByText('Chat accepted').waitFor();
      await page.getByText('Bot: You are connected').waitFor();
      const download = page.getByRole('link', { name: /Download invoice\.txt/ });
      await download.waitFor();
      const href = await download.getAttribute('href');
      const bytes = Buffer.from(await (await fetch(new URL(href!, emu.url))).arrayBuffer());
      expect(bytes.toString()).toBe('client invoice');

      const upload = Buffer.from('signed engagement letter');
      await page
        .getByLabel('Document')
        .setInputFiles({ name: 'letter.txt', mimeType: 'text/plain', buffer: upload });
      expect(await receivedDocument.promise).toBe(sha256(upload));
      await page.getByRole('link', { name: /Download letter\.txt/ }).waitFor();
      expect(foreign).toEqual([]);
    } finally {
      await page.close();
      bot.stop();
      await running;
    }
  });

  it('creates a user when there is none', async () => {
    const empty = await createTelegramEmulator({ rateLimits: false });
    empty.createBot();
    const page = await browser.newPage();
    try {
      await page.goto(empty.url);
      await page.getByLabel('First name').fill('Kiran');
      await page.getByRole('button', { name: 'Create' }).click();
      await page.getByText('Created user Kiran').waitFor();
      expect(empty.users().map((u) => u.firstName)).toEqual(['Kiran']);
    } finally {
      await page.close();
      await empty.close();
    }
  });
});
