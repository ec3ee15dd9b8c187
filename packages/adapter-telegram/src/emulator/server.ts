import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runWebhookReply, type ApiEndpointDeps } from './api-endpoint.js';
import { CA_VIEW_HTML } from './ca-view-page.js';
import { Driver } from './driver.js';
import { DriverHttp, injectFault } from './driver-http.js';
import { EmulatorState } from './emulator-state.js';
import { FileStore } from './file-store.js';
import { resolveLimits, resolveRateLimits } from './limits.js';
import { createRouter } from './router.js';
import type { TelegramEmulator, TelegramEmulatorOptions } from './types.js';
import { WebhookDeliverer } from './webhook.js';

/**
 * Starts a Telegram Bot API emulator on `host:port` (127.0.0.1, a free port by default).
 * Point telegraf at it with `new Telegraf(token, { telegram: { apiRoot: emulator.url } })`.
 */
export async function createTelegramEmulator(
  options: TelegramEmulatorOptions = {},
): Promise<TelegramEmulator> {
  const host = options.host ?? '127.0.0.1';
  const limits = resolveLimits(options.limits);
  const rates = resolveRateLimits(options.rateLimits);
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'ca-chat-telegram-emulator-')));
  const tmpDir = join(dataDir, 'tmp');
  await mkdir(tmpDir, { recursive: true });
  const files = new FileStore(join(dataDir, 'files'));
  await files.init();

  const state = new EmulatorState(limits, rates, files, tmpDir);
  for (const bot of options.bots ?? []) state.createBot(bot);
  const onError = options.onError ?? (() => {});
  const driver = new Driver(state);
  const driverHttp = new DriverHttp(state, driver);

  const apiDeps: ApiEndpointDeps = { state, onError, webhooks: { start() {}, stop() {} } };
  const webhooks = new WebhookDeliverer(
    options.webhook ?? {},
    (bot, method, params) => runWebhookReply(apiDeps, bot, method, params),
    () => state.nowSeconds(),
    (event) => state.hub.emit(event),
  );
  apiDeps.webhooks = webhooks;

  const server = createServer(
    createRouter({ ...apiDeps, webhooks, driverHttp, listenHost: host, caPage: CA_VIEW_HTML }),
  );
  // Long polls and large uploads are legitimate slow requests.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  await listen(server, options.port ?? 0, host);
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  const close = async () => {
    state.markClosed();
    driver.close();
    driverHttp.close();
    for (const bot of state.allBots()) bot.updates.endPoll();
    await webhooks.close();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
  };

  return {
    url,
    createBot: (spec) => state.createBot(spec),
    createUser: (spec) => state.createUser(spec),
    bots: () => state.allBots().map((bot) => ({ ...bot.info })),
    users: () => state.allUsers(),
    sendText: (token, userId, text, o) => driver.sendText(token, userId, text, o),
    sendDocument: (token, userId, file, o) => driver.sendDocument(token, userId, file, o),
    sendPhoto: (token, userId, file, o) => driver.sendPhoto(token, userId, file, o),
    pressButton: (token, userId, messageId, data) =>
      driver.pressButton(token, userId, messageId, data),
    callbackAnswer: (id) => driver.callbackAnswer(id),
    botMessages: (token, chatId) => driver.botMessages(token, chatId),
    chatHistory: (token, chatId) => driver.chatHistory(token, chatId),
    waitForBotMessage: (token, chatId, o) => driver.waitForBotMessage(token, chatId, o),
    fileBytes: (fileId) => driver.fileBytes(fileId),
    calls: (token) => state.bot(token).calls(),
    injectFault: (token, fault) => injectFault(state, token, fault),
    subscribe: (listener) => state.hub.subscribe(listener),
    close: () => (closing ??= close()),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
