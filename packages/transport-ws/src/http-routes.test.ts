import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createManualClock } from '@ca-chat/core/testing';
import { startHarness, type Harness } from './test-support/harness.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A client over a raw socket with an active chat, for HTTP calls with its bearer token. */
async function activeChat(
  h: Harness,
): Promise<{ chatId: string; token: string; auth: Record<string, string> }> {
  const raw = await h.raw();
  const { token } = await raw.hello();
  raw.send({ type: 'chat.request', language: 'en', ref: 'q' });
  const { chatId } = await raw.next('chat.queued', (f) => f.ref === 'q');
  await h.accept(chatId);
  return { chatId, token: token!, auth: { Authorization: `Bearer ${token}` } };
}

function multipart(
  parts: { name: string; filename?: string; type?: string; body: string | Uint8Array }[],
): { body: Uint8Array<ArrayBuffer>; contentType: string } {
  const boundary = '----ca-chat-test-boundary';
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ''}`;
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: ${disposition}\r\n${part.type ? `Content-Type: ${part.type}\r\n` : ''}\r\n`,
      ),
    );
    chunks.push(Buffer.from(part.body));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    body: new Uint8Array(Buffer.concat(chunks)),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

async function caFile(
  h: Harness,
  chatId: string,
  bytes: Buffer,
  name = 'report.txt',
): Promise<{ id: string }> {
  const { message } = await h.relay.sendCAFile(h.ca.id, {
    chatId,
    name,
    mime: 'text/plain',
    source: Readable.from([bytes]),
  });
  return { id: message.file!.id };
}

describe('HTTP routes', () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  describe('POST /chat', () => {
    it('stores a JSON text and answers 201 with the stored message', async () => {
      h = await startHarness();
      const { chatId, auth } = await activeChat(h);
      const res = await fetch(`${h.httpUrl}/chat`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ chatId, text: 'via http', clientMsgId: 'h-1' }),
      });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({
        chatId,
        seq: 1,
        from: 'client',
        text: 'via http',
        clientMsgId: 'h-1',
        duplicate: false,
      });
      expect((await h.storage.getMessage(chatId, 1))?.text).toBe('via http');
    });

    it('answers 401 without a token and with a bad token, storing nothing', async () => {
      h = await startHarness();
      const { chatId } = await activeChat(h);
      const body = JSON.stringify({ chatId, text: 'hi' });
      const none = await fetch(`${h.httpUrl}/chat`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body,
      });
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      expect(await none.json()).toEqual({
        error: { code: 'unauthorized', message: expect.any(String) },
      });
      const bad = await fetch(`${h.httpUrl}/chat`, {
        method: 'POST',
        headers: { Authorization: 'Bearer forged.token', 'Content-Type': 'application/json' },
        body,
      });
      expect(bad.status).toBe(401);
      expect(await h.storage.listMessages(chatId)).toEqual([]);
    });

    it('answers 403 not_your_chat for someone else’s chat and stores nothing', async () => {
      h = await startHarness();
      const owner = await activeChat(h);
      const stranger = await activeChat(h);
      const res = await fetch(`${h.httpUrl}/chat`, {
        method: 'POST',
        headers: { ...stranger.auth, 'Content-Type': 'application/json' },
        body: JSON.stringify({ chatId: owner.chatId, text: 'hi' }),
      });
      expect(res.status).toBe(403);
      expect((await res.json()).error.code).toBe('not_your_chat');
      const upload = multipart([
        { name: 'chatId', body: owner.chatId },
        { name: 'file', filename: 'a.txt', type: 'text/plain', body: 'abc' },
      ]);
      const file = await fetch(`${h.httpUrl}/chat`, {
        method: 'POST',
        headers: { ...stranger.auth, 'Content-Type': upload.contentType },
        body: upload.body,
      });
      expect(file.status).toBe(403);
      expect(await h.storage.listMessages(owner.chatId)).toEqual([]);
      expect(await h.blobFiles()).toEqual([]);
    });

    it('streams a multipart file into the blob store with a sanitised name', async () => {
      h = await startHarness();
      const { chatId, auth } = await activeChat(h);
      const bytes = Buffer.alloc(200_000, 7);
      const upload = multipart([
        { name: 'chatId', body: chatId },
        {
          name: 'file',
          filename: 'C:\\Users\\me\\tax\u202Egpj.exe',
          type: 'image/jpeg',
          body: bytes,
        },
      ]);
      const res = await fetch(`${h.httpUrl}/chat`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': upload.contentType },
        body: upload.body,
      });
      expect(res.status).toBe(201);
      const stored = await res.json();
      expect(stored.file).toMatchObject({
        name: 'taxgpj.exe',
        mime: 'image/jpeg',
        size: bytes.length,
        sha256: sha256(bytes),
      });
      expect(await h.blobFiles()).toEqual([stored.file.id]);
    });

    it('answers 413 file_too_large for a file over maxFileBytes and keeps nothing', async () => {
      h = await startHarness({ relay: { maxFileBytes: 100_000 } });
      const { chatId, auth } = await activeChat(h);
      const upload = multipart([
        { name: 'chatId', body: chatId },
        { name: 'file', filename: 'big.bin', body: Buffer.alloc(100_001) },
      ]);
      const res = await fetch(`${h.httpUrl}/chat`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': upload.contentType },
        body: upload.body,
      });
      expect(res.status).toBe(413);
      expect((await res.json()).error.code).toBe('file_too_large');
      expect(await h.blobFiles()).toEqual([]);
      expect(await h.storage.listMessages(chatId)).toEqual([]);
      const exact = multipart([
        { name: 'chatId', body: chatId },
        { name: 'file', filename: 'ok.bin', body: Buffer.alloc(100_000) },
      ]);
      const ok = await fetch(`${h.httpUrl}/chat`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': exact.contentType },
        body: exact.body,
      });
      expect(ok.status).toBe(201);
    });

    it('cuts off a large upload over the limit while streaming: 413, nothing stored', async () => {
      h = await startHarness({ relay: { maxFileBytes: 1_000_000 } });
      const { chatId, auth } = await activeChat(h);
      const form = new FormData();
      form.append('chatId', chatId);
      form.append('file', new Blob([new Uint8Array(20_000_000)]), 'big.bin');
      const res = await fetch(`${h.httpUrl}/chat`, { method: 'POST', headers: auth, body: form });
      expect(res.status).toBe(413);
      expect((await res.json()).error.code).toBe('file_too_large');
      expect(await h.blobFiles()).toEqual([]);
      expect(await h.storage.listMessages(chatId)).toEqual([]);
    });

    it('leaves no temp file behind when a body is cut off in the middle of the file', async () => {
      // 380 uploads from one address: lift the per-IP HTTP limit for this test.
      h = await startHarness({
        relay: { maxFileBytes: 2000 },
        transport: { ipLimits: { httpRequests: { ratePerSecond: 10_000, burst: 10_000 } } },
      });
      const { chatId, auth } = await activeChat(h);
      const full = multipart([
        { name: 'chatId', body: chatId },
        { name: 'file', filename: 'x.bin', body: Buffer.alloc(1990, 65) },
      ]);
      for (let cut = full.body.length - 400; cut < full.body.length - 20; cut += 1) {
        const res = await fetch(`${h.httpUrl}/chat`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': full.contentType },
          body: full.body.slice(0, cut),
        });
        expect(res.status).toBe(400);
        expect(await h.blobFiles()).toEqual([]);
      }
    });

    it('answers 400 for a file before chatId, two files, or no file, and keeps nothing', async () => {
      h = await startHarness();
      const { chatId, auth } = await activeChat(h);
      const cases = [
        multipart([
          { name: 'file', filename: 'a.txt', body: 'a' },
          { name: 'chatId', body: chatId },
        ]),
        multipart([
          { name: 'chatId', body: chatId },
          { name: 'file', filename: 'a.txt', body: 'a' },
          { name: 'file', filename: 'b.txt', body: 'b' },
        ]),
        multipart([{ name: 'chatId', body: chatId }]),
      ];
      for (const upload of cases) {
        const res = await fetch(`${h.httpUrl}/chat`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': upload.contentType },
          body: upload.body,
        });
        expect(res.status).toBe(400);
        expect((await res.json()).error.code).toBe('invalid_input');
      }
      expect(await h.storage.listMessages(chatId)).toEqual([]);
      expect(await h.blobFiles()).toEqual([]);
    });

    it('answers 415 for another content type, 413 for a JSON body over the limit, 400 for bad JSON', async () => {
      h = await startHarness({ transport: { maxJsonBodyBytes: 1000 } });
      const { chatId, auth } = await activeChat(h);
      const post = (type: string, body: string): Promise<Response> =>
        fetch(`${h.httpUrl}/chat`, {
          method: 'POST',
          headers: { ...auth, 'Content-Type': type },
          body,
        });
      expect((await post('text/plain', 'hi')).status).toBe(415);
      const big = await post(
        'application/json',
        JSON.stringify({ chatId, text: 'x'.repeat(2000) }),
      );
      expect(big.status).toBe(413);
      expect((await big.json()).error.code).toBe('payload_too_large');
      // Without Content-Length (streamed): still a clean 413.
      const streamed = await fetch(`${h.httpUrl}/chat`, {
        method: 'POST',
        headers: { ...auth, 'Content-Type': 'application/json' },
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(
              new TextEncoder().encode(JSON.stringify({ chatId, text: 'x'.repeat(5000) })),
            );
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      expect(streamed.status).toBe(413);
      const bad = await post('application/json', '{"chatId":');
      expect(bad.status).toBe(400);
      expect((await bad.json()).error.code).toBe('malformed');
      expect(await h.storage.listMessages(chatId)).toEqual([]);
    });

    it('answers 405 with Allow for another method', async () => {
      h = await startHarness();
      const res = await fetch(`${h.httpUrl}/chat`, { method: 'PUT' });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST, OPTIONS');
    });

    it('answers 429 past the per-IP HTTP request limit', async () => {
      h = await startHarness({
        transport: { ipLimits: { httpRequests: { ratePerSecond: 0.001, burst: 2 } } },
      });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await fetch(`${h.httpUrl}/chat`, { method: 'POST' })).status);
      expect(statuses).toEqual([401, 401, 429]);
    });
  });

  describe('GET /files/:fileId', () => {
    it('serves the caller’s file with type, safe disposition, length and sha256 ETag; 304 on If-None-Match', async () => {
      h = await startHarness();
      const { chatId, auth } = await activeChat(h);
      const bytes = Buffer.from('hello file');
      const { id } = await caFile(h, chatId, bytes, 'Bilan “2025”.txt');
      const res = await fetch(`${h.httpUrl}/files/${id}`, { headers: auth });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain');
      expect(res.headers.get('content-length')).toBe(String(bytes.length));
      expect(res.headers.get('etag')).toBe(`"${sha256(bytes)}"`);
      expect(res.headers.get('content-disposition')).toBe(
        `attachment; filename="Bilan _2025_.txt"; filename*=UTF-8''Bilan%20%E2%80%9C2025%E2%80%9D.txt`,
      );
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(Buffer.from(await res.arrayBuffer())).toEqual(bytes);
      const cached = await fetch(`${h.httpUrl}/files/${id}`, {
        headers: { ...auth, 'If-None-Match': `"${sha256(bytes)}"` },
      });
      expect(cached.status).toBe(304);
    });

    it('serves byte ranges with 206 and refuses unsatisfiable ones with 416', async () => {
      h = await startHarness();
      const { chatId, auth } = await activeChat(h);
      const { id } = await caFile(h, chatId, Buffer.from('0123456789'));
      const part = await fetch(`${h.httpUrl}/files/${id}`, {
        headers: { ...auth, Range: 'bytes=2-5' },
      });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe('bytes 2-5/10');
      expect(await part.text()).toBe('2345');
      const suffix = await fetch(`${h.httpUrl}/files/${id}`, {
        headers: { ...auth, Range: 'bytes=-3' },
      });
      expect(await suffix.text()).toBe('789');
      const open = await fetch(`${h.httpUrl}/files/${id}`, {
        headers: { ...auth, Range: 'bytes=8-' },
      });
      expect(await open.text()).toBe('89');
      const beyond = await fetch(`${h.httpUrl}/files/${id}`, {
        headers: { ...auth, Range: 'bytes=10-20' },
      });
      expect(beyond.status).toBe(416);
      expect(beyond.headers.get('content-range')).toBe('bytes */10');
    });

    it('answers 404 for someone else’s file and 401 without a token', async () => {
      h = await startHarness();
      const owner = await activeChat(h);
      const stranger = await activeChat(h);
      const { id } = await caFile(h, owner.chatId, Buffer.from('private'));
      const res = await fetch(`${h.httpUrl}/files/${id}`, { headers: stranger.auth });
      expect(res.status).toBe(404);
      expect((await res.json()).error.code).toBe('not_found');
      expect((await fetch(`${h.httpUrl}/files/${id}`)).status).toBe(401);
    });

    it('serves a valid signed link without a token; a tampered one is 403, an expired one 403', async () => {
      const clock = createManualClock(Date.now());
      h = await startHarness({ transport: { clock, fileUrlTtlMs: 60_000 } });
      const raw = await h.raw();
      await raw.hello();
      raw.send({ type: 'chat.request', language: 'en', ref: 'q' });
      const { chatId } = await raw.next('chat.queued', (f) => f.ref === 'q');
      await h.accept(chatId);
      await caFile(h, chatId, Buffer.from('signed bytes'));
      const message = await raw.next('message', (m) => m.file !== undefined, true);
      const url = message.file!.url;
      expect(url).toMatch(/^\/files\/[^?]+\?exp=\d+&sig=/);
      const ok = await fetch(`${h.httpUrl}${url}`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('signed bytes');
      const tampered = await fetch(
        `${h.httpUrl}${url.replace(/exp=(\d+)/, (_, exp) => `exp=${Number(exp) + 1}`)}`,
      );
      expect(tampered.status).toBe(403);
      await clock.advance(60_001);
      const expired = await fetch(`${h.httpUrl}${url}`);
      expect(expired.status).toBe(403);
      expect(await expired.json()).toEqual({
        error: { code: 'forbidden', message: 'this download link has expired' },
      });
    });
  });

  describe('other routes', () => {
    it('answers /info with the offered languages, topics and limits', async () => {
      h = await startHarness();
      const res = await fetch(`${h.httpUrl}/info`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ protocol: 'ca-chat.v1', languages: ['en', 'hi'] });
      expect(body.maxFileBytes).toBe(h.relay.settings.maxFileBytes);
      expect(body.maxTextLength).toBe(h.relay.settings.maxTextLength);
    });

    it('answers /healthz with ok, and 503 when the health check says not ok', async () => {
      let healthy = true;
      h = await startHarness({
        transport: { healthCheck: () => ({ ok: healthy, storage: healthy ? 'up' : 'down' }) },
      });
      const up = await fetch(`${h.httpUrl}/healthz`);
      expect(up.status).toBe(200);
      expect(await up.json()).toEqual({ ok: true, storage: 'up' });
      healthy = false;
      expect((await fetch(`${h.httpUrl}/healthz`)).status).toBe(503);
    });

    it('answers CORS preflights for allowed origins only', async () => {
      h = await startHarness({ transport: { cors: { origins: ['https://app.example'] } } });
      const allowed = await fetch(`${h.httpUrl}/chat`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'POST' },
      });
      expect(allowed.status).toBe(204);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example');
      expect(allowed.headers.get('access-control-allow-headers')).toContain('Authorization');
      const refused = await fetch(`${h.httpUrl}/chat`, {
        method: 'OPTIONS',
        headers: { Origin: 'https://evil.example' },
      });
      expect(refused.status).toBe(403);
      const actual = await fetch(`${h.httpUrl}/healthz`, {
        headers: { Origin: 'https://app.example' },
      });
      expect(actual.headers.get('access-control-allow-origin')).toBe('https://app.example');
    });

    it('serves /metrics from the metricsText hook', async () => {
      h = await startHarness({ transport: { metricsText: () => 'ca_chat_up 1\n' } });
      const res = await fetch(`${h.httpUrl}/metrics`);
      expect(res.headers.get('content-type')).toContain('text/plain');
      expect(await res.text()).toBe('ca_chat_up 1\n');
    });

    it('answers HEAD for a file with its headers and no body', async () => {
      h = await startHarness();
      const { chatId, auth } = await activeChat(h);
      const { id } = await caFile(h, chatId, Buffer.from('0123456789'));
      const res = await fetch(`${h.httpUrl}/files/${id}`, { method: 'HEAD', headers: auth });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe('10');
      expect(await res.text()).toBe('');
    });

    it('answers unknown paths with a JSON 404', async () => {
      h = await startHarness();
      const res = await fetch(`${h.httpUrl}/nope`);
      expect(res.status).toBe(404);
      expect((await res.json()).error.code).toBe('not_found');
    });
  });
});
