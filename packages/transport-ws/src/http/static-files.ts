import { createReadStream, statSync, type Stats } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Finds the file of `dir` a GET/HEAD asks for (a folder means its `index.html`), or null.
 * Synchronous on purpose: a mounted transport must say at once whether a request is its own
 * so the embedder's routes still get theirs; a stat of a local folder is cheap. Paths never
 * leave `dir`.
 */
export function findStaticFile(
  dir: string,
  pathname: string,
): { path: string; size: number } | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const root = resolve(dir);
  let path = resolve(join(root, decoded));
  if (path !== root && !path.startsWith(root + sep)) return null;
  let info = statOrNull(path);
  if (info?.isDirectory()) {
    path = join(path, 'index.html');
    info = statOrNull(path);
  }
  return info?.isFile() ? { path, size: info.size } : null;
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

export function sendStaticFile(
  file: { path: string; size: number },
  req: IncomingMessage,
  res: ServerResponse,
): void {
  res.writeHead(200, {
    'Content-Type': TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream',
    'Content-Length': String(file.size),
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  pipeline(createReadStream(file.path), res).catch(() => res.destroy());
}
