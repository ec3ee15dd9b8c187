import { describe, expect, it } from 'vitest';
import { initialState, reduce, type Action, type AppState } from '../src/chat-state.js';

const CHAT = 'chat_1';

function run(...actions: Action[]): AppState {
  return actions.reduce(reduce, initialState);
}

const requested: Action = { type: 'chat.requested', chatId: CHAT, language: 'en', topic: null };
const matched: Action = {
  type: 'chat.matched',
  chatId: CHAT,
  ca: { name: 'Asha Rao', languages: ['en', 'hi'] },
};
const caMessage = (seq: number, text: string): Action => ({
  type: 'message',
  message: { chatId: CHAT, seq, from: 'ca', text, at: 1000 + seq },
});
const ownEcho = (seq: number, text: string): Action => ({
  type: 'message',
  message: { chatId: CHAT, seq, from: 'client', text, at: 1000 + seq },
});

function bubbles(state: AppState): Array<[number | null, string, string | null, string | null]> {
  return (state.chats[CHAT]?.bubbles ?? []).map((b) => [b.seq, b.from, b.text, b.delivery]);
}

describe('web client chat state', () => {
  it('shows a replayed message once however often it arrives', () => {
    const state = run(
      requested,
      matched,
      caMessage(1, 'hello'),
      caMessage(2, 'how can I help'),
      caMessage(1, 'hello'),
      caMessage(2, 'how can I help'),
    );
    expect(bubbles(state)).toEqual([
      [1, 'ca', 'hello', null],
      [2, 'ca', 'how can I help', null],
    ]);
  });

  it('orders messages by seq whatever order they arrive in', () => {
    const state = run(requested, matched, caMessage(3, 'c'), caMessage(1, 'a'), caMessage(2, 'b'));
    expect(bubbles(state).map((b) => b[0])).toEqual([1, 2, 3]);
  });

  it('moves an own message from sending to sent on ack and to delivered on status', () => {
    let state = run(requested, matched, {
      type: 'local.send',
      chatId: CHAT,
      clientMsgId: 'm1',
      text: 'hi',
      at: 5,
    });
    expect(bubbles(state)).toEqual([[null, 'client', 'hi', 'sending']]);
    state = reduce(state, { type: 'ack', chatId: CHAT, clientMsgId: 'm1', seq: 1 });
    expect(bubbles(state)).toEqual([[1, 'client', 'hi', 'sent']]);
    state = reduce(state, { type: 'status', chatId: CHAT, seq: 1, state: 'delivered' });
    expect(bubbles(state)).toEqual([[1, 'client', 'hi', 'delivered']]);
  });

  it('merges an own message echoed by a resume before its ack into one bubble', () => {
    const state = run(
      requested,
      matched,
      { type: 'local.send', chatId: CHAT, clientMsgId: 'm1', text: 'hi', at: 5 },
      ownEcho(1, 'hi'),
      { type: 'ack', chatId: CHAT, clientMsgId: 'm1', seq: 1 },
    );
    expect(bubbles(state)).toEqual([[1, 'client', 'hi', 'sent']]);
    expect(state.chats[CHAT]?.bubbles[0]?.key).toBe('l:m1');
  });

  it('applies a delivery status that arrived before the ack', () => {
    const state = run(
      requested,
      matched,
      { type: 'local.send', chatId: CHAT, clientMsgId: 'm1', text: 'hi', at: 5 },
      { type: 'status', chatId: CHAT, seq: 1, state: 'delivered' },
      { type: 'ack', chatId: CHAT, clientMsgId: 'm1', seq: 1 },
    );
    expect(bubbles(state)).toEqual([[1, 'client', 'hi', 'delivered']]);
  });

  it('never moves a delivered message back to sent when the ack is replayed', () => {
    const state = run(
      requested,
      matched,
      { type: 'local.send', chatId: CHAT, clientMsgId: 'm1', text: 'hi', at: 5 },
      { type: 'ack', chatId: CHAT, clientMsgId: 'm1', seq: 1 },
      { type: 'status', chatId: CHAT, seq: 1, state: 'delivered' },
      { type: 'ack', chatId: CHAT, clientMsgId: 'm1', seq: 1 },
      ownEcho(1, 'hi'),
    );
    expect(bubbles(state)).toEqual([[1, 'client', 'hi', 'delivered']]);
  });

  it('keeps unsent own messages after stored ones', () => {
    const state = run(
      requested,
      matched,
      { type: 'local.send', chatId: CHAT, clientMsgId: 'm1', text: 'mine', at: 5 },
      caMessage(1, 'theirs'),
    );
    expect(bubbles(state)).toEqual([
      [1, 'ca', 'theirs', null],
      [null, 'client', 'mine', 'sending'],
    ]);
  });

  it('marks an own message failed when sending fails and sent when a retry is acked', () => {
    let state = run(
      requested,
      matched,
      { type: 'local.send', chatId: CHAT, clientMsgId: 'm1', text: 'hi', at: 5 },
      { type: 'local.failed', chatId: CHAT, clientMsgId: 'm1', reason: 'timeout' },
    );
    expect(bubbles(state)).toEqual([[null, 'client', 'hi', 'failed']]);
    expect(state.chats[CHAT]?.bubbles[0]?.failReason).toBe('timeout');
    state = reduce(state, { type: 'ack', chatId: CHAT, clientMsgId: 'm1', seq: 1 });
    expect(bubbles(state)).toEqual([[1, 'client', 'hi', 'sent']]);
  });

  it('tracks upload progress and replaces the local file with the stored one on ack', () => {
    let state = run(requested, matched, {
      type: 'local.upload',
      chatId: CHAT,
      clientMsgId: 'f1',
      file: { name: 'gst.pdf', mime: 'application/pdf', size: 2048 },
      at: 5,
    });
    state = reduce(state, {
      type: 'local.progress',
      chatId: CHAT,
      clientMsgId: 'f1',
      progress: 0.5,
    });
    expect(state.chats[CHAT]?.bubbles[0]?.progress).toBe(0.5);
    state = reduce(state, {
      type: 'ack',
      chatId: CHAT,
      clientMsgId: 'f1',
      seq: 1,
      file: {
        id: 'file_1',
        name: 'gst.pdf',
        mime: 'application/pdf',
        size: 2048,
        sha256: 'ab',
        url: '/files/file_1?sig=x',
      },
    });
    const bubble = state.chats[CHAT]?.bubbles[0];
    expect(bubble?.progress).toBeNull();
    expect(bubble?.delivery).toBe('sent');
    expect(bubble?.file?.url).toBe('/files/file_1?sig=x');
  });

  it('refreshes a replayed file message with its newly signed url', () => {
    const file = (url: string): Action => ({
      type: 'message',
      message: {
        chatId: CHAT,
        seq: 1,
        from: 'ca',
        file: { id: 'f', name: 'r.pdf', mime: 'application/pdf', size: 3, sha256: 'ab', url },
        at: 1,
      },
    });
    const state = run(requested, matched, file('/files/f?sig=old'), file('/files/f?sig=new'));
    expect(state.chats[CHAT]?.bubbles).toHaveLength(1);
    expect(state.chats[CHAT]?.bubbles[0]?.file?.url).toBe('/files/f?sig=new');
  });

  it('shows the queue position and whether any CA speaks the language', () => {
    const state = run(requested, {
      type: 'chat.queued',
      chatId: CHAT,
      position: 2,
      noCaForLanguage: true,
    });
    expect(state.chats[CHAT]).toMatchObject({
      phase: 'waiting',
      position: 2,
      noCaForLanguage: true,
      language: 'en',
    });
    expect(state.currentChatId).toBe(CHAT);
  });

  it('ignores a late queue position once the chat is matched', () => {
    const state = run(requested, matched, { type: 'chat.queued', chatId: CHAT, position: 4 });
    expect(state.chats[CHAT]).toMatchObject({
      phase: 'active',
      position: null,
      ca: { name: 'Asha Rao' },
    });
  });

  it('fails messages still sending when the chat ends', () => {
    const state = run(
      requested,
      matched,
      { type: 'local.send', chatId: CHAT, clientMsgId: 'm1', text: 'hi', at: 5 },
      { type: 'chat.ended', chatId: CHAT, reason: 'ca_ended' },
    );
    expect(state.chats[CHAT]).toMatchObject({ phase: 'ended', endReason: 'ca_ended' });
    expect(bubbles(state)).toEqual([[null, 'client', 'hi', 'failed']]);
  });

  it('restores open chats from welcome and ends the ones the server no longer lists', () => {
    const other = 'chat_0';
    let state = run(
      { type: 'chat.requested', chatId: other, language: 'hi', topic: null },
      requested,
    );
    state = reduce(state, {
      type: 'welcome',
      clientId: 'c1',
      chats: [
        { chatId: CHAT, state: 'active', ca: { name: 'Asha Rao', languages: ['en'] }, lastSeq: 4 },
      ],
    });
    expect(state.chats[CHAT]).toMatchObject({ phase: 'active', ca: { name: 'Asha Rao' } });
    expect(state.chats[other]?.phase).toBe('ended');
    expect(state.currentChatId).toBe(CHAT);
  });

  it('picks the newest open chat after a reload', () => {
    const state = reduce(initialState, {
      type: 'welcome',
      clientId: 'c1',
      chats: [
        { chatId: 'a', state: 'active', lastSeq: 2 },
        { chatId: 'b', state: 'waiting', lastSeq: 0, position: 1 },
      ],
    });
    expect(state.currentChatId).toBe('b');
    expect(state.chats.b?.position).toBe(1);
  });
});
