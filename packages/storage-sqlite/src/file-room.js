// Opening a sql.js database whose in-memory file has room to grow without being copied.
// Plain JavaScript (shared with the snapshot worker, like journal-format.js). Types:
// file-room.d.ts.
//
// Why this works (sql.js 1.16, Emscripten MEMFS): `new SQL.Database(data)` hands `data` to
// `FS.createDataFile`, whose first write to the new, empty file keeps `data.slice(0, n)` as
// the file's storage (`node.contents`). Every later write that runs past the end of that
// array allocates a new array 1.125× the size and copies the whole file into it (MEMFS
// `expandFileStorage`): 0.45–0.9 ms per MB on the writer's thread, ~185 ms at 300 MB.
// The capacity is simply the array's length, so handing sql.js data whose `slice` returns
// the bytes at the start of a larger, zero-filled array reserves that room up front. Large
// zero-filled ArrayBuffers are mapped lazily by the OS (calloc → mmap), so room that is never
// written costs address space, not memory. sql.js exposes neither `FS` nor the file's node
// (`Module.FS` is not exported in its release build), so this is the one handle there is.
//
// If a future sql.js stops using `slice` this way, nothing breaks: the file is then copied
// on growth as before, and `pagesInFile` (checked by SqlDatabase) shows the room is unused.

import { open } from 'node:fs/promises';

/** Reads are split into pieces no bigger than this (a single read() is capped near 2 GiB). */
const READ_CHUNK_BYTES = 256 * 1024 * 1024;

/** An empty SQLite database image (one page), so a new database starts with room too. */
function emptyImage(SQL) {
  const scratch = new SQL.Database();
  try {
    return scratch.export();
  } finally {
    scratch.close();
  }
}

/**
 * A zero-filled array of `capacityBytes` for a database file to live in, or null when it
 * cannot be had (no address space for it): sql.js then grows the file its own way.
 */
export function allocateRoom(capacityBytes) {
  try {
    return new Uint8Array(capacityBytes);
  } catch {
    return null;
  }
}

/**
 * Opens `image` (a database file's bytes; null: a new, empty database) as a sql.js
 * database whose file lives in `room`, so it can grow to `room.length` bytes without a
 * copy. An image that is already the start of `room` (read straight into it) is not copied
 * at all. Returns the database and the array holding its file (null: no room was used).
 */
export function openWithRoom(SQL, image, room) {
  const bytes = image ?? emptyImage(SQL);
  if (room === null || room.length <= bytes.length)
    return { db: new SQL.Database(bytes), file: null };
  const inPlace = bytes.buffer === room.buffer && bytes.byteOffset === room.byteOffset;
  const data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  let used = false;
  Object.defineProperty(data, 'slice', {
    value: (start = 0, end = data.length) => {
      // Only sql.js's first call (taking the whole image) gets the room.
      if (used || start !== 0 || end !== data.length)
        return Uint8Array.prototype.slice.call(data, start, end);
      used = true;
      if (!inPlace) room.set(data);
      return room;
    },
  });
  const db = new SQL.Database(data);
  return { db, file: used ? room : null };
}

/** The database size in pages recorded in the header of the file image (SQLite ≥ 3.7). */
export function pagesInFile(file) {
  return file.length < 32
    ? 0
    : new DataView(file.buffer, file.byteOffset, file.length).getUint32(28);
}

/**
 * Reads a database file (image null: there is none) straight into a room of
 * `roomBytes(fileBytes)`, so opening it holds one copy of the file instead of two.
 */
export async function readIntoRoom(path, roomBytes) {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    return { image: null, room: allocateRoom(roomBytes(0)) };
  }
  try {
    const size = (await handle.stat()).size;
    const capacity = roomBytes(size);
    const room = capacity > size ? allocateRoom(capacity) : null;
    const target = room ?? new Uint8Array(size);
    let read = 0;
    while (read < size) {
      const { bytesRead } = await handle.read(
        target,
        read,
        Math.min(READ_CHUNK_BYTES, size - read),
        read,
      );
      if (bytesRead === 0) break; // shrank meanwhile: what was read is checked like any file
      read += bytesRead;
    }
    return { image: Buffer.from(target.buffer, target.byteOffset, read), room };
  } finally {
    await handle.close();
  }
}
