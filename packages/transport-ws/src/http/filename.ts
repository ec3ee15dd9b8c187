/** Longest stored file name, in characters (Telegram and most file systems cope with 255 bytes). */
export const MAX_FILENAME_LENGTH = 200;

/**
 * Makes an uploaded file name safe to store and show: the last path segment only, no control
 * or bidi-override characters, trimmed, length-capped, never empty or a dot name.
 */
export function sanitizeFilename(raw: string | undefined | null, fallback = 'file'): string {
  let name = (raw ?? '').normalize('NFC');
  name = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  // C0/C1 controls, DEL, and bidi overrides/isolates that can disguise an extension.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  name = name.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '');
  name = name.trim();
  if (name === '' || name === '.' || name === '..') return fallback;
  if (name.length > MAX_FILENAME_LENGTH) {
    // Keep the extension when it is short, so the file still opens with the right program.
    const dot = name.lastIndexOf('.');
    const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
    name =
      Array.from(name)
        .slice(0, MAX_FILENAME_LENGTH - ext.length)
        .join('') + ext;
  }
  return name;
}

/**
 * An RFC 6266 `Content-Disposition: attachment` value: an ASCII fallback `filename` (quotes,
 * backslashes and non-ASCII replaced) plus the exact name as RFC 8187 `filename*`.
 */
export function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** A MIME type as a part declared it, or `application/octet-stream` when it is not a plain `type/subtype`. */
export function sanitizeMime(raw: string | undefined | null): string {
  const mime = (raw ?? '').split(';')[0]!.trim().toLowerCase();
  return /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,127}$/.test(mime)
    ? mime
    : 'application/octet-stream';
}
