import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Writable } from 'node:stream';
import * as ws from 'ws';
import type { ServerFrame } from '../protocol.js';
import { frameJson } from './frame-json.js';
import { encodeTextFrames } from './text-frames.js';

/** ws's frame parser and framer (exported by ws, not in its type definitions). */
const { Receiver, Sender } = ws as unknown as {
  Receiver: new (options: { isServer: boolean; maxPayload: number }) => Writable;
  Sender: { frame(data: Buffer, options: object): Buffer[] };
};

/** What `ws`'s own receiver (the client side: frames unmasked) reads out of `buffer`. */
function received(buffer: Buffer, chunk: number): string[] {
  const out: string[] = [];
  const receiver = new Receiver({ isServer: false, maxPayload: 0 });
  receiver.on('message', (data: Buffer, isBinary: boolean) => {
    expect(isBinary).toBe(false);
    out.push(data.toString('utf8'));
  });
  receiver.on('error', (error: Error) => {
    throw error;
  });
  // Fed in pieces, as TCP may deliver it.
  for (let at = 0; at < buffer.length; at += chunk) receiver.write(buffer.subarray(at, at + chunk));
  return out;
}

/** Strings of every kind: ASCII ids, quotes and control characters, astral planes. */
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.stringMatching(/^[\w.:~-]{0,130}$/),
);

describe('encodeTextFrames', () => {
  it('writes frames ws reads back as the same texts, in order, for every length class', () => {
    // Payload sizes on both sides of the 7-bit, 16-bit and 64-bit length encodings.
    const sized = fc
      .constantFrom(0, 1, 125, 126, 127, 65_535, 65_536, 70_000)
      .chain((n) => fc.constantFrom('x'.repeat(n), 'é'.repeat(Math.ceil(n / 2))));
    fc.assert(
      fc.property(
        fc.array(fc.oneof(text, sized), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 70_000 }),
        (payloads, chunk) => {
          const encoded = encodeTextFrames(payloads);
          // Byte for byte what ws's own sender frames (unmasked, FIN, text)…
          const options = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };
          const framed = payloads.flatMap((p) => Sender.frame(Buffer.from(p, 'utf8'), options));
          expect(encoded.equals(Buffer.concat(framed))).toBe(true);
          // …and what ws's receiver reads back.
          expect(received(encoded, chunk)).toEqual(
            payloads.map((p) => Buffer.from(p, 'utf8').toString('utf8')),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('frameJson', () => {
  const seq = fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER));
  const ack = fc.record(
    { type: fc.constant('message.ack' as const), chatId: text, clientMsgId: text, seq, ref: text },
    { requiredKeys: ['type', 'chatId', 'clientMsgId', 'seq'] },
  );
  const status = fc.record(
    {
      type: fc.constant('message.status' as const),
      chatId: text,
      seq,
      state: fc.constantFrom('delivered' as const, 'failed' as const, 'pending' as const),
      reason: text,
    },
    { requiredKeys: ['type', 'chatId', 'seq', 'state'] },
  );

  it('is JSON that parses back to the frame, like JSON.stringify', () => {
    fc.assert(
      fc.property(fc.oneof(ack, status), (frame) => {
        const json = frameJson(frame);
        expect(JSON.parse(json)).toEqual(JSON.parse(JSON.stringify(frame)));
      }),
      { numRuns: 1000 },
    );
  });

  it('leaves other frames, and fields of unexpected types, to JSON.stringify', () => {
    const odd = [
      { type: 'pong', ref: 'r"1' },
      { type: 'message.ack', chatId: 'c', clientMsgId: 'm', seq: 1.5 },
      { type: 'message.ack', chatId: 'c', clientMsgId: 'm', seq: 1, ref: 7 },
      { type: 'message.status', chatId: 'c', seq: Number.NaN, state: 'delivered' },
      { type: 'message.status', chatId: 'c', seq: 1, state: 'failed', reason: null },
    ] as unknown as ServerFrame[];
    for (const frame of odd) expect(frameJson(frame)).toBe(JSON.stringify(frame));
  });
});
