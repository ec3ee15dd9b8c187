/**
 * Server-to-client WebSocket text frames (RFC 6455 §5.2), several encoded into one buffer.
 *
 * A server frame is unmasked: FIN + opcode 1, then the payload length in 7 bits, or 126 and
 * 16 bits, or 127 and 64 bits (big-endian), then the UTF-8 payload. `ws` frames each message
 * as two buffers of its own and leaves batching to the socket's cork; the frames one piece of
 * work produces (an ack and the delivery status after it) are written here as one buffer,
 * one `write` instead of a `writev` over four chunks, and no per-frame buffers.
 */

const FIN_TEXT = 0x81;

/** Bytes of a frame header for a payload of `length` bytes. */
function headerBytes(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}

/** Writes a text frame's header at `at`; returns the offset after it. */
function writeHeader(target: Buffer, at: number, length: number): number {
  target[at] = FIN_TEXT;
  if (length < 126) {
    target[at + 1] = length;
    return at + 2;
  }
  if (length < 65_536) {
    target[at + 1] = 126;
    target.writeUInt16BE(length, at + 2);
    return at + 4;
  }
  target[at + 1] = 127;
  // Payloads here stay far below 2^32 bytes (maxPayload is KiB, frames are JSON we built).
  target.writeUInt32BE(0, at + 2);
  target.writeUInt32BE(length, at + 6);
  return at + 10;
}

/** The text frames of `payloads`, in order, in one buffer. */
export function encodeTextFrames(payloads: readonly string[]): Buffer {
  if (payloads.length === 1) return encodeTextFrame(payloads[0]!);
  const lengths: number[] = [];
  let size = 0;
  for (const payload of payloads) {
    const length = Buffer.byteLength(payload, 'utf8');
    lengths.push(length);
    size += headerBytes(length) + length;
  }
  const target = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < payloads.length; i++) {
    at = writeHeader(target, at, lengths[i]!);
    at += target.write(payloads[i]!, at, 'utf8');
  }
  return target;
}

function encodeTextFrame(payload: string): Buffer {
  const length = Buffer.byteLength(payload, 'utf8');
  const target = Buffer.allocUnsafe(headerBytes(length) + length);
  target.write(payload, writeHeader(target, 0, length), 'utf8');
  return target;
}
