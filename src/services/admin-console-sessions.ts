/**
 * Sessions of the admin console (/admin). An admin signs in through this provider's own OIDC login; the
 * console then keeps a small record in the shared store (so every server process knows it), named by a
 * random cookie value of which the store only holds the hash. The record points at the OIDC grant the
 * login produced: when that grant goes (the user's sessions revoked, the user deactivated), so does the
 * console session.
 */
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.ts';
import { hashToken, isOpaqueToken, newOpaqueToken } from './secret-tokens.ts';

export interface PendingConsoleLogin {
  verifier: string;
  nonce: string;
  return_to: string;
}

export interface ConsoleSession {
  user_id: string;
  grant_id: string;
  /** For RP-initiated logout (id_token_hint). */
  id_token: string;
  /** The synchronizer token every console form carries. */
  csrf: string;
  created_at: string;
  expires_at: string;
}

export interface ConsoleSessionOptions {
  store: Store;
  /** Absolute lifetime of a console session; default 8 hours (a working day). */
  ttlSeconds?: number;
  /** How long a started sign-in may take; default 10 minutes. */
  loginTtlSeconds?: number;
  now?: () => number;
}

const loginKey = (state: string): string => `admin-console:login:${hashToken(state)}`;
const sessionKey = (id: string): string => `admin-console:session:${hashToken(id)}`;

export function createAdminConsoleSessions(options: ConsoleSessionOptions) {
  const { store } = options;
  const now = options.now ?? Date.now;
  const ttl = options.ttlSeconds ?? 8 * 3600;
  const loginTtl = options.loginTtlSeconds ?? 600;

  return {
    ttlSeconds: ttl,

    /** A new sign-in: the state (for the cookie and the request) and the PKCE verifier and nonce kept server-side. */
    async startLogin(returnTo: string): Promise<{ state: string } & PendingConsoleLogin> {
      const state = newOpaqueToken();
      const pending: PendingConsoleLogin = { verifier: randomBytes(48).toString('base64url'), nonce: newOpaqueToken(), return_to: returnTo };
      await store.set(loginKey(state), pending, loginTtl);
      return { state, ...pending };
    },

    /** Uses up a pending sign-in; undefined when unknown, expired or already used. */
    async finishLogin(state: unknown): Promise<PendingConsoleLogin | undefined> {
      if (!isOpaqueToken(state)) return undefined;
      const pending = await store.get<PendingConsoleLogin>(loginKey(state));
      if (!pending) return undefined;
      // Single use: of two callbacks with one state, only the one that deletes it first goes on.
      if (!(await store.compareAndSet(loginKey(state), pending, { ...pending, verifier: '' }, 1))) return undefined;
      return pending.verifier ? pending : undefined;
    },

    async create(input: { userId: string; grantId: string; idToken: string }): Promise<{ id: string; session: ConsoleSession }> {
      const id = newOpaqueToken();
      const at = now();
      const session: ConsoleSession = {
        user_id: input.userId,
        grant_id: input.grantId,
        id_token: input.idToken,
        csrf: newOpaqueToken(),
        created_at: new Date(at).toISOString(),
        expires_at: new Date(at + ttl * 1000).toISOString(),
      };
      await store.set(sessionKey(id), session, ttl);
      return { id, session };
    },

    async get(id: unknown): Promise<ConsoleSession | undefined> {
      if (!isOpaqueToken(id)) return undefined;
      const session = await store.get<ConsoleSession>(sessionKey(id));
      return session && Date.parse(session.expires_at) > now() ? session : undefined;
    },

    async delete(id: unknown): Promise<void> {
      if (isOpaqueToken(id)) await store.delete(sessionKey(id));
    },
  };
}

export type AdminConsoleSessions = ReturnType<typeof createAdminConsoleSessions>;
