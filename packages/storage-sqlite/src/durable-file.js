// Durable file helpers shared by the main thread and the snapshot worker (plain JavaScript
// for the same reason as journal-format.js). Types: durable-file.d.ts.
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes all of `bytes` at `position`, looping over short writes. */
export async function writeFully(handle, bytes, position) {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0) throw new Error('short write');
    done += bytesWritten;
  }
}

/** Makes a rename, create or unlink in `dir` survive a power loss. */
export async function fsyncDirectory(dir) {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Big files are written this much at a time, with an fdatasync after every
 * SYNC_EVERY_BYTES. A single write of a whole snapshot (hundreds of MB) leaves that much
 * dirty page cache for the kernel to write back in one burst, and the journal's syncs, on
 * the same disk, queue behind it; bounding the backlog bounds that wait.
 */
const CHUNK_BYTES = 8 * 1024 * 1024;
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;

/**
 * Replaces `path` with `bytes` atomically: write a temp file, fsync it, rename it over
 * `path`, fsync the folder. A crash leaves either the old file or the new one, never half.
 * `beforeRename`, if given, may throw to give up instead (the temp file is left behind).
 */
export async function replaceFileDurably(path, tempPath, bytes, beforeRename) {
  const handle = await open(tempPath, 'w');
  try {
    let unsynced = 0;
    for (let at = 0; at < bytes.length; at += CHUNK_BYTES) {
      const piece = bytes.subarray(at, Math.min(bytes.length, at + CHUNK_BYTES));
      await writeFully(handle, piece, at);
      unsynced += piece.length;
      if (unsynced >= SYNC_EVERY_BYTES) {
        await handle.datasync();
        unsynced = 0;
      }
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  beforeRename?.();
  await rename(tempPath, path);
  await fsyncDirectory(dirname(path));
}
