/**
 * OpenID Connect end to end, with openid-client (v6, a certified relying-party library) as the client
 * and a cookie-keeping user agent on the login and consent pages. Runs in both MODES.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { MODES } from '../helpers/app.ts';
import { UserAgent } from './helpers/user-agent.ts';
import { authorize, authorizationUrl, CLIENTS, RESOURCE, RP, startOidcEnv, type OidcEnv } from './helpers/oidc-env.ts';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Audit events are written after the response (recording never delays or fails a request): poll for them. */
async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function oauthError(err: unknown): string | undefined {
  if (err instanceof oidc.ResponseBodyError) return err.error;
  if (err instanceof oidc.WWWAuthenticateChallengeError) return err.cause[0]?.parameters.error;
  return undefined;
}

for (const mode of MODES) {
  describe(`OpenID Connect with openid-client as the relying party (${mode.name})`, function () {
    this.timeout(30_000);
    let env: OidcEnv;
    let confidential: oidc.Configuration;
    let spa: oidc.Configuration;
    let service: oidc.Configuration;
    let resourceServer: oidc.Configuration;
    let login: { login: string; password: string };

    before(async () => {
      env = await startOidcEnv({ database: mode.database, store: mode.store });
      [confidential, spa, service, resourceServer] = await Promise.all([
        env.discover('confidential'),
        env.discover('spa'),
        env.discover('service'),
        env.discover('resourceServer'),
      ]);
      login = { login: env.user.username, password: env.user.password };
    });
    after(async () => env?.close());

    it('publishes discovery: issuer $PUBLIC_URL/oidc, the endpoints, code only, S256', () => {
      const metadata = confidential.serverMetadata();
      const base = `${env.server.url}/oidc`;
      expect(metadata.issuer).to.equal(base);
      expect(metadata.authorization_endpoint).to.equal(`${base}/auth`);
      expect(metadata.token_endpoint).to.equal(`${base}/token`);
      expect(metadata.userinfo_endpoint).to.equal(`${base}/me`);
      expect(metadata.jwks_uri).to.equal(`${base}/jwks`);
      expect(metadata.introspection_endpoint).to.equal(`${base}/token/introspection`);
      expect(metadata.revocation_endpoint).to.equal(`${base}/token/revocation`);
      expect(metadata.end_session_endpoint).to.equal(`${base}/session/end`);
      expect(metadata.response_types_supported).to.deep.equal(['code']);
      expect(metadata.code_challenge_methods_supported).to.deep.equal(['S256']);
      expect(metadata.grant_types_supported).to.include.members(['authorization_code', 'refresh_token', 'client_credentials']);
      expect(metadata.scopes_supported).to.include.members(['openid', 'profile', 'email', 'phone', 'roles', 'organization', 'offline_access']);
      expect(metadata.claims_parameter_supported).to.equal(true);
    });

    it('signs a user in to a confidential client with code + PKCE, after the consent page, with the §4 ID token claims', async () => {
      const agent = new UserAgent();
      const run = await authorize(agent, confidential, {
        redirectUri: CLIENTS.confidential.redirect_uris[0],
        scope: 'openid profile email roles organization phone',
        user: login,
        consent: 'approve',
      });
      expect(run.pages.map((page) => (page.body.includes('name="password"') ? 'login' : 'consent'))).to.deep.equal(['login', 'consent']);
      expect(run.pages[1]?.body).to.include('Notes App');
      const tokens = await oidc.authorizationCodeGrant(confidential, run.callback, {
        pkceCodeVerifier: run.verifier,
        expectedState: run.state,
        expectedNonce: run.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims();
      const account = await env.server.deps.accounts.getById(env.user.id);
      expect(claims).to.include({
        iss: env.issuer,
        aud: CLIENTS.confidential.client_id,
        sub: env.user.id,
        nonce: run.nonce,
        email: env.user.email,
        email_verified: false,
        name: 'Alice Tester',
        preferred_username: 'alice',
        phone_number: '+15550100',
        org_id: account?.organization_id,
      });
      expect(claims?.roles).to.deep.equal(['admin', 'editor']);
      expect(claims?.updated_at).to.be.a('number');
      expect(tokens.refresh_token, 'no offline_access, no refresh token').to.equal(undefined);
      // ID tokens are signed with the database key set and verify against the published JWKS.
      const jwks = createRemoteJWKSet(new URL(confidential.serverMetadata().jwks_uri as string));
      const header = decodeProtectedHeader(tokens.id_token as string);
      expect(header.alg).to.equal('RS256');
      const keySet = await env.server.deps.keys.load();
      expect(header.kid).to.equal(keySet.signing.RS256.kid);
      await jwtVerify(tokens.id_token as string, jwks, { issuer: env.issuer, audience: CLIENTS.confidential.client_id });

      const userinfo = await oidc.fetchUserInfo(confidential, tokens.access_token, env.user.id);
      expect(userinfo).to.deep.include({ sub: env.user.id, email: env.user.email, preferred_username: 'alice', roles: ['admin', 'editor'] });
    });

    it('releases only the claims of the granted scopes, and supports the claims parameter', async () => {
      const agent = new UserAgent();
      const run = await authorize(agent, confidential, {
        redirectUri: CLIENTS.confidential.redirect_uris[0],
        scope: 'openid email',
        user: login,
        extra: { claims: JSON.stringify({ userinfo: { phone_number: null } }) },
      });
      const tokens = await oidc.authorizationCodeGrant(confidential, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
      expect(tokens.claims()).to.not.have.any.keys('name', 'roles', 'org_id', 'phone_number');
      const userinfo = await oidc.fetchUserInfo(confidential, tokens.access_token, env.user.id);
      expect(userinfo).to.have.all.keys('sub', 'email', 'email_verified', 'phone_number');
    });

    it('signs a user in to a public first-party client without consent and gives it a refresh token for offline_access', async () => {
      const agent = new UserAgent();
      const run = await authorize(agent, spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid profile offline_access', user: login });
      expect(run.pages, 'only the login page').to.have.length(1);
      const tokens = await oidc.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
      expect(tokens.refresh_token).to.be.a('string');
      expect(tokens.scope?.split(' ')).to.include('offline_access');

      // Still signed in: a second client authorization needs no page at all.
      const again = await authorize(agent, spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid' });
      expect(again.pages).to.have.length(0);
      expect(again.callback.searchParams.get('code')).to.be.a('string');
    });

    it('shows the consent page to a first-party client only when the request says prompt=consent', async () => {
      const agent = new UserAgent();
      const run = await authorize(agent, spa, {
        redirectUri: CLIENTS.spa.redirect_uris[0],
        scope: 'openid email',
        user: login,
        extra: { prompt: 'login consent' },
      });
      expect(run.pages.map((page) => page.body.includes('name="decision"'))).to.deep.equal([false, true]);
    });

    it('rotates a public client refresh token on every use, and a replayed one revokes the whole grant', async () => {
      const agent = new UserAgent();
      const run = await authorize(agent, spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid offline_access', user: login });
      const first = await oidc.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
      const second = await oidc.refreshTokenGrant(spa, first.refresh_token as string);
      expect(second.refresh_token).to.be.a('string').and.not.equal(first.refresh_token);
      const third = await oidc.refreshTokenGrant(spa, second.refresh_token as string);
      await oidc.fetchUserInfo(spa, third.access_token, env.user.id);

      // Replay of the rotated `first` token: refused, and everything of the grant stops working.
      expect(oauthError(await rejection(oidc.refreshTokenGrant(spa, first.refresh_token as string)))).to.equal('invalid_grant');
      expect(oauthError(await rejection(oidc.refreshTokenGrant(spa, third.refresh_token as string)))).to.equal('invalid_grant');
      expect(oauthError(await rejection(oidc.fetchUserInfo(spa, third.access_token, env.user.id)))).to.equal('invalid_token');
      expect(oauthError(await rejection(oidc.fetchUserInfo(spa, second.access_token, env.user.id)))).to.equal('invalid_token');
      const audited = await eventually(
        () => env.server.deps.models.AuditEvent.findAll({ where: { type: 'refresh_reuse', userId: env.user.id } }),
        (rows) => rows.length > 0,
      );
      expect(audited.map((event) => [event.outcome, event.clientId])).to.deep.include(['failure', CLIENTS.spa.client_id]);
    });

    it('refuses a reused authorization code and revokes the tokens issued from it', async () => {
      const agent = new UserAgent();
      const run = await authorize(agent, spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid offline_access', user: login });
      const checks = { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce };
      const tokens = await oidc.authorizationCodeGrant(spa, run.callback, checks);
      expect(oauthError(await rejection(oidc.authorizationCodeGrant(spa, run.callback, checks)))).to.equal('invalid_grant');
      expect(oauthError(await rejection(oidc.fetchUserInfo(spa, tokens.access_token, env.user.id)))).to.equal('invalid_token');
      expect(oauthError(await rejection(oidc.refreshTokenGrant(spa, tokens.refresh_token as string)))).to.equal('invalid_grant');
    });

    it('issues client credentials tokens: opaque and introspectable, or an RFC 9068 JWT for a registered resource', async () => {
      const opaque = await oidc.clientCredentialsGrant(service, {});
      expect(opaque.token_type.toLowerCase()).to.equal('bearer');
      const introspected = await oidc.tokenIntrospection(resourceServer, opaque.access_token);
      expect(introspected).to.include({ active: true, client_id: CLIENTS.service.client_id });

      const jwt = await oidc.clientCredentialsGrant(service, { resource: RESOURCE, scope: 'notes:read' });
      const jwks = createRemoteJWKSet(new URL(service.serverMetadata().jwks_uri as string));
      const { payload, protectedHeader } = await jwtVerify(jwt.access_token, jwks, { issuer: env.issuer, audience: RESOURCE, typ: 'at+jwt' });
      expect(protectedHeader.alg).to.equal('RS256');
      expect(payload).to.include({ client_id: CLIENTS.service.client_id, scope: 'notes:read' });
      expect((payload.exp as number) - (payload.iat as number)).to.equal(600);
    });

    it('issues an RFC 9068 JWT access token for a resource requested in the code flow; other access tokens stay opaque', async () => {
      const agent = new UserAgent();
      const run = await authorize(agent, confidential, {
        redirectUri: CLIENTS.confidential.redirect_uris[0],
        scope: 'openid notes:read',
        user: login,
        extra: { resource: RESOURCE },
      });
      const tokens = await oidc.authorizationCodeGrant(
        confidential,
        run.callback,
        { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce },
        { resource: RESOURCE },
      );
      const jwks = createRemoteJWKSet(new URL(confidential.serverMetadata().jwks_uri as string));
      const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: env.issuer, audience: RESOURCE, typ: 'at+jwt' });
      expect(payload).to.include({ sub: env.user.id, client_id: CLIENTS.confidential.client_id, scope: 'notes:read' });
    });

    it('introspects an access token (active, sub, client_id, scope, exp) and revokes access and refresh tokens', async () => {
      const agent = new UserAgent();
      const run = await authorize(agent, confidential, {
        redirectUri: CLIENTS.confidential.redirect_uris[0],
        scope: 'openid email offline_access',
        user: login,
        extra: { prompt: 'consent' },
      });
      const tokens = await oidc.authorizationCodeGrant(confidential, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
      expect(tokens.refresh_token, 'offline_access after consent').to.be.a('string');

      const active = await oidc.tokenIntrospection(resourceServer, tokens.access_token);
      expect(active).to.include({ active: true, sub: env.user.id, client_id: CLIENTS.confidential.client_id });
      expect(active.scope?.split(' ')).to.include.members(['openid', 'email']);
      expect(active.exp).to.be.a('number');

      await oidc.tokenRevocation(confidential, tokens.access_token);
      expect(await oidc.tokenIntrospection(resourceServer, tokens.access_token)).to.deep.equal({ active: false });

      const refreshed = await oidc.refreshTokenGrant(confidential, tokens.refresh_token as string).catch(() => undefined);
      // Revoking the access token revokes its grant's tokens in oidc-provider; start over for the refresh token.
      expect(refreshed).to.equal(undefined);
      const run2 = await authorize(agent, confidential, { redirectUri: CLIENTS.confidential.redirect_uris[0], scope: 'openid offline_access', extra: { prompt: 'consent' } });
      const tokens2 = await oidc.authorizationCodeGrant(confidential, run2.callback, { pkceCodeVerifier: run2.verifier, expectedState: run2.state, expectedNonce: run2.nonce });
      expect((await oidc.tokenIntrospection(resourceServer, tokens2.refresh_token as string)).active).to.equal(true);
      await oidc.tokenRevocation(confidential, tokens2.refresh_token as string);
      expect((await oidc.tokenIntrospection(resourceServer, tokens2.refresh_token as string)).active).to.equal(false);
      expect(oauthError(await rejection(oidc.refreshTokenGrant(confidential, tokens2.refresh_token as string)))).to.equal('invalid_grant');
    });

    it('returns access_denied to the relying party when the user denies consent', async () => {
      const agent = new UserAgent();
      const run = await authorize(agent, confidential, {
        redirectUri: CLIENTS.confidential.redirect_uris[0],
        scope: 'openid profile',
        user: login,
        consent: 'deny',
        extra: { prompt: 'consent' },
      });
      expect(run.callback.searchParams.get('error')).to.equal('access_denied');
      expect(run.callback.searchParams.get('state')).to.equal(run.state);
    });

    it('ends the whole SSO session at end_session after the user confirms, then redirects to post_logout_redirect_uri', async () => {
      const agent = new UserAgent();
      const run = await authorize(agent, confidential, { redirectUri: CLIENTS.confidential.redirect_uris[0], scope: 'openid', user: login, extra: { prompt: 'login' } });
      const tokens = await oidc.authorizationCodeGrant(confidential, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
      await authorize(agent, spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid' });

      const url = oidc.buildEndSessionUrl(confidential, {
        id_token_hint: tokens.id_token as string,
        post_logout_redirect_uri: CLIENTS.confidential.post_logout_redirect_uris[0],
        state: 'bye',
      });
      const confirm = await agent.open(url.href);
      expect(confirm.status, 'a confirmation page, never an immediate logout').to.equal(200);
      expect(confirm.body).to.include('name="logout" value="yes"');
      const done = await agent.submit(confirm, '/session/end/confirm', { logout: 'yes' }, RP.confidential);
      expect(done.url).to.equal(`${CLIENTS.confidential.post_logout_redirect_uris[0]}?state=bye`);

      // The whole SSO session is gone: even the other client must sign in again, and the tokens of the session fail.
      const after = await authorize(agent, spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid', extra: { prompt: 'none' } });
      expect(after.callback.searchParams.get('error')).to.equal('login_required');
      expect(oauthError(await rejection(oidc.fetchUserInfo(confidential, tokens.access_token, env.user.id)))).to.equal('invalid_token');
      const logouts = await eventually(
        () => env.server.deps.models.AuditEvent.count({ where: { type: 'logout', outcome: 'success', userId: env.user.id, clientId: CLIENTS.confidential.client_id } }),
        (count) => count > 0,
      );
      expect(logouts).to.be.greaterThan(0);
    });

    it('asks for confirmation at end_session without id_token_hint too', async () => {
      const agent = new UserAgent();
      await authorize(agent, spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid', user: login });
      const confirm = await agent.open(`${env.issuer}/session/end`);
      expect(confirm.status).to.equal(200);
      expect(confirm.body).to.include('Sign out');
    });

    it('refuses an unregistered redirect URI with an error page and no redirect', async () => {
      const url = await authorizationUrl(confidential, 'http://127.0.0.1:7399/evil');
      const response = await fetch(url, { redirect: 'manual' });
      expect(response.status).to.equal(400);
      expect(response.headers.get('location')).to.equal(null);
      const body = await response.text();
      expect(body).to.include('invalid_redirect_uri');
      expect(body).not.to.match(/at \w+ \(|node_modules/);
    });

    it('refuses a public client authorization request without a PKCE challenge', async () => {
      const url = oidc.buildAuthorizationUrl(spa, { redirect_uri: CLIENTS.spa.redirect_uris[0], scope: 'openid', state: 'x' });
      const response = await fetch(url, { redirect: 'manual' });
      const location = new URL(response.headers.get('location') as string);
      expect(location.origin + location.pathname).to.equal(CLIENTS.spa.redirect_uris[0]);
      expect(location.searchParams.get('error')).to.equal('invalid_request');
      expect(location.searchParams.get('error_description')).to.match(/PKCE/);
    });

    it('answers a POST to the authorization endpoint with a 303 to the same request as a GET', async () => {
      const body = new URLSearchParams({ client_id: CLIENTS.spa.client_id, scope: 'openid', response_type: 'code' });
      const response = await fetch(`${env.issuer}/auth`, { method: 'POST', body, redirect: 'manual' });
      expect(response.status).to.equal(303);
      expect(response.headers.get('location')).to.equal(`${env.issuer}/auth?${body.toString()}`);
    });

    it('keeps every cookie HttpOnly and SameSite=Lax and the pages unframeable', async () => {
      const agent = new UserAgent();
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(spa, {
        redirect_uri: CLIENTS.spa.redirect_uris[0],
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const first = await agent.request(url.href);
      const cookies = first.headers.getSetCookie();
      expect(cookies.length).to.be.greaterThan(0);
      for (const cookie of cookies) expect(cookie.toLowerCase()).to.include('httponly').and.include('samesite=lax');
      const page = await agent.follow(first);
      expect(page.headers.get('content-security-policy')).to.include("frame-ancestors 'none'");
      expect(page.headers.get('cache-control')).to.equal('no-store');
    });

    it('allows CORS at the token endpoint for a client\'s registered web origin only', async () => {
      const preflight = (origin: string) =>
        fetch(`${env.issuer}/token`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });
      const allowed = await oidc.refreshTokenGrant(spa, 'not-a-token', undefined, {}).catch((err: unknown) => err);
      expect(oauthError(allowed)).to.equal('invalid_grant');
      const request = (origin: string) =>
        fetch(`${env.issuer}/token`, {
          method: 'POST',
          headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x', client_id: CLIENTS.spa.client_id }),
        });
      expect((await request(RP.spa)).headers.get('access-control-allow-origin')).to.equal(RP.spa);
      expect((await request('https://evil.example')).headers.get('access-control-allow-origin')).to.equal(null);
      expect((await preflight(RP.spa)).status).to.be.lessThan(300);
    });
  });
}
