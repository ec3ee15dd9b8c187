/**
 * Splits a text into parts of at most `maxChars`, preferring line breaks, then spaces, and
 * never cutting a surrogate pair. Separators stay at the end of the part they close, so
 * `parts.join('') === text`: nothing is ever dropped.
 */
export function splitText(text: string, maxChars: number): string[] {
  if (maxChars < 2) throw new RangeError('maxChars must be at least 2');
  const parts: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars);
    let cut = window.lastIndexOf('\n') + 1;
    if (cut < maxChars / 2) {
      const space = Math.max(window.lastIndexOf(' '), window.lastIndexOf('\t')) + 1;
      cut = Math.max(cut, space);
    }
    if (cut <= 0) {
      cut = maxChars;
      const code = rest.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut -= 1; // keep the pair together
    }
    parts.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest.length > 0 || parts.length === 0) parts.push(rest);
  return parts;
}
