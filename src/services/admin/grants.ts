/**
 * A user's grants as admins see and revoke them (CONTRACT §7 `/users/:id/grants`): the list, and one
 * revocation (its tokens too; the grant-revoked listeners send its back-channel logout), audited with
 * the acting admin.
 */
import { NotFoundError } from '../../errors.ts';
import type { AdminAuditService, AdminContext } from './audit.ts';
import type { UserGrants, UserGrantView } from '../user-grants.ts';

export class GrantNotFoundError extends NotFoundError {
  constructor() {
    super('Grant not found', 'GRANT_NOT_FOUND');
  }
}

export interface AdminGrantServiceOptions {
  grants: Pick<UserGrants, 'list' | 'revoke'>;
  /** Throws the admin API's 404 for an unknown user (admin-users.ts `get`). */
  requireUser: (id: string) => Promise<{ id: string }>;
  adminAudit: Pick<AdminAuditService, 'record'>;
}

export function createAdminGrantService(options: AdminGrantServiceOptions) {
  const { grants } = options;
  return {
    async list(userId: string): Promise<{ items: UserGrantView[] }> {
      const user = await options.requireUser(userId);
      return { items: await grants.list(user.id) };
    },

    /** Revokes one grant of the user; GrantNotFoundError (404) when the user has no such grant. */
    async revoke(userId: string, grantId: string, ctx: AdminContext): Promise<void> {
      const user = await options.requireUser(userId);
      const clientId = (await grants.list(user.id)).find((grant) => grant.id === grantId)?.client_id ?? null;
      if (!(await grants.revoke(user.id, grantId))) throw new GrantNotFoundError();
      await options.adminAudit.record('grant_revoke', ctx, { userId: user.id, clientId, detail: { grant_id: grantId } });
    },
  };
}

export type AdminGrantService = ReturnType<typeof createAdminGrantService>;
