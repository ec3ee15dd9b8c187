import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CaChatError,
  createFsBlobStore,
  createRelay,
  type Logger,
  type Relay,
} from '@ca-chat/core';
import { createSqliteStorage } from '@ca-chat/storage-sqlite';
import { createWsTransport } from '@ca-chat/transport-ws';
import { createTelegramChannel } from '@ca-chat/adapter-telegram';
import { createTelegramEmulator, type TelegramEmulator } from '@ca-chat/adapter-telegram/emulator';
import { relayAdminBackend } from './admin-backend.js';
import { startAdminServer, type AdminServer } from './admin-server.js';
import {
  dataDirLayout,
  prepareDataDir,
  removeAdminEndpoint,
  writeAdminEndpoint,
} from './data-dir.js';
import { createMetrics, type ServeMetrics } from './metrics.js';
import { LANGUAGE_NAMES, type ServeConfig } from './options.js';
import { resolveWebClientDir } from './web-client.js';

/** Where Telegram posts updates in webhook mode (the public URL's path must end the same). */
const WEBHOOK_PATH = '/telegram/webhook';

export interface RunningServer {
  /** Base URL of the HTTP/WebSocket server (the client page is at `/`). */
  url: string;
  adminUrl: string;
  /** Demo only: the Telegram emulator (its CA view is at its root). */
  emulator: TelegramEmulator | null;
  /** Demo only: the emulated bot's token. */
  demoBotToken: string | null;
  dataDir: string;
  relay: Relay;
  /** Stops accepting, drains uploads and deliveries (bounded), flushes storage. */
  stop(): Promise<void>;
}

/** Wires sql.js storage, the file blob store, the WebSocket transport and the Telegram channel. */
export async function startServer(config: ServeConfig, logger: Logger): Promise<RunningServer> {
  let emulator: TelegramEmulator | null = null;
  let token = config.telegramToken;
  let apiRoot = config.telegramApiRoot;
  let dataDir = config.dataDir;
  /** A data dir made for this demo run only: removed once the server has stopped. */
  let throwaway: string | null = null;
  if (config.demo) {
    if (config.dataDir === './data' && !process.env.CA_CHAT_DATA_DIR)
      dataDir = throwaway = await mkdtemp(join(tmpdir(), 'ca-chat-demo-'));
    emulator = await createTelegramEmulator({ host: config.host, port: config.emulatorPort });
    token ??= `${100000 + Math.floor(Math.random() * 900000)}:demo-${randomBytes(12).toString('hex')}`;
    emulator.createBot({ token, username: 'ca_chat_demo_bot', firstName: 'ca-chat demo' });
    apiRoot = emulator.url;
  }
  if (!token)
    throw new CaChatError(
      'config_invalid',
      'no Telegram bot token (set TELEGRAM_BOT_TOKEN or use --demo)',
    );

  const layout = dataDirLayout(dataDir);
  try {
    await prepareDataDir(layout);
  } catch (error) {
    await emulator?.close();
    throw error;
  }
  const storage = createSqliteStorage({ file: layout.database, logger: child(logger, 'storage') });
  const blobs = createFsBlobStore({ dir: layout.files });

  // Our own server: the transport answers its routes (client API, files, page, /healthz,
  // /metrics) through handleRequest; a Telegram webhook, when configured, is mounted too.
  let handleRoute: (req: IncomingMessage, res: ServerResponse) => boolean = () => false;
  const inFlight = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    if (!handleRoute(req, res)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'not found' } }));
    }
  });
  let metrics: ServeMetrics | null = null;
  let relayForHealth: Relay | null = null;
  const telegramHealth = createTelegramProbe(apiRoot, token);

  const transport = createWsTransport({
    server,
    mountHttp: false,
    logger: child(logger, 'transport'),
    staticDir: resolveWebClientDir(config.webClient),
    publicUrl: config.publicUrl ?? undefined,
    metricsText: () => (metrics ? metrics.render() : ''),
    healthCheck: () => health(relayForHealth, telegramHealth),
  });
  const channel = createTelegramChannel({
    token,
    apiRoot,
    webhook: config.webhookUrl
      ? { url: config.webhookUrl, path: WEBHOOK_PATH, secretToken: config.webhookSecret ?? '' }
      : undefined,
    languages: config.languages.map((tag) => ({ tag, name: LANGUAGE_NAMES[tag] ?? tag })),
    topics: config.topics,
    adminIds: config.adminIds,
    logger: child(logger, 'telegram'),
  });
  const relay = createRelay({
    storage,
    blobs,
    transports: [transport],
    channels: [channel],
    options: {
      registrationMode:
        config.demo && !process.env.CA_CHAT_REGISTRATION && config.registrationMode === 'approval'
          ? 'open'
          : config.registrationMode,
      languages: config.languages,
      topics: config.topics,
      routing: config.routing,
      offerTimeoutMs: config.offerTimeoutMs,
      matchTimeoutMs: config.matchTimeoutMs,
      clientGraceMs: config.clientGraceMs,
      idleChatTimeoutMs: config.idleChatTimeoutMs,
      retentionDays: config.retentionDays,
      maxFileBytes: config.maxFileBytes,
      maxTextLength: config.maxTextLength,
      logger: child(logger, 'relay'),
    },
  });
  relay.on('error', (error) => logger.warn({ code: error.code, err: error }, 'relay error'));

  metrics = createMetrics(relay, {
    telegram429Count: () => channel.stats.rateLimited,
  });
  relayForHealth = relay;
  handleRoute = (req, res) => {
    if (
      config.webhookUrl &&
      req.method === 'POST' &&
      (req.url ?? '').split('?')[0] === WEBHOOK_PATH
    ) {
      void channel.webhookHandler(req, res);
      return true;
    }
    return transport.handleRequest(req, res);
  };

  try {
    await relay.start();
  } catch (error) {
    await emulator?.close();
    throw error;
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (error: NodeJS.ErrnoException) => {
    await relay.stop();
    await emulator?.close();
    throw new CaChatError(
      'config_invalid',
      `cannot listen on ${config.host}:${config.port}: ${error.code ?? error.message}`,
      { cause: error },
    );
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;

  const admin: AdminServer = await startAdminServer(
    relayAdminBackend(relay, 'remote'),
    child(logger, 'admin'),
  );
  await writeAdminEndpoint(layout, { url: admin.url, token: admin.token, pid: process.pid });
  logger.info({ url, dataDir: layout.root, demo: config.demo }, 'ca-chat is serving');

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      logger.info(
        { inFlightRequests: inFlight.size },
        'shutting down: no new connections; draining uploads and deliveries',
      );
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Uploads and downloads under way finish first (bounded): they need storage open.
      const drained = await waitFor(() => inFlight.size === 0, config.shutdownTimeoutMs);
      if (!drained)
        logger.warn(
          { inFlightRequests: inFlight.size },
          'shutdown: cutting off requests still running',
        );
      // Then the relay: closes WebSockets (1001), drains deliveries, flushes and snapshots storage.
      await relay.stop({ drainTimeoutMs: config.shutdownTimeoutMs });
      server.closeAllConnections();
      await closed;
      await admin.close();
      await removeAdminEndpoint(layout);
      await emulator?.close();
      if (throwaway !== null) {
        await rm(throwaway, { recursive: true, force: true }).catch((error: unknown) =>
          logger.warn({ err: error, dataDir: throwaway }, 'could not remove the demo data dir'),
        );
        logger.info({ dataDir: throwaway }, 'removed the demo data dir');
      }
      logger.info({}, 'stopped; storage flushed');
    })());

  return {
    url,
    adminUrl: admin.url,
    emulator,
    demoBotToken: config.demo ? token : null,
    dataDir: layout.root,
    relay,
    stop,
  };
}

function child(logger: Logger, component: string): Logger {
  return logger.child ? logger.child({ component }) : logger;
}

type HealthReport = {
  [key: string]: unknown;
  ok: boolean;
  storage: { ok: boolean; error?: string };
  telegram: { ok: boolean; error?: string };
};

async function health(
  relay: Relay | null,
  telegram: () => Promise<{ ok: boolean; error?: string }>,
): Promise<HealthReport> {
  if (!relay)
    return {
      ok: false,
      storage: { ok: false, error: 'starting' },
      telegram: { ok: false, error: 'starting' },
    };
  const storage = await relay.storage
    .countChats({ state: 'active' })
    .then(() => ({ ok: true }))
    .catch((error: unknown) => ({
      ok: false,
      error: CaChatError.isInstance(error) ? error.code : 'storage_error',
    }));
  const tg = await telegram();
  return { ok: storage.ok && tg.ok, storage, telegram: tg };
}

/** Asks Telegram's getMe at most every 15 s; the answer says only ok or why not (never the token). */
function createTelegramProbe(
  apiRoot: string,
  token: string,
): () => Promise<{ ok: boolean; error?: string }> {
  let cached: { at: number; value: { ok: boolean; error?: string } } | null = null;
  return async () => {
    if (cached && Date.now() - cached.at < 15_000) return cached.value;
    let value: { ok: boolean; error?: string };
    try {
      const res = await fetch(`${apiRoot}/bot${token}/getMe`, {
        signal: AbortSignal.timeout(3_000),
      });
      value = res.ok ? { ok: true } : { ok: false, error: `Bot API answered ${res.status}` };
    } catch (error) {
      value = {
        ok: false,
        error:
          (error as Error).name === 'TimeoutError' ? 'Bot API timed out' : 'Bot API unreachable',
      };
    }
    cached = { at: Date.now(), value };
    return value;
  };
}

/** Resolves true once `done()` holds (checked every 50 ms), false after `timeoutMs`. */
async function waitFor(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}
