/**
 * A user's grants (CONTRACT §7 `/users/:id/grants`, §10 "Connected apps"): listed from the account's
 * grant index (the one `userSessionsRevoked` revokes by), revoked one at a time with everything minted
 * from them, and each revocation told to the listeners by name (dependencies.ts connects back-channel
 * logout to it).
 *
 * "Last used" is the last token request answered from the grant: one store write per token response
 * (`grant.success`), never anything on the access-token check path. The client's name is kept with it,
 * so listing needs no client look-up for clients seen since; others are looked up by id, except client
 * ids that are metadata-document URLs (CONTRACT §11), which a list must not fetch.
 */
import type Provider from 'oidc-provider';
import type { AdapterPayload, KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/store.ts';
import type { SessionService } from '../services/sessions.ts';
import type { GrantRevokedEvent, GrantRevokedListener, UserGrants, UserGrantView } from '../services/user-grants.ts';
import type { OidcStorage } from './adapter.ts';
import { grantUsedKey } from './storage-keys.ts';

/** Grant ids are oidc-provider's random token ids; anything else is not looked up at all. */
const GRANT_ID = /^[A-Za-z0-9_-]{1,128}$/;
const URL_CLIENT_ID = /^https?:\/\//i;

interface GrantUse {
  /** Epoch seconds. */
  at: number;
  client_name: string | null;
}

interface GrantPayload extends AdapterPayload {
  openid?: { scope?: string };
  resources?: Record<string, string | boolean>;
}

interface SessionAuthorization {
  grantId?: string;
  sid?: string;
}

export interface UserGrantsOptions {
  provider: Pick<Provider, 'Client' | 'on'>;
  storage: Pick<OidcStorage, 'adapterFactory' | 'grantIdsOfAccount' | 'revokeGrant' | 'findSessionByUid'>;
  store: Store;
  /** The user's shared sessions lead to their SSO sessions, where a grant's `sid` is kept. */
  sessions: Pick<SessionService, 'list'>;
  /** How long a grant lives (ttl.Grant): a use record is kept as long. */
  grantTtlSeconds: number;
  logger: Logger;
}

/** OpenID scopes first, then each resource's, every scope once. */
export function scopesOf(payload: GrantPayload): string[] {
  const all = [payload.openid?.scope ?? '', ...Object.values(payload.resources ?? {}).map((value) => (typeof value === 'string' ? value : ''))];
  return [...new Set(all.flatMap((scope) => scope.split(' ')).filter(Boolean))];
}

const iso = (epochSeconds: number | undefined): string | null => (typeof epochSeconds === 'number' ? new Date(epochSeconds * 1000).toISOString() : null);

export function createUserGrants(options: UserGrantsOptions): UserGrants & { trackUse(): void } {
  const { provider, storage, store, sessions } = options;
  const log = options.logger.child({ component: 'oidc-user-grants' });
  const grants = storage.adapterFactory('Grant');
  const listeners: GrantRevokedListener[] = [];

  async function clientName(clientId: string, use: GrantUse | undefined): Promise<string | null> {
    if (use?.client_name) return use.client_name;
    if (URL_CLIENT_ID.test(clientId)) return null;
    try {
      return (await provider.Client.find(clientId))?.clientName ?? null;
    } catch {
      // Metadata the provider no longer accepts: the grant is still listed (and revocable), without a name.
      return null;
    }
  }

  /** The grant, only if it is this user's. */
  async function grantOf(userId: string, grantId: string): Promise<GrantPayload | undefined> {
    if (!GRANT_ID.test(grantId)) return undefined;
    const payload = (await grants.find(grantId)) as GrantPayload | undefined;
    return payload?.accountId === userId ? payload : undefined;
  }

  /** The sid of the live SSO session the grant was made in, if any (for back-channel logout). */
  async function sidOf(userId: string, grantId: string): Promise<string | undefined> {
    for (const session of await sessions.list(userId)) {
      const uid = session.oidc?.sessionUid;
      if (session.kind !== 'oidc' || !session.is_active || typeof uid !== 'string') continue;
      const found = await storage.findSessionByUid(uid);
      const authorizations = Object.values((found?.payload.authorizations ?? {}) as Record<string, SessionAuthorization>);
      const match = authorizations.find((authorization) => authorization.grantId === grantId);
      if (match) return match.sid;
    }
    return undefined;
  }

  function notify(event: GrantRevokedEvent): void {
    for (const listener of listeners) {
      try {
        Promise.resolve(listener(event)).catch((err: unknown) => log.error({ err, grantId: event.grantId }, 'a grant-revoked listener failed'));
      } catch (err) {
        log.error({ err, grantId: event.grantId }, 'a grant-revoked listener failed');
      }
    }
  }

  return {
    async list(userId: string): Promise<UserGrantView[]> {
      const ids = await storage.grantIdsOfAccount(userId);
      const found = await Promise.all(
        ids.map(async (id): Promise<UserGrantView | undefined> => {
          const payload = (await grants.find(id)) as GrantPayload | undefined;
          // The index may still name a grant that expired or was revoked by another process meanwhile.
          if (!payload || payload.accountId !== userId || typeof payload.clientId !== 'string') return undefined;
          const use = await store.get<GrantUse>(grantUsedKey(id));
          return {
            id,
            client_id: payload.clientId,
            client_name: await clientName(payload.clientId, use),
            scopes: scopesOf(payload),
            created_at: iso(payload.iat) ?? new Date(0).toISOString(),
            last_used_at: iso(use?.at),
          };
        }),
      );
      return found.filter((grant): grant is UserGrantView => grant !== undefined).sort((a, b) => b.created_at.localeCompare(a.created_at) || a.id.localeCompare(b.id));
    },

    async revoke(userId: string, grantId: string): Promise<boolean> {
      const payload = await grantOf(userId, grantId);
      if (!payload || typeof payload.clientId !== 'string') return false;
      // Looked up before the revocation; a failure to find it must not keep the grant alive.
      const sid = await sidOf(userId, grantId).catch((err: unknown) => {
        log.warn({ err, grantId }, 'could not find the session of a grant being revoked');
        return undefined;
      });
      await storage.revokeGrant(grantId);
      await store.delete(grantUsedKey(grantId));
      notify({ accountId: userId, clientId: payload.clientId, grantId, ...(sid ? { sid } : {}) });
      return true;
    },

    onGrantRevoked(listener: GrantRevokedListener): void {
      listeners.push(listener);
    },

    /** Records each token response's grant as used (registered once, by dependencies.ts). */
    trackUse(): void {
      provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
        const grantId = ctx.oidc.entities.Grant?.jti;
        if (!grantId) return;
        const use: GrantUse = { at: Math.floor(Date.now() / 1000), client_name: ctx.oidc.client?.clientName ?? null };
        // After the response is decided: a failed write only loses a "last used" time.
        store.set(grantUsedKey(grantId), use, options.grantTtlSeconds).catch((err: unknown) => log.warn({ err }, 'could not record the use of a grant'));
      });
    },
  };
}

export type UserGrantService = ReturnType<typeof createUserGrants>;
