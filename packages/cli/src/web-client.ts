import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder served at `/`: `builtin` is the client page bundled into this package at build
 * time (`dist/web`), falling back to the workspace's `examples/web-client/dist` when run
 * from source; `off` serves nothing; anything else is a folder of the operator's.
 */
export function resolveWebClientDir(setting: string | null): string | undefined {
  if (!setting || setting === 'off') return undefined;
  if (setting !== 'builtin') return resolve(setting);
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, 'web'),
    join(here, '..', 'dist', 'web'),
    join(here, '..', '..', '..', 'examples', 'web-client', 'dist'),
  ];
  return candidates.find((dir) => existsSync(join(dir, 'index.html')));
}
