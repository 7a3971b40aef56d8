/**
 * Sessions (CONTRACT §10): every live session of the user, password and OIDC alike (device, address, last
 * active), the one this page was signed in through marked; revoke one, or every other. Sessions are looked
 * up under the signed-in user's own key, so another user's session id is simply not found (404). Revoking
 * goes through the session service, whose hooks end the SSO session and grants of an OIDC session.
 */
import type Router from '@koa/router';
import type { SessionListItem, SessionService } from '../../services/sessions.ts';
import type { AuditService } from '../../services/audit.ts';
import { NotFoundError } from '../../errors.ts';
import { type AccountPages, seeOther } from './pages.ts';
import { requestContext, signedIn } from './forms.ts';

const SESSION_ID = /^[A-Za-z0-9_-]{1,128}$/;

export interface SessionPageOptions {
  pages: AccountPages;
  sessions: Pick<SessionService, 'list' | 'revoke' | 'revokeAll'>;
  audit: Pick<AuditService, 'record'>;
}

/** What the list shows of a session: the device as the client named it, else its browser, else nothing. */
function device(item: SessionListItem): string | null {
  return item.device_name ?? item.user_agent ?? null;
}

export function sessionPages(router: Router, options: SessionPageOptions): void {
  const { pages, sessions, audit } = options;

  router.get('/account/sessions', async (ctx) => {
    const { account, session } = signedIn(ctx);
    const list = await sessions.list(account.id, { currentSessionId: session.shared_session_id });
    // The current one first, then the most recently active.
    const items = list
      .filter((item) => item.is_active)
      .sort((a, b) => Number(b.is_current) - Number(a.is_current) || b.last_active_at.localeCompare(a.last_active_at))
      .map((item) => ({ id: item.session_id, kind: item.kind, clientId: item.client_id, device: device(item), ip: item.ip_address, lastActive: item.last_active_at, created: item.created_at, current: item.is_current }));
    await pages.render(ctx, 200, 'sessions', { page: 'sessions', section: 'sessions', items, others: items.some((item) => !item.current) });
  });

  router.post('/account/sessions/:sid/revoke', async (ctx) => {
    const { account } = signedIn(ctx);
    const sessionId = ctx.params.sid ?? '';
    if (!SESSION_ID.test(sessionId) || !(await sessions.revoke(account.id, sessionId, 'revoked'))) throw new NotFoundError('Session not found');
    const rc = requestContext(ctx);
    await audit.record({ type: 'logout', outcome: 'success', userId: account.id, ip: rc.ip, userAgent: rc.userAgent, detail: { session_id: sessionId, door: rc.door } });
    seeOther(ctx, '/account/sessions', 'session-revoked');
  });

  router.post('/account/sessions/revoke-others', async (ctx) => {
    const { account, session } = signedIn(ctx);
    // Without a known current session, every session goes, this one's too: the next page asks to sign in.
    const revoked = await sessions.revokeAll(account.id, { exceptSessionId: session.shared_session_id, reason: 'logout_all' });
    const rc = requestContext(ctx);
    await audit.record({ type: 'logout', outcome: 'success', userId: account.id, ip: rc.ip, userAgent: rc.userAgent, detail: { all_others: true, revoked_sessions: revoked, door: rc.door } });
    seeOther(ctx, '/account/sessions', 'sessions-revoked');
  });
}
