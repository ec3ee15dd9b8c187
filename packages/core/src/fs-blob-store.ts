import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { once } from 'node:events';
import type { BlobInfo, BlobPutOptions, BlobStore } from './blob-store.js';
import { CaChatError } from './errors.js';

export interface FsBlobStoreOptions {
  /** The folder that holds one file per blob (created if missing). */
  dir: string;
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * A BlobStore on the file system: one file per blob, named by its id. Bytes are written to
 * a temporary name and renamed when complete and hashed, so a reader never sees half a file
 * and a failed upload leaves nothing behind.
 */
export function createFsBlobStore(options: FsBlobStoreOptions): BlobStore {
  const dir = options.dir;
  let ready: Promise<void> | null = null;
  const ensureDir = (): Promise<void> =>
    (ready ??= mkdir(dir, { recursive: true }).then(() => undefined));
  const pathOf = (id: string): string => {
    if (!SAFE_ID.test(id))
      throw new CaChatError('invalid_input', `invalid blob id ${JSON.stringify(id)}`);
    return join(dir, id);
  };

  return {
    async put(
      id: string,
      source: Readable | AsyncIterable<Uint8Array>,
      opts: BlobPutOptions,
    ): Promise<BlobInfo> {
      const finalPath = pathOf(id);
      await ensureDir();
      const tempPath = join(dir, `.tmp-${id}-${randomBytes(6).toString('hex')}`);
      const meter = new MeterTransform(opts.maxBytes);
      const input = source instanceof Readable ? source : Readable.from(source);
      const sink = createWriteStream(tempPath, { flags: 'wx', highWaterMark: 256 * 1024 });
      try {
        await pipeline(input, meter, sink, opts.signal ? { signal: opts.signal } : {});
        await rename(tempPath, finalPath);
      } catch (error) {
        // A source that fails while the file is still being opened would otherwise let the
        // file appear after we removed it: wait for the sink to be closed first.
        if (!sink.closed) await once(sink, 'close').catch(() => undefined);
        await rm(tempPath, { force: true });
        if (meter.tooLarge) {
          // Drain nothing further: the caller's source is left to be destroyed by the caller.
          throw new CaChatError('file_too_large', `file is larger than ${opts.maxBytes} bytes`, {
            details: { maxBytes: opts.maxBytes },
          });
        }
        if (CaChatError.isInstance(error)) throw error;
        if ((error as { name?: string }).name === 'AbortError') {
          throw new CaChatError('invalid_input', 'upload aborted', { cause: error });
        }
        throw CaChatError.wrap(error, 'storage_error', 'could not store file');
      }
      return { size: meter.bytes, sha256: meter.digest() };
    },

    async get(id: string, range?: { start: number; end?: number }): Promise<Readable> {
      const path = pathOf(id);
      const info = await stat(path).catch(() => null);
      if (!info) throw new CaChatError('not_found', `file ${id} not found`);
      return createReadStream(
        path,
        range ? { start: range.start, ...(range.end !== undefined ? { end: range.end } : {}) } : {},
      );
    },

    async stat(id: string): Promise<{ size: number } | null> {
      const info = await stat(pathOf(id)).catch(() => null);
      return info ? { size: info.size } : null;
    },

    async delete(id: string): Promise<void> {
      await rm(pathOf(id), { force: true });
    },
  };
}

/** Counts and hashes bytes as they pass, failing as soon as the limit is passed. */
class MeterTransform extends Transform {
  bytes = 0;
  tooLarge = false;
  private readonly hash = createHash('sha256');
  constructor(private readonly maxBytes: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      this.tooLarge = true;
      callback(new CaChatError('file_too_large', `file is larger than ${this.maxBytes} bytes`));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}
