import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { CaChatError } from '@ca-chat/core';
import type { FileRecord } from '@ca-chat/core';
import type { TransportContext } from '../context.js';
import { authenticateRequest } from './auth.js';
import { contentDisposition, sanitizeMime } from './filename.js';
import { parseRange } from './range.js';
import { sendError } from './responses.js';

const FILE_ID = /^[A-Za-z0-9_-]{1,128}$/;

async function authorisedFile(
  ctx: TransportContext,
  req: IncomingMessage,
  fileId: string,
  query: URLSearchParams,
): Promise<FileRecord> {
  const relay = ctx.relay();
  if (query.has('sig') || query.has('exp')) {
    const verdict = ctx.signer.verify(
      fileId,
      query.get('exp'),
      query.get('sig'),
      ctx.options.clock.now(),
    );
    if (verdict === 'expired') throw new CaChatError('forbidden', 'this download link has expired');
    if (verdict === 'invalid') throw new CaChatError('forbidden', 'invalid download link');
    // A valid signature names the file; reading its metadata directly is read-only.
    const file = await relay.storage.getFile(fileId);
    if (!file) throw new CaChatError('not_found', 'no such file');
    return file;
  }
  const clientId = await authenticateRequest(ctx, req);
  return relay.getClientFile(clientId, fileId);
}

/** `GET|HEAD /files/:fileId`: one of the caller's files, or any file with a valid signed link. */
export async function handleFileGet(
  ctx: TransportContext,
  req: IncomingMessage,
  res: ServerResponse,
  fileId: string,
  query: URLSearchParams,
): Promise<void> {
  if (!FILE_ID.test(fileId)) throw new CaChatError('not_found', 'no such file');
  const file = await authorisedFile(ctx, req, fileId, query);
  const etag = `"${file.sha256}"`;
  const headers: Record<string, string> = {
    'Content-Type': sanitizeMime(file.mime),
    'Content-Disposition': contentDisposition(file.name),
    ETag: etag,
    'Accept-Ranges': 'bytes',
    'Cache-Control': 'private, no-cache',
    'X-Content-Type-Options': 'nosniff',
    // Files come from the other party: never let one run as a page of this origin.
    'Content-Security-Policy': "default-src 'none'; sandbox",
  };
  const ifNoneMatch = req.headers['if-none-match'];
  if (
    ifNoneMatch !== undefined &&
    ifNoneMatch.split(',').some((tag) => tag.trim() === etag || tag.trim() === '*')
  ) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const ifRange = req.headers['if-range'];
  const range =
    ifRange !== undefined && ifRange !== etag
      ? { kind: 'full' as const }
      : parseRange(req.headers.range, file.size);
  if (range.kind === 'unsatisfiable') {
    sendError(res, new CaChatError('invalid_input', 'range not satisfiable'), 416, {
      'Content-Range': `bytes */${file.size}`,
    });
    return;
  }
  const partial = range.kind === 'partial';
  const start = partial ? range.start : 0;
  const end = partial ? range.end : file.size - 1;
  headers['Content-Length'] = String(Math.max(0, end - start + 1));
  if (partial) headers['Content-Range'] = `bytes ${start}-${end}/${file.size}`;
  if (req.method === 'HEAD' || file.size === 0) {
    res.writeHead(partial ? 206 : 200, headers);
    res.end();
    return;
  }
  const { stream } = await ctx.relay().openFile(fileId, partial ? { start, end } : undefined);
  res.writeHead(partial ? 206 : 200, headers);
  try {
    await pipeline(stream, res);
  } catch (error) {
    // Headers are gone; the only honest signal left is a cut connection.
    ctx.options.logger.debug({ err: error, fileId }, 'download interrupted');
    res.destroy();
  }
}
