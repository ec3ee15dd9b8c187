import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { CaChatError } from '@ca-chat/core';
import type { TimerHandle } from '@ca-chat/core';
import type { TransportContext } from '../context.js';
import { clientIp, type ExternalIdentity } from '../options.js';
import { SUBPROTOCOL } from '../protocol.js';
import { errorFrame } from '../wire.js';
import { CloseCode, Connection, connectionLimits } from './connection.js';
import { createFrameHandler } from './frame-handler.js';

/**
 * Keeps an error on a socket still being upgraded (or refused) from crashing the process.
 * Shared, and taken off once `ws` owns the socket (it listens for errors itself): a closure
 * per upgrade would stay on every socket, with the listener array and scope it drags along.
 */
const ignoreError = (): void => {};

export interface WsEndpoint {
  /** Takes an upgrade request for our path; false when the path is someone else's. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  start(): void;
  /** Closes every connection with 1001 and stops the heartbeat. */
  stop(): Promise<void>;
}

/** Refuses an upgrade with a plain HTTP response carrying the usual `{error:{code,message}}` body. */
function refuse(
  socket: Duplex,
  status: number,
  error: CaChatError,
  headers: Record<string, string> = {},
): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: { code: error.code, message: error.message } });
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Connection: close',
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/** Protocols offered in `Sec-WebSocket-Protocol`, or null when the header is absent. */
function offeredProtocols(req: IncomingMessage): string[] | null {
  const header = req.headers['sec-websocket-protocol'];
  if (header === undefined) return null;
  return header
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

export function createWsEndpoint(ctx: TransportContext): WsEndpoint {
  const { options } = ctx;
  const handleFrame = createFrameHandler(ctx);

  /**
   * `ws`'s socket with this transport's handlers built in rather than registered on each
   * socket: `ws` reports everything through `emit`, and each socket keeps its listeners in
   * a dictionary that grows by 96 bytes past three events (idle connections are the many).
   * Listeners added with `on`/`once` still run, after these.
   */
  class TransportSocket extends WebSocket {
    connection: Connection | null = null;

    override emit(event: string | symbol, ...args: unknown[]): boolean {
      const connection = this.connection;
      if (event === 'error') {
        // Protocol errors (oversized frame → 1009, bad UTF-8 → 1007) close the socket; log only.
        options.logger.debug(
          { err: args[0], clientId: connection?.clientId ?? null },
          'websocket error',
        );
        // Handled here: with no listener of its own, EventEmitter would throw it.
        if (this.listenerCount('error') === 0) return true;
      } else if (connection !== null) {
        if (event === 'message') onMessage(connection, args[0] as RawData, args[1] as boolean);
        else if (event === 'pong') connection.alive = true;
        else if (event === 'close') onClose(connection, args[0] as number);
      }
      return super.emit(event, ...args);
    }

    /**
     * Frames the connection still holds for this tick's write go before the close frame,
     * also when `ws` closes on its own (a protocol error, or the peer's close).
     */
    override close(code?: number, data?: string | Buffer): void {
      this.connection?.flush();
      super.close(code, data);
    }
  }

  const wss = new WebSocketServer({
    WebSocket: TransportSocket,
    noServer: true,
    maxPayload: options.maxPayloadBytes,
    // Compression costs memory per connection (zlib contexts) and invites CRIME-style
    // attacks on mixed secrets; chat frames are small anyway.
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  const limits = connectionLimits(options.maxBufferedBytes, options.rateLimit, options.clock.now());
  let running = false;
  let pendingUpgrades = 0;
  let heartbeat: TimerHandle | null = null;

  function onConnection(
    socket: TransportSocket,
    /** The stream the upgrade came on (the embedder's, not always `req.socket`): frames go there. */
    stream: Duplex,
    req: IncomingMessage,
    identity: ExternalIdentity | null,
  ): void {
    const connection = new Connection(
      socket,
      stream,
      clientIp(req, options.trustProxy),
      limits,
      options.clock.now(),
    );
    connection.identity = identity;
    ctx.registry.all.add(connection);
    safeMetric(() => options.metrics.connectionOpened?.());
    const helloTimer = options.clock.setTimeout(() => {
      if (connection.clientId === null)
        connection.close(CloseCode.policy, 'no hello received in time');
    }, options.helloTimeoutMs);
    connection.helloTimer = helloTimer;
    socket.connection = connection;
  }

  function onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      ctx.rejected('malformed');
      connection.send(
        errorFrame(new CaChatError('malformed', 'binary frames are not supported; send JSON text')),
      );
      return;
    }
    handleFrame(connection, (data as Buffer).toString('utf8'));
  }

  function onClose(connection: Connection, code: number): void {
    connection.closed = true;
    cancelHelloTimer(connection);
    ctx.registry.remove(connection);
    safeMetric(() => options.metrics.connectionClosed?.(code));
  }

  function cancelHelloTimer(connection: Connection): void {
    if (connection.helloTimer === null) return;
    options.clock.clearTimeout(connection.helloTimer);
    connection.helloTimer = null;
  }

  function safeMetric(call: () => void): void {
    try {
      call();
    } catch (error) {
      options.logger.warn({ err: error }, 'metrics hook threw');
    }
  }

  async function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    if (!running)
      return refuse(
        socket,
        503,
        new CaChatError('shutting_down', 'the server is not accepting connections'),
      );
    if (ctx.registry.all.size + pendingUpgrades >= options.maxConnections) {
      return refuse(
        socket,
        503,
        new CaChatError('rate_limited', 'too many connections; try again later'),
        { 'Retry-After': '5' },
      );
    }
    const origin = req.headers.origin;
    if (
      options.allowedOrigins &&
      origin !== undefined &&
      !options.allowedOrigins.includes(origin)
    ) {
      return refuse(socket, 403, new CaChatError('forbidden', 'origin not allowed'));
    }
    const protocols = offeredProtocols(req);
    // No header at all is accepted as v1 (curl, wscat); an offer without v1 is a client
    // from another version and must not be half-understood.
    if (protocols !== null && !protocols.includes(SUBPROTOCOL)) {
      return refuse(
        socket,
        426,
        new CaChatError(
          'unsupported_protocol',
          `unsupported subprotocol; this server speaks ${SUBPROTOCOL}`,
        ),
        { 'Sec-WebSocket-Protocol': SUBPROTOCOL },
      );
    }
    let identity: ExternalIdentity | null = null;
    if (options.authenticate) {
      pendingUpgrades++;
      try {
        identity = await options.authenticate(req);
      } catch (error) {
        options.logger.error({ err: error }, 'authenticate hook failed');
        return refuse(socket, 500, new CaChatError('internal', 'authentication failed'));
      } finally {
        pendingUpgrades--;
      }
      if (socket.destroyed) return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('error', ignoreError);
      onConnection(ws, socket, req, identity);
    });
  }

  function beat(): void {
    for (const connection of ctx.registry.all) {
      if (!connection.alive) {
        // No pong since the last ping: the peer is gone (or its network is).
        connection.closed = true;
        connection.socket.terminate();
        continue;
      }
      connection.alive = false;
      try {
        connection.socket.ping();
      } catch {
        // Closing sockets throw on ping; the close handler cleans up.
      }
    }
    heartbeat = options.clock.setTimeout(beat, options.heartbeatIntervalMs);
  }

  return {
    handleUpgrade(req, socket, head) {
      const pathname = (req.url ?? '/').split('?')[0];
      if (pathname !== options.path) return false;
      socket.on('error', ignoreError);
      upgrade(req, socket, head).catch((error) => {
        options.logger.error({ err: error }, 'upgrade failed');
        socket.destroy();
      });
      return true;
    },
    start() {
      running = true;
      heartbeat = options.clock.setTimeout(beat, options.heartbeatIntervalMs);
    },
    async stop() {
      running = false;
      if (heartbeat) options.clock.clearTimeout(heartbeat);
      heartbeat = null;
      const connections = [...ctx.registry.all];
      await Promise.all(
        connections.map(
          (connection) =>
            new Promise<void>((resolve) => {
              if (connection.socket.readyState === connection.socket.CLOSED) return resolve();
              connection.socket.once('close', () => resolve());
              connection.close(CloseCode.goingAway, 'server shutting down');
              // Bounded: a peer that never answers the close frame is cut off.
              const timer = setTimeout(() => connection.socket.terminate(), 1000);
              timer.unref();
            }),
        ),
      );
      wss.close();
    },
  };
}
