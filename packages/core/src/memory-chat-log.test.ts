import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Delivery, Message, Party } from './domain.js';
import { ChatLog } from './memory-chat-log.js';
import type { NewMessage } from './storage.js';

/** What a UTF-8 round trip gives back (a lone surrogate half becomes U+FFFD). */
const wellFormed = (s: string): string => Buffer.from(s).toString();
const party = fc.constantFrom<Party>('client', 'ca', 'system');
// Few distinct keys, so duplicates and hash-table probing both happen; any UTF-16 text.
const key = fc.option(
  fc.oneof(fc.constantFrom('k1', 'k2', 'é', ''), fc.string({ unit: 'binary' })),
);
const delivery: fc.Arbitrary<Delivery> = fc.record({
  state: fc.constantFrom('pending', 'delivered', 'failed'),
  peerMessageId: fc.option(fc.oneof(fc.constantFrom('1', '2'), fc.string({ unit: 'binary' }))),
  attempts: fc.nat({ max: 1000 }),
  nextAttemptAt: fc.option(fc.nat()),
  error: fc.option(fc.string()),
});
const newMessage: fc.Arbitrary<NewMessage> = fc.record({
  chatId: fc.constant('chat'),
  from: party,
  text: fc.option(
    fc.oneof(fc.string({ unit: 'binary', maxLength: 3000 }), fc.constantFrom('a\udc00b', '')),
  ),
  file: fc.option(
    fc.record({
      id: fc.string(),
      name: fc.string(),
      mime: fc.string(),
      size: fc.nat(),
      sha256: fc.string(),
    }),
  ),
  createdAt: fc.nat(),
  idempotencyKey: key,
  delivery,
});
const step = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), message: newMessage }),
  fc.record({ kind: fc.constant('update' as const), nth: fc.nat(), delivery }),
  fc.record({ kind: fc.constant('find' as const), from: party, key: fc.string() }),
);

describe('ChatLog', () => {
  it('gives back every field as stored, finds keys per sender, and counts pending like a plain array would', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), (steps) => {
        const log = new ChatLog('chat');
        const model: Message[] = [];
        const find = (from: Party, k: string): number =>
          model.find((m) => m.from === from && m.idempotencyKey === wellFormed(k))?.seq ?? 0;
        for (const s of steps) {
          if (s.kind === 'append') {
            const m = s.message;
            // The store checks the key first and never appends a duplicate.
            if (m.idempotencyKey !== null && find(m.from, m.idempotencyKey) !== 0) continue;
            const seq = model.length + 1;
            const stored = log.append(m);
            model.push({
              ...m,
              seq,
              text: m.text && wellFormed(m.text),
              idempotencyKey: m.idempotencyKey && wellFormed(m.idempotencyKey),
              file: m.file && { ...m.file },
              delivery: { ...m.delivery },
            });
            expect(stored).toEqual(model[seq - 1]);
            expect(log.message(seq)).toEqual(model[seq - 1]);
          } else if (s.kind === 'update' && model.length > 0) {
            const target = model[s.nth % model.length]!;
            log.setDelivery(target.seq, s.delivery);
            target.delivery = { ...s.delivery };
          } else if (s.kind === 'find') {
            expect(log.findKey(s.from, s.key)).toBe(find(s.from, s.key));
          }
        }
        expect(log.length).toBe(model.length);
        for (const m of model) {
          expect(log.message(m.seq)).toEqual(m);
          if (m.idempotencyKey !== null) expect(log.findKey(m.from, m.idempotencyKey)).toBe(m.seq);
        }
        expect(log.pendingSeqs()).toEqual(
          model.filter((m) => m.delivery.state === 'pending').map((m) => m.seq),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('keeps thousands of messages across record blocks and arena chunks, and a text larger than a chunk', () => {
    const log = new ChatLog('chat');
    const big = 'x'.repeat(1.5 * 1024 * 1024);
    const texts: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const text = i === 2500 ? big : `message ${i} — ${'ü'.repeat(i % 50)}`;
      texts.push(text);
      log.append({
        chatId: 'chat',
        from: 'client',
        text,
        file: null,
        createdAt: i,
        idempotencyKey: `key-${i}`,
        delivery: {
          state: 'pending',
          peerMessageId: null,
          attempts: 0,
          nextAttemptAt: null,
          error: null,
        },
      });
    }
    for (let seq = 1; seq <= 5000; seq++) {
      const m = log.message(seq);
      expect(m.text).toBe(texts[seq - 1]);
      expect(m.createdAt).toBe(seq - 1);
      expect(log.findKey('client', `key-${seq - 1}`)).toBe(seq);
    }
    expect(log.findKey('ca', 'key-1')).toBe(0);
  });
});
