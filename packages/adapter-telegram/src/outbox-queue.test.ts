import { CaChatError } from '@ca-chat/core';
import { createManualClock } from '@ca-chat/core/testing';
import { describe, expect, it } from 'vitest';
import { createOutboxQueue } from './outbox-queue.js';

const telegramError = (status: number | null, retryAfterSec: number | null = null): CaChatError =>
  new CaChatError('telegram_error', `Telegram sendMessage failed: ${status}`, {
    retryable: status === null || status === 429 || status >= 500,
    details: { method: 'sendMessage', status, retryAfterSec, description: String(status) },
  });

describe('outbox queue (manual clock)', () => {
  it('never sends to one chat faster than its rate, in order, while another chat is not held up', async () => {
    const clock = createManualClock(0);
    const queue = createOutboxQueue({
      clock,
      perChatPerSecond: 1,
      perChatBurst: 1,
      globalPerSecond: 100,
    });
    const sent: string[] = [];
    const job = (chatId: number, label: string) =>
      queue.call({ chatId, run: async () => void sent.push(`${label}@${clock.now()}`) });
    const all = Promise.all([job(1, 'a1'), job(1, 'a2'), job(1, 'a3'), job(2, 'b1')]);
    await clock.advance(2_000);
    await all;
    expect(sent).toEqual(['a1@0', 'b1@0', 'a2@1000', 'a3@2000']);
  });

  it('coalesces texts queued behind the limit into one message; every caller gets its id', async () => {
    const clock = createManualClock(0);
    const queue = createOutboxQueue({ clock, perChatPerSecond: 1, perChatBurst: 1 });
    const bodies: string[] = [];
    let id = 0;
    const send = async (text: string) => (bodies.push(text), ++id);
    const results = Promise.all(
      ['one', 'two', 'three', 'four'].map((text) =>
        queue.text({ chatId: 7, coalesceKey: 'c', text, send }),
      ),
    );
    await clock.advance(1_000);
    expect(await results).toEqual([1, 2, 2, 2]);
    expect(bodies).toEqual(['one', 'two\n\nthree\n\nfour']);
    expect(queue.stats()).toMatchObject({ sent: 2, coalesced: 2, queued: 0 });
  });

  it('a 429 pauses that chat for retry_after and retries the same call before later ones', async () => {
    const clock = createManualClock(0);
    const queue = createOutboxQueue({ clock, perChatPerSecond: 100, perChatBurst: 10 });
    const sent: string[] = [];
    let limited = true;
    const first = queue.call({
      chatId: 1,
      run: async () => {
        if (limited) {
          limited = false;
          throw telegramError(429, 3);
        }
        sent.push(`first@${clock.now()}`);
      },
    });
    const second = queue.call({
      chatId: 1,
      run: async () => void sent.push(`second@${clock.now()}`),
    });
    await clock.advance(3_000);
    await Promise.all([first, second]);
    expect(sent).toEqual(['first@3000', 'second@3000']);
    expect(queue.stats().rateLimited).toBe(1);
  });

  it('gives up after bounded 5xx retries (retryable) and fails the later calls of the same order key too', async () => {
    const clock = createManualClock(0);
    const queue = createOutboxQueue({
      clock,
      perChatPerSecond: 100,
      perChatBurst: 10,
      maxAttempts: 3,
      backoffInitialMs: 100,
    });
    let calls = 0;
    const failing = queue.call({
      chatId: 1,
      orderKey: 'chat-a',
      run: async () => {
        calls++;
        throw telegramError(502);
      },
    });
    const behind = queue.call({ chatId: 1, orderKey: 'chat-a', run: async () => 'sent' });
    const otherChat = queue.call({ chatId: 1, orderKey: 'chat-b', run: async () => 'other' });
    const outcomes = Promise.allSettled([failing, behind, otherChat]);
    await clock.advance(1_000);
    const [a, b, c] = await outcomes;
    expect(calls).toBe(3);
    expect(a).toMatchObject({
      status: 'rejected',
      reason: { code: 'telegram_error', retryable: true },
    });
    expect(b).toMatchObject({ status: 'rejected', reason: { retryable: true } });
    expect(c).toMatchObject({ status: 'fulfilled', value: 'other' });
  });

  it('a 400 or 403 fails at once and is not retryable', async () => {
    const queue = createOutboxQueue({ clock: createManualClock(0) });
    let calls = 0;
    const result = queue.call({
      chatId: 1,
      run: async () => {
        calls++;
        throw telegramError(403);
      },
    });
    await expect(result).rejects.toMatchObject({ code: 'telegram_error', retryable: false });
    expect(calls).toBe(1);
  });
});
