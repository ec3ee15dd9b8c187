import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ApiEndpointDeps, handleBotApiCall, handleFileDownload } from './api-endpoint.js';
import type { DriverHttp } from './driver-http.js';
import { notFound } from './errors.js';
import { hostAllowed, sendJson } from './http-util.js';

export interface RouterDeps extends ApiEndpointDeps {
  driverHttp: DriverHttp;
  listenHost: string;
  /** The CA view page (HTML), served at `/`. */
  caPage: string;
}

const API_PATH = /^\/bot([^/]+)\/([^/]+)\/?$/;
const FILE_PATH = /^\/file\/bot([^/]+)\/(.+)$/;

/** Routes `/bot<token>/<method>`, `/file/bot<token>/<path>`, `/_emulator/*` and `/`. */
export function createRouter(
  deps: RouterDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    route(req, res, deps).catch((error: unknown) => {
      deps.onError(error);
      if (!res.headersSent) {
        sendJson(res, 500, { ok: false, error_code: 500, description: 'Internal Server Error' });
      } else {
        res.destroy();
      }
    });
  };
}

async function route(req: IncomingMessage, res: ServerResponse, deps: RouterDeps): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://emulator.invalid');
  const path = url.pathname;

  const api = API_PATH.exec(path);
  if (api?.[1] && api[2]) {
    await handleBotApiCall(req, res, url, safeDecode(api[1]), api[2], deps);
    return;
  }
  const file = FILE_PATH.exec(path);
  if (file?.[1] && file[2]) {
    await handleFileDownload(req, res, safeDecode(file[1]), safeDecode(file[2]), deps);
    return;
  }
  if (path === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  if (path === '/_emulator' || path.startsWith('/_emulator/') || path === '/') {
    if (!hostAllowed(req, deps.listenHost)) {
      sendJson(res, 403, { error: { code: 'forbidden', message: 'unexpected Host header' } });
      return;
    }
    if (path === '/') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        sendJson(res, 404, notFound().toResponse());
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy':
          "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'",
        'x-content-type-options': 'nosniff',
      });
      res.end(req.method === 'HEAD' ? undefined : deps.caPage);
      return;
    }
    await deps.driverHttp.handle(req, res, url, path.slice('/_emulator'.length) || '/');
    return;
  }
  sendJson(res, 404, notFound().toResponse());
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
