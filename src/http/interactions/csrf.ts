/**
 * CSRF tokens for the interaction forms: an HMAC of the interaction uid under the cookie keys. The
 * interaction cookie is SameSite=Lax (not sent on a cross-site POST) already; the token makes a forged
 * form fail even where that does not hold (old browsers, same-site attackers). Any cookie key verifies,
 * so rotating COOKIE_KEYS does not break forms that are open at that moment.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface Csrf {
  token(uid: string): string;
  verify(uid: string, presented: unknown): boolean;
}

export function createCsrf(keys: readonly string[]): Csrf {
  if (keys.length === 0) throw new Error('CSRF tokens need at least one cookie key');
  const sign = (key: string, uid: string): Buffer => createHmac('sha256', key).update(`interaction-csrf:${uid}`).digest();
  return {
    token: (uid) => sign(keys[0] as string, uid).toString('base64url'),
    verify(uid, presented) {
      if (typeof presented !== 'string' || presented.length > 100) return false;
      const actual = Buffer.from(presented, 'base64url');
      return keys.some((key) => {
        const expected = sign(key, uid);
        return actual.length === expected.length && timingSafeEqual(actual, expected);
      });
    },
  };
}
