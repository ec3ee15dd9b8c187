import { describe, expect, it } from 'vitest';
import type { Delivery } from '../../domain.js';
import {
  T0,
  byKey,
  expectCode,
  makeFileRef,
  makeMessage,
  seedChat,
  type ConformanceContext,
} from './fixtures.js';

const delivered: Delivery = {
  state: 'delivered',
  peerMessageId: 'tg-77',
  attempts: 1,
  nextAttemptAt: null,
  error: null,
};
const failed: Delivery = {
  state: 'failed',
  peerMessageId: null,
  attempts: 5,
  nextAttemptAt: null,
  error: 'blocked by user',
};

/** Messages: seq assignment, idempotency, reading, and the delivery outbox. */
export function messageCases(ctx: ConformanceContext): void {
  describe('messages', () => {
    it('appendMessage assigns seq 1, 2, 3 and getMessage reads every field back', async () => {
      const chat = await seedChat(ctx.storage);
      const inputs = [
        makeMessage(chat.id, { text: 'one', idempotencyKey: 'k1', createdAt: T0 + 1 }),
        makeMessage(chat.id, { from: 'ca', text: 'two', createdAt: T0 + 2, delivery: delivered }),
        makeMessage(chat.id, {
          from: 'system',
          text: 'three',
          createdAt: T0 + 3,
          delivery: failed,
        }),
      ];
      for (const [i, input] of inputs.entries()) {
        const result = await ctx.storage.appendMessage(input);
        expect(result).toEqual({ message: { ...input, seq: i + 1 }, duplicate: false });
      }
      for (const [i, input] of inputs.entries()) {
        expect(await ctx.storage.getMessage(chat.id, i + 1)).toEqual({ ...input, seq: i + 1 });
      }
    });

    it('a file message keeps its FileRef and a null text', async () => {
      const chat = await seedChat(ctx.storage);
      const input = makeMessage(chat.id, {
        text: null,
        file: makeFileRef({ size: 50 * 1024 * 1024 }),
      });
      await ctx.storage.appendMessage(input);
      expect(await ctx.storage.getMessage(chat.id, 1)).toEqual({ ...input, seq: 1 });
    });

    it('seq counts per chat', async () => {
      const a = await seedChat(ctx.storage);
      const b = await seedChat(ctx.storage);
      await ctx.storage.appendMessage(makeMessage(a.id));
      await ctx.storage.appendMessage(makeMessage(a.id));
      const first = await ctx.storage.appendMessage(makeMessage(b.id));
      expect(first.message.seq).toBe(1);
      expect(await ctx.storage.lastSeq(a.id)).toBe(2);
      expect(await ctx.storage.lastSeq(b.id)).toBe(1);
    });

    it('200 concurrent appends to one chat get seqs 1..200, each stored once with its own text', async () => {
      const chat = await seedChat(ctx.storage);
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          ctx.storage.appendMessage(makeMessage(chat.id, { text: `m${i}` })),
        ),
      );
      const seqs = results.map((r) => r.message.seq).sort((x, y) => x - y);
      expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      const stored = await ctx.storage.listMessages(chat.id);
      expect(stored.map((m) => m.seq)).toEqual(seqs);
      const textBySeq = new Map(results.map((r) => [r.message.seq, r.message.text]));
      expect(stored.every((m) => textBySeq.get(m.seq) === m.text)).toBe(true);
      expect(new Set(stored.map((m) => m.text)).size).toBe(200);
      expect(await ctx.storage.lastSeq(chat.id)).toBe(200);
    });

    it('concurrent appends across 10 chats are gapless in every chat', async () => {
      const chats = await Promise.all(Array.from({ length: 10 }, () => seedChat(ctx.storage)));
      await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          ctx.storage.appendMessage(makeMessage(chats[i % 10]!.id, { text: `m${i}` })),
        ),
      );
      for (const chat of chats) {
        expect((await ctx.storage.listMessages(chat.id)).map((m) => m.seq)).toEqual(
          Array.from({ length: 30 }, (_, i) => i + 1),
        );
      }
    });

    it('a repeated idempotency key from the same sender returns the stored message with duplicate: true and stores nothing', async () => {
      const chat = await seedChat(ctx.storage);
      const first = await ctx.storage.appendMessage(
        makeMessage(chat.id, { idempotencyKey: 'client-msg-1', text: 'original' }),
      );
      const again = await ctx.storage.appendMessage(
        makeMessage(chat.id, { idempotencyKey: 'client-msg-1', text: 'retry' }),
      );
      expect(again).toEqual({ message: first.message, duplicate: true });
      expect(await ctx.storage.lastSeq(chat.id)).toBe(1);
      expect((await ctx.storage.listMessages(chat.id)).map((m) => m.text)).toEqual(['original']);
    });

    it('20 concurrent appends with one idempotency key store exactly one message', async () => {
      const chat = await seedChat(ctx.storage);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          ctx.storage.appendMessage(
            makeMessage(chat.id, { idempotencyKey: 'same', text: `try ${i}` }),
          ),
        ),
      );
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      expect(new Set(results.map((r) => r.message.seq))).toEqual(new Set([1]));
      const stored = await ctx.storage.listMessages(chat.id);
      expect(stored).toHaveLength(1);
      expect(results.every((r) => r.message.text === stored[0]!.text)).toBe(true);
    });

    it('the same idempotency key from the other side is a different message', async () => {
      const chat = await seedChat(ctx.storage);
      await ctx.storage.appendMessage(
        makeMessage(chat.id, { from: 'client', idempotencyKey: '42' }),
      );
      const fromCa = await ctx.storage.appendMessage(
        makeMessage(chat.id, { from: 'ca', idempotencyKey: '42' }),
      );
      expect(fromCa.duplicate).toBe(false);
      expect(fromCa.message.seq).toBe(2);
      expect(await ctx.storage.lastSeq(chat.id)).toBe(2);
    });

    it('the same idempotency key in another chat is a different message', async () => {
      const a = await seedChat(ctx.storage);
      const b = await seedChat(ctx.storage);
      await ctx.storage.appendMessage(makeMessage(a.id, { idempotencyKey: 'k' }));
      const inB = await ctx.storage.appendMessage(makeMessage(b.id, { idempotencyKey: 'k' }));
      expect(inB).toMatchObject({ duplicate: false, message: { chatId: b.id, seq: 1 } });
    });

    it('messages without an idempotency key are never deduplicated', async () => {
      const chat = await seedChat(ctx.storage);
      const a = await ctx.storage.appendMessage(makeMessage(chat.id, { text: 'same' }));
      const b = await ctx.storage.appendMessage(makeMessage(chat.id, { text: 'same' }));
      expect([a.duplicate, b.duplicate]).toEqual([false, false]);
      expect(await ctx.storage.lastSeq(chat.id)).toBe(2);
    });

    it('listMessages returns messages after afterSeq, at most limit, in seq order', async () => {
      const chat = await seedChat(ctx.storage);
      for (let i = 1; i <= 10; i++)
        await ctx.storage.appendMessage(makeMessage(chat.id, { text: `m${i}` }));
      const seqs = async (options?: { afterSeq?: number; limit?: number }): Promise<number[]> =>
        (await ctx.storage.listMessages(chat.id, options)).map((m) => m.seq);
      expect(await seqs()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(await seqs({ afterSeq: 7 })).toEqual([8, 9, 10]);
      expect(await seqs({ limit: 3 })).toEqual([1, 2, 3]);
      expect(await seqs({ afterSeq: 4, limit: 2 })).toEqual([5, 6]);
      expect(await seqs({ afterSeq: 10 })).toEqual([]);
      expect(await seqs({ limit: 0 })).toEqual([]);
    });

    it('a chat without messages lists none and has lastSeq 0', async () => {
      const chat = await seedChat(ctx.storage);
      expect(await ctx.storage.listMessages(chat.id)).toEqual([]);
      expect(await ctx.storage.lastSeq(chat.id)).toBe(0);
      expect(await ctx.storage.lastSeq('no-such-chat')).toBe(0);
    });

    it('getMessage returns null for an unknown seq or chat', async () => {
      const chat = await seedChat(ctx.storage);
      await ctx.storage.appendMessage(makeMessage(chat.id));
      expect(await ctx.storage.getMessage(chat.id, 2)).toBeNull();
      expect(await ctx.storage.getMessage(chat.id, 0)).toBeNull();
      expect(await ctx.storage.getMessage('no-such-chat', 1)).toBeNull();
    });
  });

  describe('delivery outbox', () => {
    it('updateDelivery stores the new delivery', async () => {
      const chat = await seedChat(ctx.storage);
      const { message } = await ctx.storage.appendMessage(makeMessage(chat.id));
      const retry: Delivery = {
        state: 'pending',
        peerMessageId: null,
        attempts: 2,
        nextAttemptAt: T0 + 4000,
        error: '429',
      };
      await ctx.storage.updateDelivery(chat.id, 1, retry);
      expect(await ctx.storage.getMessage(chat.id, 1)).toEqual({ ...message, delivery: retry });
      await ctx.storage.updateDelivery(chat.id, 1, delivered);
      expect(await ctx.storage.getMessage(chat.id, 1)).toEqual({ ...message, delivery: delivered });
    });

    it('updateDelivery of an unknown message rejects with not_found', async () => {
      const chat = await seedChat(ctx.storage);
      await expectCode(ctx.storage.updateDelivery(chat.id, 1, delivered), 'not_found');
      expect(await ctx.storage.getMessage(chat.id, 1)).toBeNull();
    });

    it('listPendingDeliveries returns only pending messages, ordered by chatId then seq', async () => {
      const chats = [
        await seedChat(ctx.storage, { id: 'chat-z' }),
        await seedChat(ctx.storage, { id: 'chat-a' }),
        await seedChat(ctx.storage, { id: 'chat-m' }),
      ];
      for (let round = 0; round < 3; round++) {
        for (const chat of chats) {
          const delivery = round === 1 ? delivered : undefined;
          await ctx.storage.appendMessage(makeMessage(chat.id, delivery ? { delivery } : {}));
        }
      }
      const pending = await ctx.storage.listPendingDeliveries();
      expect(pending.map((m) => `${m.chatId}#${m.seq}`)).toEqual([
        'chat-a#1',
        'chat-a#3',
        'chat-m#1',
        'chat-m#3',
        'chat-z#1',
        'chat-z#3',
      ]);
      expect(pending.every((m) => m.delivery.state === 'pending')).toBe(true);
    });

    it('listPendingDeliveries returns at most limit, from the front of the order', async () => {
      const a = await seedChat(ctx.storage, { id: 'chat-a' });
      const b = await seedChat(ctx.storage, { id: 'chat-b' });
      for (let i = 0; i < 3; i++) {
        await ctx.storage.appendMessage(makeMessage(b.id));
        await ctx.storage.appendMessage(makeMessage(a.id));
      }
      const pending = await ctx.storage.listPendingDeliveries({ limit: 4 });
      expect(pending.map((m) => `${m.chatId}#${m.seq}`)).toEqual([
        'chat-a#1',
        'chat-a#2',
        'chat-a#3',
        'chat-b#1',
      ]);
    });

    it('a message leaves the outbox when delivered or failed, and returns when set back to pending', async () => {
      const chat = await seedChat(ctx.storage);
      for (let i = 0; i < 3; i++) await ctx.storage.appendMessage(makeMessage(chat.id));
      await ctx.storage.updateDelivery(chat.id, 1, delivered);
      await ctx.storage.updateDelivery(chat.id, 2, failed);
      expect((await ctx.storage.listPendingDeliveries()).map((m) => m.seq)).toEqual([3]);
      const pendingAgain: Delivery = {
        state: 'pending',
        peerMessageId: null,
        attempts: 0,
        nextAttemptAt: T0,
        error: null,
      };
      await ctx.storage.updateDelivery(chat.id, 2, pendingAgain);
      const pending = await ctx.storage.listPendingDeliveries();
      expect(pending.map((m) => m.seq)).toEqual([2, 3]);
      expect(pending.sort(byKey((m) => String(m.seq)))[0]!.delivery).toEqual(pendingAgain);
    });
  });
}
