import { describe, expect, it } from 'vitest';
import { mergeServerInfo, readPageConfig } from '../src/config.js';
import { endReasonText, formatBytes, queueText } from '../src/labels.js';

const root = (dataset: Record<string, string>): HTMLElement =>
  ({ dataset }) as unknown as HTMLElement;

describe('web client page settings', () => {
  it('reads the operator settings from data attributes', () => {
    const config = readPageConfig(
      root({
        languages: 'en, HI',
        topics: 'gst',
        maxFileBytes: '1024',
        serverUrl: 'https://chat.example.com/',
      }),
      'http://page.test',
    );
    expect(config).toMatchObject({
      serverUrl: 'https://chat.example.com/',
      languages: ['en', 'hi'],
      topics: ['gst'],
      maxFileBytes: 1024,
    });
  });

  it('falls back to the page origin and built-in lists without attributes', () => {
    const config = readPageConfig(root({}), 'http://page.test');
    expect(config.serverUrl).toBe('http://page.test');
    expect(config.languages).toContain('en');
    expect(config.maxFileBytes).toBe(50 * 1024 * 1024);
  });

  it('ignores a malformed limit instead of using it', () => {
    expect(readPageConfig(root({ maxFileBytes: '-5' }), 'http://page.test').maxFileBytes).toBe(
      50 * 1024 * 1024,
    );
  });

  it('lets the server override the languages and limits it offers, ignoring malformed fields', () => {
    const base = readPageConfig(root({}), 'http://page.test');
    const merged = mergeServerInfo(base, {
      languages: ['en', 'ta', 'not a tag'],
      topics: 'gst',
      maxFileBytes: 2048,
    });
    expect(merged.languages).toEqual(['en', 'ta']);
    expect(merged.topics).toEqual(base.topics);
    expect(merged.maxFileBytes).toBe(2048);
    expect(mergeServerInfo(base, null)).toBe(base);
  });
});

describe('web client wording', () => {
  it('formats sizes for people', () => {
    expect([
      formatBytes(512),
      formatBytes(2048),
      formatBytes(1.5 * 1024 * 1024),
      formatBytes(50 * 1024 * 1024),
    ]).toEqual(['512 B', '2 KB', '1.5 MB', '50 MB']);
  });

  it('says when nobody speaks the language, before the queue position', () => {
    expect(queueText(3, true, 'ta')).toMatch(/^No CA who speaks .*Tamil/);
    expect(queueText(3, false, 'ta')).toBe('You are number 3 in line.');
    expect(queueText(1, false, 'en')).toMatch(/next in line/);
  });

  it('explains every end reason and falls back for unknown ones', () => {
    expect(endReasonText('ca_ended')).toBe('The CA ended the chat.');
    expect(endReasonText('something_new')).toBe('The chat has ended.');
  });
});
