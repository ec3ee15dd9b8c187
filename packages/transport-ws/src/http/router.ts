import type { IncomingMessage, ServerResponse } from 'node:http';
import { CaChatError } from '@ca-chat/core';
import type { TransportContext } from '../context.js';
import { publicError } from '../wire.js';
import { discardBody } from './body.js';
import { handleChatPost } from './chat-route.js';
import { answerPreflight, applyCors } from './cors.js';
import { handleFileGet } from './files-route.js';
import { sendError, sendJson, statusOf } from './responses.js';
import { findStaticFile, sendStaticFile } from './static-files.js';
import { clientIp } from '../options.js';

type Route = 'chat' | 'files' | 'healthz' | 'metrics' | 'info';

const METHODS: Record<Route, string> = {
  chat: 'POST, OPTIONS',
  files: 'GET, HEAD, OPTIONS',
  healthz: 'GET, HEAD',
  metrics: 'GET, HEAD',
  info: 'GET, HEAD, OPTIONS',
};

export interface HttpHandler {
  /** Handles the request when it is one of ours and returns true; false leaves it to the caller. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
}

export function createHttpHandler(ctx: TransportContext): HttpHandler {
  const { options } = ctx;
  const base = options.basePath;

  function routeOf(pathname: string): { route: Route; fileId?: string } | null {
    if (!pathname.startsWith(base)) return null;
    const rest = pathname.slice(base.length);
    if (rest === '/chat') return { route: 'chat' };
    if (rest === '/healthz') return { route: 'healthz' };
    if (rest === '/info') return { route: 'info' };
    if (rest === '/metrics' && options.metricsText) return { route: 'metrics' };
    const file = /^\/files\/([^/]*)$/.exec(rest);
    if (file) {
      let fileId: string;
      try {
        fileId = decodeURIComponent(file[1]!);
      } catch {
        fileId = '';
      }
      return { route: 'files', fileId };
    }
    return null;
  }

  async function health(res: ServerResponse): Promise<void> {
    let body: Record<string, unknown> & { ok: boolean } = { ok: true };
    try {
      ctx.relay();
      if (options.healthCheck) body = { ...body, ...(await options.healthCheck()) };
    } catch (error) {
      body = { ok: false, error: CaChatError.isInstance(error) ? error.code : 'internal' };
    }
    sendJson(res, body.ok ? 200 : 503, body);
  }

  /** What a client page needs to know before it asks: languages, topics, limits. */
  function info(res: ServerResponse): void {
    const { languages, topics, maxFileBytes, maxTextLength } = ctx.relay().settings;
    sendJson(res, 200, { protocol: 'ca-chat.v1', languages, topics, maxFileBytes, maxTextLength });
  }

  async function run(
    route: Route,
    fileId: string | undefined,
    url: URL,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    if (req.method === 'OPTIONS' && route !== 'healthz' && route !== 'metrics') {
      if (!answerPreflight(req, res, options.cors, METHODS[route]))
        throw new CaChatError('forbidden', 'origin not allowed');
      return;
    }
    applyCors(req, res, options.cors);
    const allowed = METHODS[route].split(', ');
    if (!allowed.includes(req.method ?? '')) {
      throw new CaChatError('invalid_input', `method ${req.method} not allowed`, {
        details: { httpStatus: 405, allow: METHODS[route] },
      });
    }
    if (route === 'healthz') return health(res);
    if (route === 'info') return info(res);
    if (route === 'metrics') {
      const text = await options.metricsText!();
      res.writeHead(200, {
        'Content-Type': 'text/plain; version=0.0.4; charset=utf-8',
        'Cache-Control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : text);
      return;
    }
    if (!ctx.ipLimits.httpRequests.take(clientIp(req, options.trustProxy), options.clock.now())) {
      throw new CaChatError(
        'rate_limited',
        'too many requests from this address; try again later',
        { details: { retryAfterSeconds: 1 } },
      );
    }
    if (route === 'chat') return handleChatPost(ctx, req, res);
    return handleFileGet(ctx, req, res, fileId ?? '', url.searchParams);
  }

  return {
    handle(req, res) {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://localhost');
      } catch {
        return false;
      }
      const match = routeOf(url.pathname);
      if (!match) {
        if (
          !options.staticDir ||
          (req.method !== 'GET' && req.method !== 'HEAD') ||
          !url.pathname.startsWith(`${base}/`)
        )
          return false;
        const file = findStaticFile(options.staticDir, url.pathname.slice(base.length));
        if (!file) return false;
        sendStaticFile(file, req, res);
        return true;
      }
      const startedAt = Date.now();
      res.on('finish', () => {
        try {
          options.metrics.httpRequest?.({
            route: match.route,
            method: req.method ?? '',
            status: res.statusCode,
            durationMs: Date.now() - startedAt,
          });
        } catch {
          // Metrics never break the transport.
        }
      });
      run(match.route, match.fileId, url, req, res).catch((error: unknown) => {
        const failure = publicError(error, options.logger, { route: match.route });
        ctx.rejected(failure.code);
        const headers: Record<string, string> = {};
        const allow = failure.details?.allow;
        if (typeof allow === 'string') headers.Allow = allow;
        if (failure.code === 'rate_limited') headers['Retry-After'] = '1';
        sendError(res, failure, statusOf(failure), headers);
        discardBody(req, res);
      });
      return true;
    },
  };
}
