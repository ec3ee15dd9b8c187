import type { Readable } from 'node:stream';

/** Where file bytes live. Storage keeps only metadata. */
export interface BlobStore {
  /**
   * Streams bytes in under `id`, hashing while writing. When the stream passes `maxBytes`
   * it is cut off, nothing is kept, and the promise rejects with `file_too_large`.
   * A failed or aborted write leaves nothing behind.
   */
  put(
    id: string,
    source: Readable | AsyncIterable<Uint8Array>,
    options: BlobPutOptions,
  ): Promise<BlobInfo>;
  /** Reads the bytes (optionally a range, inclusive `end`). Rejects with `not_found`. */
  get(id: string, range?: { start: number; end?: number }): Promise<Readable>;
  /** Size of a stored blob, or null. */
  stat(id: string): Promise<{ size: number } | null>;
  /** Deletes a blob; deleting a missing one is not an error. */
  delete(id: string): Promise<void>;
}

export interface BlobPutOptions {
  maxBytes: number;
  signal?: AbortSignal;
}

export interface BlobInfo {
  size: number;
  sha256: string;
}
