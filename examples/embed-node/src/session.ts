import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The host app's own login, kept tiny on purpose: a signed cookie
 * `sid=<username>.<expiresAtMs>.<hmac>`. ca-chat never sees it; the transport's
 * `authenticate(req)` hook asks this module who the request is.
 */
export interface Sessions {
  /** The `Set-Cookie` value that logs `username` in. */
  issue(username: string): string;
  /** The `Set-Cookie` value that logs out. */
  clear(): string;
  /** The logged-in username, or null (no cookie, bad signature, expired). */
  read(req: IncomingMessage): string | null;
}

export const COOKIE_NAME = 'sid';
export const USERNAME = /^[a-z0-9_-]{1,32}$/;

export function createSessions(options: {
  secret: string;
  ttlMs?: number;
  secure?: boolean;
  now?: () => number;
}): Sessions {
  if (options.secret.length < 16)
    throw new Error('the session secret must be at least 16 characters');
  const ttlMs = options.ttlMs ?? 8 * 60 * 60_000;
  const now = options.now ?? (() => Date.now());
  const attributes = `Path=/; HttpOnly; SameSite=Lax${options.secure ? '; Secure' : ''}`;
  const mac = (payload: string): Buffer =>
    createHmac('sha256', options.secret).update(payload).digest();

  return {
    issue(username) {
      if (!USERNAME.test(username)) throw new Error('invalid username');
      const payload = `${username}.${now() + ttlMs}`;
      return `${COOKIE_NAME}=${payload}.${mac(payload).toString('base64url')}; Max-Age=${Math.floor(ttlMs / 1000)}; ${attributes}`;
    },
    clear() {
      return `${COOKIE_NAME}=; Max-Age=0; ${attributes}`;
    },
    read(req) {
      const value = cookie(req.headers.cookie, COOKIE_NAME);
      if (!value) return null;
      const [username, expires, signature] = value.split('.');
      if (
        !username ||
        !expires ||
        !signature ||
        !USERNAME.test(username) ||
        !/^\d{1,16}$/.test(expires)
      )
        return null;
      const expected = mac(`${username}.${expires}`);
      const given = Buffer.from(signature, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      return Number(expires) > now() ? username : null;
    },
  };
}

function cookie(header: string | undefined, name: string): string | null {
  if (!header || header.length > 8192) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}
