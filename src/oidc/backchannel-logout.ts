/**
 * OIDC Back-Channel Logout 1.0 (CONTRACT §4): every client with a `backchannel_logout_uri` that took
 * part in a session that ends gets a logout token, whichever way the session ended.
 *
 *  - RP-initiated logout (end_session): oidc-provider's `backchannelLogout` feature picks the clients of
 *    the SSO session and their `sid`; it would POST to each itself, awaiting them on the logout request,
 *    once, through its fetch that refuses every internal address. `useBackchannelLogout` makes that call
 *    enqueue instead, so the page never waits and delivery follows our schedule and address policy.
 *  - Every other way (the legacy door's DELETE /sessions/:id and logout_all, the admin API, password
 *    change and reset, deactivation, user deletion) ends the shared session of kind `oidc` through the
 *    session service: `sessionEnding` reads the clients and `sid`s of the SSO session (oidc-provider's
 *    Session `authorizations`) before the session link destroys it, and `sessionEnded`, called after the
 *    link succeeded, enqueues them. When the link fails the revocation fails, and nothing is sent for a
 *    session that is still alive. dependencies.ts wires both around the link.
 *  - A grant revoked on its own (a user withdrawing a connected app): `grantRevoked`.
 *
 * The ID tokens of such clients carry `sid` (includeSid), the same value their logout token carries.
 */
import { randomUUID } from 'node:crypto';
import type Provider from 'oidc-provider';
import type { Client } from 'oidc-provider';
import type { Logger } from '../logger.ts';
import type { AuditService } from '../services/audit.ts';
import type { RevokeListener, SessionRecord, SessionService } from '../services/sessions.ts';
import type { OidcStorage } from './adapter.ts';
import { createDeliveryQueue, type DeliveryQueueOptions, type DeliverySchedule, type LogoutNotice } from './backchannel-delivery.ts';
import { postLogoutToken } from './backchannel-post.ts';
import type { ResolveHost } from './jwks-uri-policy.ts';

export const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export interface BackchannelLogoutOptions {
  provider: Provider;
  storage: Pick<OidcStorage, 'findSessionByUid'>;
  /** The user's sessions, to find the `sid` of a revoked grant's client when the caller does not know it. */
  sessions?: Pick<SessionService, 'list'>;
  audit: Pick<AuditService, 'record'>;
  logger: Logger;
  /** BACKCHANNEL_ALLOW_PRIVATE. */
  allowPrivate: boolean;
  schedule?: Partial<DeliverySchedule>;
  resolve?: ResolveHost;
  registry?: DeliveryQueueOptions['registry'];
}

/** What the user-grants service reports when one grant is revoked. */
export interface GrantRevokedEvent {
  accountId: string;
  clientId: string;
  grantId?: string;
  /** The client's `sid` in the SSO session the grant was made in, when the caller knows it. */
  sid?: string;
}

interface SessionPayload {
  accountId?: unknown;
  authorizations?: Record<string, { sid?: unknown; grantId?: unknown }>;
}

/** A logout token (§2.4), signed like the client's ID tokens with the provider's keys: iss, aud, iat, exp, jti, sub, sid, events; typ logout+jwt. */
export async function mintLogoutToken(provider: Provider, client: Client, notice: Pick<LogoutNotice, 'accountId' | 'sid'>): Promise<string> {
  const token = new provider.IdToken({ sub: notice.accountId }, { client });
  // Only the claims asked for survive oidc-provider's claim mask; `sub` is always wanted here.
  (token as unknown as { mask: Record<string, null> }).mask = { sub: null };
  token.set('events', { [LOGOUT_EVENT]: {} });
  token.set('jti', randomUUID());
  if (notice.sid) token.set('sid', notice.sid);
  return token.issue({ use: 'logout' });
}

function sessionUidOf(session: SessionRecord): string | undefined {
  const uid = (session.oidc as { sessionUid?: unknown } | undefined)?.sessionUid;
  return session.kind === 'oidc' && typeof uid === 'string' ? uid : undefined;
}

export function createBackchannelLogout(options: BackchannelLogoutOptions) {
  const { provider, storage } = options;
  const log = options.logger.child({ component: 'backchannel-logout' });

  const queue = createDeliveryQueue({
    audit: options.audit,
    logger: options.logger,
    schedule: options.schedule,
    registry: options.registry,
    async prepare(notice) {
      const client = await provider.Client.find(notice.clientId);
      if (!client?.backchannelLogoutUri) return undefined;
      return { uri: client.backchannelLogoutUri, logoutToken: await mintLogoutToken(provider, client, notice) };
    },
    post: (uri, logoutToken, timeoutMs) => postLogoutToken(uri, logoutToken, { allowPrivate: options.allowPrivate, timeoutMs, resolve: options.resolve }),
  });

  /** Sessions being revoked → the notices read from their SSO session; keyed by the record both listeners receive. */
  const captured = new WeakMap<SessionRecord, LogoutNotice[]>();

  async function ssoNotices(uid: string, fallbackAccountId: string): Promise<LogoutNotice[]> {
    const found = await storage.findSessionByUid(uid);
    if (!found) return [];
    const payload = found.payload as SessionPayload;
    const accountId = typeof payload.accountId === 'string' ? payload.accountId : fallbackAccountId;
    return Object.entries(payload.authorizations ?? {}).map(([clientId, authorization]) => ({
      clientId,
      accountId,
      ...(typeof authorization.sid === 'string' ? { sid: authorization.sid } : {}),
      trigger: 'session_revoked' as const,
    }));
  }

  /** The `sid` of the client in one of the user's live SSO sessions (the one holding the grant, when known). */
  async function findSid(event: GrantRevokedEvent): Promise<string | undefined> {
    if (!options.sessions) return undefined;
    for (const session of await options.sessions.list(event.accountId)) {
      const uid = sessionUidOf(session);
      const found = uid ? await storage.findSessionByUid(uid) : undefined;
      const authorization = (found?.payload as SessionPayload | undefined)?.authorizations?.[event.clientId];
      if (typeof authorization?.sid !== 'string') continue;
      if (event.grantId === undefined || authorization.grantId === event.grantId) return authorization.sid;
    }
    return undefined;
  }

  /** Before the session link: remembers which clients were in the SSO session. Never throws (a throw would fail the revocation). */
  const sessionEnding: RevokeListener = async (session) => {
    const uid = sessionUidOf(session);
    if (!uid) return;
    try {
      const notices = await ssoNotices(uid, session.user_id);
      if (notices.length) captured.set(session, notices);
    } catch (err) {
      log.error({ err }, 'could not read the clients of an ending SSO session: no back-channel logout for it');
    }
  };

  /** After the session link: the SSO session is gone, so its clients are told. Never throws. */
  const sessionEnded: RevokeListener = async (session) => {
    const notices = captured.get(session);
    captured.delete(session);
    for (const notice of notices ?? []) queue.enqueue(notice);
  };

  return {
    sessionEnding,
    sessionEnded,
    /** RP-initiated logout: oidc-provider's call for one client of the ending SSO session (see useBackchannelLogout). */
    endSession(notice: Omit<LogoutNotice, 'trigger'>): void {
      queue.enqueue({ ...notice, trigger: 'end_session' });
    },
    /**
     * A grant revoked on its own (the user-grants service's onGrantRevoked): its client gets a logout
     * token for the user, with the client's `sid` when one of the user's SSO sessions holds it. Resolves
     * once the delivery is queued (never waits for the receiver); never rejects.
     */
    async grantRevoked(event: GrantRevokedEvent): Promise<void> {
      try {
        const sid = event.sid ?? (await findSid(event));
        queue.enqueue({ clientId: event.clientId, accountId: event.accountId, ...(sid ? { sid } : {}), trigger: 'grant_revoked' });
      } catch (err) {
        log.error({ err, clientId: event.clientId }, 'could not queue the back-channel logout of a revoked grant');
      }
    },
    /** Waits for every queued delivery, retries included (tests), at most `timeoutMs`. */
    settle: queue.settle,
    /** Shutdown: in-flight attempts may finish within `timeoutMs`; waiting retries are abandoned (audited). */
    close: queue.close,
    get pending(): number {
      return queue.pending;
    },
  };
}

export type BackchannelLogout = ReturnType<typeof createBackchannelLogout>;

/**
 * Turns on our delivery for oidc-provider's `backchannelLogout` feature (enabled in provider.ts): the
 * provider's own per-client call at end_session enqueues, and every client with a
 * `backchannel_logout_uri` gets `sid` in its ID tokens (oidc-provider adds it only when the client also
 * sets `backchannel_logout_session_required`; our logout tokens always carry it).
 */
export function useBackchannelLogout(provider: Provider, notifier: Pick<BackchannelLogout, 'endSession'>): void {
  const prototype = provider.Client.prototype as unknown as {
    backchannelLogout(this: Client, sub: string, sid: string): Promise<void>;
    includeSid(this: Client): boolean;
  };
  prototype.backchannelLogout = async function backchannelLogout(this: Client, sub: string, sid: string): Promise<void> {
    notifier.endSession({ clientId: this.clientId, accountId: sub, sid });
  };
  prototype.includeSid = function includeSid(this: Client): boolean {
    return Boolean(this.backchannelLogoutUri);
  };
}
