/**
 * One session store for both doors (CONTRACT §5): an OIDC browser login appears in the user's session
 * list as a session of kind `oidc`, and the two stay tied together in both directions.
 *
 *  - login (the `resume` step after the login page) → a shared session is created and linked to the
 *    SSO session's uid (stable across re-logins, unlike its id);
 *  - the shared session is revoked (DELETE /sessions/:id, admin, password change, deactivation) →
 *    `sessionRevoked` ends the SSO session and revokes every grant made in it; `userSessionsRevoked`
 *    revokes every remaining grant of the user (offline grants outlive SSO sessions). dependencies.ts
 *    connects both to the session service's revoke events; nothing here registers itself;
 *  - the user ends the SSO session at end_session → the shared session entry is removed.
 */
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/store.ts';
import type { RevokeAllListener, RevokeListener, SessionRecord, SessionService } from '../services/sessions.ts';
import type { OidcStorage } from './adapter.ts';
import { sessionLinkKey } from './storage-keys.ts';
import { clientIp } from '../http/client-ip.ts';

export interface SessionLinkOptions {
  store: Store;
  storage: OidcStorage;
  sessions: Pick<SessionService, 'create' | 'get' | 'touch' | 'renew' | 'update' | 'revoke'>;
  /** Lifetime of an SSO session, and so of its shared session entry. */
  sessionTtlSeconds: number;
  logger: Logger;
}

interface Link {
  userId: string;
  sessionId: string;
}

interface OidcLinkage {
  sessionUid?: unknown;
}

const LOGIN_ROUTES = new Set(['resume', 'device_resume']);

/** oidc-provider flags a session it has destroyed during the request (not in its type definitions). */
function isDestroyed(session: object): boolean {
  return (session as { destroyed?: boolean }).destroyed === true;
}

function grantIdsOf(payload: { authorizations?: Record<string, { grantId?: string }> }): string[] {
  return Object.values(payload.authorizations ?? {}).flatMap((authorization) => (authorization.grantId ? [authorization.grantId] : []));
}

export function createSessionLink(options: SessionLinkOptions) {
  const { store, storage, sessions, logger } = options;
  const log = logger.child({ component: 'oidc-session-link' });

  const readLink = (uid: string): Promise<Link | undefined> => store.get<Link>(sessionLinkKey(uid));

  /** Ends the SSO session with this uid and revokes the grants made in it. Idempotent. */
  async function endSsoSession(uid: string): Promise<void> {
    const found = await storage.findSessionByUid(uid);
    if (found) {
      for (const grantId of grantIdsOf(found.payload as Parameters<typeof grantIdsOf>[0])) await storage.revokeGrant(grantId);
      await storage.destroySession(found.ref, found.payload);
    }
    await store.delete(sessionLinkKey(uid));
  }

  async function linkLogin(ctx: KoaContextWithOIDC): Promise<void> {
    const { session, client } = ctx.oidc;
    const accountId = session?.accountId;
    if (!session || !accountId || isDestroyed(session)) return;
    const existing = await readLink(session.uid);
    // How this login was proven (CONTRACT §5); a step-up within the session updates it.
    const amr = Array.isArray(session.amr) && session.amr.length ? session.amr.map(String) : ['pwd'];
    // A new sign-in within the same SSO session renews it (oidc-provider restarts its lifetime too).
    if (existing?.userId === accountId && (await sessions.renew(existing.userId, existing.sessionId, options.sessionTtlSeconds))) {
      await sessions.update(existing.userId, existing.sessionId, { amr });
      await store.set<Link>(sessionLinkKey(session.uid), existing, options.sessionTtlSeconds);
      return;
    }
    const record = await sessions.create({
      userId: accountId,
      kind: 'oidc',
      clientId: client?.clientId ?? null,
      ttlSeconds: options.sessionTtlSeconds,
      amr,
      context: {
        door: 'interaction',
        ip: clientIp(ctx),
        userAgent: ctx.get('user-agent') || undefined,
        deviceId: ctx.get('x-device-id') || undefined,
        deviceName: ctx.get('x-device-name') || undefined,
        deviceType: ctx.get('x-device-type') || undefined,
      },
      oidc: { sessionUid: session.uid },
    });
    await store.set<Link>(sessionLinkKey(session.uid), { userId: accountId, sessionId: record.session_id }, options.sessionTtlSeconds);
  }

  async function unlinkLogout(uid: string): Promise<void> {
    const link = await readLink(uid);
    if (link) await sessions.revoke(link.userId, link.sessionId, 'logout');
    await store.delete(sessionLinkKey(uid));
  }

  async function touch(ctx: KoaContextWithOIDC): Promise<void> {
    const session = ctx.oidc.session;
    if (!session?.accountId) return;
    const link = await readLink(session.uid);
    if (link) await sessions.touch(link.userId, link.sessionId);
  }

  // A revoked shared session takes its SSO session and that session's grants with it.
  const sessionRevoked: RevokeListener = async (session: SessionRecord) => {
    const uid = (session.oidc as OidcLinkage | undefined)?.sessionUid;
    if (session.kind !== 'oidc' || typeof uid !== 'string') return;
    await endSsoSession(uid);
  };

  // Password change/reset, deactivation, "log out everywhere": every grant of the user goes, offline
  // ones included, except those of the one session that is kept.
  const userSessionsRevoked: RevokeAllListener = async (userId, event) => {
    const keep = new Set<string>();
    if (event.exceptSessionId) {
      const kept = await sessions.get(userId, event.exceptSessionId);
      const uid = (kept?.oidc as OidcLinkage | undefined)?.sessionUid;
      if (kept?.kind === 'oidc' && typeof uid === 'string') {
        const found = await storage.findSessionByUid(uid);
        if (found) for (const grantId of grantIdsOf(found.payload as Parameters<typeof grantIdsOf>[0])) keep.add(grantId);
      }
    }
    for (const grantId of await storage.grantIdsOfAccount(userId)) {
      if (!keep.has(grantId)) await storage.revokeGrant(grantId);
    }
  };

  return {
    endSsoSession,
    /** Listener of the session service's revoke event (connected in dependencies.ts). */
    sessionRevoked,
    /** Listener of the session service's revokeAll event (connected in dependencies.ts). */
    userSessionsRevoked,
    /**
     * Runs after oidc-provider has handled a request (provider.use): by then the SSO session is saved
     * (on login) or destroyed (on logout), so its uid and account are final.
     */
    async afterRequest(ctx: KoaContextWithOIDC): Promise<void> {
      const route = ctx.oidc?.route;
      if (!route) return;
      try {
        if (LOGIN_ROUTES.has(route) && ctx.oidc.result?.login) await linkLogin(ctx);
        else if (route === 'end_session_confirm' && ctx.oidc.session && isDestroyed(ctx.oidc.session)) await unlinkLogout(ctx.oidc.session.uid);
        else if (route === 'authorization' && ctx.status < 400) await touch(ctx);
      } catch (err) {
        // The protocol response is already decided; a failed bookkeeping write must not turn it into an error.
        log.error({ err, route }, 'could not update the shared session for an OIDC session');
      }
    },
  };
}

export type SessionLink = ReturnType<typeof createSessionLink>;
