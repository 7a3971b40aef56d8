/**
 * "Connected apps" of the account pages (CONTRACT §10): the user's own grants, and withdrawing one, which
 * revokes its tokens (and, through the grant-revoked listeners, sends its back-channel logout). Audited
 * as `grant_revoke` by the user themself; the admin's revocation is admin-grants.ts.
 */
import type { AuditService } from '../audit.ts';
import type { RequestContext } from '../request-context.ts';
import { GrantNotFoundError } from '../admin/grants.ts';
import type { UserGrants, UserGrantView } from '../user-grants.ts';

export { GrantNotFoundError };

export interface ConnectedAppsOptions {
  grants: Pick<UserGrants, 'list' | 'revoke'>;
  audit: Pick<AuditService, 'record'>;
}

export function createConnectedApps(options: ConnectedAppsOptions) {
  const { grants, audit } = options;
  return {
    /** The user's live grants, newest first. */
    list(userId: string): Promise<UserGrantView[]> {
      return grants.list(userId);
    },

    /** Revokes one of the user's grants; GrantNotFoundError (404) when it is not theirs or is gone. */
    async revoke(userId: string, grantId: string, ctx: RequestContext): Promise<void> {
      const clientId = (await grants.list(userId)).find((grant) => grant.id === grantId)?.client_id ?? null;
      if (!(await grants.revoke(userId, grantId))) throw new GrantNotFoundError();
      await audit.record({ type: 'grant_revoke', outcome: 'success', userId, ip: ctx.ip, userAgent: ctx.userAgent, clientId, detail: { grant_id: grantId, door: ctx.door } });
    },
  };
}

export type ConnectedApps = ReturnType<typeof createConnectedApps>;
