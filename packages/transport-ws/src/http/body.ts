import type { IncomingMessage, ServerResponse } from 'node:http';
import { CaChatError } from '@ca-chat/core';

/** Bytes of an unwanted request body we read (and throw away) so the client sees our answer. */
const MAX_DISCARD_BYTES = 1024 * 1024;
const DISCARD_TIMEOUT_MS = 5000;

/** Reads a JSON body of at most `maxBytes`; `payload_too_large` past it, `malformed` when not JSON. */
export function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(
      new CaChatError('payload_too_large', `body is larger than ${maxBytes} bytes`),
    );
  }
  // Not `for await`: leaving that loop early destroys the request, and the socket with it,
  // before the 413 could be sent.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        req.pause();
        reject(new CaChatError('payload_too_large', `body is larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('error', (error) =>
      reject(new CaChatError('invalid_input', 'request body failed', { cause: error })),
    );
    req.once('end', () => {
      if (size > maxBytes) return;
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new CaChatError('malformed', 'body is not valid JSON'));
      }
    });
  });
}

/**
 * After answering a request whose body we did not read to the end: read (and drop) a
 * bounded amount so the client, still sending, gets to see the response, then close.
 * Never reads a large body whole: past the bound the socket is cut.
 */
export function discardBody(req: IncomingMessage, _res: ServerResponse): void {
  if (req.complete || req.destroyed) return;
  let discarded = 0;
  const cut = (): void => {
    clearTimeout(timer);
    req.socket.destroy();
  };
  const timer = setTimeout(cut, DISCARD_TIMEOUT_MS);
  timer.unref();
  req.unpipe();
  req.removeAllListeners('data');
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > MAX_DISCARD_BYTES) cut();
  });
  req.on('end', () => clearTimeout(timer));
  req.on('close', () => clearTimeout(timer));
  req.on('error', () => clearTimeout(timer));
  req.resume();
}
