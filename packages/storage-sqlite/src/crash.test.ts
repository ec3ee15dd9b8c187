import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CaChatError } from '@ca-chat/core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteStorage } from './sqlite-storage.js';
import { bundleForChild } from './test-support/bundle.js';
import { tempDir } from './test-support/helpers.js';

let childScript = '';
beforeAll(async () => {
  childScript = await bundleForChild(
    fileURLToPath(new URL('./test-support/crash-child.ts', import.meta.url)),
    'crash-child',
  );
});
afterAll(async () => {
  await rm(dirname(childScript), { recursive: true, force: true });
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function startChild(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [childScript, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  cleanup.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

describe('process lifetime', () => {
  it('a process that has written snapshots ends by itself once the storage is closed', async () => {
    const dir = await tempDir();
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const child = startChild(['fold', join(dir, 'ca-chat.db'), '20']);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(out).toContain('closed');
    expect(code).toBe(0);
  });
});

interface Round {
  acks: Map<number, string>;
  killedDuringSnapshot: boolean;
  signal: NodeJS.Signals | null;
}

/**
 * Runs one writer process and SIGKILLs it: after `killAfterAcks` acknowledgements, or (when
 * 'snapshot') a few acks after a snapshot has started and before it is written.
 */
function runRound(file: string, round: number, killAt: number | 'snapshot'): Promise<Round> {
  const child = startChild(['append', file, '40', String(round)]);
  const acks = new Map<number, string>();
  let snapshotRunning = false;
  let acksSinceSnapshotStart = 0;
  const extraAcks = Math.floor(Math.random() * 20);
  let killed = false;
  let killedDuringSnapshot = false;
  const kill = (): void => {
    if (killed) return;
    killed = true;
    killedDuringSnapshot = snapshotRunning;
    child.kill('SIGKILL');
  };
  // Lines read after the kill were printed before it: they are acknowledgements too.
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('ack ')) {
      const [, seq, text] = line.split(' ');
      acks.set(Number(seq), text!);
      acksSinceSnapshotStart++;
      if (
        killAt === 'snapshot'
          ? snapshotRunning && acksSinceSnapshotStart > extraAcks
          : acks.size >= killAt
      )
        kill();
    } else if (line.startsWith('log ')) {
      const { msg } = JSON.parse(line.slice(4)) as { msg?: string };
      if (msg === 'snapshot started') {
        snapshotRunning = true;
        acksSinceSnapshotStart = 0;
      } else if (msg?.startsWith('snapshot written') || msg?.startsWith('snapshot failed')) {
        snapshotRunning = false;
      }
    }
  });
  return new Promise((resolve) => {
    child.on('close', (_code, signal) => resolve({ acks, killedDuringSnapshot, signal }));
  });
}

describe('crash safety (child processes)', () => {
  it('SIGKILL at random points, during snapshots too, loses no acknowledged message and leaves seqs gapless with no duplicate', async () => {
    const dir = await tempDir();
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'ca-chat.db');
    const plan: (number | 'snapshot')[] = [
      'snapshot',
      100 + Math.floor(Math.random() * 400),
      'snapshot',
      40,
      'snapshot',
    ];
    const acked = new Map<number, string>();
    let killsDuringSnapshot = 0;
    for (const [round, killAt] of plan.entries()) {
      const result = await runRound(file, round, killAt);
      expect(result.signal).toBe('SIGKILL');
      for (const [seq, text] of result.acks) acked.set(seq, text);
      if (result.killedDuringSnapshot) killsDuringSnapshot++;
    }
    expect(killsDuringSnapshot).toBeGreaterThan(0);

    const storage = createSqliteStorage({ file });
    await storage.init();
    cleanup.push(() => storage.close());
    const stored = await storage.listMessages('c1');
    expect(stored.map((m) => m.seq)).toEqual(
      Array.from({ length: stored.length }, (_, i) => i + 1),
    );
    expect(new Set(stored.map((m) => m.text)).size).toBe(stored.length);
    const missing = [...acked].filter(([seq, text]) => stored[seq - 1]?.text !== text);
    expect(missing).toEqual([]);
    expect(stored.length).toBeGreaterThanOrEqual(acked.size);
  }, 120_000); // about 5 s normally; child start-up gets slow on a loaded machine

  it('a second process is refused with locked, naming the holder pid; after the holder dies its lock is taken over', async () => {
    const dir = await tempDir();
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'ca-chat.db');
    const holder = startChild(['hold', file]);
    await new Promise<void>((resolve) => {
      createInterface({ input: holder.stdout! }).on(
        'line',
        (line) => line === 'ready' && resolve(),
      );
    });

    const refused = createSqliteStorage({ file });
    const error = await refused.init().then(
      () => null,
      (e: unknown) => e,
    );
    expect(CaChatError.is(error, 'locked')).toBe(true);
    expect((error as CaChatError).message).toContain(`already in use by pid ${holder.pid}`);

    const exited = new Promise((resolve) => holder.on('close', resolve));
    holder.kill('SIGKILL');
    await exited;
    const storage = createSqliteStorage({ file });
    await storage.init();
    cleanup.push(() => storage.close());
    expect(await storage.listChats()).toEqual([]);
  });
});
