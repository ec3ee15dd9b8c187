import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { assertBuilt, spawnServe, type ServeProcess } from './support.js';
import { createCaView } from './browser/ca-view.js';
import { createStepShots } from './browser/artifacts.js';

const CHROMIUM = '/usr/bin/chromium';
const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const ARTIFACTS = join(ROOT, 'test-artifacts', 'demo');
const DOCS_IMAGES = join(ROOT, 'docs', 'images');

const HAS_CHROMIUM = existsSync(CHROMIUM);
const SKIP_REASON = HAS_CHROMIUM ? '' : ' (skipped: /usr/bin/chromium is not installed)';

const CA_NAME = 'Asha Rao';
const FIRST_QUESTION = 'Namaste, I need help with my GST return.';

describe('ca-chat serve --demo in a browser (two tabs: the CA view and the client page)', () => {
  let server: ServeProcess | undefined;
  let browser: Browser | undefined;
  let dataDir: string | undefined;

  afterAll(async () => {
    await browser?.close();
    if (server && server.child.exitCode === null && server.child.signalCode === null) {
      server.child.kill('SIGKILL');
      await server.exited;
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it.skipIf(!HAS_CHROMIUM)(
    `a CA registers in the CA view, a client chats with them in the page, files go both ways, the client ends${SKIP_REASON}`,
    { timeout: 120_000 },
    async () => {
      assertBuilt();
      const shots = await createStepShots(ARTIFACTS);
      dataDir = await mkdtemp(join(tmpdir(), 'ca-chat-browser-demo-'));
      // Exactly what a person runs; the emulator and its CA view come up in the same process.
      server = await spawnServe([
        '--demo',
        '--port',
        '0',
        '--emulator-port',
        '0',
        '--data-dir',
        dataDir,
      ]);
      const caViewUrl = await printedUrl(server, /CA view \(emulated Telegram\): (http:\/\/\S+)/);
      const clientUrl = await printedUrl(server, /Client page:\s+(http:\/\/\S+)/);
      expect(clientUrl).toBe(`${server.url}/`);
      shots.mark('serving');

      browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
      });
      const context = await browser.newContext();
      context.setDefaultTimeout(20_000);
      const caPage = await context.newPage();
      await caPage.setViewportSize({ width: 1024, height: 900 });
      const clientPage = await context.newPage();
      await clientPage.setViewportSize({ width: 480, height: 900 });
      const ca = createCaView(caPage);
      shots.mark('browser-ready');
      const byTestId = (id: string) => clientPage.getByTestId(id);
      const clientBubble = (from: 'client' | 'ca', text: string) =>
        clientPage
          .locator(`[data-testid="message"][data-from="${from}"]`, { hasText: text })
          .last();

      try {
        // 1. The CA tab: a new Telegram user registers with the bot by typing and tapping.
        await ca.open(caViewUrl);
        await ca.createUser('Asha');
        shots.mark('ca-user-created');
        await ca.register({
          name: CA_NAME,
          membershipNo: '123456',
          languageButton: 'हिन्दी (Hindi)',
        });
        await shots.shot(caPage, 'ca-registered');

        // 2. The client tab: Hindi, a first question, "Find a CA".
        await clientPage.goto(clientUrl);
        await clientPage
          .locator('[data-testid="connection-status"][data-state="open"]')
          .waitFor({ state: 'visible' });
        await byTestId('language-select').selectOption('hi');
        await byTestId('first-message').fill(FIRST_QUESTION);
        await byTestId('request-button').click();
        await clientPage
          .locator('[data-testid="queue-status"][data-position="1"]')
          .waitFor({ state: 'visible' });
        expect(await byTestId('queue-status').textContent()).toBe(
          'You are next in line. A CA will join soon.',
        );
        await shots.shot(clientPage, 'client-queued');

        // 3. The CA sees the request with the client's question, and accepts it.
        const offer = await ca.botMessage('New chat request');
        expect(await offer.textContent()).toContain(FIRST_QUESTION);
        expect(await offer.textContent()).toContain('Language: हिन्दी (Hindi)');
        await shots.shot(caPage, 'offer');
        await ca.press(offer, 'Accept');
        await ca.botMessage('You are now chatting with a client');
        // The request is marked accepted and its buttons are gone.
        await offer
          .getByRole('button', { name: 'Accept', exact: true })
          .waitFor({ state: 'detached' });
        expect(await offer.textContent()).toContain('Accepted');

        // 4. The client sees who joined.
        await byTestId('ca-info').waitFor({ state: 'visible' });
        expect(await byTestId('ca-name').textContent()).toBe(CA_NAME);
        expect(await byTestId('ca-languages').textContent()).toContain('Hindi');
        await clientBubble('client', FIRST_QUESTION).waitFor({ state: 'visible' });
        await shots.shot(clientPage, 'matched-client');

        // 5. Text both ways: the CA types in the CA view, the client in the page.
        await ca.say('Namaste! Happy to help. What was your turnover last year?');
        await clientBubble('ca', 'What was your turnover last year?').waitFor({ state: 'visible' });
        await byTestId('message-input').fill('About 30 lakh. I will send my Form 16.');
        await byTestId('message-input').press('Enter');
        await clientPage
          .locator('[data-testid="message"][data-from="client"][data-state="delivered"]', {
            hasText: 'About 30 lakh',
          })
          .waitFor({ state: 'visible' });
        await ca.botMessage('About 30 lakh. I will send my Form 16.');

        // 6. The client uploads a file; the CA view shows it as a document with the same bytes.
        const form16 = Buffer.from(
          'Form 16 — FY 2024-25\nGross salary: 30,00,000\nTDS: 4,12,000\n',
        );
        await byTestId('file-input').setInputFiles({
          name: 'form-16.txt',
          mimeType: 'text/plain',
          buffer: form16,
        });
        const caDocument = await ca.botMessage('Download form-16.txt');
        const caDownload = caDocument.getByRole('link', { name: /^Download form-16\.txt/ });
        expect(await fetchText(caPage, await caDownload.getAttribute('href'))).toBe(
          form16.toString(),
        );
        await clientPage
          .locator('[data-testid="message"][data-from="client"][data-state="delivered"]', {
            hasText: 'form-16.txt',
          })
          .waitFor({ state: 'visible' });

        // 7. The CA sends a document from the CA view; the client gets a working download link.
        const checklist = Buffer.from(
          'GST registration checklist\n1. PAN\n2. Aadhaar\n3. Address proof\n',
        );
        await ca.sendDocument({
          name: 'gst-checklist.txt',
          mimeType: 'text/plain',
          buffer: checklist,
        });
        const clientLink = clientBubble('ca', 'gst-checklist.txt').getByTestId('file-link');
        await clientLink.waitFor({ state: 'visible' });
        expect(await fetchText(clientPage, await clientLink.getAttribute('href'))).toBe(
          checklist.toString(),
        );
        const clientShot = await shots.shot(clientPage, 'chat-client');
        const caShot = await shots.shot(caPage, 'chat-ca');
        // The root README's pictures: refreshed on request (`UPDATE_README_IMAGES=1 npm test`).
        if (process.env.UPDATE_README_IMAGES === '1') {
          await shots.publish(clientShot, join(DOCS_IMAGES, 'client-page.png'));
          await shots.publish(caShot, join(DOCS_IMAGES, 'ca-view.png'));
        }

        // 8. The client ends the chat; both sides are told.
        await byTestId('end-button').click();
        await byTestId('ended-status').waitFor({ state: 'visible' });
        expect(await byTestId('ended-status').textContent()).toBe('You ended the chat.');
        await ca.botMessage('Chat ended: the client ended the chat.');
        await shots.shot(caPage, 'ended-ca');
        await shots.shot(clientPage, 'ended-client');
      } catch (error) {
        await caPage
          .screenshot({ path: join(ARTIFACTS, 'failure-ca.png'), fullPage: true })
          .catch(() => undefined);
        await clientPage
          .screenshot({ path: join(ARTIFACTS, 'failure-client.png'), fullPage: true })
          .catch(() => undefined);
        throw new Error(
          `${(error as Error).message}\n--- ca-chat serve output (tail) ---\n${server.output().slice(-4000)}`,
          {
            cause: error,
          },
        );
      }

      // 9. Ctrl+C, as a person would, with both tabs still open: a clean exit.
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      shots.mark('stopped');
      await shots.writeTimings();
    },
  );
});

/** A URL `ca-chat serve` prints, waiting for the line if it is not out yet. */
function printedUrl(server: ServeProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const check = (): boolean => {
      const url = pattern.exec(server.output())?.[1];
      if (!url) return false;
      server.child.stdout!.off('data', check);
      resolvePromise(url);
      return true;
    };
    if (check()) return;
    server.child.stdout!.on('data', check);
    void server.exited.then(() =>
      reject(new Error(`ca-chat serve exited before printing ${pattern}`)),
    );
  });
}

/** Downloads a link the way the page's own origin would (same cookies, same origin rules). */
function fetchText(page: Page, href: string | null): Promise<string> {
  expect(href).toBeTruthy();
  return page.evaluate(async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
    return response.text();
  }, href!);
}
