import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { CaChatError, silentLogger, systemClock } from '@ca-chat/core';
import type { CaChatErrorCode, Clock, Logger } from '@ca-chat/core';
import type { RateLimit } from './token-bucket.js';

/** Who the embedder's own authentication says the caller is. */
export interface ExternalIdentity {
  clientId: string;
  name?: string | null;
}

/** Counters an embedder may feed into its metrics (every hook is optional and must not throw). */
export interface WsTransportMetrics {
  connectionOpened?(): void;
  connectionClosed?(code: number): void;
  frameReceived?(type: string): void;
  /** A frame or request was refused with this error code. */
  requestRejected?(code: CaChatErrorCode): void;
  httpRequest?(info: { route: string; method: string; status: number; durationMs: number }): void;
}

export interface IpLimits {
  /** New anonymous identities (`hello` without a token). Default 10/min, burst 20. */
  newIdentities?: RateLimit;
  /** `chat.request` frames. Default 10/min, burst 10. */
  chatRequests?: RateLimit;
  /** HTTP requests to `/chat` and `/files`. Default 50/s, burst 200. */
  httpRequests?: RateLimit;
  /** Addresses tracked at once (least recently seen evicted). Default 10 000. */
  maxTrackedIps?: number;
}

export interface WsTransportOptions {
  /** Mount on this server instead of creating one; `stop()` then leaves it running. */
  server?: Server;
  /**
   * With `server`: also serve the HTTP routes on it, in front of its own request listeners
   * (which still get every other request). False = call `handleRequest` yourself. Default true.
   */
  mountHttp?: boolean;
  /** Longest time a request (e.g. an upload) may take on the transport's own server. Default 30 min. */
  requestTimeoutMs?: number;
  /** Where to listen when the transport creates its server. Default `127.0.0.1`. */
  host?: string;
  /** Default 0 (an ephemeral port; read it from `address()`). */
  port?: number;
  /** Prefix of the HTTP routes (`/chat`, `/files`, `/healthz`, `/metrics`). Default ``. */
  basePath?: string;
  /** WebSocket path. Default `${basePath}/ws`. */
  path?: string;
  /**
   * The embedder's own authentication (cookies, sessions…): return who the request is, or
   * null to fall back to ca-chat's own bearer tokens. The id is passed to `relay.ensureClient`.
   */
  authenticate?: (req: IncomingMessage) => Promise<ExternalIdentity | null>;
  /** Whether `hello` without a token creates a new anonymous identity. Default true. */
  allowNewIdentities?: boolean;
  /** Origins allowed to open the WebSocket (browsers send `Origin`). Absent = any. */
  allowedOrigins?: string[];
  /** Origins allowed to call the HTTP routes cross-origin (`*` for any). Absent = none. */
  cors?: { origins: string[]; maxAgeSeconds?: number };
  /** Largest WebSocket frame, in bytes; bigger frames close the connection with 1009. Default 64 KiB. */
  maxPayloadBytes?: number;
  /** Largest JSON body of `POST /chat`. Default 64 KiB. */
  maxJsonBodyBytes?: number;
  /** How often the server pings; a peer that has not answered the previous ping is dropped. Default 30 s. */
  heartbeatIntervalMs?: number;
  /** A connection must say `hello` within this. Default 10 s. */
  helloTimeoutMs?: number;
  /**
   * After `welcome`, live messages of chats with history wait this long for the client's
   * `resume` so replay and live events arrive in seq order. Default 5 s.
   */
  resumeWindowMs?: number;
  /** A slow reader whose unsent data passes this is closed (1008). Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Connections the transport accepts at once (503 beyond). Default 20 000. */
  maxConnections?: number;
  /** Live connections (tabs) one client may have. Default 16. */
  maxConnectionsPerClient?: number;
  /** Frames per connection. Default 20/s, burst 60. */
  rateLimit?: RateLimit;
  ipLimits?: IpLimits;
  /** Use the first `X-Forwarded-For` address as the client IP (only behind a proxy you run). Default false. */
  trustProxy?: boolean;
  /** Key of the signed download links. Default: random per process (links die with it). */
  signingSecret?: string;
  /** Lifetime of a signed download link. Default 15 min. */
  fileUrlTtlMs?: number;
  /** Base URL for file links (`https://chat.example.com`). Default: links are relative (`/files/…`). */
  publicUrl?: string;
  /** Serve this folder at `/` (the web client page). */
  staticDir?: string;
  /** Extra checks for `GET /healthz`; a throw or `ok:false` answers 503. */
  healthCheck?: () =>
    | Promise<Record<string, unknown> & { ok: boolean }>
    | (Record<string, unknown> & { ok: boolean });
  /** Serves `GET /metrics` (Prometheus text) when given. */
  metricsText?: () => Promise<string> | string;
  metrics?: WsTransportMetrics;
  logger?: Logger;
  clock?: Clock;
}

export type ResolvedOptions = Required<
  Omit<
    WsTransportOptions,
    | 'server'
    | 'mountHttp'
    | 'requestTimeoutMs'
    | 'authenticate'
    | 'allowedOrigins'
    | 'cors'
    | 'publicUrl'
    | 'staticDir'
    | 'healthCheck'
    | 'metricsText'
    | 'ipLimits'
  >
> &
  Pick<
    WsTransportOptions,
    | 'server'
    | 'authenticate'
    | 'allowedOrigins'
    | 'cors'
    | 'publicUrl'
    | 'staticDir'
    | 'healthCheck'
    | 'metricsText'
  > & {
    ipLimits: Required<IpLimits>;
  };

const positive = (name: string, value: number): number => {
  if (!Number.isFinite(value) || value <= 0)
    throw new CaChatError('config_invalid', `${name} must be a positive number`);
  return value;
};

function rate(name: string, value: RateLimit): RateLimit {
  positive(`${name}.ratePerSecond`, value.ratePerSecond);
  positive(`${name}.burst`, value.burst);
  return value;
}

export function resolveOptions(options: WsTransportOptions): ResolvedOptions {
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  if (basePath !== '' && !basePath.startsWith('/'))
    throw new CaChatError('config_invalid', 'basePath must start with /');
  const path = options.path ?? `${basePath}/ws`;
  if (!path.startsWith('/')) throw new CaChatError('config_invalid', 'path must start with /');
  const ip = options.ipLimits ?? {};
  return {
    ...options,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 0,
    basePath,
    path,
    allowNewIdentities: options.allowNewIdentities ?? true,
    maxPayloadBytes: positive('maxPayloadBytes', options.maxPayloadBytes ?? 64 * 1024),
    maxJsonBodyBytes: positive('maxJsonBodyBytes', options.maxJsonBodyBytes ?? 64 * 1024),
    heartbeatIntervalMs: positive('heartbeatIntervalMs', options.heartbeatIntervalMs ?? 30_000),
    helloTimeoutMs: positive('helloTimeoutMs', options.helloTimeoutMs ?? 10_000),
    resumeWindowMs: positive('resumeWindowMs', options.resumeWindowMs ?? 5000),
    maxBufferedBytes: positive('maxBufferedBytes', options.maxBufferedBytes ?? 1024 * 1024),
    maxConnections: positive('maxConnections', options.maxConnections ?? 20_000),
    maxConnectionsPerClient: positive(
      'maxConnectionsPerClient',
      options.maxConnectionsPerClient ?? 16,
    ),
    rateLimit: rate('rateLimit', options.rateLimit ?? { ratePerSecond: 20, burst: 60 }),
    ipLimits: {
      newIdentities: rate(
        'ipLimits.newIdentities',
        ip.newIdentities ?? { ratePerSecond: 10 / 60, burst: 20 },
      ),
      chatRequests: rate(
        'ipLimits.chatRequests',
        ip.chatRequests ?? { ratePerSecond: 10 / 60, burst: 10 },
      ),
      httpRequests: rate(
        'ipLimits.httpRequests',
        ip.httpRequests ?? { ratePerSecond: 50, burst: 200 },
      ),
      maxTrackedIps: positive('ipLimits.maxTrackedIps', ip.maxTrackedIps ?? 10_000),
    },
    trustProxy: options.trustProxy ?? false,
    signingSecret: options.signingSecret ?? randomBytes(32).toString('base64url'),
    fileUrlTtlMs: positive('fileUrlTtlMs', options.fileUrlTtlMs ?? 15 * 60_000),
    metrics: options.metrics ?? {},
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
  };
}

/** The caller's address, for per-IP limits. */
export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = req.headers['x-forwarded-for'];
    const first = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? 'unknown';
}
