import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Short-lived download links: `?exp=<epoch ms>&sig=<base64url HMAC-SHA256(fileId, exp)>`.
 * Anyone holding the link may download the file until `exp`, which is why links are short
 * lived and only ever sent to the client whose chat the file belongs to.
 */
export interface UrlSigner {
  sign(fileId: string, now: number): { exp: number; sig: string };
  /** `ok`, or why the signature is refused. */
  verify(
    fileId: string,
    exp: string | null,
    sig: string | null,
    now: number,
  ): 'ok' | 'expired' | 'invalid';
}

export function createUrlSigner(secret: string | Uint8Array, ttlMs: number): UrlSigner {
  const mac = (fileId: string, exp: number): Buffer =>
    createHmac('sha256', secret).update(`${fileId}\n${exp}`).digest();
  return {
    sign(fileId, now) {
      const exp = now + ttlMs;
      return { exp, sig: mac(fileId, exp).toString('base64url') };
    },
    verify(fileId, exp, sig, now) {
      if (exp === null || sig === null || !/^\d{1,16}$/.test(exp)) return 'invalid';
      const expected = mac(fileId, Number(exp));
      const given = Buffer.from(sig, 'base64url');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
      // Checked after the MAC so an attacker learns nothing from the expiry branch.
      return Number(exp) < now ? 'expired' : 'ok';
    },
  };
}
