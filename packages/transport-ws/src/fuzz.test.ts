import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@ca-chat/core';
import type { ServerFrame } from './protocol.js';
import { startHarness, type Harness, type RawSocket } from './test-support/harness.js';

const SERVER_TYPES = new Set([
  'welcome',
  'chat.queued',
  'chat.matched',
  'message',
  'message.ack',
  'message.status',
  'chat.ended',
  'error',
  'pong',
]);
const CLIENT_TYPES = ['hello', 'chat.request', 'message', 'typing', 'chat.end', 'resume', 'ping'];
const RUNS = 200;

describe('fuzzing: the server never crashes and always answers', () => {
  let h: Harness;
  let chatId: string;
  let token: string;
  let raw: RawSocket;
  let pings = 0;

  beforeAll(async () => {
    h = await startHarness({
      transport: {
        maxPayloadBytes: 1024 * 1024,
        rateLimit: { ratePerSecond: 1e6, burst: 1e6 },
        ipLimits: {
          newIdentities: { ratePerSecond: 1e6, burst: 1e6 },
          chatRequests: { ratePerSecond: 1e6, burst: 1e6 },
          httpRequests: { ratePerSecond: 1e6, burst: 1e6 },
        },
      },
      relay: { maxFileBytes: 2000, maxOpenChatsPerClient: 1000 },
    });
    raw = await h.raw();
    token = (await raw.hello()).token!;
    raw.send({ type: 'chat.request', language: 'en', ref: 'setup' });
    chatId = (await raw.next('chat.queued', (f) => f.ref === 'setup')).chatId;
    await h.accept(chatId);
  });

  afterAll(async () => {
    await h?.close();
  });

  /** Sends a ping and resolves with every frame that arrived before its pong. */
  async function framesUntilPong(): Promise<ServerFrame[]> {
    const ref = `fuzz-ping-${++pings}`;
    const from = raw.frames.length;
    const pong = raw.next('pong', (f) => f.ref === ref);
    raw.send({ type: 'ping', ref });
    await pong;
    return raw.frames.slice(
      from,
      raw.frames.indexOf(raw.frames.find((f) => f.type === 'pong' && f.ref === ref)!),
    );
  }

  const fieldValue = fc.oneof(
    fc.string(),
    fc.jsonValue(),
    fc.integer(),
    fc.constant(null),
    fc.constantFrom('chat-id-placeholder', 'x'.repeat(200)),
  );
  const frameObject = fc.record(
    {
      type: fc.oneof(
        fc.constantFrom(...CLIENT_TYPES, 'message.ack', 'welcome', ''),
        fc.string(),
        fc.jsonValue(),
      ),
      chatId: fieldValue,
      text: fieldValue,
      clientMsgId: fieldValue,
      afterSeq: fc.oneof(fc.integer({ min: -5, max: 50 }), fc.double(), fieldValue),
      language: fc.oneof(fc.constantFrom('en', 'hi', 'xx', ''), fieldValue),
      topic: fieldValue,
      token: fieldValue,
      ref: fieldValue,
    },
    { requiredKeys: [] },
  );
  const textFrame = fc.oneof(
    frameObject.map((frame) => JSON.stringify(frame).replaceAll('chat-id-placeholder', '__CHAT__')),
    fc.jsonValue().map((value) => JSON.stringify(value)),
    fc.string(),
    fc.string().map((s) => `{"type":"message",${s}`),
  );

  it('answers random text and binary frames, and stays up', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          textFrame.map((text) => ({ text })),
          fc.uint8Array({ maxLength: 256 }).map((bytes) => ({ bytes })),
        ),
        async (input) => {
          if ('bytes' in input) raw.socket.send(Buffer.from(input.bytes), { binary: true });
          else raw.sendText(input.text.replaceAll('__CHAT__', chatId));
          const answers = await framesUntilPong();
          for (const frame of answers) {
            expect(SERVER_TYPES.has(frame.type)).toBe(true);
            if (frame.type === 'error') expect(ERROR_CODES).toContain(frame.code);
          }
          let parsed: unknown;
          try {
            parsed = 'text' in input ? JSON.parse(input.text) : undefined;
          } catch {
            parsed = undefined;
          }
          const isFrameObject =
            typeof parsed === 'object' &&
            parsed !== null &&
            !Array.isArray(parsed) &&
            typeof (parsed as { type?: unknown }).type === 'string';
          if (!isFrameObject)
            expect(answers.some((f) => f.type === 'error' && f.code === 'malformed')).toBe(true);
          else if (!CLIENT_TYPES.includes((parsed as { type: string }).type))
            expect(answers.some((f) => f.type === 'error' && f.code === 'unknown_type')).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
    expect(raw.socket.readyState).toBe(raw.socket.OPEN);
    expect((await fetch(`${h.httpUrl}/healthz`)).status).toBe(200);
  });

  it('answers random multipart bodies with a status and a JSON error, leaving no partial file behind', async () => {
    const randomPart = fc.record({
      name: fc.oneof(
        fc.constantFrom('chatId', 'file', 'clientMsgId', 'text'),
        fc.string({ maxLength: 12 }),
      ),
      filename: fc.option(
        fc.oneof(
          fc.string({ maxLength: 40 }),
          fc.constantFrom('../../x.txt', 'a\r\nb.txt', 'résumé.pdf', ''),
        ),
        { nil: undefined },
      ),
      type: fc.option(fc.constantFrom('text/plain', 'application/pdf', 'bogus', 'a/b; x=y'), {
        nil: undefined,
      }),
      body: fc.oneof(
        fc.constant('__CHAT__'),
        fc.string({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 3000 }),
      ),
    });
    // Mostly well-formed uploads (some over the 2000-byte limit), so the fuzz reaches the relay.
    const filePart = fc.record({
      name: fc.constant('file'),
      filename: fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom('report.pdf', '../../etc/passwd', 'a\u0000b'),
      ),
      type: fc.option(fc.constantFrom('application/pdf', 'image/png', 'bogus'), { nil: undefined }),
      // Sizes around the 2000-byte limit too (fast-check favours small arrays).
      body: fc.oneof(
        fc.uint8Array({ maxLength: 3000 }),
        fc.integer({ min: 1990, max: 2010 }).map((n) => new Uint8Array(n).fill(65)),
      ),
    });
    const part = fc.oneof({ arbitrary: filePart, weight: 2 }, { arbitrary: randomPart, weight: 3 });
    const request = fc.record({
      withChatId: fc.oneof(
        { arbitrary: fc.constant(true), weight: 4 },
        { arbitrary: fc.constant(false), weight: 1 },
      ),
      parts: fc.array(part, { maxLength: 4 }),
      cutAt: fc.option(fc.nat(), { nil: undefined, freq: 4 }),
      boundary: fc.oneof(
        { arbitrary: fc.constant('b0undary'), weight: 8 },
        { arbitrary: fc.constantFrom('other', ''), weight: 1 },
      ),
      contentType: fc.oneof(
        { arbitrary: fc.constant('multipart/form-data; boundary=b0undary'), weight: 8 },
        {
          arbitrary: fc.constantFrom(
            'multipart/form-data',
            'multipart/form-data; boundary=other',
            'application/json',
            'text/plain',
          ),
          weight: 2,
        },
      ),
    });
    const statuses = new Set<number>();
    const allowed = new Set([201, 400, 403, 404, 409, 413, 415]);

    await fc.assert(
      fc.asyncProperty(request, async ({ withChatId, parts, cutAt, boundary, contentType }) => {
        const chunks: Buffer[] = [];
        if (withChatId)
          parts = [
            { name: 'chatId', filename: undefined, type: undefined, body: '__CHAT__' },
            ...parts,
          ];
        for (const p of parts) {
          const head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${p.filename !== undefined ? `; filename="${p.filename}"` : ''}\r\n${p.type ? `Content-Type: ${p.type}\r\n` : ''}\r\n`;
          chunks.push(
            Buffer.from(head),
            p.body === '__CHAT__' ? Buffer.from(chatId) : Buffer.from(p.body),
            Buffer.from('\r\n'),
          );
        }
        chunks.push(Buffer.from(`--${boundary}--\r\n`));
        let body = Buffer.concat(chunks);
        if (cutAt !== undefined) body = body.subarray(0, cutAt % (body.length + 1));
        const res = await fetch(`${h.httpUrl}/chat`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': contentType },
          body,
        });
        expect(allowed.has(res.status)).toBe(true);
        statuses.add(res.status);
        const json = (await res.json()) as { error?: { code: string; message: string } };
        if (res.status !== 201) expect(ERROR_CODES).toContain(json.error?.code);
      }),
      {
        numRuns: RUNS,
        // Always among the runs: a valid upload and one just over the limit.
        examples: [
          [
            {
              withChatId: true,
              parts: [
                {
                  name: 'file',
                  filename: 'ok.pdf',
                  type: 'application/pdf',
                  body: new Uint8Array(2000),
                },
              ],
              cutAt: undefined,
              boundary: 'b0undary',
              contentType: 'multipart/form-data; boundary=b0undary',
            },
          ],
          [
            {
              withChatId: true,
              parts: [
                {
                  name: 'file',
                  filename: 'big.pdf',
                  type: 'application/pdf',
                  body: new Uint8Array(2001),
                },
              ],
              cutAt: undefined,
              boundary: 'b0undary',
              contentType: 'multipart/form-data; boundary=b0undary',
            },
          ],
        ],
      },
    );
    // The generator reaches the interesting answers, not only early refusals.
    expect([...statuses].sort()).toEqual(expect.arrayContaining([201, 400, 413, 415]));
    // Every blob on disk belongs to a stored message: nothing partial was kept, no temp file.
    const stored = (await h.storage.listMessages(chatId))
      .filter((m) => m.file)
      .map((m) => m.file!.id);
    const blobs = await h.blobFiles();
    expect(blobs.sort()).toEqual(stored.sort());
    expect((await fetch(`${h.httpUrl}/healthz`)).status).toBe(200);
  });
});
