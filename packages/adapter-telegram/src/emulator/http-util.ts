import type { IncomingMessage, ServerResponse } from 'node:http';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  options: { closeConnection?: boolean } = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const data = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(data),
    'cache-control': 'no-store',
  };
  // After refusing a body we stop reading it; closing the connection is the only way on.
  if (options.closeConnection) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(data);
}

export function methodNotAllowed(res: ServerResponse): void {
  sendJson(res, 405, { error: { code: 'invalid_input', message: 'method not allowed' } });
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/**
 * The driver and the CA page are unauthenticated. When the emulator listens on a loopback
 * address they answer only requests addressed to a loopback name, so a web page elsewhere
 * cannot reach them through DNS rebinding.
 */
export function hostAllowed(req: IncomingMessage, listenHost: string): boolean {
  if (!LOOPBACK_NAMES.has(listenHost) && !listenHost.startsWith('127.')) return true;
  const host = req.headers.host;
  if (host === undefined) return true;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  return name !== undefined && (LOOPBACK_NAMES.has(name) || name.startsWith('127.'));
}
