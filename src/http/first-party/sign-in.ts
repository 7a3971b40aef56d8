/**
 * How a person gets into this provider's own front ends (the admin console, the account pages): through
 * this provider's own OIDC login, as any relying party would (authorization code + PKCE, state, nonce),
 * with the front end as a first-party public client. The code is exchanged at our own token endpoint over
 * loopback, so the ID token comes straight from the issuer; it is still checked (signature, issuer,
 * audience, nonce). The front-end session then lives as long as the OIDC grant it came from, and only
 * while the user is active and may enter (the console: admins only).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type Provider from 'oidc-provider';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { Config } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import type { AccountService, AccountView } from '../../services/accounts/accounts.ts';
import type { FirstPartySession, FirstPartySessions } from '../../services/first-party-sessions.ts';
import type { FirstPartyClient } from '../../services/first-party-clients.ts';
import type { KeyService } from '../../services/keys.ts';
import { setNoStore } from '../middleware/no-store.ts';

export interface SignedIn {
  sessionId: string;
  session: FirstPartySession;
  account: AccountView;
}

declare module 'koa' {
  interface DefaultState {
    /** The admin console's signed-in admin. */
    console?: SignedIn;
    /** The account pages' signed-in user. */
    account?: SignedIn;
  }
}

/** Why a callback did not sign anyone in, for the front end's own wording. */
export type SignInFailure = 'expired' | 'cancelled' | 'invalid' | 'unverified' | 'incomplete';

/** The pages a front end shows around its sign-in, in its own look and words. */
export interface SignInPages {
  /** 400: the callback does not belong to a sign-in this browser started, or it was cancelled or failed. */
  failed(ctx: Context, reason: SignInFailure, retryHref: string): Promise<void>;
  /** 403 at the callback: signed in at the provider, but not allowed here. `signOutHref` ends that SSO session. */
  refused(ctx: Context, account: AccountView | undefined, signOutHref: string): Promise<void>;
  /** 403 on a live session whose user may no longer enter. */
  forbidden(ctx: Context, state: SignedIn): Promise<void>;
  /** 403: a form without this session's token. */
  formExpired(ctx: Context): Promise<void>;
  /** 200: back from the provider's end-session page. */
  signedOut(ctx: Context, signInHref: string): Promise<void>;
}

export interface FirstPartySignInOptions {
  config: Pick<Config, 'publicUrl' | 'issuer' | 'host' | 'port'>;
  provider: Provider;
  client: FirstPartyClient;
  /** Where ctx.state keeps the signed-in user. */
  stateKey: 'console' | 'account';
  cookieName: string;
  /** Where a sign-in goes when it was not started from a page (and where the guard sends POSTs). */
  landing: string;
  /** Revokes an OIDC grant with its tokens (the OIDC storage's). */
  revokeGrant: (grantId: string) => Promise<void>;
  sessions: FirstPartySessions;
  accounts: Pick<AccountService, 'getById'>;
  keys: Pick<KeyService, 'load'>;
  /** Who may enter (besides being active): the console asks for the admin role. */
  mayEnter: (account: AccountView) => boolean;
  /** The shared session (kind `oidc`) of the SSO session with this uid, so pages can tell which one is "this". */
  sharedSessionOf?: (userId: string, ssoSessionUid: string) => Promise<string | undefined>;
  /** After a sign-in (the console audits it). */
  onSignedIn?: (ctx: Context, userId: string) => Promise<void>;
  pages: SignInPages;
  logger: Logger;
}

/** Where this process itself answers, for the back-channel code exchange. */
export function loopbackUrl(config: Pick<Config, 'host' | 'port'>): string {
  const host = ['0.0.0.0', '::', ''].includes(config.host) ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;
  return `http://${host}:${config.port}`;
}

/** Only a path inside the front end may be returned to (no open redirect). */
export function safeReturnTo(value: unknown, basePath: string, fallback: string): string {
  if (typeof value !== 'string' || value.length > 2000 || !value.startsWith(basePath)) return fallback;
  const rest = value.slice(basePath.length);
  return (rest === '' || /^[/?][^\s\\]*$/.test(rest)) && !value.startsWith('//') && !value.includes('/../') && !rest.startsWith('//') ? value : fallback;
}

function sameToken(a: string | undefined, b: string): boolean {
  if (!a) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(a), digest(b));
}

class SignInFailed extends Error {
  readonly reason: SignInFailure;
  constructor(reason: SignInFailure) {
    super(reason);
    this.reason = reason;
  }
}

export function createFirstPartySignIn(options: FirstPartySignInOptions) {
  const { config, provider, client, sessions, accounts, pages, stateKey } = options;
  const base = client.basePath;
  const log = options.logger.child({ component: `first-party:${client.clientId}` });
  const redirectUri = `${config.publicUrl}${base}/callback`;
  const loginCookie = `${options.cookieName}_login`;
  const https = config.publicUrl.startsWith('https:');
  const returnTo = (value: unknown) => safeReturnTo(value, base, options.landing);

  function cookieOptions(maxAgeMs: number) {
    return { httpOnly: true, sameSite: 'lax' as const, secure: https, path: base, maxAge: maxAgeMs, overwrite: true };
  }

  function clearCookie(ctx: Context, name: string): void {
    ctx.cookies.set(name, null, { ...cookieOptions(0), maxAge: undefined });
  }

  async function exchange(code: string, verifier: string): Promise<{ accessToken: string; idToken: string }> {
    const res = await fetch(`${loopbackUrl(config)}/oidc/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: client.clientId, code_verifier: verifier }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await res.json().catch(() => ({}))) as { access_token?: unknown; id_token?: unknown; error?: unknown };
    if (res.status !== 200 || typeof body.access_token !== 'string' || typeof body.id_token !== 'string') {
      log.warn({ status: res.status, error: body.error }, 'first-party sign-in: code exchange failed');
      throw new SignInFailed('incomplete');
    }
    return { accessToken: body.access_token, idToken: body.id_token };
  }

  async function subjectOf(idToken: string, nonce: string): Promise<string> {
    const jwks = createLocalJWKSet((await options.keys.load()).publicJwks);
    try {
      const { payload } = await jwtVerify(idToken, jwks, { issuer: config.issuer, audience: client.clientId, algorithms: ['RS256', 'ES256'] });
      if (payload.nonce !== nonce || typeof payload.sub !== 'string') throw new Error('nonce or sub mismatch');
      return payload.sub;
    } catch (err) {
      log.warn({ reason: (err as Error).message }, 'first-party sign-in: ID token refused');
      throw new SignInFailed('unverified');
    }
  }

  function toLogin(ctx: Context, target: string): void {
    ctx.status = 303;
    ctx.redirect(`${base}/login?return_to=${encodeURIComponent(target)}`);
  }

  /** The session, if the browser has a live one: its grant still exists and its user is active. */
  async function loadSession(ctx: Context): Promise<SignedIn | undefined> {
    const sessionId = ctx.cookies.get(options.cookieName);
    if (!sessionId) return undefined;
    const session = await sessions.get(sessionId);
    // The grant is gone when the user's sessions were revoked or the user deactivated: so is this session.
    const grant = session ? await provider.Grant.find(session.grant_id) : undefined;
    const account = session && grant ? await accounts.getById(session.user_id) : undefined;
    if (!session || !account || account.status !== 'active') {
      await sessions.delete(sessionId);
      clearCookie(ctx, options.cookieName);
      return undefined;
    }
    return { sessionId, session, account };
  }

  /** Signed-in users who may enter: anyone else is sent to sign in (GET: back to this page afterwards). */
  const requireSignedIn: Middleware = async (ctx, next) => {
    const state = await loadSession(ctx);
    if (!state) {
      toLogin(ctx, ctx.method === 'GET' ? ctx.originalUrl : options.landing);
      return;
    }
    if (!options.mayEnter(state.account)) {
      await pages.forbidden(ctx, state);
      return;
    }
    ctx.state[stateKey] = state;
    await next();
  };

  /** Every state-changing request carries the session's synchronizer token. */
  const checkCsrf: Middleware = async (ctx, next) => {
    if (ctx.method !== 'POST') return next();
    const body = (ctx.request as { body?: unknown }).body as Record<string, unknown> | undefined;
    const presented = typeof body?.csrf === 'string' ? body.csrf : undefined;
    const state = ctx.state[stateKey];
    if (!state || !sameToken(presented, state.session.csrf)) {
      await pages.formExpired(ctx);
      return;
    }
    await next();
  };

  /** The shared session this sign-in belongs to, found through the SSO session its token was issued in. */
  async function sharedSession(userId: string, accessToken: string): Promise<string | undefined> {
    if (!options.sharedSessionOf) return undefined;
    const token = await provider.AccessToken.find(accessToken);
    const uid = (token as { sessionUid?: unknown } | undefined)?.sessionUid;
    return typeof uid === 'string' ? options.sharedSessionOf(userId, uid) : undefined;
  }

  function routes(router: Router): void {
    router.get(`${base}/login`, async (ctx) => {
      const target = returnTo(ctx.query.return_to);
      const existing = await sessions.get(ctx.cookies.get(options.cookieName));
      if (existing) {
        ctx.status = 303;
        ctx.redirect(target);
        return;
      }
      const { state, verifier, nonce } = await sessions.startLogin(target);
      ctx.cookies.set(loginCookie, state, cookieOptions(10 * 60 * 1000));
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const params = new URLSearchParams({
        client_id: client.clientId,
        response_type: 'code',
        scope: client.scope,
        redirect_uri: redirectUri,
        state,
        nonce,
        code_challenge: challenge,
        code_challenge_method: 'S256',
      });
      // The language the front end was asked in carries over to the login page.
      if (typeof ctx.query.ui_locales === 'string' && /^[A-Za-z0-9 -]{1,64}$/.test(ctx.query.ui_locales)) params.set('ui_locales', ctx.query.ui_locales);
      setNoStore(ctx);
      ctx.status = 303;
      ctx.redirect(`${config.issuer}/auth?${params.toString()}`);
    });

    router.get(`${base}/callback`, async (ctx) => {
      const state = typeof ctx.query.state === 'string' ? ctx.query.state : '';
      const expected = ctx.cookies.get(loginCookie);
      clearCookie(ctx, loginCookie);
      const again = `${base}/login`;
      // The state must be the one this browser started with (no login CSRF), and unused.
      const pending = expected && sameToken(expected, state) ? await sessions.finishLogin(state) : undefined;
      if (!pending) {
        await pages.failed(ctx, 'expired', again);
        return;
      }
      if (typeof ctx.query.error === 'string') {
        await pages.failed(ctx, 'cancelled', again);
        return;
      }
      const code = typeof ctx.query.code === 'string' ? ctx.query.code : '';
      const iss = ctx.query.iss;
      try {
        if (!code || (iss !== undefined && iss !== config.issuer)) throw new SignInFailed('invalid');
        const { accessToken, idToken } = await exchange(code, pending.verifier);
        const userId = await subjectOf(idToken, pending.nonce);
        const grantId = (await provider.AccessToken.find(accessToken))?.grantId;
        if (!grantId) throw new SignInFailed('incomplete');
        const account = await accounts.getById(userId);
        if (!account || account.status !== 'active' || !options.mayEnter(account)) {
          // Not for this front end: do not leave a grant behind.
          await options.revokeGrant(grantId);
          await pages.refused(ctx, account, `${config.issuer}/session/end?client_id=${encodeURIComponent(client.clientId)}`);
          return;
        }
        const sharedSessionId = await sharedSession(userId, accessToken);
        const { id } = await sessions.create({ userId, grantId, idToken, sharedSessionId });
        ctx.cookies.set(options.cookieName, id, cookieOptions(sessions.ttlSeconds * 1000));
        await options.onSignedIn?.(ctx, userId);
        ctx.status = 303;
        ctx.redirect(pending.return_to);
      } catch (err) {
        if (!(err instanceof SignInFailed)) throw err;
        await pages.failed(ctx, err.reason, again);
      }
    });

    router.post(`${base}/logout`, async (ctx, next) => {
      const state = await loadSession(ctx);
      if (!state) {
        ctx.status = 303;
        ctx.redirect(`${base}/signed-out`);
        return;
      }
      ctx.state[stateKey] = state;
      await next();
    }, checkCsrf, async (ctx) => {
      const state = ctx.state[stateKey] as SignedIn;
      await sessions.delete(state.sessionId);
      await options.revokeGrant(state.session.grant_id);
      clearCookie(ctx, options.cookieName);
      // Then end the SSO session too (the provider asks the user to confirm).
      const params = new URLSearchParams({
        client_id: client.clientId,
        id_token_hint: state.session.id_token,
        post_logout_redirect_uri: `${config.publicUrl}${base}/signed-out`,
      });
      ctx.status = 303;
      ctx.redirect(`${config.issuer}/session/end?${params.toString()}`);
    });

    router.get(`${base}/signed-out`, async (ctx) => {
      await pages.signedOut(ctx, `${base}/login`);
    });
  }

  /** Ends this browser's front-end session here (after the account itself went, say); no redirect. */
  async function forget(ctx: Context): Promise<void> {
    await sessions.delete(ctx.cookies.get(options.cookieName));
    clearCookie(ctx, options.cookieName);
    ctx.state[stateKey] = undefined;
  }

  return { routes, requireSignedIn, checkCsrf, loadSession, forget };
}

export type FirstPartySignIn = ReturnType<typeof createFirstPartySignIn>;
