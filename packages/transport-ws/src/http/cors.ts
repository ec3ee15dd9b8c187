import type { IncomingMessage, ServerResponse } from 'node:http';

export interface CorsOptions {
  origins: string[];
  maxAgeSeconds?: number;
  /** Send `Access-Control-Allow-Credentials` (only for embedders that authenticate with cookies). */
  credentials?: boolean;
}

const ALLOW_HEADERS = 'Authorization, Content-Type, Range, If-None-Match, If-Range';
const EXPOSE_HEADERS = 'Content-Length, Content-Range, Content-Disposition, ETag, Accept-Ranges';

function allowedOrigin(req: IncomingMessage, cors: CorsOptions | undefined): string | null {
  const origin = req.headers.origin;
  if (!cors || origin === undefined) return null;
  if (cors.origins.includes(origin)) return origin;
  return cors.origins.includes('*') && !cors.credentials ? '*' : null;
}

/** Adds the CORS headers of an actual request when its origin is allowed. */
export function applyCors(
  req: IncomingMessage,
  res: ServerResponse,
  cors: CorsOptions | undefined,
): void {
  const origin = allowedOrigin(req, cors);
  res.setHeader('Vary', 'Origin');
  if (origin === null) return;
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Access-Control-Expose-Headers', EXPOSE_HEADERS);
  if (cors?.credentials) res.setHeader('Access-Control-Allow-Credentials', 'true');
}

/** Answers a preflight: 204 with the allowed methods and headers, or false when the origin is not allowed. */
export function answerPreflight(
  req: IncomingMessage,
  res: ServerResponse,
  cors: CorsOptions | undefined,
  methods: string,
): boolean {
  const origin = allowedOrigin(req, cors);
  if (origin === null) return false;
  res.writeHead(204, {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Methods': methods,
    'Access-Control-Allow-Headers': ALLOW_HEADERS,
    'Access-Control-Max-Age': String(cors?.maxAgeSeconds ?? 600),
    ...(cors?.credentials ? { 'Access-Control-Allow-Credentials': 'true' } : {}),
    Vary: 'Origin',
    'Content-Length': '0',
  });
  res.end();
  return true;
}
