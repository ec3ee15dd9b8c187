import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createFsBlobStore, createMemoryStorage, createRelay, silentLogger } from '@ca-chat/core';
import type { CAChannel, Logger, Relay, RelayOptions } from '@ca-chat/core';
import { createTelegramChannel, type TelegramChannelOptions } from '@ca-chat/adapter-telegram';
import { createWsTransport, type WsTransport } from '@ca-chat/transport-ws';
import { homePage, loginPage } from './pages.js';
import { createSessions, USERNAME } from './session.js';

export interface EmbedAppOptions {
  /** Signs the host app's session cookies (at least 16 characters). */
  sessionSecret: string;
  /** Uploaded files live in `<dataDir>/files`. */
  dataDir: string;
  /** The CAs' channel: Telegram (the real Bot API, or the emulator's `url` as `apiRoot`)… */
  telegram?: TelegramChannelOptions;
  /** …or any channels of your own (tests pass a recording channel). */
  channels?: CAChannel[];
  relay?: RelayOptions;
  /** The built web client (`examples/web-client/dist`), served at `/support/` to signed-in users. */
  webClientDir?: string | null;
  /** Mark cookies `Secure` (behind HTTPS). Default false. */
  secureCookies?: boolean;
  logger?: Logger;
}

export interface EmbedApp {
  /** The host app's own server, with ca-chat mounted on it. */
  readonly server: Server;
  readonly relay: Relay;
  readonly transport: WsTransport;
  /** Starts the relay and listens; resolves with the base URL. */
  listen(options?: { port?: number; host?: string }): Promise<string>;
  close(): Promise<void>;
}

const MAX_FORM_BYTES = 4096;
const WEB_CLIENT_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'main.js': 'text/javascript; charset=utf-8',
  'main.js.map': 'application/json',
  'styles.css': 'text/css; charset=utf-8',
};

/**
 * An existing Node `http` app with its own login (a signed cookie), and ca-chat mounted on
 * the same server: the relay, the WebSocket transport whose `authenticate` hook maps the
 * app's users to ca-chat clients, memory storage and a file blob store.
 */
export function createApp(options: EmbedAppOptions): EmbedApp {
  const logger = options.logger ?? silentLogger;
  const sessions = createSessions({
    secret: options.sessionSecret,
    secure: options.secureCookies ?? false,
  });
  const webClientDir =
    options.webClientDir && existsSync(join(options.webClientDir, 'index.html'))
      ? options.webClientDir
      : null;

  const channels = [...(options.channels ?? [])];
  if (options.telegram) channels.push(createTelegramChannel({ logger, ...options.telegram }));
  if (channels.length === 0) throw new Error('createApp needs `telegram` or `channels`');

  const server = createServer();
  const transport = createWsTransport({
    server,
    // We route HTTP ourselves (below); the transport only takes its WebSocket upgrades.
    mountHttp: false,
    // The app's users are ca-chat's clients: no anonymous identities, no ca-chat tokens.
    allowNewIdentities: false,
    authenticate: async (req) => {
      const username = sessions.read(req);
      return username ? { clientId: `user_${username}`, name: username } : null;
    },
    logger,
  });
  const relay = createRelay({
    storage: createMemoryStorage(),
    blobs: createFsBlobStore({ dir: join(options.dataDir, 'files') }),
    transports: [transport],
    channels,
    options: { logger, ...options.relay },
  });

  server.on('request', (req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error');
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://app.invalid');
    const user = sessions.read(req);
    if (req.method === 'GET' && url.pathname === '/')
      return html(res, 200, user ? homePage(user, webClientDir !== null) : loginPage(null));
    if (req.method === 'POST' && url.pathname === '/login') return login(req, res);
    if (req.method === 'POST' && url.pathname === '/logout') {
      res.writeHead(303, { location: '/', 'set-cookie': sessions.clear() }).end();
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/support/')) {
      if (!user) return void res.writeHead(303, { location: '/' }).end();
      return serveWebClient(url.pathname.slice('/support/'.length) || 'index.html', res);
    }
    // ca-chat's routes: POST /chat (text or file upload), GET /files/:id, GET /healthz.
    if (transport.handleRequest(req, res)) return;
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  }

  async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readSmallBody(req, MAX_FORM_BYTES);
    const json = (req.headers['content-type'] ?? '').includes('application/json');
    let username: string | null = null;
    try {
      const raw = json
        ? (JSON.parse(body ?? '') as { username?: unknown }).username
        : new URLSearchParams(body ?? '').get('username');
      username = typeof raw === 'string' ? raw.trim().toLowerCase() : null;
    } catch {
      username = null;
    }
    if (!username || !USERNAME.test(username)) {
      if (json)
        return void res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'username must be 1-32 of a-z 0-9 _ -' }));
      return html(res, 400, loginPage('Usernames are 1–32 characters: a–z, 0–9, _ and -.'));
    }
    const cookie = sessions.issue(username);
    if (json)
      return void res
        .writeHead(200, { 'content-type': 'application/json', 'set-cookie': cookie })
        .end(JSON.stringify({ username }));
    res.writeHead(303, { location: '/', 'set-cookie': cookie }).end();
  }

  async function serveWebClient(file: string, res: ServerResponse): Promise<void> {
    const type = WEB_CLIENT_FILES[file];
    if (!webClientDir || !type)
      return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    const bytes = await readFile(join(webClientDir, file));
    res
      .writeHead(200, {
        'content-type': type,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      })
      .end(bytes);
  }

  let listening = false;
  return {
    server,
    relay,
    transport,
    async listen({ port = 0, host = '127.0.0.1' } = {}) {
      await relay.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      listening = true;
      const address = server.address() as AddressInfo;
      return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    },
    async close() {
      await relay.stop();
      if (!listening) return;
      listening = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function html(res: ServerResponse, status: number, body: string): void {
  res
    .writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' })
    .end(body);
}

/** A form body, or null when it passes `maxBytes` (the rest is drained, not buffered). */
async function readSmallBody(req: IncomingMessage, maxBytes: number): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= maxBytes) chunks.push(chunk);
  }
  return size > maxBytes ? null : Buffer.concat(chunks).toString('utf8');
}
