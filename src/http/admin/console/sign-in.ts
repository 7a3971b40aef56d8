/**
 * How an admin gets into the console: through this provider's own OIDC login, as any relying party
 * would (authorization code + PKCE, state, nonce), with the console as a first-party public client.
 * The code is exchanged at our own token endpoint over loopback, so the ID token comes straight from
 * the issuer; it is still checked (signature, issuer, audience, nonce). The console session then
 * lives as long as the OIDC grant it came from, and only while the user is an active admin.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Config } from '../../../config.ts';
import type { Logger } from '../../../logger.ts';
import type { AccountService, AccountView } from '../../../services/accounts/accounts.ts';
import type { AdminConsoleSessions, ConsoleSession } from '../../../services/admin-console-sessions.ts';
import { CONSOLE_CLIENT_ID, CONSOLE_SCOPE } from '../../../services/admin-console-client.ts';
import type { AdminAuditService } from '../../../services/admin/audit.ts';
import type { KeyService } from '../../../services/keys.ts';
import { adminContext } from '../auth.ts';
import type { ConsolePages } from './pages.ts';
import { setNoStore } from '../../middleware/no-store.ts';

export const SESSION_COOKIE = 'idp_admin';
const LOGIN_COOKIE = 'idp_admin_login';
const COOKIE_PATH = '/admin';

export interface ConsoleState {
  sessionId: string;
  session: ConsoleSession;
  account: AccountView;
}

declare module 'koa' {
  interface DefaultState {
    console?: ConsoleState;
  }
}

export interface SignInOptions {
  config: Pick<Config, 'publicUrl' | 'issuer' | 'host' | 'port' | 'admin'>;
  provider: Provider;
  /** Revokes an OIDC grant with its tokens (the OIDC storage's). */
  revokeGrant: (grantId: string) => Promise<void>;
  consoleSessions: AdminConsoleSessions;
  accounts: Pick<AccountService, 'getById'>;
  keys: Pick<KeyService, 'load'>;
  adminAudit: Pick<AdminAuditService, 'record'>;
  pages: ConsolePages;
  logger: Logger;
}

/** Where this process itself answers, for the back-channel code exchange. */
export function loopbackUrl(config: Pick<Config, 'host' | 'port'>): string {
  const host = ['0.0.0.0', '::', ''].includes(config.host) ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

/** Only a path inside the console may be returned to (no open redirect). */
export function safeReturnTo(value: unknown): string {
  if (typeof value !== 'string' || value.length > 2000) return '/admin/users';
  return /^\/admin(?:[/?][^\s\\]*)?$/.test(value) && !value.startsWith('//') && !value.includes('/../') ? value : '/admin/users';
}

function sameToken(a: string | undefined, b: string): boolean {
  if (!a) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

class SignInFailed extends Error {}

export function createSignIn(options: SignInOptions) {
  const { config, provider, consoleSessions, accounts, pages } = options;
  const log = options.logger.child({ component: 'admin-console' });
  const redirectUri = `${config.publicUrl}/admin/callback`;
  const https = config.publicUrl.startsWith('https:');

  function cookieOptions(ctx: Context, maxAgeMs: number) {
    return { httpOnly: true, sameSite: 'lax' as const, secure: https, path: COOKIE_PATH, maxAge: maxAgeMs, overwrite: true };
  }

  function clearCookie(ctx: Context, name: string): void {
    ctx.cookies.set(name, null, { ...cookieOptions(ctx, 0), maxAge: undefined });
  }

  async function exchange(code: string, verifier: string): Promise<{ accessToken: string; idToken: string }> {
    const res = await fetch(`${loopbackUrl(config)}/oidc/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: CONSOLE_CLIENT_ID, code_verifier: verifier }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; id_token?: unknown; error?: unknown };
    if (res.status !== 200 || typeof body.access_token !== 'string' || typeof body.id_token !== 'string') {
      log.warn({ status: res.status, error: body.error }, 'admin console: code exchange failed');
      throw new SignInFailed('The sign-in could not be completed.');
    }
    return { accessToken: body.access_token, idToken: body.id_token };
  }

  async function subjectOf(idToken: string, nonce: string): Promise<string> {
    const jwks = createLocalJWKSet((await options.keys.load()).publicJwks);
    try {
      const { payload } = await jwtVerify(idToken, jwks, { issuer: config.issuer, audience: CONSOLE_CLIENT_ID, algorithms: ['RS256', 'ES256'] });
      if (payload.nonce !== nonce || typeof payload.sub !== 'string') throw new Error('nonce or sub mismatch');
      return payload.sub;
    } catch (err) {
      log.warn({ reason: (err as Error).message }, 'admin console: ID token refused');
      throw new SignInFailed('The sign-in could not be verified.');
    }
  }

  function toLogin(ctx: Context, returnTo: string): void {
    ctx.status = 303;
    ctx.redirect(`/admin/login?return_to=${encodeURIComponent(returnTo)}`);
  }

  /** The console session, if the browser has a live one: its grant still exists and its user is active. */
  async function loadSession(ctx: Context): Promise<ConsoleState | undefined> {
    const sessionId = ctx.cookies.get(SESSION_COOKIE);
    if (!sessionId) return undefined;
    const session = await consoleSessions.get(sessionId);
    // The grant is gone when the user's sessions were revoked or the user deactivated: so is the console session.
    const grant = session ? await provider.Grant.find(session.grant_id) : undefined;
    const account = session && grant ? await accounts.getById(session.user_id) : undefined;
    if (!session || !account || account.status !== 'active') {
      await consoleSessions.delete(sessionId);
      clearCookie(ctx, SESSION_COOKIE);
      return undefined;
    }
    return { sessionId, session, account };
  }

  /** Admins only: anyone else is sent to sign in (GET: back to this page afterwards) or told they are not an admin. */
  const requireConsoleAdmin: Middleware = async (ctx, next) => {
    const state = await loadSession(ctx);
    if (!state) {
      toLogin(ctx, ctx.method === 'GET' ? ctx.originalUrl : '/admin/users');
      return;
    }
    if (!state.account.roles.includes(config.admin.role)) {
      await pages.message(ctx, 403, { title: 'Not an admin', heading: 'Admins only', message: `${state.account.email} does not have the ${config.admin.role} role.`, signOut: state.session.csrf });
      return;
    }
    ctx.state.console = state;
    await next();
  };

  /** Every state-changing console request carries the session's synchronizer token. */
  const checkCsrf: Middleware = async (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    const body = (ctx.request as { body?: unknown }).body as Record<string, unknown> | undefined;
    const presented = typeof body?.csrf === 'string' ? body.csrf : undefined;
    if (!ctx.state.console || !sameToken(presented, ctx.state.console.session.csrf)) {
      await pages.message(ctx, 403, { title: 'Form expired', heading: 'This form has expired', message: 'Reload the page and try again.', tone: 'error' });
      return;
    }
    await next();
  };

  function routes(router: Router): void {
    router.get('/admin/login', async (ctx) => {
      const returnTo = safeReturnTo(ctx.query.return_to);
      const existing = await consoleSessions.get(ctx.cookies.get(SESSION_COOKIE));
      if (existing) {
        ctx.status = 303;
        ctx.redirect(returnTo);
        return;
      }
      const { state, verifier, nonce } = await consoleSessions.startLogin(returnTo);
      ctx.cookies.set(LOGIN_COOKIE, state, cookieOptions(ctx, 10 * 60 * 1000));
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const params = new URLSearchParams({
        client_id: CONSOLE_CLIENT_ID,
        response_type: 'code',
        scope: CONSOLE_SCOPE,
        redirect_uri: redirectUri,
        state,
        nonce,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      setNoStore(ctx);
      ctx.status = 303;
      ctx.redirect(`${config.issuer}/auth?${params.toString()}`);
    });

    router.get('/admin/callback', async (ctx) => {
      const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
      const expected = ctx.cookies.get(LOGIN_COOKIE);
      clearCookie(ctx, LOGIN_COOKIE);
      const again = { href: '/admin/login', label: 'Sign in again' };
      // The state must be the one this browser started with (no login CSRF), and unused.
      const pending = expected && sameToken(expected, state) ? await consoleSessions.finishLogin(state) : undefined;
      if (!pending) {
        await pages.message(ctx, 400, { title: 'Sign-in expired', heading: 'This sign-in has expired', message: 'Start again from the sign-in link.', link: again, tone: 'error' });
        return;
      }
      if (typeof ctx.query.error === 'string') {
        await pages.message(ctx, 400, { title: 'Not signed in', heading: 'You are not signed in', message: 'The sign-in was cancelled or refused.', link: again, tone: 'error' });
        return;
      }
      const code = typeof ctx.query.code === 'string' ? ctx.query.code : '';
      const iss = ctx.query.iss;
      try {
        if (!code || (iss !== undefined && iss !== config.issuer)) throw new SignInFailed('The sign-in answer was not valid.');
        const { accessToken, idToken } = await exchange(code, pending.verifier);
        const userId = await subjectOf(idToken, pending.nonce);
        const grantId = (await provider.AccessToken.find(accessToken))?.grantId;
        if (!grantId) throw new SignInFailed('The sign-in could not be completed.');
        const account = await accounts.getById(userId);
        if (!account || account.status !== 'active' || !account.roles.includes(config.admin.role)) {
          // Not for the console: do not leave a grant behind.
          await options.revokeGrant(grantId);
          await pages.message(ctx, 403, {
            title: 'Not an admin',
            heading: 'Admins only',
            message: `${account?.email ?? 'This account'} does not have the ${config.admin.role} role. Sign in with an admin account.`,
            link: { href: `${config.issuer}/session/end?client_id=${CONSOLE_CLIENT_ID}`, label: 'Sign out of this account' },
            tone: 'error',
          });
          return;
        }
        const { id } = await consoleSessions.create({ userId, grantId, idToken });
        ctx.cookies.set(SESSION_COOKIE, id, cookieOptions(ctx, consoleSessions.ttlSeconds * 1000));
        await options.adminAudit.record('console_sign_in', adminContext(ctx, userId), { userId, clientId: CONSOLE_CLIENT_ID });
        ctx.status = 303;
        ctx.redirect(pending.return_to);
      } catch (err) {
        if (!(err instanceof SignInFailed)) throw err;
        await pages.message(ctx, 400, { title: 'Not signed in', heading: 'You are not signed in', message: err.message, link: again, tone: 'error' });
      }
    });

    router.post('/admin/logout', async (ctx, next) => {
      const state = await loadSession(ctx);
      if (!state) {
        ctx.status = 303;
        ctx.redirect('/admin/signed-out');
        return;
      }
      ctx.state.console = state;
      await next();
    }, checkCsrf, async (ctx) => {
      const state = ctx.state.console as ConsoleState;
      await consoleSessions.delete(state.sessionId);
      await options.revokeGrant(state.session.grant_id);
      clearCookie(ctx, SESSION_COOKIE);
      // Then end the SSO session too (the provider asks the user to confirm).
      const params = new URLSearchParams({
        client_id: CONSOLE_CLIENT_ID,
        id_token_hint: state.session.id_token,
        post_logout_redirect_uri: `${config.publicUrl}/admin/signed-out`,
      });
      ctx.status = 303;
      ctx.redirect(`${config.issuer}/session/end?${params.toString()}`);
    });

    router.get('/admin/signed-out', async (ctx) => {
      await pages.message(ctx, 200, { title: 'Signed out', heading: 'You are signed out', message: 'You have left the admin console.', link: { href: '/admin/login', label: 'Sign in again' } });
    });
  }

  return { routes, requireConsoleAdmin, checkCsrf };
}
