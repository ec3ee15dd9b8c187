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
 * Replaces `path` with `bytes` atomically: write a temp file, fsync it, rename it over
 * `path`, fsync the folder. A crash leaves either the old file or the new one, never half.
 */
export async function replaceFileDurably(path, tempPath, bytes) {
  const handle = await open(tempPath, 'w');
  try {
    await writeFully(handle, bytes, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tempPath, path);
  await fsyncDirectory(dirname(path));
}
