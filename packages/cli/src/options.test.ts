import { describe, expect, it } from 'vitest';
import { CaChatError } from '@ca-chat/core';
import { resolveConfig } from './options.js';

const base = { flags: {}, env: {}, file: {} };

function problems(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(CaChatError.is(error, 'config_invalid')).toBe(true);
    return (error as Error).message;
  }
  throw new Error('expected config_invalid');
}

describe('resolveConfig', () => {
  it('uses defaults when nothing is given (demo needs no token)', () => {
    const config = resolveConfig({ ...base, flags: { demo: true } });
    expect(config.port).toBe(8080);
    expect(config.languages).toEqual(['en', 'hi']);
    expect(config.registrationMode).toBe('approval');
  });

  it('takes a flag over an env variable over a config-file key', () => {
    const all = {
      flags: { port: '1' },
      env: { CA_CHAT_PORT: '2', TELEGRAM_BOT_TOKEN: 't' },
      file: { port: 3 },
    };
    expect(resolveConfig(all).port).toBe(1);
    expect(resolveConfig({ ...all, flags: {} }).port).toBe(2);
    expect(resolveConfig({ ...all, flags: {}, env: { TELEGRAM_BOT_TOKEN: 't' } }).port).toBe(3);
  });

  it('refuses a missing token and suggests --demo', () => {
    expect(problems(() => resolveConfig(base))).toMatch(/TELEGRAM_BOT_TOKEN.*--demo/);
  });

  it('refuses a bad port', () => {
    expect(
      problems(() => resolveConfig({ ...base, flags: { demo: true, port: '70000' } })),
    ).toMatch(/--port/);
    expect(problems(() => resolveConfig({ ...base, flags: { demo: true, port: 'abc' } }))).toMatch(
      /--port/,
    );
  });

  it('refuses an unknown language code', () => {
    expect(
      problems(() => resolveConfig({ ...base, flags: { demo: true, languages: 'en,xx' } })),
    ).toMatch(/unknown language code "xx"/);
    expect(
      problems(() => resolveConfig({ ...base, flags: { demo: true, languages: 'English' } })),
    ).toMatch(/not a language code/);
  });

  it('refuses an unknown config-file key and a bad choice', () => {
    expect(
      problems(() => resolveConfig({ ...base, flags: { demo: true }, file: { prot: 1 } })),
    ).toMatch(/unknown key "prot"/);
    expect(
      problems(() => resolveConfig({ ...base, flags: { demo: true, routing: 'random' } })),
    ).toMatch(/broadcast, round-robin/);
  });

  it('parses admin ids and lists', () => {
    const config = resolveConfig({
      ...base,
      env: { CA_CHAT_ADMIN_IDS: '11, 22', CA_CHAT_DEMO: 'true' },
    });
    expect(config.adminIds).toEqual([11, 22]);
    expect(config.demo).toBe(true);
  });

  it('needs a secret with a webhook', () => {
    expect(
      problems(() =>
        resolveConfig({ ...base, flags: { demo: true, webhookUrl: 'https://x.example/tg' } }),
      ),
    ).toMatch(/webhook-secret/);
  });
});
