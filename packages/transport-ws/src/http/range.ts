export type RangeResult =
  { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * Parses a `Range` header for a resource of `size` bytes (RFC 9110 §14.2). Only one
 * `bytes` range is served; several ranges, other units or a malformed header fall back to
 * the whole file, which the RFC allows. `end` is inclusive.
 */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    // Suffix range: the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const lastByte = last === '' ? Number.POSITIVE_INFINITY : Number(last);
  // `bytes=5-3` is not a valid range at all: ignore it rather than refuse.
  if (!Number.isSafeInteger(start) || lastByte < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = Math.min(lastByte, size - 1);
  return { kind: 'partial', start, end };
}
