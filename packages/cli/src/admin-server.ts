import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CaChatError, type Logger } from '@ca-chat/core';
import type { AdminBackend } from './admin-backend.js';

/**
 * The admin API of a running server: loopback only, guarded by a random token that the
 * server writes into its data dir (owner-only). `ca-chat cas approve …` uses it so admin
 * commands work while the server holds the database.
 */
export interface AdminServer {
  url: string;
  token: string;
  close(): Promise<void>;
}

const STATUS: Partial<Record<string, number>> = {
  unknown_chat: 404,
  not_found: 404,
  ca_not_registered: 404,
  unauthorized: 401,
  invalid_input: 400,
  chat_ended: 409,
};

export async function startAdminServer(
  backend: AdminBackend,
  logger: Logger,
): Promise<AdminServer> {
  const token = randomBytes(32).toString('base64url');
  const expected = Buffer.from(`Bearer ${token}`);
  const server: Server = createServer((req, res) => {
    const auth = Buffer.from(req.headers.authorization ?? '');
    if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) {
      return send(res, 401, {
        error: { code: 'unauthorized', message: 'missing or wrong admin token' },
      });
    }
    route(backend, req)
      .then((body) => send(res, 200, body))
      .catch((error: unknown) => {
        const e = CaChatError.isInstance(error)
          ? error
          : CaChatError.wrap(error, 'internal', 'admin request failed');
        if (e.code === 'internal') logger.error({ err: error }, 'admin request failed');
        send(res, STATUS[e.code] ?? 400, { error: { code: e.code, message: e.message } });
      });
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function route(backend: AdminBackend, req: IncomingMessage): Promise<unknown> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const method = req.method ?? 'GET';
  const [resource, id, action] = parts;
  if (resource === 'cas' && method === 'GET' && !id)
    return backend.listCAs({ pending: url.searchParams.get('pending') === '1' });
  if (resource === 'cas' && method === 'POST' && id && action === 'approve')
    return backend.approveCA(id);
  if (resource === 'cas' && method === 'POST' && id && action === 'reject')
    return backend.rejectCA(id);
  if (resource === 'cas' && method === 'POST' && id && action === 'remove')
    return backend.removeCA(id);
  if (resource === 'invites' && method === 'POST') return { code: await backend.createInvite() };
  if (resource === 'chats' && method === 'GET' && !id) {
    const state = url.searchParams.get('state');
    return backend.listChats(state ? { state: state as 'waiting' } : {});
  }
  if (resource === 'chats' && method === 'GET' && id && !action) return backend.showChat(id);
  if (resource === 'chats' && method === 'GET' && id && action === 'transcript')
    return backend.transcript(id);
  if (resource === 'chats' && method === 'POST' && id && action === 'end')
    return backend.endChat(id);
  throw new CaChatError('not_found', `no admin route ${method} ${url.pathname}`);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
  });
  res.end(json);
}

/** Talks to a running server's admin API. */
export function remoteAdminBackend(url: string, token: string): AdminBackend {
  const call = async <T>(method: string, path: string): Promise<T> => {
    const res = await fetch(url + path, {
      method,
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json()) as { error?: { code: string; message: string } };
    if (!res.ok) {
      const code = body.error?.code;
      throw new CaChatError(
        (code as 'internal') ?? 'internal',
        body.error?.message ?? `admin API answered ${res.status}`,
      );
    }
    return body as T;
  };
  const id = encodeURIComponent;
  return {
    mode: 'remote',
    listCAs: (filter = {}) => call('GET', `/cas${filter.pending ? '?pending=1' : ''}`),
    approveCA: (caId) => call('POST', `/cas/${id(caId)}/approve`),
    rejectCA: (caId) => call('POST', `/cas/${id(caId)}/reject`),
    removeCA: (caId) => call('POST', `/cas/${id(caId)}/remove`),
    createInvite: async () => (await call<{ code: string }>('POST', '/invites')).code,
    listChats: (filter = {}) =>
      call('GET', `/chats${filter.state ? `?state=${id(filter.state)}` : ''}`),
    showChat: (chatId) => call('GET', `/chats/${id(chatId)}`),
    endChat: (chatId) => call('POST', `/chats/${id(chatId)}/end`),
    transcript: (chatId) => call('GET', `/chats/${id(chatId)}/transcript`),
    close: async () => {},
  };
}
