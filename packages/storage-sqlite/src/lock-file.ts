import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { CaChatError } from '@ca-chat/core';

/** An empty lock younger than this is a process still writing its pid, not a stale lock. */
const FRESH_EMPTY_LOCK_MS = 5_000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else — still alive.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<file>.lock` (created with `wx`, holding our pid) so two processes never write one
 * database. A lock whose pid is dead is stale and taken over. Returns the release function.
 */
export async function acquireLock(
  path: string,
  databaseFile: string,
): Promise<() => Promise<void>> {
  const pid = String(process.pid);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await writeFile(path, pid, { flag: 'wx' });
      return async () => {
        const holder = await readFile(path, 'utf8').catch(() => null);
        if (holder === pid) await unlink(path).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CaChatError('storage_error', `cannot create lock file ${path}`, { cause: error });
      }
    }
    const content = (await readFile(path, 'utf8').catch(() => '')).trim();
    const holder = /^\d+$/.test(content) ? Number(content) : null;
    if (holder !== null && processAlive(holder)) {
      throw new CaChatError('locked', `${databaseFile} is already in use by pid ${holder}`, {
        details: { pid: holder },
      });
    }
    if (holder === null) {
      const age = await stat(path).then(
        (s) => Date.now() - s.mtimeMs,
        () => Infinity,
      );
      if (age < FRESH_EMPTY_LOCK_MS)
        throw new CaChatError('locked', `${databaseFile} is being opened by another process`);
    }
    // Stale: its process is gone. Remove it and try again (`wx` settles any race).
    await unlink(path).catch(() => undefined);
  }
  throw new CaChatError('locked', `could not take the lock ${path}`);
}
