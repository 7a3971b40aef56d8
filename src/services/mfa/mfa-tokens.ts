/**
 * The `mfa_token` of a two-step legacy login (CONTRACT §9): opaque, in the store under its hash, five
 * minutes, single use, and dead after the fifth wrong code.
 */
import type { Store } from '../../store/store.ts';
import { hashToken, isOpaqueToken, newOpaqueToken } from '../secret-tokens.ts';
import type { MfaMethod } from './errors.ts';

export const MFA_TOKEN_TTL_SECONDS = 300;
export const MFA_TOKEN_MAX_FAILURES = 5;
const CAS_ATTEMPTS = 5;

export interface MfaTokenRecord {
  user_id: string;
  /** The identifier typed at the password step: the code attempts count toward the same limits (§6). */
  identifier: string;
  methods: MfaMethod[];
  failures: number;
  expires_at: number;
}

const keyOf = (token: string): string => `mfa:${hashToken(token)}`;

export function createMfaTokenService(options: { store: Store; now?: () => number }) {
  const { store } = options;
  const now = options.now ?? Date.now;
  const ttlLeft = (record: MfaTokenRecord): number => (record.expires_at - now()) / 1000;

  return {
    async issue(input: { userId: string; identifier: string; methods: MfaMethod[] }): Promise<string> {
      const token = newOpaqueToken();
      const record: MfaTokenRecord = {
        user_id: input.userId,
        identifier: input.identifier,
        methods: input.methods,
        failures: 0,
        expires_at: now() + MFA_TOKEN_TTL_SECONDS * 1000,
      };
      await store.set(keyOf(token), record, MFA_TOKEN_TTL_SECONDS);
      return token;
    },

    /** The live record of a token, or undefined (unknown, expired, used, exhausted). */
    async read(token: unknown): Promise<MfaTokenRecord | undefined> {
      if (typeof token !== 'string' || !isOpaqueToken(token)) return undefined;
      const record = await store.get<MfaTokenRecord>(keyOf(token));
      if (!record || record.failures >= MFA_TOKEN_MAX_FAILURES || ttlLeft(record) <= 0) return undefined;
      return record;
    },

    /** Counts a wrong code; the last allowed one deletes the token. Returns the failures so far. */
    async fail(token: string): Promise<number> {
      const key = keyOf(token);
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt += 1) {
        const record = await store.get<MfaTokenRecord>(key);
        if (!record) return MFA_TOKEN_MAX_FAILURES;
        const failures = record.failures + 1;
        if (failures >= MFA_TOKEN_MAX_FAILURES) {
          await store.delete(key);
          return failures;
        }
        const ttl = ttlLeft(record);
        if (ttl <= 0) return MFA_TOKEN_MAX_FAILURES;
        if (await store.compareAndSet(key, record, { ...record, failures }, ttl)) return failures;
      }
      // Contended by a flood of wrong codes for one token: end it rather than lose a count.
      await store.delete(key);
      return MFA_TOKEN_MAX_FAILURES;
    },

    /**
     * Uses the token up: true for exactly one caller holding the record `read` returned (a concurrent
     * wrong code or use changes it, and this one loses).
     */
    async consume(token: string, record: MfaTokenRecord): Promise<boolean> {
      const used: MfaTokenRecord = { ...record, failures: MFA_TOKEN_MAX_FAILURES };
      const won = await store.compareAndSet(keyOf(token), record, used, Math.max(1, ttlLeft(record)));
      if (won) await store.delete(keyOf(token));
      return won;
    },
  };
}

export type MfaTokenService = ReturnType<typeof createMfaTokenService>;
