import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createFsBlobStore, createMemoryStorage, createRelay } from '@ca-chat/core';
import type { CA, Relay, RelayOptions, Storage } from '@ca-chat/core';
import { createRecordingChannel, type RecordingChannel } from '@ca-chat/core/testing';
import {
  createCaChatClient,
  type CaChatClient,
  type CaChatClientOptions,
  type WebSocketConstructor,
} from '../client/index.js';
import type { WsTransportOptions } from '../options.js';
import type { ServerFrame } from '../protocol.js';
import { createWsTransport, type WsTransport } from '../ws-transport.js';

/** A real relay (memory storage, fs blobs, recording CA channel) behind a real ws transport on 127.0.0.1:0. */
export interface Harness {
  relay: Relay;
  transport: WsTransport;
  channel: RecordingChannel;
  storage: Storage;
  blobDir: string;
  /** `http://127.0.0.1:port` */
  httpUrl: string;
  wsUrl: string;
  ca: CA;
  /** The CA accepts the chat once it has been offered to them. */
  accept(chatId: string): Promise<void>;
  client(options?: Partial<CaChatClientOptions>): CaChatClient;
  raw(options?: { protocols?: string[]; headers?: Record<string, string> }): Promise<RawSocket>;
  /** Blob files on disk (temp files included). */
  blobFiles(): Promise<string[]>;
  close(): Promise<void>;
}

export async function startHarness(
  options: { transport?: WsTransportOptions; relay?: RelayOptions; withCa?: boolean } = {},
): Promise<Harness> {
  const dir = await mkdtemp(join(tmpdir(), 'ca-chat-ws-'));
  const blobDir = join(dir, 'blobs');
  const storage = createMemoryStorage();
  const channel = createRecordingChannel('test');
  const transport = createWsTransport({ host: '127.0.0.1', port: 0, ...options.transport });
  const relay = createRelay({
    storage,
    blobs: createFsBlobStore({ dir: blobDir }),
    transports: [transport],
    channels: [channel],
    options: { registrationMode: 'open', languages: ['en', 'hi'], ...options.relay },
  });
  await relay.start();
  const ca = await channel.register({ languages: ['en', 'hi'], name: 'Asha', maxChats: 50 });
  const clients: CaChatClient[] = [];
  const raws: RawSocket[] = [];
  const httpUrl = transport.url ?? '';
  const wsUrl = `${httpUrl.replace(/^http/, 'ws')}${options.transport?.path ?? '/ws'}`;
  return {
    relay,
    transport,
    channel,
    storage,
    blobDir,
    httpUrl,
    wsUrl,
    ca,
    async accept(chatId) {
      await channel.waitFor('sendOffer', (c) => c.offer.chatId === chatId, { includePast: true });
      await relay.acceptOffer(ca.id, chatId);
    },
    client(clientOptions = {}) {
      const client = createCaChatClient({
        url: wsUrl,
        WebSocket: WebSocket as unknown as WebSocketConstructor,
        reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
        ...clientOptions,
      });
      clients.push(client);
      return client;
    },
    async raw(rawOptions = {}) {
      const socket = await openRaw(wsUrl, rawOptions);
      raws.push(socket);
      return socket;
    },
    async blobFiles() {
      return readdir(blobDir).catch(() => []);
    },
    async close() {
      for (const client of clients) client.close();
      for (const socket of raws) socket.socket.terminate();
      await relay.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A bare WebSocket speaking the protocol by hand, recording every frame it receives. */
export interface RawSocket {
  socket: WebSocket;
  frames: ServerFrame[];
  send(frame: unknown): void;
  sendText(text: string): void;
  /** The next frame (from now, or already received when `includePast`) that matches. */
  next<T extends ServerFrame['type']>(
    type: T,
    predicate?: (frame: Extract<ServerFrame, { type: T }>) => boolean,
    includePast?: boolean,
  ): Promise<Extract<ServerFrame, { type: T }>>;
  /** Sends `hello` and waits for `welcome`. */
  hello(token?: string): Promise<Extract<ServerFrame, { type: 'welcome' }>>;
  closed: Promise<{ code: number; reason: string }>;
}

export function openRaw(
  url: string,
  options: { protocols?: string[]; headers?: Record<string, string> } = {},
): Promise<RawSocket> {
  const socket = new WebSocket(url, options.protocols ?? ['ca-chat.v1'], {
    headers: options.headers ?? {},
  });
  const frames: ServerFrame[] = [];
  const waiters = new Set<{
    match(frame: ServerFrame): boolean;
    resolve(frame: ServerFrame): void;
  }>();
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data)) as ServerFrame;
    frames.push(frame);
    for (const waiter of [...waiters]) {
      if (waiter.match(frame)) {
        waiters.delete(waiter);
        waiter.resolve(frame);
      }
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  const raw: RawSocket = {
    socket,
    frames,
    closed,
    send: (frame) => socket.send(JSON.stringify(frame)),
    sendText: (text) => socket.send(text),
    next(type, predicate = () => true, includePast = false) {
      const match = (frame: ServerFrame): boolean =>
        frame.type === type && predicate(frame as never);
      if (includePast) {
        const found = frames.find(match);
        if (found) return Promise.resolve(found as never);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} frame within 5 s`)), 5000);
        waiters.add({ match, resolve: (frame) => (clearTimeout(timer), resolve(frame as never)) });
      });
    },
    async hello(token) {
      const welcome = raw.next('welcome');
      raw.send({ type: 'hello', ...(token ? { token } : {}) });
      return welcome;
    },
  };
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(raw));
    socket.once('error', reject);
    socket.once('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })),
    );
  });
}
