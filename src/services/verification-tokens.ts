import type { Store } from '../store/store.ts';
import { hashToken, isOpaqueToken, newOpaqueToken } from './secret-tokens.ts';

export type VerificationPurpose = 'verify-email' | 'reset-password';

interface TokenRecord {
  purpose: string;
  user_id: string;
  /** What must still hold when the token is used (the e-mail address, a fingerprint of the password hash). */
  binding: string;
  created_at: string;
  consumed_at: string | null;
}

/** `P`: the purposes this instance issues (another service may have its own, e.g. the e-mail change). */
export interface VerificationTokenServiceOptions<P extends string = VerificationPurpose> {
  store: Store;
  ttlSeconds: Record<P, number>;
  now?: () => number;
}

/**
 * Single-use, expiring tokens for the links we e-mail. The store keeps only the token's SHA-256;
 * consuming is one compare-and-set, so two clicks on one link cannot both succeed.
 */
export function createVerificationTokenService<P extends string = VerificationPurpose>(options: VerificationTokenServiceOptions<P>) {
  const { store } = options;
  const now = options.now ?? Date.now;
  const key = (purpose: P, token: string): string => `vt:${purpose}:${hashToken(token)}`;

  return {
    async issue(purpose: P, userId: string, binding: string): Promise<string> {
      const token = newOpaqueToken();
      const record: TokenRecord = { purpose, user_id: userId, binding, created_at: new Date(now()).toISOString(), consumed_at: null };
      await store.set(key(purpose, token), record, options.ttlSeconds[purpose]);
      return token;
    },

    /** Whether the token could be used now (known, unexpired, unused), without using it. */
    async usable(purpose: P, token: unknown): Promise<boolean> {
      if (!isOpaqueToken(token)) return false;
      const record = await store.get<TokenRecord>(key(purpose, token));
      return Boolean(record && record.consumed_at === null && record.purpose === purpose);
    },

    /** The user and binding of a usable token, without using it (a page that asks "confirm?" first). */
    async peek(purpose: P, token: unknown): Promise<{ userId: string; binding: string } | undefined> {
      if (!isOpaqueToken(token)) return undefined;
      const record = await store.get<TokenRecord>(key(purpose, token));
      if (!record || record.consumed_at !== null || record.purpose !== purpose) return undefined;
      return { userId: record.user_id, binding: record.binding };
    },

    /** Uses the token up; returns its user and binding, or undefined when it is unknown, expired or already used. */
    async consume(purpose: P, token: unknown): Promise<{ userId: string; binding: string } | undefined> {
      if (!isOpaqueToken(token)) return undefined;
      const k = key(purpose, token);
      const record = await store.get<TokenRecord>(k);
      if (!record || record.consumed_at !== null || record.purpose !== purpose) return undefined;
      const used: TokenRecord = { ...record, consumed_at: new Date(now()).toISOString() };
      // Kept (marked used) until it would have expired anyway, so a second use is refused, not "unknown".
      const remaining = Math.max(1, options.ttlSeconds[purpose] - (now() - Date.parse(record.created_at)) / 1000);
      if (!(await store.compareAndSet(k, record, used, remaining))) return undefined;
      return { userId: record.user_id, binding: record.binding };
    },
  };
}

export type VerificationTokenService<P extends string = VerificationPurpose> = ReturnType<typeof createVerificationTokenService<P>>;
