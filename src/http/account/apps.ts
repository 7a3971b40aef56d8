/**
 * Connected apps (CONTRACT §10): every application the user granted access to (name, scopes, granted at,
 * last used); revoking one revokes its tokens and sends its back-channel logout (the grant service and its
 * listeners), audited by the connected-apps service. The account pages' own sign-in grant is not listed:
 * "Sign out" ends it.
 */
import type Router from '@koa/router';
import type { RequestContext } from '../../services/request-context.ts';
import type { UserGrantView } from '../../services/user-grants.ts';
import { NotFoundError } from '../../errors.ts';
import { ACCOUNT_CLIENT_ID } from '../../services/first-party-clients.ts';
import { type AccountPages, seeOther } from './pages.ts';
import { requestContext, signedIn } from './forms.ts';

const GRANT_ID = /^[A-Za-z0-9_-]{1,128}$/;

export interface ConnectedAppsPort {
  list(userId: string): Promise<UserGrantView[]>;
  /** Throws a 404 AppError when the grant is not this user's (or is gone). */
  revoke(userId: string, grantId: string, ctx: RequestContext): Promise<void>;
}

export function appPages(router: Router, options: { pages: AccountPages; apps: ConnectedAppsPort }): void {
  const { pages, apps } = options;

  router.get('/account/apps', async (ctx) => {
    const { account } = signedIn(ctx);
    const items = (await apps.list(account.id)).filter((grant) => grant.client_id !== ACCOUNT_CLIENT_ID);
    await pages.render(ctx, 200, 'apps', { page: 'apps', section: 'apps', items });
  });

  router.post('/account/apps/:grantId/revoke', async (ctx) => {
    const { account, session } = signedIn(ctx);
    const grantId = ctx.params.grantId ?? '';
    // This page's own grant is not on the list either: "Sign out" is the way to end it.
    if (!GRANT_ID.test(grantId) || grantId === session.grant_id) throw new NotFoundError('Grant not found');
    await apps.revoke(account.id, grantId, requestContext(ctx));
    seeOther(ctx, '/account/apps', 'app-revoked');
  });
}
