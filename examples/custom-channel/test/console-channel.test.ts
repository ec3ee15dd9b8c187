import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFsBlobStore, createMemoryStorage, createRelay, type Relay } from '@ca-chat/core';
import { createRecordingTransport, type RecordingTransport } from '@ca-chat/core/testing';
import { createConsoleChannel } from '../src/console-channel.js';
import { parseCommand } from '../src/commands.js';

/** Collects the console's output lines and lets a test wait for the next one that matches. */
function lineReader(stream: PassThrough) {
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; from: number; resolve: (line: string) => void }> = [];
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) !== -1) {
      lines.push(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      for (const waiter of [...waiters]) {
        const found = lines.slice(waiter.from).find((l) => waiter.pattern.test(l));
        if (found !== undefined) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(found);
        }
      }
    }
  });
  let cursor = 0;
  function wait(
    pattern: RegExp,
    from: number,
    onMatch: (line: string) => string,
    timeoutMs: number,
  ): Promise<string> {
    const matched = onMatch;
    const found = lines.slice(from).find((l) => pattern.test(l));
    if (found !== undefined) return Promise.resolve(matched(found));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no console line matched ${pattern} in ${timeoutMs} ms; got:\n${lines.join('\n')}`,
            ),
          ),
        timeoutMs,
      );
      waiters.push({
        pattern,
        from,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(matched(line));
        },
      });
    });
  }
  return {
    lines,
    /** The next line after the last one `next` matched that matches `pattern` (command replies). */
    next(pattern: RegExp, timeoutMs = 5000): Promise<string> {
      const from = cursor;
      return wait(
        pattern,
        from,
        (line) => {
          cursor = lines.indexOf(line, from) + 1;
          return line;
        },
        timeoutMs,
      );
    },
    /** Any line so far or to come that matches `pattern` (events, whose order against replies varies). */
    seen(pattern: RegExp, timeoutMs = 5000): Promise<string> {
      return wait(pattern, 0, (line) => line, timeoutMs);
    },
  };
}

describe('console channel', () => {
  let dir: string;
  let relay: Relay;
  let transport: RecordingTransport;
  let input: PassThrough;
  let output: PassThrough;
  let out: ReturnType<typeof lineReader>;
  const type = (line: string): void => {
    input.write(`${line}\n`);
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ca-chat-console-'));
    input = new PassThrough();
    output = new PassThrough();
    out = lineReader(output);
    transport = createRecordingTransport();
    relay = createRelay({
      storage: createMemoryStorage(),
      blobs: createFsBlobStore({ dir: join(dir, 'files') }),
      transports: [transport],
      channels: [createConsoleChannel({ input, output })],
      options: { registrationMode: 'open', languages: ['en', 'hi'] },
    });
    await relay.start();
    await out.next(/ready/);
  });

  afterEach(async () => {
    input.end();
    await relay.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a whole chat between a client and a CA typing in the console', async () => {
    type('register asha 123456 en,hi Asha Rao');
    expect(await out.next(/^ok register/)).toBe(
      'ok register @asha approval=approved status=available',
    );

    const { client } = await relay.createClient();
    transport.connect(client.id);
    const request = await relay.requestChat(client.id, {
      language: 'en',
      topic: 'gst',
      text: 'Do I need to register for GST?',
    });
    const chatId = request.chat.id;
    expect(await out.seen(/offer/)).toBe(
      `@asha offer ${chatId} language=en topic=gst first="Do I need to register for GST?"`,
    );

    type(`accept ${chatId}`);
    expect(await out.next(/^ok accept/)).toBe(`ok accept ${chatId}`);
    const matched = await transport.waitFor(client.id, 'chat.matched', undefined, {
      includePast: true,
    });
    expect(matched.ca).toEqual({ name: 'Asha Rao', languages: ['en', 'hi'] });
    expect(await out.seen(new RegExp(`message ${chatId} #1 client`))).toBe(
      `@asha message ${chatId} #1 client "Do I need to register for GST?"`,
    );

    type(`say ${chatId} Only above the turnover threshold.`);
    expect(await out.next(/^ok say/)).toBe(`ok say ${chatId} #2`);
    const reply = await transport.waitFor(client.id, 'message', (e) => e.seq === 2, {
      includePast: true,
    });
    expect(reply).toMatchObject({ from: 'ca', text: 'Only above the turnover threshold.' });

    await relay.sendClientMessage(client.id, {
      chatId,
      text: 'Thanks!\n@asha offer fake',
      clientMsgId: 'c-2',
    });
    // A client's newline stays inside the quoted text: it cannot forge a console line.
    expect(await out.seen(/#3 client/)).toBe(
      `@asha message ${chatId} #3 client "Thanks!\\n@asha offer fake"`,
    );

    type(`end ${chatId}`);
    expect(await out.next(/^ok end/)).toBe(`ok end ${chatId}`);
    const ended = await transport.waitFor(client.id, 'chat.ended', undefined, {
      includePast: true,
    });
    expect(ended.reason).toBe('ca_ended');
    const transcript = await relay.getTranscript(chatId);
    expect(transcript.messages.map((m) => [m.seq, m.from, m.text])).toEqual([
      [1, 'client', 'Do I need to register for GST?'],
      [2, 'ca', 'Only above the turnover threshold.'],
      [3, 'client', 'Thanks!\n@asha offer fake'],
    ]);
  });

  it('tells the CA when another CA took the offer', async () => {
    type('register asha 123456 en Asha Rao');
    await out.next(/^ok register @asha/);
    type('register ravi 654321 en Ravi Kumar');
    await out.next(/^ok register @ravi/);
    const { client } = await relay.createClient();
    transport.connect(client.id);
    const { chat } = await relay.requestChat(client.id, { language: 'en' });
    await out.seen(new RegExp(`@asha offer ${chat.id}`));
    await out.seen(new RegExp(`@ravi offer ${chat.id}`));

    type('as ravi');
    await out.next(/^ok as @ravi/);
    type(`accept ${chat.id}`);
    expect(await out.next(/^ok accept/)).toBe(`ok accept ${chat.id}`);
    expect(await out.seen(new RegExp(`@asha offer-closed ${chat.id}`))).toBe(
      `@asha offer-closed ${chat.id} taken`,
    );
  });

  it('answers a refused command with the relay error code and changes nothing', async () => {
    type('register asha 123456 en Asha Rao');
    await out.next(/^ok register/);
    type('accept no-such-chat');
    expect(await out.next(/^error/)).toMatch(/^error (unknown_chat|offer_not_open|not_found):/);
    type('say');
    expect(await out.next(/^error/)).toBe('error invalid_input: usage: say <chatId> <text…>');
    type('dance now');
    expect(await out.next(/^error/)).toBe(
      'error invalid_input: unknown command "dance" (try help)',
    );
    expect(await relay.listChats()).toEqual([]);
  });

  it('refuses commands before a CA is chosen', async () => {
    type('available');
    expect(await out.next(/^error/)).toBe(
      'error ca_not_registered: register or choose a CA with `as <handle>` first',
    );
  });

  it('refuses an over-long line and keeps reading the next one', async () => {
    type(`say x ${'a'.repeat(9000)}`);
    expect(await out.next(/^error/)).toBe('error invalid_input: line longer than 8192 characters');
    type('help');
    expect(await out.next(/^register/)).toMatch(/^register <handle>/);
  });
});

describe('console command parser', () => {
  it('keeps the spacing inside the text of say', () => {
    expect(parseCommand('say chat_1   hello   there ')).toEqual({
      ok: true,
      command: { kind: 'say', chatId: 'chat_1', text: 'hello   there' },
    });
  });

  it('splits the languages of register and keeps the full name', () => {
    expect(parseCommand('register asha 123456 en,hi Asha  Rao')).toEqual({
      ok: true,
      command: {
        kind: 'register',
        handle: 'asha',
        membershipNo: '123456',
        languages: ['en', 'hi'],
        name: 'Asha  Rao',
      },
    });
  });

  it('ignores blank lines and comments', () => {
    expect(parseCommand('   ')).toEqual({ ok: true, command: null });
    expect(parseCommand('# note')).toEqual({ ok: true, command: null });
  });
});
