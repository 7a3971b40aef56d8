/**
 * A user's second factors as admins see and remove them (CONTRACT §7): the shape of §9's `GET /mfa`, and
 * removing everything (TOTP, passkeys, recovery codes) for a user who lost their devices. Audited with
 * the acting admin.
 */
import type { AdminContext } from './audit.ts';
import type { MfaService, MfaStatus } from '../mfa/factors.ts';

export interface AdminMfaServiceOptions {
  mfa: Pick<MfaService, 'status' | 'removeAll'>;
  /** Throws the admin API's 404 for an unknown user (admin/users.ts `get`). */
  requireUser: (id: string) => Promise<{ id: string }>;
}

export function createAdminMfaService(options: AdminMfaServiceOptions) {
  const { mfa } = options;
  return {
    async status(userId: string): Promise<MfaStatus> {
      const user = await options.requireUser(userId);
      return mfa.status(user.id);
    },

    /** Removes every factor; returns whether there was any. */
    async removeAll(userId: string, ctx: AdminContext): Promise<boolean> {
      const user = await options.requireUser(userId);
      return mfa.removeAll(user.id, ctx);
    },
  };
}

export type AdminMfaService = ReturnType<typeof createAdminMfaService>;
