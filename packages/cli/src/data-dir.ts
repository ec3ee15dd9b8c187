import { constants } from 'node:fs';
import { access, chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { CaChatError } from '@ca-chat/core';

/** Where everything of one deployment lives. */
export interface DataDirLayout {
  root: string;
  database: string;
  files: string;
  adminFile: string;
}

export function dataDirLayout(dir: string): DataDirLayout {
  const root = resolve(dir);
  return {
    root,
    database: join(root, 'ca-chat.db'),
    files: join(root, 'files'),
    adminFile: join(root, 'admin.json'),
  };
}

/** Creates the data dir if needed and proves it is writable, with a clear error if not. */
export async function prepareDataDir(layout: DataDirLayout): Promise<void> {
  try {
    await makeDirs(layout.files);
    await access(layout.root, constants.W_OK);
    const probe = join(layout.root, `.write-test-${process.pid}`);
    await writeFile(probe, '');
    await rm(probe, { force: true });
  } catch (error) {
    throw new CaChatError(
      'config_invalid',
      `data dir ${layout.root} is not writable: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * `mkdir -p` one level at a time: Node 20's `mkdir(..., { recursive: true })` never settles
 * for some unwritable paths (seen under /proc), and a server must not hang at start-up.
 */
async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  let current = dir;
  while (
    !(await stat(current).then(
      () => true,
      () => false,
    ))
  ) {
    missing.unshift(current);
    const parent = dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const path of missing) {
    await mkdir(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
}

export interface AdminEndpoint {
  url: string;
  token: string;
  pid: number;
}

/** Written with owner-only permissions: the token lets anyone on this machine administer the server. */
export async function writeAdminEndpoint(
  layout: DataDirLayout,
  endpoint: AdminEndpoint,
): Promise<void> {
  await rm(layout.adminFile, { force: true });
  await writeFile(layout.adminFile, JSON.stringify(endpoint), { mode: 0o600, flag: 'wx' });
  await chmod(layout.adminFile, 0o600);
}

export async function readAdminEndpoint(layout: DataDirLayout): Promise<AdminEndpoint | null> {
  try {
    const parsed = JSON.parse(await readFile(layout.adminFile, 'utf8')) as AdminEndpoint;
    if (
      typeof parsed.url !== 'string' ||
      typeof parsed.token !== 'string' ||
      typeof parsed.pid !== 'number'
    )
      return null;
    return parsed;
  } catch {
    return null;
  }
}

export async function removeAdminEndpoint(layout: DataDirLayout): Promise<void> {
  await rm(layout.adminFile, { force: true });
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
