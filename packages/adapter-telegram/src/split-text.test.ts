import { describe, expect, it } from 'vitest';
import { splitText } from './split-text.js';

describe('splitText', () => {
  it('keeps every character: prefers line breaks, then spaces, then a hard cut that never splits a surrogate pair', () => {
    const lines = 'alpha beta\ngamma delta\nepsilon';
    expect(splitText(lines, 12)).toEqual(['alpha beta\n', 'gamma delta\n', 'epsilon']);
    expect(splitText('one two three four', 9)).toEqual(['one two ', 'three ', 'four']);
    const emoji = 'ab' + '😀'.repeat(5);
    const parts = splitText(emoji, 5);
    expect(parts.join('')).toBe(emoji);
    expect(parts.every((p) => p.length <= 5 && !/[\uD800-\uDBFF]$/.test(p))).toBe(true);
    expect(splitText('', 10)).toEqual(['']);
  });
});
