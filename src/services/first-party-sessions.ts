/**
 * Sessions of this provider's own front ends (the admin console, the account pages). A user signs in
 * through this provider's own OIDC login; the front end then keeps a small record in the shared store (so
 * every server process knows it), named by a random cookie value of which the store only holds the hash.
 * The record points at the OIDC grant the login produced: when that grant goes (the user's sessions
 * revoked, the user deactivated), so does the front-end session. Each front end has its own key prefix.
 */
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.ts';
import { hashToken, isOpaqueToken, newOpaqueToken } from './secret-tokens.ts';

export interface PendingFirstPartyLogin {
  verifier: string;
  nonce: string;
  return_to: string;
}

export interface FirstPartySession {
  user_id: string;
  grant_id: string;
  /** For RP-initiated logout (id_token_hint). */
  id_token: string;
  /** The synchronizer token every form carries. */
  csrf: string;
  /** The shared session (sessions.ts, kind `oidc`) of the SSO login this sign-in came from, when known. */
  shared_session_id?: string;
  created_at: string;
  expires_at: string;
}

export interface FirstPartySessionOptions {
  store: Store;
  /** Names this front end's keys in the store, e.g. `admin-console`. */
  keyPrefix: string;
  /** Absolute lifetime of a session; default 8 hours (a working day). */
  ttlSeconds?: number;
  /** How long a started sign-in may take; default 10 minutes. */
  loginTtlSeconds?: number;
  now?: () => number;
}

export function createFirstPartySessions(options: FirstPartySessionOptions) {
  const { store, keyPrefix } = options;
  const now = options.now ?? Date.now;
  const ttl = options.ttlSeconds ?? 8 * 3600;
  const loginTtl = options.loginTtlSeconds ?? 600;
  const loginKey = (state: string): string => `${keyPrefix}:login:${hashToken(state)}`;
  const sessionKey = (id: string): string => `${keyPrefix}:session:${hashToken(id)}`;

  return {
    ttlSeconds: ttl,

    /** A new sign-in: the state (for the cookie and the request) and the PKCE verifier and nonce kept server-side. */
    async startLogin(returnTo: string): Promise<{ state: string } & PendingFirstPartyLogin> {
      const state = newOpaqueToken();
      const pending: PendingFirstPartyLogin = { verifier: randomBytes(48).toString('base64url'), nonce: newOpaqueToken(), return_to: returnTo };
      await store.set(loginKey(state), pending, loginTtl);
      return { state, ...pending };
    },

    /** Uses up a pending sign-in; undefined when unknown, expired or already used. */
    async finishLogin(state: unknown): Promise<PendingFirstPartyLogin | undefined> {
      if (!isOpaqueToken(state)) return undefined;
      const pending = await store.get<PendingFirstPartyLogin>(loginKey(state));
      if (!pending) return undefined;
      // Single use: of two callbacks with one state, only the one that deletes it first goes on.
      if (!(await store.compareAndSet(loginKey(state), pending, { ...pending, verifier: '' }, 1))) return undefined;
      return pending.verifier ? pending : undefined;
    },

    async create(input: { userId: string; grantId: string; idToken: string; sharedSessionId?: string }): Promise<{ id: string; session: FirstPartySession }> {
      const id = newOpaqueToken();
      const at = now();
      const session: FirstPartySession = {
        user_id: input.userId,
        grant_id: input.grantId,
        id_token: input.idToken,
        csrf: newOpaqueToken(),
        ...(input.sharedSessionId ? { shared_session_id: input.sharedSessionId } : {}),
        created_at: new Date(at).toISOString(),
        expires_at: new Date(at + ttl * 1000).toISOString(),
      };
      await store.set(sessionKey(id), session, ttl);
      return { id, session };
    },

    async get(id: unknown): Promise<FirstPartySession | undefined> {
      if (!isOpaqueToken(id)) return undefined;
      const session = await store.get<FirstPartySession>(sessionKey(id));
      return session && Date.parse(session.expires_at) > now() ? session : undefined;
    },

    async delete(id: unknown): Promise<void> {
      if (isOpaqueToken(id)) await store.delete(sessionKey(id));
    },
  };
}

export type FirstPartySessions = ReturnType<typeof createFirstPartySessions>;
