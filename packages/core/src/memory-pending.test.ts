import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DeliveryState } from './domain.js';
import { createMemoryStorage } from './memory-storage.js';

const STATES: DeliveryState[] = ['pending', 'delivered', 'failed'];

/** An append, or a delivery update of the nth message so far (modulo how many there are). */
const step = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), chat: fc.integer({ min: 0, max: 2 }) }),
  fc.record({
    kind: fc.constant('update' as const),
    nth: fc.nat(),
    state: fc.constantFrom(...STATES),
  }),
);

describe('memory storage pending index', () => {
  it('listPendingDeliveries always lists exactly the pending messages, whatever order deliveries settle in', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 60 }), async (steps) => {
        const storage = createMemoryStorage();
        await storage.init();
        const model = new Map<string, { chatId: string; seq: number; state: DeliveryState }>();
        const seqs = [0, 0, 0];
        for (const s of steps) {
          if (s.kind === 'append') {
            const chatId = `chat-${s.chat}`;
            const { message } = await storage.appendMessage({
              chatId,
              from: 'client',
              text: 'hi',
              file: null,
              createdAt: 0,
              idempotencyKey: null,
              delivery: {
                state: 'pending',
                peerMessageId: null,
                attempts: 0,
                nextAttemptAt: 0,
                error: null,
              },
            });
            seqs[s.chat] = message.seq;
            model.set(`${chatId}#${message.seq}`, { chatId, seq: message.seq, state: 'pending' });
          } else if (model.size > 0) {
            const target = [...model.values()][s.nth % model.size]!;
            await storage.updateDelivery(target.chatId, target.seq, {
              state: s.state,
              peerMessageId: null,
              attempts: 1,
              nextAttemptAt: null,
              error: null,
            });
            target.state = s.state;
          }
        }
        const expected = [...model.values()]
          .filter((m) => m.state === 'pending')
          .sort((a, b) => a.chatId.localeCompare(b.chatId) || a.seq - b.seq)
          .map((m) => [m.chatId, m.seq]);
        const listed = (await storage.listPendingDeliveries()).map((m) => [m.chatId, m.seq]);
        expect(listed).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });
});
