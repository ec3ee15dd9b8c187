import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { createManualClock } from '@ca-chat/core/testing';
import { openRaw, startHarness, type Harness, type RawSocket } from './test-support/harness.js';

/** A client with an active chat, over a raw socket. */
async function activeChat(
  h: Harness,
): Promise<{ raw: RawSocket; chatId: string; token: string; clientId: string }> {
  const raw = await h.raw();
  const welcome = await raw.hello();
  const queued = raw.next('chat.queued', (f) => f.ref === 'r1');
  raw.send({ type: 'chat.request', language: 'en', ref: 'r1' });
  const { chatId } = await queued;
  await h.accept(chatId);
  return { raw, chatId, token: welcome.token!, clientId: welcome.clientId };
}

/** Everything storage holds about a chat, to prove a refused frame changed nothing. */
async function snapshot(h: Harness, chatId: string): Promise<unknown> {
  return { chat: await h.storage.getChat(chatId), messages: await h.storage.listMessages(chatId) };
}

describe('ws protocol', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it('answers hello with welcome: a new identity, then the same identity and its open chats with the token', async () => {
    h = await startHarness();
    const { raw, chatId, token, clientId } = await activeChat(h);
    raw.socket.close();
    const again = await h.raw();
    const welcome = await again.hello(token);
    expect(welcome).toMatchObject({ type: 'welcome', clientId, token });
    expect(welcome.chats).toEqual([
      {
        chatId,
        state: 'active',
        language: 'en',
        topic: null,
        ca: { name: 'Asha', languages: ['en', 'hi'] },
        lastSeq: 0,
      },
    ]);
  });

  it('acks a message after storing it, and a repeated clientMsgId gets the same seq without a second copy', async () => {
    h = await startHarness();
    const { raw, chatId } = await activeChat(h);
    raw.send({ type: 'message', chatId, text: 'hi', clientMsgId: 'm-1' });
    const ack = await raw.next('message.ack');
    expect(ack).toMatchObject({ chatId, clientMsgId: 'm-1', seq: 1 });
    expect((await h.storage.getMessage(chatId, 1))?.text).toBe('hi');
    raw.send({ type: 'message', chatId, text: 'hi', clientMsgId: 'm-1' });
    expect(await raw.next('message.ack')).toMatchObject({ clientMsgId: 'm-1', seq: 1 });
    expect(await h.storage.listMessages(chatId)).toHaveLength(1);
  });

  it('replays messages after afterSeq in order, once each, on resume', async () => {
    h = await startHarness();
    const { raw, chatId, token } = await activeChat(h);
    for (let i = 1; i <= 5; i++) await h.relay.sendCAMessage(h.ca.id, { chatId, text: `m${i}` });
    raw.socket.terminate();
    await raw.closed;
    for (let i = 6; i <= 8; i++) await h.relay.sendCAMessage(h.ca.id, { chatId, text: `m${i}` });
    const back = await h.raw();
    await back.hello(token);
    back.send({ type: 'resume', chatId, afterSeq: 3 });
    await back.next('message', (m) => m.seq === 8, true);
    await h.relay.sendCAMessage(h.ca.id, { chatId, text: 'm9' });
    await back.next('message', (m) => m.seq === 9, true);
    await h.relay.flushOutbox();
    const ping = back.next('pong');
    back.send({ type: 'ping' });
    await ping;
    const seqs = back.frames
      .filter((f) => f.type === 'message')
      .map((f) => (f as { seq: number }).seq);
    expect(seqs).toEqual([4, 5, 6, 7, 8, 9]);
  });

  it('replays a resume larger than the send-buffer limit in full, to a client that reads', async () => {
    // The store answers at once, so the whole replay is produced before any tick: it must be
    // written as it goes, not held and counted against the slow-reader limit.
    h = await startHarness({ transport: { maxBufferedBytes: 64 * 1024 } });
    const { raw, chatId, token } = await activeChat(h);
    const text = (i: number): string => `${i}:${'x'.repeat(7000)}`;
    for (let i = 1; i <= 30; i++) await h.relay.sendCAMessage(h.ca.id, { chatId, text: text(i) });
    raw.socket.terminate();
    await raw.closed;
    const back = await h.raw();
    await back.hello(token);
    back.send({ type: 'resume', chatId, afterSeq: 0 });
    await back.next('message', (m) => m.seq === 30, true);
    const pong = back.next('pong');
    back.send({ type: 'ping' });
    await pong;
    const replayed = back.frames.filter((f) => f.type === 'message') as {
      seq: number;
      text: string;
    }[];
    expect(replayed.map((m) => m.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(replayed.every((m) => m.text === text(m.seq))).toBe(true);
  });

  it('closes with a reason cut to fit a close frame, however long the one given', async () => {
    h = await startHarness();
    const { raw, clientId } = await activeChat(h);
    const reason = `moved to another server — ${'é'.repeat(200)}`;
    expect(h.transport.disconnectClient(clientId, { reason })).toBe(1);
    const closed = await raw.closed;
    expect(closed.code).toBe(1008);
    expect(Buffer.byteLength(closed.reason)).toBeLessThanOrEqual(123);
    expect(closed.reason.startsWith('moved to another server — é')).toBe(true);
    await vi.waitFor(() => expect(h.transport.stats().connections).toBe(0));
  });

  it('answers ping with pong carrying the ref', async () => {
    h = await startHarness();
    const raw = await h.raw();
    raw.send({ type: 'ping', ref: 'p1' });
    expect(await raw.next('pong')).toEqual({ type: 'pong', ref: 'p1' });
  });

  describe('refuses bad input with an error frame and changes nothing', () => {
    it('anything but hello/ping before hello → unauthorized', async () => {
      h = await startHarness();
      const { chatId } = await activeChat(h);
      const before = await snapshot(h, chatId);
      const raw = await h.raw();
      raw.send({ type: 'message', chatId, text: 'sneaky', clientMsgId: 'x1' });
      expect(await raw.next('error')).toMatchObject({ code: 'unauthorized', ref: 'x1' });
      raw.send({ type: 'chat.request', language: 'en' });
      expect(await raw.next('error')).toMatchObject({ code: 'unauthorized' });
      expect(await snapshot(h, chatId)).toEqual(before);
      expect(await h.storage.countChats()).toBe(1);
    });

    it('malformed JSON → malformed; a non-object → malformed; a binary frame → malformed', async () => {
      h = await startHarness();
      const { raw, chatId } = await activeChat(h);
      const before = await snapshot(h, chatId);
      raw.sendText('{"type":"message",');
      expect(await raw.next('error')).toMatchObject({ code: 'malformed' });
      raw.sendText('[1,2]');
      expect(await raw.next('error')).toMatchObject({ code: 'malformed' });
      raw.socket.send(Buffer.from([1, 2, 3]), { binary: true });
      expect(await raw.next('error')).toMatchObject({ code: 'malformed' });
      expect(await snapshot(h, chatId)).toEqual(before);
    });

    it('unknown type → unknown_type', async () => {
      h = await startHarness();
      const { raw, chatId } = await activeChat(h);
      const before = await snapshot(h, chatId);
      raw.send({ type: 'message.delete', chatId, ref: 'u1' });
      expect(await raw.next('error')).toMatchObject({ code: 'unknown_type', ref: 'u1' });
      expect(await snapshot(h, chatId)).toEqual(before);
    });

    it('fields of the wrong type → invalid_input with the ref', async () => {
      h = await startHarness();
      const { raw, chatId } = await activeChat(h);
      const before = await snapshot(h, chatId);
      raw.send({ type: 'message', chatId, text: 42, clientMsgId: 'w1' });
      expect(await raw.next('error')).toMatchObject({ code: 'invalid_input', ref: 'w1' });
      raw.send({ type: 'resume', chatId, afterSeq: -1, ref: 'w2' });
      expect(await raw.next('error')).toMatchObject({ code: 'invalid_input', ref: 'w2' });
      expect(await snapshot(h, chatId)).toEqual(before);
    });

    it('text over the limit → text_too_long; blank text → empty_text', async () => {
      h = await startHarness({ relay: { maxTextLength: 100 } });
      const { raw, chatId } = await activeChat(h);
      const before = await snapshot(h, chatId);
      raw.send({ type: 'message', chatId, text: 'x'.repeat(101), clientMsgId: 't1' });
      expect(await raw.next('error')).toMatchObject({ code: 'text_too_long', ref: 't1' });
      raw.send({ type: 'message', chatId, text: '   ', clientMsgId: 't2' });
      expect(await raw.next('error')).toMatchObject({ code: 'empty_text', ref: 't2' });
      expect(await snapshot(h, chatId)).toEqual(before);
    });

    it('unknown chat → unknown_chat; another client’s chat → not_your_chat; ended chat → chat_ended', async () => {
      h = await startHarness();
      const owner = await activeChat(h);
      const stranger = await h.raw();
      await stranger.hello();
      const before = await snapshot(h, owner.chatId);
      stranger.send({ type: 'message', chatId: 'no-such-chat', text: 'hi', clientMsgId: 'c1' });
      expect(await stranger.next('error')).toMatchObject({ code: 'unknown_chat', ref: 'c1' });
      stranger.send({ type: 'message', chatId: owner.chatId, text: 'hi', clientMsgId: 'c2' });
      expect(await stranger.next('error')).toMatchObject({ code: 'not_your_chat', ref: 'c2' });
      stranger.send({ type: 'chat.end', chatId: owner.chatId, ref: 'c3' });
      expect(await stranger.next('error')).toMatchObject({ code: 'not_your_chat', ref: 'c3' });
      stranger.send({ type: 'resume', chatId: owner.chatId, afterSeq: 0, ref: 'c4' });
      expect(await stranger.next('error')).toMatchObject({ code: 'not_your_chat', ref: 'c4' });
      expect(await snapshot(h, owner.chatId)).toEqual(before);

      await h.relay.endChatByCA(h.ca.id, owner.chatId);
      const ended = await snapshot(h, owner.chatId);
      owner.raw.send({ type: 'message', chatId: owner.chatId, text: 'late', clientMsgId: 'c5' });
      expect(await owner.raw.next('error')).toMatchObject({ code: 'chat_ended', ref: 'c5' });
      expect(await snapshot(h, owner.chatId)).toEqual(ended);
    });

    it('a bad token in hello → unauthorized, and the socket may still say hello', async () => {
      h = await startHarness();
      const raw = await h.raw();
      raw.send({ type: 'hello', token: 'nope.nope', ref: 'h1' });
      expect(await raw.next('error')).toMatchObject({ code: 'unauthorized', ref: 'h1' });
      expect((await raw.hello()).clientId).toMatch(/\S/);
    });

    it('a second hello → invalid_input', async () => {
      h = await startHarness();
      const raw = await h.raw();
      await raw.hello();
      raw.send({ type: 'hello' });
      expect(await raw.next('error')).toMatchObject({ code: 'invalid_input' });
    });
  });

  it('closes with 1009 on a frame over maxPayloadBytes', async () => {
    h = await startHarness({ transport: { maxPayloadBytes: 1024 } });
    const { raw, chatId } = await activeChat(h);
    raw.send({ type: 'message', chatId, text: 'x'.repeat(2000), clientMsgId: 'big' });
    expect((await raw.closed).code).toBe(1009);
    expect(await h.storage.listMessages(chatId)).toEqual([]);
  });

  it('refuses a connection that offers only other protocol versions with HTTP 426', async () => {
    h = await startHarness();
    await expect(openRaw(h.wsUrl, { protocols: ['ca-chat.v2'] })).rejects.toMatchObject({
      status: 426,
    });
    const legacy = await openRaw(h.wsUrl, { protocols: [] });
    expect((await legacy.hello()).type).toBe('welcome');
    legacy.socket.close();
  });

  it('refuses a browser origin outside allowedOrigins with 403', async () => {
    h = await startHarness({ transport: { allowedOrigins: ['https://chat.example'] } });
    await expect(
      openRaw(h.wsUrl, { headers: { Origin: 'https://evil.example' } }),
    ).rejects.toMatchObject({ status: 403 });
    const ok = await openRaw(h.wsUrl, { headers: { Origin: 'https://chat.example' } });
    ok.socket.close();
  });

  it('rate limits frames per connection with rate_limited', async () => {
    h = await startHarness({ transport: { rateLimit: { ratePerSecond: 0.001, burst: 5 } } });
    const raw = await h.raw();
    for (let i = 0; i < 8; i++) raw.send({ type: 'ping', ref: `p${i}` });
    await raw.next('error', (f) => f.code === 'rate_limited');
    await raw.next('pong', (f) => f.ref === 'p4', true);
    expect(raw.frames.filter((f) => f.type === 'pong')).toHaveLength(5);
  });

  it('limits new identities per IP address', async () => {
    h = await startHarness({
      transport: { ipLimits: { newIdentities: { ratePerSecond: 0.001, burst: 2 } } },
    });
    for (let i = 0; i < 2; i++) await (await h.raw()).hello();
    const third = await h.raw();
    third.send({ type: 'hello', ref: 'h3' });
    expect(await third.next('error')).toMatchObject({ code: 'rate_limited', ref: 'h3' });
  });

  it('limits chat requests per IP address and stores no chat beyond the limit', async () => {
    h = await startHarness({
      transport: { ipLimits: { chatRequests: { ratePerSecond: 0.001, burst: 1 } } },
    });
    const raw = await h.raw();
    await raw.hello();
    raw.send({ type: 'chat.request', language: 'en', ref: 'a' });
    await raw.next('chat.queued', (f) => f.ref === 'a');
    raw.send({ type: 'chat.request', language: 'en', ref: 'b' });
    expect(await raw.next('error')).toMatchObject({ code: 'rate_limited', ref: 'b' });
    expect(await h.storage.countChats()).toBe(1);
  });

  it('drops a peer that stops answering pings (heartbeat)', async () => {
    const clock = createManualClock(Date.now());
    h = await startHarness({ transport: { clock, heartbeatIntervalMs: 1000 } });
    const silent = new WebSocket(h.wsUrl, ['ca-chat.v1'], { autoPong: false });
    await new Promise((resolve) => silent.once('open', resolve));
    const live = await h.raw();
    const silentClosed = new Promise<number>((resolve) => silent.once('close', resolve));
    const pinged = new Promise((resolve) => live.socket.once('ping', resolve));
    await clock.advance(1000);
    await pinged;
    // Let the live peer's automatic pong arrive before the next beat.
    const pong = live.next('pong');
    live.send({ type: 'ping' });
    await pong;
    await clock.advance(1000);
    expect(await silentClosed).toBe(1006);
    expect(live.socket.readyState).toBe(WebSocket.OPEN);
  });

  it('closes a connection that never says hello', async () => {
    const clock = createManualClock(Date.now());
    h = await startHarness({ transport: { clock, helloTimeoutMs: 5000 } });
    const raw = await h.raw();
    await clock.advance(5000);
    expect((await raw.closed).code).toBe(1008);
  });

  it('closes a reader that lets its send buffer grow past maxBufferedBytes (1008)', async () => {
    h = await startHarness({ transport: { maxBufferedBytes: 64 * 1024 } });
    const { raw, chatId, clientId } = await activeChat(h);
    // Stop reading: the kernel buffers fill, then ws' own buffer grows.
    (raw.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const text = 'y'.repeat(7000);
    let taken = true;
    for (let seq = 1000; taken && seq < 5000; seq++) {
      taken = await h.transport.deliver(clientId, {
        type: 'message',
        chatId,
        seq,
        from: 'ca',
        text,
        at: Date.now(),
      });
    }
    expect(taken).toBe(false);
    expect(h.transport.stats().connections).toBeLessThanOrEqual(1);
    (raw.socket as unknown as { _socket: { resume(): void } })._socket.resume();
    expect((await raw.closed).code).toBe(1008);
  });
});
