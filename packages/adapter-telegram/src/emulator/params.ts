import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Busboy, type BusboyHeaders } from '@fastify/busboy';
import { BotApiError, badRequest, entityTooLarge } from './errors.js';

/** A file part of a multipart request, already streamed to a temp file. */
export interface UploadedFile {
  field: string;
  fileName: string;
  /** The part's Content-Type ('text/plain' when the part had none, per RFC 7578). */
  mimeType: string;
  path: string;
  size: number;
}

/**
 * Bot API parameters from the query string and the body, whichever encoding was used.
 * Values from query strings, urlencoded and multipart bodies are strings; the accessors
 * coerce them the way Telegram does (numbers from strings, objects from JSON strings).
 */
export class ApiParams {
  private readonly claimed = new Set<string>();

  constructor(
    private readonly fields: Map<string, unknown>,
    private readonly files: Map<string, UploadedFile> = new Map(),
  ) {}

  has(name: string): boolean {
    const value = this.fields.get(name);
    return (value !== undefined && value !== null) || this.files.has(name);
  }

  string(name: string): string | undefined {
    const value = this.fields.get(name);
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    throw badRequest(`field "${name}" must be of type String`);
  }

  integer(name: string): number | undefined {
    const value = this.fields.get(name);
    if (value === undefined || value === null || value === '') return undefined;
    const parsed = typeof value === 'number' ? value : Number(value);
    if (!Number.isSafeInteger(parsed)) throw badRequest(`field "${name}" must be of type Integer`);
    return parsed;
  }

  boolean(name: string): boolean | undefined {
    const value = this.fields.get(name);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === '1' || value === 1) return true;
    if (value === 'false' || value === '0' || value === 0) return false;
    throw badRequest(`field "${name}" must be of type Boolean`);
  }

  /** An object parameter, sent either as JSON (in a JSON body) or as a JSON string. */
  json(name: string): unknown {
    const value = this.fields.get(name);
    if (value === undefined || value === null || value === '') return undefined;
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      throw badRequest(`can't parse ${name} JSON object`);
    }
  }

  /** An uploaded file: the part named `name`, or the part a string `attach://<part>` names. */
  file(name: string): UploadedFile | undefined {
    const direct = this.files.get(name);
    if (direct) return direct;
    const value = this.fields.get(name);
    if (typeof value === 'string' && value.startsWith('attach://')) {
      return this.files.get(value.slice('attach://'.length));
    }
    return undefined;
  }

  anyFile(): UploadedFile | undefined {
    return this.files.values().next().value;
  }

  /** Marks an upload as moved elsewhere, so `dispose` leaves it alone. */
  claim(file: UploadedFile): void {
    this.claimed.add(file.path);
  }

  /** Removes the temp files nobody claimed. */
  async dispose(): Promise<void> {
    await Promise.all(
      [...this.files.values()]
        .filter((file) => !this.claimed.has(file.path))
        .map((file) => rm(file.path, { force: true })),
    );
  }
}

export interface ReadParamsOptions {
  /** Largest single file part; over it the request is answered 413 and reading stops. */
  maxFileBytes: number;
  /** Largest JSON / urlencoded body (these are buffered). */
  maxBufferedBodyBytes: number;
  tmpDir: string;
}

/** Reads a request's parameters; uploads stream to `tmpDir`, never into memory. */
export async function readParams(
  req: IncomingMessage,
  url: URL,
  options: ReadParamsOptions,
): Promise<ApiParams> {
  const fields = new Map<string, unknown>(url.searchParams);
  const contentType = (req.headers['content-type'] ?? '').toLowerCase();
  if (contentType.startsWith('multipart/form-data')) {
    return readMultipart(req, fields, options);
  }
  if (!hasBody(req)) return new ApiParams(fields);
  const body = await readBody(req, options.maxBufferedBodyBytes);
  if (contentType.startsWith('application/json')) {
    if (body.length === 0) return new ApiParams(fields);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      throw badRequest("can't parse JSON object");
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw badRequest("can't parse JSON object");
    }
    for (const [key, value] of Object.entries(parsed)) fields.set(key, value);
  } else {
    // urlencoded, or no Content-Type at all: Telegram reads both as a form.
    for (const [key, value] of new URLSearchParams(body.toString('utf8'))) fields.set(key, value);
  }
  return new ApiParams(fields);
}

export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return Number(length) > 0;
  return req.headers['transfer-encoding'] !== undefined;
}

/** Buffers a small body; past `maxBytes` it stops reading and throws 413. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > maxBytes) {
      reject(entityTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        req.pause();
        reject(entityTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function readMultipart(
  req: IncomingMessage,
  fields: Map<string, unknown>,
  options: ReadParamsOptions,
): Promise<ApiParams> {
  return new Promise((resolve, reject) => {
    const files = new Map<string, UploadedFile>();
    const tempPaths: string[] = [];
    const writes: Promise<void>[] = [];
    let failed = false;

    let busboy: ReturnType<typeof Busboy>;
    try {
      busboy = Busboy({
        headers: req.headers as BusboyHeaders,
        limits: { fileSize: options.maxFileBytes, fieldSize: 1024 * 1024, files: 20, fields: 200 },
      });
    } catch (error) {
      reject(badRequest(`can't parse multipart/form-data: ${(error as Error).message}`));
      return;
    }

    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      // Stop reading: the rest of the body is never consumed, let alone buffered.
      req.unpipe(busboy);
      req.pause();
      busboy.on('error', () => {});
      const reason =
        error instanceof BotApiError
          ? error
          : badRequest(`can't parse multipart/form-data: ${(error as Error).message}`);
      // Answer only once the partial uploads are deleted.
      void Promise.allSettled(writes)
        .then(() => Promise.allSettled(tempPaths.map((path) => rm(path, { force: true }))))
        .then(() => reject(reason));
    };

    busboy.on('field', (name, value) => {
      if (!failed) fields.set(name, value);
    });
    busboy.on('file', (field, stream, fileName, _encoding, mimeType) => {
      if (failed) {
        stream.resume();
        return;
      }
      const path = join(options.tmpDir, `upload-${randomUUID()}`);
      tempPaths.push(path);
      const out = createWriteStream(path);
      stream.on('limit', () => {
        out.destroy();
        fail(entityTooLarge());
      });
      writes.push(
        pipeline(stream, out).then(
          () => {
            files.set(field, { field, fileName, mimeType, path, size: out.bytesWritten });
          },
          (error: unknown) => fail(error),
        ),
      );
    });
    busboy.on('finish', () => {
      void Promise.all(writes).then(() => {
        if (failed) return;
        resolve(new ApiParams(fields, files));
      });
    });
    busboy.on('error', fail);
    req.on('error', fail);
    req.on('aborted', () => fail(badRequest('request aborted')));
    req.pipe(busboy);
  });
}
