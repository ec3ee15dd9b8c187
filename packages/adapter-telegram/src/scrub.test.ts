import { describe, expect, it } from 'vitest';
import { createScrubber, scrubLogger } from './scrub.js';
import { createRecordingLogger } from './test-harness.js';

const TOKEN = '123456789:AAE-secret_part-XYZ';

describe('scrubbing the bot token', () => {
  it('removes the token (plain and URL-encoded) from texts, error copies and nested log payloads', () => {
    const scrub = createScrubber([TOKEN]);
    const url = `http://127.0.0.1:1/file/bot${TOKEN}/documents/x.pdf`;
    expect(scrub.text(`GET ${url} failed`)).toBe(
      'GET http://127.0.0.1:1/file/bot[REDACTED]/documents/x.pdf failed',
    );
    expect(scrub.text(encodeURIComponent(TOKEN))).toBe('[REDACTED]');

    const original = Object.assign(new Error(`request to ${url} failed`), { code: 'ECONNRESET' });
    const copy = scrub.error(original);
    expect(copy.message).not.toContain(TOKEN);
    expect(copy.stack).not.toContain(TOKEN);
    expect((copy as { code?: string }).code).toBe('ECONNRESET');

    const recording = createRecordingLogger();
    const logger = scrubLogger(recording, scrub);
    logger.warn(
      {
        err: original,
        nested: { urls: [url] },
        cause: new Error(url, { cause: new Error(TOKEN) }),
      },
      `failed ${url}`,
    );
    const dumped = JSON.stringify(recording.entries);
    expect(dumped).not.toContain(TOKEN);
    expect(dumped).toContain('[REDACTED]');
  });
});
