// The journal frame format, shared by the main thread (writing, recovery) and the snapshot
// worker (replay). Plain JavaScript so the worker thread runs straight from `src` under
// vitest and from `dist` after a build, with no TypeScript loader. Types: journal-format.d.ts.
//
// A frame is one group commit (one write + one fsync), holding every Storage call that
// committed in that tick, each call a list of [sql, params] statements:
//
//   u32le payloadBytes | u32le crc32(payload) | u32le crc32(first 8 header bytes) | payload
//
// payload = UTF-8 JSON {"v":1,"sql":[distinct SQL texts],"ops":[[[sqlIndex,params],…],…]}.
// SQL text (not statement ids) is stored so a journal stays replayable by a later version.
import { crc32 } from 'node:zlib';

export const FRAME_HEADER_BYTES = 12;

// Replay (start-up and the snapshot process) commits every this many operations, with this
// page cache (KiB) meanwhile, so a page is written to the in-memory file once per
// transaction instead of once per frame, and a transaction's dirty pages fit the cache
// (spilling is very slow under EXCLUSIVE locking). Of the settings tried at 1M messages
// with 49 000 journaled operations (1 000 / 10 000 / 50 000 operations, 16 / 64 / 128 MiB),
// this one cost the least CPU: 1.49 s to open, against 1.75 s committing every frame.
export const REPLAY_OPS_PER_COMMIT = 10_000;
export const REPLAY_CACHE_KIB = 64 * 1024;
const FORMAT_VERSION = 1;

/** Encodes committed operations (each a list of [sql, params]) into one frame. */
export function encodeFrame(ops) {
  const sql = [];
  const indexOf = new Map();
  const encodedOps = ops.map((op) =>
    op.map(([text, params]) => {
      let index = indexOf.get(text);
      if (index === undefined) {
        index = sql.length;
        sql.push(text);
        indexOf.set(text, index);
      }
      return [index, params];
    }),
  );
  const json = JSON.stringify({ v: FORMAT_VERSION, sql, ops: encodedOps });
  const payloadBytes = Buffer.byteLength(json, 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadBytes);
  frame.write(json, FRAME_HEADER_BYTES, 'utf8');
  frame.writeUInt32LE(payloadBytes, 0);
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4);
  frame.writeUInt32LE(crc32(frame.subarray(0, 8)), 8);
  return frame;
}

/** Whether a complete, checksum-valid frame starts at `offset`. */
function validFrameAt(bytes, offset) {
  if (offset + FRAME_HEADER_BYTES > bytes.length) return false;
  // The length test first: it rejects almost every wrong offset without computing a CRC.
  const length = bytes.readUInt32LE(offset);
  const end = offset + FRAME_HEADER_BYTES + length;
  if (length === 0 || end > bytes.length) return false;
  if (crc32(bytes.subarray(offset, offset + 8)) !== bytes.readUInt32LE(offset + 8)) return false;
  return crc32(bytes.subarray(offset + FRAME_HEADER_BYTES, end)) === bytes.readUInt32LE(offset + 4);
}

const ZEROS = Buffer.alloc(64 * 1024);

/** Whether every byte from `offset` to the end is zero (compared a chunk at a time). */
function isZeroFrom(bytes, offset) {
  for (let at = offset; at < bytes.length; at += ZEROS.length) {
    const chunk = bytes.subarray(at, Math.min(bytes.length, at + ZEROS.length));
    if (!chunk.equals(ZEROS.subarray(0, chunk.length))) return false;
  }
  return true;
}

/**
 * Splits a segment into frame payloads. Stops at the first bad frame and says why:
 * `torn` when no valid frame follows it (a write cut short by a crash: its records were
 * never acknowledged, since acknowledgement waits for fsync), `corrupt` when a valid frame
 * does follow (damage in the middle: acknowledged data would be lost, so refuse).
 * Each frame is written by one write() and the next write starts only after fsync, so a
 * crash can only damage the last frame. Zeros from a frame boundary to the end are unused
 * preallocated space: `clean`.
 */
export function scanFrames(bytes) {
  const payloads = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (!validFrameAt(bytes, offset)) {
      // The journal writer zero-fills space ahead of its writes (so each write overwrites
      // allocated blocks and its sync needs no metadata commit): zeros to the end are
      // space not used yet, not damage.
      if (isZeroFrom(bytes, offset))
        return { payloads, validBytes: offset, tail: 'clean', badOffset: null };
      let next = offset + 1;
      // Probing every later offset is affordable (see validFrameAt) and only happens when
      // something is already wrong.
      while (next + FRAME_HEADER_BYTES <= bytes.length && !validFrameAt(bytes, next)) next++;
      const corrupt = next + FRAME_HEADER_BYTES <= bytes.length;
      return {
        payloads,
        validBytes: offset,
        tail: corrupt ? 'corrupt' : 'torn',
        badOffset: offset,
      };
    }
    const end = offset + FRAME_HEADER_BYTES + bytes.readUInt32LE(offset);
    payloads.push(bytes.subarray(offset + FRAME_HEADER_BYTES, end));
    offset = end;
  }
  return { payloads, validBytes: offset, tail: 'clean', badOffset: null };
}

/**
 * Executes a frame's statements on a sql.js database (the caller wraps a transaction).
 * `statements` caches prepared statements by SQL text across frames.
 * Returns how many operations (Storage calls) the frame held.
 */
export function replayFrame(db, payload, statements) {
  const frame = JSON.parse(payload.toString('utf8'));
  if (frame.v !== FORMAT_VERSION)
    throw new Error(`unknown journal frame version ${String(frame.v)}`);
  for (const op of frame.ops) {
    for (const [index, params] of op) {
      const sql = frame.sql[index];
      let statement = statements.get(sql);
      if (statement === undefined) {
        statement = db.prepare(sql);
        statements.set(sql, statement);
      }
      statement.run(params);
    }
  }
  return frame.ops.length;
}
