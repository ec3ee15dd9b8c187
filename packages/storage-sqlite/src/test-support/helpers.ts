import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@ca-chat/core';
import type { Chat, NewMessage } from '@ca-chat/core';

// Test-only helpers for the storage-sqlite tests (not part of the package's build).

export const tempDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'ca-chat-sqlite-'));

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string | undefined;
  obj: Record<string, unknown>;
}

/** A Logger that keeps what it is told and lets a test wait for a message. */
export function recordingLogger(): {
  logger: Logger;
  entries: LogEntry[];
  next: (msg: string) => Promise<LogEntry>;
} {
  const entries: LogEntry[] = [];
  const waiters: { msg: string; resolve: (entry: LogEntry) => void }[] = [];
  const log =
    (level: LogEntry['level']) =>
    (obj: object, msg?: string): void => {
      const entry: LogEntry = { level, msg, obj: obj as Record<string, unknown> };
      entries.push(entry);
      for (const waiter of waiters.filter((w) => w.msg === msg)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(entry);
      }
    };
  return {
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    entries,
    next: (msg) => new Promise((resolve) => waiters.push({ msg, resolve })),
  };
}

/** sha256 of every file in `dir` (name → hash), to prove a refused open touched nothing. */
export async function hashFolder(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    out[name] = createHash('sha256')
      .update(await readFile(join(dir, name)))
      .digest('hex');
  }
  return out;
}

/**
 * Copies the database files as they are on disk right now: what a crash at this instant
 * would leave behind (every acknowledged write has been fsync'd, so it must be there).
 */
export async function crashCopy(fromDir: string, toDir: string): Promise<void> {
  for (const name of await readdir(fromDir)) {
    if (name.endsWith('.lock') || name.includes('.snapshot-tmp')) continue;
    await copyFile(join(fromDir, name), join(toDir, name));
  }
}

export const T0 = Date.UTC(2026, 0, 1);

export function chat(id: string): Chat {
  return {
    id,
    clientId: `client-of-${id}`,
    caId: null,
    language: 'en',
    topic: null,
    state: 'waiting',
    endReason: null,
    createdAt: T0,
    matchedAt: null,
    endedAt: null,
  };
}

export function message(
  chatId: string,
  text: string,
  idempotencyKey: string | null = null,
): NewMessage {
  return {
    chatId,
    from: 'client',
    text,
    file: null,
    createdAt: T0,
    idempotencyKey,
    delivery: {
      state: 'pending',
      peerMessageId: null,
      attempts: 0,
      nextAttemptAt: T0,
      error: null,
    },
  };
}
