/**
 * Reads width and height from the header of a PNG, JPEG, GIF or WebP image, the way
 * Telegram has to before it accepts a photo. Returns undefined for anything else.
 */
export function imageSize(head: Buffer): { width: number; height: number } | undefined {
  return png(head) ?? jpeg(head) ?? gif(head) ?? webp(head);
}

function png(b: Buffer) {
  if (b.length < 24 || b.readUInt32BE(0) !== 0x89504e47 || b.toString('ascii', 12, 16) !== 'IHDR') {
    return undefined;
  }
  return positive(b.readUInt32BE(16), b.readUInt32BE(20));
}

function gif(b: Buffer) {
  if (b.length < 10 || b.toString('ascii', 0, 3) !== 'GIF') return undefined;
  return positive(b.readUInt16LE(6), b.readUInt16LE(8));
}

function webp(b: Buffer) {
  if (
    b.length < 30 ||
    b.toString('ascii', 0, 4) !== 'RIFF' ||
    b.toString('ascii', 8, 12) !== 'WEBP'
  ) {
    return undefined;
  }
  const chunk = b.toString('ascii', 12, 16);
  if (chunk === 'VP8X') return positive(1 + b.readUIntLE(24, 3), 1 + b.readUIntLE(27, 3));
  if (chunk === 'VP8 ') return positive(b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff);
  if (chunk === 'VP8L' && b.length >= 25) {
    const bits = b.readUInt32LE(21);
    return positive((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
  }
  return undefined;
}

function jpeg(b: Buffer) {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let offset = 2;
  while (offset + 9 < b.length) {
    if (b[offset] !== 0xff) return undefined;
    const marker = b[offset + 1] ?? 0;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    const length = b.readUInt16BE(offset + 2);
    // SOF0..SOF15 carry the frame size, except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return positive(b.readUInt16BE(offset + 7), b.readUInt16BE(offset + 5));
    }
    offset += 2 + length;
  }
  return undefined;
}

function positive(width: number, height: number) {
  return width > 0 && height > 0 ? { width, height } : undefined;
}
