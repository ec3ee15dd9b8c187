import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { TgMessage } from '@ca-chat/adapter-telegram/emulator';
import { startStack, WEB_CLIENT_DIR, type Stack } from './stack.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = resolve(WEB_CLIENT_DIR, '..', '..', 'test-artifacts', 'web-client');
const MAX_FILE_BYTES = 256 * 1024;

const byTestId = (id: string): string => `[data-testid="${id}"]`;
const buttonOf = (message: TgMessage, label: RegExp): string | undefined =>
  message.reply_markup?.inline_keyboard.flat().find((b) => label.test(b.text))?.callback_data;

/**
 * The page in a real Chromium against the real stack: the test is the client (through the
 * page) and the CA (through the Telegram emulator's driver). One scenario, in steps, with a
 * screenshot of each at 360 px wide.
 */
describe.skipIf(!existsSync(CHROMIUM))(
  'web client in Chromium (skipped: /usr/bin/chromium is not installed)',
  () => {
    let stack: Stack;
    let context: BrowserContext;
    let page: Page;
    let profileDir: string;
    let shot = 0;
    const screenshot = async (name: string): Promise<void> => {
      shot++;
      await page.screenshot({
        path: join(ARTIFACTS, `${String(shot).padStart(2, '0')}-${name}.png`),
        fullPage: true,
      });
    };
    const waitForCa = (match: (m: TgMessage) => boolean): Promise<TgMessage> =>
      stack.emulator.waitForBotMessage(stack.bot.token, stack.caUser.chatId, {
        match,
        timeoutMs: 8000,
      });
    const bubbles = (): Promise<
      Array<{ seq: string; from: string; state: string; text: string }>
    > =>
      page.$$eval('[data-testid="message"]', (items) =>
        items.map((li) => ({
          seq: li.getAttribute('data-seq') ?? '',
          from: li.getAttribute('data-from') ?? '',
          state: li.getAttribute('data-state') ?? '',
          text: li.querySelector('.bubble__body')?.textContent?.trim() ?? '',
        })),
      );

    beforeAll(async () => {
      await mkdir(ARTIFACTS, { recursive: true });
      stack = await startStack({ maxFileBytes: MAX_FILE_BYTES, languages: ['en', 'hi', 'ta'] });
      profileDir = await mkdtemp(join(tmpdir(), 'ca-chat-chromium-'));
      context = await chromium.launchPersistentContext(profileDir, {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
        viewport: { width: 360, height: 740 },
      });
      context.setDefaultTimeout(10_000);
      page = context.pages()[0] ?? (await context.newPage());
    }, 60_000);

    afterAll(async () => {
      await context?.close();
      await stack?.close();
      if (profileDir) await rm(profileDir, { recursive: true, force: true });
    });

    it('runs a whole chat as the client: queue, match, text, files, reload, reconnect and end', async () => {
      await page.goto(`${stack.url}/`);
      await page.waitForSelector(`${byTestId('connection-status')}[data-state="open"]`);
      expect(
        await page.$$eval(`${byTestId('language-select')} option`, (os) =>
          os.map((o) => (o as HTMLOptionElement).value),
        ),
      ).toEqual(['en', 'hi', 'ta']);
      // Works at 360 px: nothing wider than the screen.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
        360,
      );
      // New messages and status changes are announced to screen readers.
      expect(await page.getAttribute(byTestId('message-list'), 'role')).toBe('log');
      expect(await page.getAttribute(byTestId('connection-status'), 'role')).toBe('status');
      await screenshot('start');

      // 1. Nobody speaks Tamil: the page says so at once; the client cancels.
      await page.selectOption(byTestId('language-select'), 'ta');
      await page.click(byTestId('request-button'));
      await page.waitForSelector(`${byTestId('queue-status')}[data-no-ca="true"]`);
      expect(await page.textContent(byTestId('queue-status'))).toContain('No CA who speaks');
      await screenshot('no-ca-for-language');
      await page.click(byTestId('end-button'));
      await page.waitForSelector(`${byTestId('new-chat-button')}:visible`);
      await page.click(byTestId('new-chat-button'));

      // 2. English, with a first message — by keyboard only.
      await page.focus(byTestId('language-select'));
      await page.selectOption(byTestId('language-select'), 'en');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      await page.keyboard.type('Hello, I need help with my GST return.');
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe(
        'request-button',
      );
      await page.keyboard.press('Enter');
      await page.waitForSelector(`${byTestId('queue-status')}[data-position="1"]`);
      await screenshot('queued');

      // 3. The CA accepts in Telegram; the page shows who joined.
      const chatId = await page.getAttribute(byTestId('chat-panel'), 'data-chat-id');
      expect(chatId).toBeTruthy();
      const offer = await waitForCa((m) => buttonOf(m, /accept/i)?.includes(chatId!) ?? false);
      expect(offer.text).toContain('Hello, I need help with my GST return.');
      await stack.emulator.pressButton(
        stack.bot.token,
        stack.caUser.id,
        offer.message_id,
        buttonOf(offer, /accept/i)!,
      );
      await page.waitForSelector(`${byTestId('ca-info')}:visible`);
      expect(await page.textContent(byTestId('ca-name'))).toBe('Asha Rao');
      expect(await page.textContent(byTestId('ca-languages'))).toContain('English');
      await page.waitForSelector(`${byTestId('message')}[data-seq="1"][data-from="client"]`);
      await screenshot('matched');

      // 4. Text both ways; the client's message goes sending → sent → delivered.
      await page.fill(byTestId('message-input'), 'My turnover is about 30 lakh.');
      await page.press(byTestId('message-input'), 'Enter');
      await page.waitForSelector(`${byTestId('message')}[data-seq="2"][data-state="delivered"]`);
      await waitForCa((m) => m.text?.includes('30 lakh') ?? false);
      await stack.emulator.sendText(
        stack.bot.token,
        stack.caUser.id,
        'Then you must register. Send me your invoices.',
      );
      await page.waitForSelector(`${byTestId('message')}[data-seq="3"][data-from="ca"]`);
      await screenshot('text-both-ways');

      // 5. A file over the page's limit is refused before any byte leaves.
      await page.setInputFiles(byTestId('file-input'), {
        name: 'too-big.pdf',
        mimeType: 'application/pdf',
        buffer: Buffer.alloc(MAX_FILE_BYTES + 1, 1),
      });
      await page.waitForSelector(`${byTestId('error')}[data-code="file_too_large"]:visible`);
      expect(await page.textContent(byTestId('error'))).toBe(
        'too-big.pdf (256 KB) is larger than the 256 KB limit.',
      );
      expect(await page.$$(byTestId('message'))).toHaveLength(3);
      await screenshot('file-too-large');

      // 6. Upload with progress; the CA receives the same bytes in Telegram.
      await page.evaluate(() => {
        const progress = document.querySelector(
          '[data-testid="upload-progress"]',
        ) as HTMLProgressElement;
        const seen: number[] = [];
        (window as unknown as { progressSeen: number[] }).progressSeen = seen;
        new MutationObserver(() => seen.push(progress.value)).observe(progress, {
          attributes: true,
          attributeFilter: ['value', 'aria-valuetext'],
        });
      });
      const invoice = Buffer.from('Invoice 17\n'.repeat(12_000));
      await page.setInputFiles(byTestId('file-input'), {
        name: 'invoices.txt',
        mimeType: 'text/plain',
        buffer: invoice,
      });
      await page.waitForSelector(
        `${byTestId('message')}[data-seq="4"][data-from="client"] ${byTestId('file-link')}`,
      );
      const caDocument = await waitForCa((m) => m.document?.file_name === 'invoices.txt');
      expect((await stack.emulator.fileBytes(caDocument.document!.file_id)).equals(invoice)).toBe(
        true,
      );
      await page.waitForSelector(`${byTestId('message')}[data-seq="4"][data-state="delivered"]`);
      const progressSeen = await page.evaluate(
        () => (window as unknown as { progressSeen: number[] }).progressSeen,
      );
      expect(progressSeen.length).toBeGreaterThan(0);
      expect(Math.max(...progressSeen)).toBe(100);
      await screenshot('file-uploaded');

      // 7. The CA sends a file; the page offers it as a download link that works.
      const report = Buffer.from('GST registration checklist\n1. PAN\n2. Address proof\n');
      await stack.emulator.sendDocument(stack.bot.token, stack.caUser.id, {
        data: report,
        fileName: 'checklist.txt',
        mimeType: 'text/plain',
      });
      const link = await page.waitForSelector(
        `${byTestId('message')}[data-seq="5"][data-from="ca"] ${byTestId('file-link')}`,
      );
      const href = await link.getAttribute('href');
      const downloaded = await page.evaluate(async (url) => (await fetch(url!)).text(), href);
      expect(downloaded).toBe(report.toString());
      await screenshot('ca-file');

      // 8. Reload mid-chat: the same identity, the same chat, every message once.
      const before = await bubbles();
      await page.reload();
      await page.waitForSelector(`${byTestId('message')}[data-seq="5"]`);
      const after = await bubbles();
      expect(after.map((b) => [b.seq, b.from])).toEqual(before.map((b) => [b.seq, b.from]));
      expect(await page.textContent(byTestId('ca-name'))).toBe('Asha Rao');
      await screenshot('after-reload');

      // 9. The network drops: the page reconnects, resumes, and nothing is doubled.
      const clientId = (await stack.relay.getChat(chatId!))!.clientId;
      await page.evaluate(() => {
        const status = document.querySelector('[data-testid="connection-status"]')!;
        const states: string[] = [];
        (window as unknown as { connectionStates: string[] }).connectionStates = states;
        new MutationObserver(() => states.push(status.getAttribute('data-state') ?? '')).observe(
          status,
          { attributes: true, attributeFilter: ['data-state'] },
        );
      });
      expect(stack.transport.disconnectClient(clientId, { terminate: true })).toBe(1);
      await page.waitForFunction(
        () =>
          (window as unknown as { connectionStates: string[] }).connectionStates.at(-1) === 'open',
      );
      expect(
        await page.evaluate(
          () => (window as unknown as { connectionStates: string[] }).connectionStates,
        ),
      ).toEqual(['reconnecting', 'open']);
      await stack.emulator.sendText(stack.bot.token, stack.caUser.id, 'Welcome back.');
      await page.waitForSelector(`${byTestId('message')}[data-seq="6"][data-from="ca"]`);
      const seqs = (await bubbles()).map((b) => b.seq);
      expect(seqs).toEqual(['1', '2', '3', '4', '5', '6']);
      await screenshot('after-reconnect');

      // 10. The client ends the chat; the CA is told.
      await page.click(byTestId('end-button'));
      await page.waitForSelector(`${byTestId('ended-status')}:visible`);
      expect(await page.textContent(byTestId('ended-status'))).toBe('You ended the chat.');
      await waitForCa((m) => /ended/i.test(m.text ?? ''));
      expect((await stack.relay.getChat(chatId!))?.endReason).toBe('client_ended');
      await screenshot('ended');
    }, 60_000);
  },
);
