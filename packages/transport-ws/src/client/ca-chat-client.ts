import type { CaChatErrorCode, LanguageTag } from '@ca-chat/core';
import { SUBPROTOCOL } from '../protocol.js';
import type {
  ClientFrame,
  ServerFrame,
  StoredMessageBody,
  WireChatSummary,
  WireMessage,
} from '../protocol.js';
import { reconnectDelayMs, type ReconnectOptions } from './backoff.js';
import { CaChatClientError } from './client-error.js';
import { TypedEmitter } from './emitter.js';
import { SeenSeqs } from './seen-seqs.js';
import type { TokenStore } from './token-store.js';
import { uploadFile, type FileInput, type UploadProgress } from './upload.js';

/** The part of the WebSocket API the SDK uses: the browser's, or `ws` in Node. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: any) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: any) => void) | null;
}
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
) => WebSocketLike;

export type ConnectionState = 'connecting' | 'open' | 'closed';

export interface CaChatClientOptions {
  /** The WebSocket URL, e.g. `wss://chat.example.com/ws` (relative URLs resolve against the page). */
  url: string;
  /** Base of the HTTP routes. Default: `url` with ws→http and the trailing `/ws` removed. */
  httpUrl?: string;
  /** Default: the global `WebSocket` (pass `ws`'s in Node 20). */
  WebSocket?: WebSocketConstructor;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** A known token (otherwise `tokenStore`, otherwise a new identity). */
  token?: string | null;
  tokenStore?: TokenStore;
  /** Reconnect with exponential backoff and jitter; false disables. */
  reconnect?: ReconnectOptions | false;
  /** How often the client pings while idle. Default 25 s. */
  pingIntervalMs?: number;
  /** A connection silent for this long after a ping is considered dead. Default 10 s. */
  pongTimeoutMs?: number;
  /** How long `send`, `requestChat` and `end` wait for their answer (across reconnects). Default 60 s. */
  requestTimeoutMs?: number;
  /** Longest file upload. Default 30 min. */
  uploadTimeoutMs?: number;
}

export interface WelcomeInfo {
  clientId: string;
  token: string | null;
  chats: WireChatSummary[];
}

type EventOf<T extends ServerFrame['type']> = Omit<
  Extract<ServerFrame, { type: T }>,
  'type' | 'ref'
>;

export interface CaChatClientEvents {
  welcome: (info: WelcomeInfo) => void;
  'chat.queued': (event: EventOf<'chat.queued'>) => void;
  'chat.matched': (event: EventOf<'chat.matched'>) => void;
  /** A message of one of the client's chats, each (chatId, seq) once. */
  message: (message: WireMessage) => void;
  'message.status': (event: EventOf<'message.status'>) => void;
  'message.ack': (event: EventOf<'message.ack'>) => void;
  'chat.ended': (event: EventOf<'chat.ended'>) => void;
  /** An error frame from the server (also used to reject the call it answers, when it has a `ref`). */
  error: (error: CaChatClientError & { ref?: string }) => void;
  state: (state: ConnectionState) => void;
}

interface Pending<T> {
  resolve(value: T): void;
  reject(error: CaChatClientError): void;
  timer: ReturnType<typeof setTimeout>;
}

interface PendingSend extends Pending<{ seq: number }> {
  frame: Extract<ClientFrame, { type: 'message' }>;
}

const OPEN = 1;

function newId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

export function httpUrlOf(wsUrl: string): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const url = base ? new URL(wsUrl, base) : new URL(wsUrl);
  url.protocol =
    url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
  url.pathname = url.pathname.replace(/\/ws\/?$/, '');
  url.search = '';
  return url.toString().replace(/\/$/, '');
}

/**
 * A ca-chat client: one WebSocket (reconnected and resumed automatically) plus HTTP uploads.
 * Messages are delivered to `message` listeners once per (chatId, seq), in order per chat.
 */
export class CaChatClient extends TypedEmitter<CaChatClientEvents> {
  clientId: string | null = null;
  token: string | null;
  state: ConnectionState = 'closed';
  /** Chats as the client knows them (from `welcome` and later events). */
  readonly chats = new Map<string, WireChatSummary>();

  private readonly options: CaChatClientOptions;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly httpUrl: string;
  private socket: WebSocketLike | null = null;
  private wanted = false;
  private attempt = 0;
  private welcomed = false;
  private tokenLoaded = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setTimeout> | null = null;
  private seen = new Map<string, SeenSeqs>();
  private sends = new Map<string, PendingSend>();
  private requests = new Map<string, Pending<string>>();
  private ends = new Map<string, Pending<void>>();
  private waitingForWelcome: {
    resolve(info: WelcomeInfo): void;
    reject(error: CaChatClientError): void;
  }[] = [];
  /** Positions already reported per chat (the server repeats `chat.queued` to the requesting tab). */
  private positions = new Map<string, number>();

  constructor(options: CaChatClientOptions) {
    super();
    this.options = options;
    const impl =
      options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!impl)
      throw new CaChatClientError(
        'config_invalid',
        'no WebSocket implementation: pass the WebSocket option (e.g. from "ws")',
      );
    this.WebSocketImpl = impl;
    this.httpUrl = (options.httpUrl ?? httpUrlOf(options.url)).replace(/\/$/, '');
    this.token = options.token ?? null;
    this.tokenLoaded = options.token !== undefined && options.token !== null;
  }

  /** Opens the connection; resolves on `welcome` (retrying while reconnect is on). */
  connect(): Promise<WelcomeInfo> {
    const promise = new Promise<WelcomeInfo>((resolve, reject) => {
      this.waitingForWelcome.push({ resolve, reject });
    });
    if (!this.wanted) {
      this.wanted = true;
      void this.open();
    } else if (this.welcomed && this.clientId) {
      this.settleWelcome({
        clientId: this.clientId,
        token: this.token,
        chats: [...this.chats.values()],
      });
    }
    return promise;
  }

  /** Asks for a chat; resolves with its id once it is queued. */
  async requestChat(request: {
    language: LanguageTag;
    topic?: string;
    text?: string;
  }): Promise<string> {
    if (!this.welcomed) await this.connect();
    const ref = newId();
    const frame: ClientFrame = { type: 'chat.request', language: request.language, ref };
    if (request.topic !== undefined) frame.topic = request.topic;
    if (request.text !== undefined) {
      frame.text = request.text;
      frame.clientMsgId = newId();
    }
    return new Promise<string>((resolve, reject) => {
      this.requests.set(ref, this.pending(this.requests, ref, resolve, reject));
      // Not retried after a reconnect: the request may have been stored, and a second would open a second chat.
      if (!this.sendFrame(frame))
        this.rejectPending(
          this.requests,
          ref,
          new CaChatClientError('transport_error', 'not connected'),
        );
    });
  }

  /** Sends a text; resolves with its seq once stored. Re-sent after reconnects until acknowledged. */
  send(chatId: string, text: string): Promise<{ seq: number }> {
    const clientMsgId = newId();
    const frame: Extract<ClientFrame, { type: 'message' }> = {
      type: 'message',
      chatId,
      text,
      clientMsgId,
    };
    if (!this.wanted) void this.connect().catch(() => {});
    return new Promise((resolve, reject) => {
      const pending = this.pending(
        this.sends as Map<string, Pending<{ seq: number }>>,
        clientMsgId,
        resolve,
        reject,
      );
      this.sends.set(clientMsgId, { ...pending, frame });
      this.sendFrame(frame);
    });
  }

  /** Uploads a file to a chat (`POST /chat`); resolves with the stored message. */
  async sendFile(
    chatId: string,
    file: FileInput,
    options: {
      onProgress?: (progress: UploadProgress) => void;
      signal?: AbortSignal;
      caption?: string;
    } = {},
  ): Promise<StoredMessageBody> {
    if (!this.welcomed) await this.connect();
    const fetchImpl = this.options.fetch ?? globalThis.fetch;
    const stored = await uploadFile({
      url: `${this.httpUrl}/chat`,
      token: this.token,
      chatId,
      clientMsgId: newId(),
      file,
      ...(options.caption === undefined ? {} : { caption: options.caption }),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      fetch: fetchImpl.bind(globalThis),
      preferXhr: this.options.fetch === undefined,
      timeoutMs: this.options.uploadTimeoutMs ?? 30 * 60_000,
    });
    if (stored.file) stored.file.url = this.absolute(stored.file.url);
    return stored;
  }

  typing(chatId: string): void {
    this.sendFrame({ type: 'typing', chatId });
  }

  /** Ends a chat; resolves when the server confirms with `chat.ended`. */
  end(chatId: string): Promise<void> {
    if (this.chats.get(chatId)?.state === 'ended') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.ends.set(chatId, this.pending(this.ends, chatId, resolve, reject));
      this.sendFrame({ type: 'chat.end', chatId, ref: `end:${chatId}` });
    });
  }

  /** Closes the connection for good: no reconnect; pending calls reject. */
  close(): void {
    this.wanted = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.stopPing();
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      socket.onclose = socket.onmessage = socket.onopen = null;
      // `ws` reports closing a still-connecting socket as an error event; nobody needs it now.
      socket.onerror = () => {};
      try {
        socket.close(1000, 'client closed');
      } catch {
        // Already closing.
      }
    }
    const closed = new CaChatClientError('transport_error', 'client closed');
    for (const map of [this.sends, this.requests, this.ends] as Map<string, Pending<any>>[]) {
      for (const key of [...map.keys()]) this.rejectPending(map, key, closed);
    }
    for (const waiter of this.waitingForWelcome.splice(0)) waiter.reject(closed);
    this.welcomed = false;
    this.setState('closed');
  }

  // ---- connection

  private async open(): Promise<void> {
    if (!this.wanted) return;
    if (!this.tokenLoaded && this.options.tokenStore) {
      this.token = (await this.options.tokenStore.load()) ?? null;
      this.tokenLoaded = true;
      if (!this.wanted) return;
    }
    this.setState('connecting');
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(this.options.url, [SUBPROTOCOL]);
    } catch (error) {
      this.emit(
        'error',
        new CaChatClientError('transport_error', `cannot connect: ${(error as Error).message}`),
      );
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onopen = () =>
      this.sendRaw(socket, {
        type: 'hello',
        ref: 'hello',
        ...(this.token ? { token: this.token } : {}),
      });
    socket.onmessage = (event) => this.onFrame(socket, event.data);
    socket.onerror = () => {
      // onclose follows with the code; nothing to do here.
    };
    socket.onclose = () => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.welcomed = false;
      this.stopPing();
      // A chat request in flight may or may not have been stored: tell the caller, don't guess.
      for (const ref of [...this.requests.keys()]) {
        this.rejectPending(
          this.requests,
          ref,
          new CaChatClientError('transport_error', 'connection lost before the chat was queued'),
        );
      }
      this.setState('closed');
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    if (!this.wanted || this.options.reconnect === false || this.reconnectTimer) return;
    const delay = reconnectDelayMs(this.attempt++, this.options.reconnect ?? {});
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.open();
    }, delay);
  }

  private onFrame(socket: WebSocketLike, data: unknown): void {
    if (typeof data !== 'string') return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    this.schedulePing(socket);
    switch (frame.type) {
      case 'welcome':
        return this.onWelcome(socket, frame);
      case 'pong':
        return;
      case 'error':
        return this.onError(socket, frame);
      case 'message.ack': {
        this.seenOf(frame.chatId).add(frame.seq);
        const pending = this.sends.get(frame.clientMsgId);
        if (pending) {
          this.sends.delete(frame.clientMsgId);
          clearTimeout(pending.timer);
          pending.resolve({ seq: frame.seq });
        }
        this.emit('message.ack', {
          chatId: frame.chatId,
          clientMsgId: frame.clientMsgId,
          seq: frame.seq,
        });
        return;
      }
      case 'message': {
        if (!this.seenOf(frame.chatId).add(frame.seq)) return;
        const chat = this.chats.get(frame.chatId);
        if (chat && frame.seq > chat.lastSeq) chat.lastSeq = frame.seq;
        if (frame.file) frame.file.url = this.absolute(frame.file.url);
        this.emit('message', frame);
        return;
      }
      case 'chat.queued': {
        const { ref, type: _type, ...event } = frame;
        this.upsertChat(event.chatId, { state: 'waiting', position: event.position });
        if (ref !== undefined) {
          const pending = this.requests.get(ref);
          if (pending) {
            this.requests.delete(ref);
            clearTimeout(pending.timer);
            pending.resolve(event.chatId);
          }
        }
        if (this.positions.get(event.chatId) === event.position) return;
        this.positions.set(event.chatId, event.position);
        this.emit('chat.queued', event);
        return;
      }
      case 'chat.matched':
        this.upsertChat(frame.chatId, { state: 'active', ca: frame.ca });
        this.positions.delete(frame.chatId);
        this.emit('chat.matched', { chatId: frame.chatId, ca: frame.ca });
        return;
      case 'chat.ended': {
        const already = this.chats.get(frame.chatId)?.state === 'ended';
        this.upsertChat(frame.chatId, { state: 'ended' });
        this.positions.delete(frame.chatId);
        const pending = this.ends.get(frame.chatId);
        if (pending) {
          this.ends.delete(frame.chatId);
          clearTimeout(pending.timer);
          pending.resolve();
        }
        // A resume repeats it for chats that ended while away: tell listeners once.
        if (!already) this.emit('chat.ended', { chatId: frame.chatId, reason: frame.reason });
        return;
      }
      case 'message.status':
        this.emit('message.status', {
          chatId: frame.chatId,
          seq: frame.seq,
          state: frame.state,
          ...(frame.reason ? { reason: frame.reason } : {}),
        });
        return;
    }
  }

  private onWelcome(socket: WebSocketLike, frame: Extract<ServerFrame, { type: 'welcome' }>): void {
    this.clientId = frame.clientId;
    if (frame.token !== null && frame.token !== this.token) {
      this.token = frame.token;
      void this.options.tokenStore?.save(frame.token);
    }
    this.welcomed = true;
    this.attempt = 0;
    const open = new Set<string>();
    for (const chat of frame.chats) {
      this.chats.set(chat.chatId, { ...chat });
      if (chat.state !== 'ended') open.add(chat.chatId);
    }
    // Chats known from before the drop are resumed too, to pick up what was missed.
    for (const [chatId, chat] of this.chats) if (chat.state !== 'ended') open.add(chatId);
    for (const chatId of open)
      this.sendRaw(socket, { type: 'resume', chatId, afterSeq: this.seenOf(chatId).watermark });
    // Unacknowledged messages go again; the server's idempotency (clientMsgId) drops copies.
    for (const pending of this.sends.values()) this.sendRaw(socket, pending.frame);
    for (const chatId of this.ends.keys())
      this.sendRaw(socket, { type: 'chat.end', chatId, ref: `end:${chatId}` });
    this.setState('open');
    this.schedulePing(socket);
    const info: WelcomeInfo = { clientId: frame.clientId, token: this.token, chats: frame.chats };
    this.settleWelcome(info);
    this.emit('welcome', info);
  }

  private onError(socket: WebSocketLike, frame: Extract<ServerFrame, { type: 'error' }>): void {
    const error = Object.assign(
      new CaChatClientError(frame.code, frame.message),
      frame.ref === undefined ? {} : { ref: frame.ref },
    );
    const ref = frame.ref;
    if (ref === 'hello' && frame.code === 'unauthorized' && this.token) {
      // The server no longer knows this token (its data was reset): start a new identity.
      this.token = null;
      void this.options.tokenStore?.save(null);
      this.sendRaw(socket, { type: 'hello', ref: 'hello' });
    } else if (ref === 'hello') {
      for (const waiter of this.waitingForWelcome.splice(0)) waiter.reject(error);
    } else if (ref !== undefined) {
      if (this.sends.has(ref))
        this.rejectPending(this.sends as Map<string, Pending<unknown>>, ref, error);
      else if (this.requests.has(ref)) this.rejectPending(this.requests, ref, error);
      else if (ref.startsWith('end:')) {
        const chatId = ref.slice(4);
        if (frame.code === 'chat_ended') {
          this.ends.get(chatId)?.resolve();
          clearTimeout(this.ends.get(chatId)?.timer);
          this.ends.delete(chatId);
        } else this.rejectPending(this.ends, chatId, error);
      }
    }
    this.emit('error', error);
  }

  // ---- helpers

  private pending<T>(
    map: Map<string, Pending<T>>,
    key: string,
    resolve: (value: T) => void,
    reject: (error: CaChatClientError) => void,
  ): Pending<T> {
    const timer = setTimeout(
      () =>
        this.rejectPending(
          map,
          key,
          new CaChatClientError('timeout', 'no answer from the server in time'),
        ),
      this.options.requestTimeoutMs ?? 60_000,
    );
    return { resolve, reject, timer };
  }

  private rejectPending<T>(
    map: Map<string, Pending<T>>,
    key: string,
    error: CaChatClientError,
  ): void {
    const pending = map.get(key);
    if (!pending) return;
    map.delete(key);
    clearTimeout(pending.timer);
    pending.reject(error);
  }

  private settleWelcome(info: WelcomeInfo): void {
    for (const waiter of this.waitingForWelcome.splice(0)) waiter.resolve(info);
  }

  private sendFrame(frame: ClientFrame): boolean {
    if (!this.socket || !this.welcomed) return false;
    return this.sendRaw(this.socket, frame);
  }

  private sendRaw(socket: WebSocketLike, frame: ClientFrame): boolean {
    if (socket.readyState !== OPEN) return false;
    try {
      socket.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  private seenOf(chatId: string): SeenSeqs {
    let seen = this.seen.get(chatId);
    if (!seen) {
      seen = new SeenSeqs();
      this.seen.set(chatId, seen);
    }
    return seen;
  }

  private upsertChat(chatId: string, patch: Partial<WireChatSummary>): void {
    const chat = this.chats.get(chatId) ?? {
      chatId,
      state: 'waiting',
      language: '',
      topic: null,
      lastSeq: 0,
    };
    this.chats.set(chatId, { ...chat, ...patch });
  }

  private absolute(url: string): string {
    return new URL(url, `${this.httpUrl}/`).toString();
  }

  /** Pings after `pingIntervalMs` of silence; closes if nothing comes back within `pongTimeoutMs`. */
  private schedulePing(socket: WebSocketLike): void {
    this.stopPing();
    this.pingTimer = setTimeout(() => {
      this.sendRaw(socket, { type: 'ping' });
      this.pingTimer = setTimeout(() => {
        if (this.socket === socket) socket.close(4000, 'no pong');
      }, this.options.pongTimeoutMs ?? 10_000);
    }, this.options.pingIntervalMs ?? 25_000);
  }

  private stopPing(): void {
    if (this.pingTimer) clearTimeout(this.pingTimer);
    this.pingTimer = null;
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }
}

export type { CaChatErrorCode };

export function createCaChatClient(options: CaChatClientOptions): CaChatClient {
  return new CaChatClient(options);
}
