/**
 * CSRF tokens for the interaction forms: an HMAC of the interaction uid under the cookie keys. The
 * interaction cookie is SameSite=Lax (not sent on a cross-site POST) already; the token makes a forged
 * form fail even where that does not hold (old browsers, same-site attackers). Any cookie key verifies,
 * so rotating COOKIE_KEYS does not break forms that are open at that moment. A token may also be bound to a
 * value the form carries (`bound`), which it then vouches for: the server put it on that page itself.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface Csrf {
  token(uid: string, bound?: string): string;
  verify(uid: string, presented: unknown, bound?: string): boolean;
}

export function createCsrf(keys: readonly string[]): Csrf {
  if (keys.length === 0) throw new Error('CSRF tokens need at least one cookie key');
  const sign = (key: string, uid: string, bound?: string): Buffer =>
    createHmac('sha256', key).update(bound === undefined ? `interaction-csrf:${uid}` : `interaction-csrf:${uid}:${bound}`).digest();
  return {
    token: (uid, bound) => sign(keys[0] as string, uid, bound).toString('base64url'),
    verify(uid, presented, bound) {
      if (typeof presented !== 'string' || presented.length > 100) return false;
      const actual = Buffer.from(presented, 'base64url');
      return keys.some((key) => {
        const expected = sign(key, uid, bound);
        return actual.length === expected.length && timingSafeEqual(actual, expected);
      });
    },
  };
}
