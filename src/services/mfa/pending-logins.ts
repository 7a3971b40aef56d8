/**
 * A login page sign-in between the password and the second factor (CONTRACT §9): who gave the right
 * password in which interaction, and what is left to do (a code, or the enrolment the policy demands).
 * Kept in the store under the interaction's uid, no longer than the interaction lives; five wrong codes
 * end it, and the user starts again from the password.
 */
import type { Store } from '../../store/store.ts';
import type { Amr } from './mfa-login.ts';

export const PENDING_LOGIN_TTL_SECONDS = 600;
export const PENDING_LOGIN_MAX_FAILURES = 5;

export interface PendingLogin {
  accountId: string;
  /** The identifier typed (the account's e-mail for a step-up): code attempts count toward its limits. */
  identifier: string;
  /** `enrolled`: TOTP confirmed, the recovery codes shown; one click finishes the sign-in. */
  stage: 'code' | 'enrol' | 'enrolled';
  /** What the sign-in has proven so far. */
  amr: Amr[];
  failures: number;
}

const keyOf = (uid: string): string => `mfa-pending:${uid}`;
const SAFE_UID = /^[A-Za-z0-9_-]{1,64}$/;

export function createPendingLoginService(options: { store: Store }) {
  const { store } = options;
  return {
    async start(uid: string, login: Omit<PendingLogin, 'failures'>): Promise<void> {
      if (!SAFE_UID.test(uid)) throw new RangeError('bad interaction uid');
      await store.set<PendingLogin>(keyOf(uid), { ...login, failures: 0 }, PENDING_LOGIN_TTL_SECONDS);
    },

    async get(uid: string): Promise<PendingLogin | undefined> {
      if (!SAFE_UID.test(uid)) return undefined;
      return store.get<PendingLogin>(keyOf(uid));
    },

    /** Counts a wrong code; returns false (and forgets the sign-in) at the last allowed one. */
    async fail(uid: string, login: PendingLogin): Promise<boolean> {
      const failures = login.failures + 1;
      if (failures >= PENDING_LOGIN_MAX_FAILURES) {
        await store.delete(keyOf(uid));
        return false;
      }
      await store.compareAndSet(keyOf(uid), login, { ...login, failures }, PENDING_LOGIN_TTL_SECONDS);
      return true;
    },

    async finish(uid: string): Promise<void> {
      if (SAFE_UID.test(uid)) await store.delete(keyOf(uid));
    },
  };
}

export type PendingLoginService = ReturnType<typeof createPendingLoginService>;
