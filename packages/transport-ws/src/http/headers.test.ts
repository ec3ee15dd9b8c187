import { describe, expect, it } from 'vitest';
import { contentDisposition, sanitizeFilename, sanitizeMime } from './filename.js';
import { parseRange } from './range.js';

describe('sanitizeFilename', () => {
  it('keeps the base name only, strips controls and bidi overrides, caps the length', () => {
    expect(sanitizeFilename('../../etc/passwd')).toBe('passwd');
    expect(sanitizeFilename('C:\\docs\\form 16.pdf')).toBe('form 16.pdf');
    expect(sanitizeFilename('in\u0000vo\u001fice\u202e.pdf')).toBe('invoice.pdf');
    expect(sanitizeFilename('..')).toBe('file');
    expect(sanitizeFilename('   ')).toBe('file');
    const long = sanitizeFilename(`${'a'.repeat(500)}.pdf`);
    expect(long).toHaveLength(200);
    expect(long.endsWith('.pdf')).toBe(true);
  });
});

describe('contentDisposition', () => {
  it('gives an ASCII fallback and the exact name as filename*', () => {
    expect(contentDisposition('a "b".txt')).toBe(
      `attachment; filename="a _b_.txt"; filename*=UTF-8''a%20%22b%22.txt`,
    );
    expect(contentDisposition('रिपोर्ट.pdf')).toBe(
      `attachment; filename="_______.pdf"; filename*=UTF-8''%E0%A4%B0%E0%A4%BF%E0%A4%AA%E0%A5%8B%E0%A4%B0%E0%A5%8D%E0%A4%9F.pdf`,
    );
  });
});

describe('sanitizeMime', () => {
  it('keeps type/subtype and replaces anything else with octet-stream', () => {
    expect(sanitizeMime('Application/PDF; charset=x')).toBe('application/pdf');
    expect(sanitizeMime('text/html\r\nX-Evil: 1')).toBe('application/octet-stream');
    expect(sanitizeMime(undefined)).toBe('application/octet-stream');
  });
});

describe('parseRange', () => {
  it('parses one bytes range and falls back to the whole file otherwise', () => {
    expect(parseRange(undefined, 10)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-0', 10)).toEqual({ kind: 'partial', start: 0, end: 0 });
    expect(parseRange('bytes=5-', 10)).toEqual({ kind: 'partial', start: 5, end: 9 });
    expect(parseRange('bytes=5-100', 10)).toEqual({ kind: 'partial', start: 5, end: 9 });
    expect(parseRange('bytes=-4', 10)).toEqual({ kind: 'partial', start: 6, end: 9 });
    expect(parseRange('bytes=-40', 10)).toEqual({ kind: 'partial', start: 0, end: 9 });
    expect(parseRange('bytes=10-', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 10)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=5-3', 10)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=0-1,3-4', 10)).toEqual({ kind: 'full' });
    expect(parseRange('items=0-1', 10)).toEqual({ kind: 'full' });
  });
});
