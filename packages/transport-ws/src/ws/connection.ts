import type { Duplex } from 'node:stream';
import type { TimerHandle } from '@ca-chat/core';
import type { WebSocket } from 'ws';
import type { ExternalIdentity } from '../options.js';
import type { ClientFrame, ServerFrame } from '../protocol.js';
import { SeenSeqs } from '../client/seen-seqs.js';
import type { RateLimit } from '../token-bucket.js';
import { frameJson } from './frame-json.js';
import { encodeTextFrames } from './text-frames.js';

/** Close codes this transport uses (1009 "message too big" comes from `ws` itself). */
export const CloseCode = {
  goingAway: 1001,
  /** Policy: slow reader, too many connections, hello timeout, resume overflow. */
  policy: 1008,
  tooBig: 1009,
  internal: 1011,
  tryAgainLater: 1013,
} as const;

/** Events of one chat held back while that chat is being resumed (so replay stays in order). */
const MAX_HELD_EVENTS = 1000;
/** Frames waiting to be handled before the socket stops being read. */
const PAUSE_AT_QUEUED_FRAMES = 64;
const RESUME_AT_QUEUED_FRAMES = 8;
/**
 * Queued frames are written at once past this many UTF-16 units instead of at the end of the
 * work that produced them (see `Connection.send`).
 */
const WRITE_NOW_CHARS = 16 * 1024;
/** The longest close reason a close frame carries (RFC 6455 §5.5: 125-byte control payload). */
const MAX_CLOSE_REASON_BYTES = 123;
/** Chats whose sent seqs a connection remembers (least recently added forgotten first). */
const MAX_TRACKED_CHATS = 64;

/** What every connection of an endpoint shares (one object, not fields on each connection). */
export interface ConnectionLimits {
  /** Unsent bytes past which a slow reader is closed. */
  readonly maxBufferedBytes: number;
  /** The frame rate limit, as the interval one frame earns and the bucket's size in ms. */
  readonly msPerFrame: number;
  readonly burstMs: number;
  /**
   * Rate-limit times are kept relative to this: small numbers keep sub-millisecond
   * intervals exact (and usually fit a small integer rather than a boxed double).
   */
  readonly epoch: number;
}

export function connectionLimits(
  maxBufferedBytes: number,
  rateLimit: RateLimit,
  now: number,
): ConnectionLimits {
  const msPerFrame = 1000 / rateLimit.ratePerSecond;
  return { maxBufferedBytes, msPerFrame, burstMs: (rateLimit.burst - 1) * msPerFrame, epoch: now };
}

// Flag bits of a connection (one small integer instead of a field per boolean).
const ALIVE = 1;
const CLOSED = 2;
const WELCOMED = 4;
const DRAINING = 8;

type ChatScopedFrame = Extract<ServerFrame, { chatId: string }>;

interface HeldChat {
  events: ChatScopedFrame[];
  /** A `resume` is replaying this chat (the welcome window's timer must not release it). */
  resuming: boolean;
}

/**
 * One WebSocket connection: its identity once `hello` succeeded, its rate limit, the order
 * in which its frames are handled, and the buffering that keeps replay and live events in
 * order. Sending never blocks: a peer that stops reading is closed instead.
 */
/** What a connection does with each frame it received, in order. */
export interface FrameRunner {
  run(connection: Connection, frame: ClientFrame): Promise<void>;
  /** `run` failed: answer the client. Must not throw. */
  fail(connection: Connection, frame: ClientFrame, error: unknown): void;
}

export class Connection {
  clientId: string | null = null;
  /** Set during the upgrade when the embedder's `authenticate` recognised the caller. */
  identity: ExternalIdentity | null = null;
  /** The "say hello in time" timer, until hello (or close) cancels it. */
  helloTimer: TimerHandle | null = null;
  private flags = ALIVE;
  /** Events that arrived between registration and `welcome`. */
  private preWelcome: ServerFrame[] | null = null;
  /**
   * chatId → live events held back while that chat waits for, or runs, a `resume`.
   * Allocated on first use (like `sentSeqs`): idle connections are the many, and small.
   */
  private heldChats: Map<string, HeldChat> | null = null;
  /**
   * chatId → seqs this connection already has. The relay re-delivers pending messages when a
   * client comes back while `resume` replays them too: each reaches the connection once.
   */
  private sentSeqs: Map<string, SeenSeqs> | null = null;
  /**
   * Frame rate limit: a token bucket kept as the one time at which it would be full again
   * ("theoretical arrival time", GCRA), rather than a token count and the time it was counted.
   */
  private fullAt: number;
  /** Frames waiting for the ones before them (only while there are some). */
  private inbox: ClientFrame[] | null = null;
  /** Frames to send, waiting for the end of the work that produced them (see `send`). */
  private outbox: string[] | null = null;
  /** Their length in UTF-16 units (their UTF-8 is at most three times as many bytes). */
  private outboxChars = 0;

  constructor(
    readonly socket: WebSocket,
    /** The stream under `socket` (the one the upgrade came on): frames are written to it. */
    private readonly tcp: Duplex,
    readonly ip: string,
    private readonly limits: ConnectionLimits,
    now: number,
  ) {
    this.fullAt = now - limits.epoch;
  }

  /** True once the peer answered the last ping (or sent anything). */
  get alive(): boolean {
    return (this.flags & ALIVE) !== 0;
  }
  set alive(value: boolean) {
    this.flags = value ? this.flags | ALIVE : this.flags & ~ALIVE;
  }

  get closed(): boolean {
    return (this.flags & CLOSED) !== 0;
  }
  set closed(value: boolean) {
    this.flags = value ? this.flags | CLOSED : this.flags & ~CLOSED;
  }

  get isWelcomed(): boolean {
    return (this.flags & WELCOMED) !== 0;
  }

  takeToken(now: number): boolean {
    const { msPerFrame, burstMs, epoch } = this.limits;
    const at = now - epoch;
    // Tokens missing from a full bucket = (fullAt - at) / msPerFrame; one must be left.
    const fullAt = Math.max(this.fullAt, at);
    if (fullAt - at > burstMs) return false;
    this.fullAt = fullAt + msPerFrame;
    return true;
  }

  /**
   * Runs each frame through `runner` one after another, so a client's messages are stored in
   * the order it sent them; the first starts at once. A long queue pauses reading from the
   * socket (TCP backpressure) instead of growing. One loop per burst of frames, not a promise
   * chain per frame: this runs for every message.
   */
  enqueue(frame: ClientFrame, runner: FrameRunner): void {
    const inbox = (this.inbox ??= []);
    inbox.push(frame);
    if (inbox.length >= PAUSE_AT_QUEUED_FRAMES) this.socket.pause();
    if ((this.flags & DRAINING) === 0) void this.drain(inbox, runner);
  }

  private async drain(inbox: ClientFrame[], runner: FrameRunner): Promise<void> {
    this.flags |= DRAINING;
    try {
      while (inbox.length > 0) {
        const frame = inbox[0]!;
        try {
          await runner.run(this, frame);
        } catch (error) {
          runner.fail(this, frame, error);
        }
        inbox.shift();
        if (inbox.length <= RESUME_AT_QUEUED_FRAMES && this.socket.isPaused) this.socket.resume();
      }
    } finally {
      this.flags &= ~DRAINING;
      // An idle connection keeps no queue (an emptied array keeps its backing store).
      this.inbox = null;
    }
  }

  /** Records that the peer has message `seq` of `chatId`; false when it already had it. */
  markSeq(chatId: string, seq: number): boolean {
    const sent = (this.sentSeqs ??= new Map());
    let seen = sent.get(chatId);
    if (!seen) {
      if (sent.size >= MAX_TRACKED_CHATS) sent.delete(sent.keys().next().value!);
      seen = new SeenSeqs();
      sent.set(chatId, seen);
    }
    return seen.add(seq);
  }

  /**
   * Sends (replies to this connection's own frames, and everything else once it may go out).
   * False when the frame could not be sent.
   *
   * Frames produced by one piece of work (a read's frames and the promises they start: replies
   * to pipelined frames, an ack and the delivery status that follows it) leave together, in
   * one buffer and one write, once that work is done (the next tick): not a syscall each, and
   * not at the end of the event-loop turn, where under a backlog every reply would wait for
   * every other socket's reads.
   */
  send(frame: ServerFrame): boolean {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return false;
    // What the socket could not take yet (a slow reader's backlog) is what is bounded.
    if (this.tcp.writableLength > this.limits.maxBufferedBytes) return this.overflow();
    const data = frameJson(frame);
    const queued = this.outbox;
    if (queued === null) {
      this.outbox = [data];
      this.outboxChars = data.length;
      process.nextTick(flushConnection, this);
    } else {
      queued.push(data);
      this.outboxChars += data.length;
    }
    // A long run of frames from one piece of work (a resume replaying pages of messages from
    // a store that answers at once) is written in parts, never held in memory as a whole.
    if (this.outboxChars >= WRITE_NOW_CHARS) this.flush();
    return true;
  }

  /** Writes the frames waiting for this tick's write (also before `ws` sends a close frame). */
  flush(): void {
    const frames = this.outbox;
    if (frames === null) return;
    this.outbox = null;
    this.outboxChars = 0;
    // Closed meanwhile: by us (which flushed first) or by `ws` on a protocol error.
    if (this.socket.readyState !== this.socket.OPEN || !this.tcp.writable) return;
    this.tcp.write(encodeTextFrames(frames));
  }

  /** A peer that stopped reading: closed rather than buffered for without bound. */
  private overflow(): false {
    // Frames already accepted go out before the close frame (`close` flushes).
    this.close(CloseCode.policy, 'send buffer full: read faster');
    return false;
  }

  /** Sends an event pushed by the relay, holding it back while the connection is not ready for it. */
  push(frame: ServerFrame): boolean {
    if (this.closed) return false;
    if (!this.isWelcomed) {
      (this.preWelcome ??= []).push(frame);
      return true;
    }
    if ('chatId' in frame) {
      const held = this.heldChats?.get(frame.chatId);
      if (held) {
        if (held.events.length >= MAX_HELD_EVENTS) {
          this.close(CloseCode.policy, 'too many events during resume: reconnect and resume again');
          return false;
        }
        held.events.push(frame);
        return true;
      }
    }
    // Already there (replayed, or re-delivered by the relay): taken, not sent twice.
    if (frame.type === 'message' && !this.markSeq(frame.chatId, frame.seq)) return true;
    return this.send(frame);
  }

  /**
   * Sends `welcome`, then whatever was pushed while it was being prepared. Chats listed with
   * history (`resumable`) are held for `resumeWindowMs`: a client that resumes them at once
   * gets their history first and live messages after, in seq order; one that never resumes
   * gets its live events when the window closes.
   */
  welcome(
    frame: ServerFrame,
    resumable: string[],
    resumeWindowMs: number,
    schedule: (callback: () => void, ms: number) => void,
  ): void {
    this.send(frame);
    this.flags |= WELCOMED;
    for (const chatId of resumable) {
      const entry = this.holdChat(chatId);
      schedule(() => {
        if (this.heldChats?.get(chatId) === entry && !entry.resuming) this.releaseChat(chatId, 0);
      }, resumeWindowMs);
    }
    const pending = this.preWelcome ?? [];
    this.preWelcome = null;
    for (const event of pending) this.push(event);
  }

  /** Holds live events of `chatId` (a resume is about to replay its history). */
  holdChat(chatId: string, resuming = false): HeldChat {
    const held = (this.heldChats ??= new Map());
    let entry = held.get(chatId);
    if (!entry) {
      entry = { events: [], resuming };
      held.set(chatId, entry);
    }
    entry.resuming ||= resuming;
    return entry;
  }

  /** Stops holding `chatId`: sends the held events, dropping messages the replay already covered. */
  releaseChat(chatId: string, replayedUpToSeq: number): void {
    const entry = this.heldChats?.get(chatId);
    this.heldChats?.delete(chatId);
    for (const event of entry?.events ?? []) {
      if (
        event.type === 'message' &&
        (event.seq <= replayedUpToSeq || !this.markSeq(event.chatId, event.seq))
      )
        continue;
      this.send(event);
    }
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    // What was sent before the close goes before the close frame.
    this.flush();
    this.closed = true;
    this.preWelcome = null;
    this.heldChats = null;
    // ws throws on a reason longer than a close frame carries (an embedder's, say).
    reason = closeReason(reason);
    // A peer that stopped reading may never finish the closing handshake: don't wait for it.
    if (code === CloseCode.policy) {
      this.socket.close(code, reason);
      const timer = setTimeout(() => this.socket.terminate(), 2000);
      timer.unref();
      this.socket.once('close', () => clearTimeout(timer));
    } else {
      this.socket.close(code, reason);
    }
  }
}

/** `reason` cut at a character boundary to fit a close frame. */
function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_CLOSE_REASON_BYTES) return reason;
  let cut = '';
  let bytes = 0;
  for (const char of reason) {
    const size = Buffer.byteLength(char);
    if (bytes + size > MAX_CLOSE_REASON_BYTES - 3) break;
    cut += char;
    bytes += size;
  }
  return `${cut}...`;
}

/** `process.nextTick` passes the connection along: no closure per flush. */
function flushConnection(connection: Connection): void {
  connection.flush();
}
