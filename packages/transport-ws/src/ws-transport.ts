import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { CaChatError } from '@ca-chat/core';
import type { ClientEvent, ClientTransport, RelayApi } from '@ca-chat/core';
import { createTransportContext } from './context.js';
import { createHttpHandler } from './http/router.js';
import { sendError } from './http/responses.js';
import { resolveOptions, type WsTransportOptions } from './options.js';
import type { ServerFrame } from './protocol.js';
import { errorFrame, toWireMessage } from './wire.js';
import { CloseCode } from './ws/connection.js';
import { createWsEndpoint } from './ws/ws-endpoint.js';

export interface WsTransport extends ClientTransport {
  readonly name: 'ws';
  /**
   * Handles one of the transport's HTTP routes and returns true, or returns false for any
   * other request, for embedders that route themselves (`mountHttp: false`).
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** Takes a WebSocket upgrade for the transport's path; false for any other path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Where the transport's own server listens (null when mounted or not started). */
  address(): AddressInfo | null;
  /** `http://host:port` of the transport's own server (null when mounted or not started). */
  readonly url: string | null;
  /**
   * Closes every connection of a client (1008, or an abrupt TCP reset with `terminate`);
   * returns how many were closed. The client may reconnect unless the embedder refuses it.
   */
  disconnectClient(clientId: string, options?: { terminate?: boolean; reason?: string }): number;
  /** Live WebSocket connections and distinct connected clients. */
  stats(): { connections: number; clients: number };
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The WebSocket + HTTP client transport. Standalone (`port`) or mounted on a server the
 * embedder owns (`server`), tRPC-adapter style.
 */
export function createWsTransport(options: WsTransportOptions = {}): WsTransport {
  const resolved = resolveOptions(options);
  const ctx = createTransportContext(resolved);
  const http = createHttpHandler(ctx);
  const endpoint = createWsEndpoint(ctx);
  const owned = options.server === undefined;
  let server: Server | null = null;
  let state: 'idle' | 'running' | 'stopped' = 'idle';
  let detach: (() => void) | null = null;

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (endpoint.handleUpgrade(req, socket, head)) return;
    // Nobody else listens for upgrades: answer instead of leaving the socket hanging.
    if (owned || server?.listenerCount('upgrade') === 1) {
      socket.on('error', () => {});
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    }
  };

  function mount(target: Server): void {
    target.on('upgrade', onUpgrade);
    if (options.mountHttp === false) {
      detach = () => target.off('upgrade', onUpgrade);
      return;
    }
    // Like engine.io's attach: our routes first, the server's own listeners for everything else.
    const previous = target.listeners('request') as RequestListener[];
    target.removeAllListeners('request');
    const dispatch: RequestListener = (req, res) => {
      if (http.handle(req, res)) return;
      for (const listener of previous) listener.call(target, req, res);
    };
    target.on('request', dispatch);
    detach = () => {
      target.off('upgrade', onUpgrade);
      target.off('request', dispatch);
      for (const listener of previous) target.on('request', listener);
    };
  }

  function toFrame(event: ClientEvent): ServerFrame {
    if (event.type === 'message') return toWireMessage(event, ctx.fileUrl);
    if (event.type === 'error')
      return errorFrame(new CaChatError(event.code, event.message), event.ref);
    return event;
  }

  return {
    name: 'ws',

    async start(relay: RelayApi) {
      if (state !== 'idle')
        throw new CaChatError('invalid_input', 'the ws transport was already started');
      state = 'running';
      ctx.setRelay(relay, 'running');
      endpoint.start();
      if (!owned) {
        server = options.server!;
        mount(server);
        return;
      }
      const own = createServer((req, res) => {
        if (!http.handle(req, res)) sendError(res, new CaChatError('not_found', 'not found'));
      });
      own.requestTimeout = options.requestTimeoutMs ?? 30 * 60_000;
      own.headersTimeout = 30_000;
      own.on('upgrade', onUpgrade);
      own.on('clientError', (_error, socket) => socket.destroy());
      await new Promise<void>((resolve, reject) => {
        own.once('error', reject);
        own.listen(resolved.port, resolved.host, () => {
          own.off('error', reject);
          resolve();
        });
      });
      server = own;
      resolved.logger.info({ url: this.url }, 'ws transport listening');
    },

    async stop() {
      if (state !== 'running') {
        state = 'stopped';
        return;
      }
      state = 'stopped';
      await endpoint.stop();
      ctx.setRelay(null, 'stopped');
      detach?.();
      detach = null;
      if (owned && server) {
        const closing = server;
        await new Promise<void>((resolve) => {
          closing.close(() => resolve());
          // Keep-alive sockets would hold close() open; in-flight uploads are cut.
          closing.closeAllConnections();
        });
      }
      server = null;
    },

    // Synchronous: the frame is queued on the sockets (or not) right here.
    deliver(clientId: string, event: ClientEvent): boolean {
      return ctx.broadcast(clientId, toFrame(event));
    },

    handleRequest: (req, res) => http.handle(req, res),
    handleUpgrade: (req, socket, head) => endpoint.handleUpgrade(req, socket, head),

    address() {
      if (!owned || !server) return null;
      const address = server.address();
      return address !== null && typeof address === 'object' ? address : null;
    },

    get url() {
      const address = this.address();
      if (!address) return null;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${host}:${address.port}`;
    },

    disconnectClient(clientId, opts = {}) {
      const connections = ctx.registry.of(clientId);
      for (const connection of connections) {
        if (opts.terminate) connection.socket.terminate();
        else connection.close(CloseCode.policy, opts.reason ?? 'disconnected by the server');
      }
      return connections.length;
    },

    stats() {
      return { connections: ctx.registry.all.size, clients: ctx.registry.clientCount };
    },
  };
}
