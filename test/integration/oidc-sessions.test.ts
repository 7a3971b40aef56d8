/**
 * One session store for both doors (CONTRACT §5), in both directions: an OIDC browser login is a
 * session of kind `oidc` in the user's list; revoking it (one session, a password change, a
 * deactivation) ends the SSO session and revokes its grants; ending the SSO session removes the entry.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { MODES } from '../helpers/app.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { authorize, CLIENTS, RP, startOidcEnv, type OidcEnv, type TestUser } from '../e2e/helpers/oidc-env.ts';

async function fails(promise: Promise<unknown>): Promise<boolean> {
  try {
    await promise;
    return false;
  } catch {
    return true;
  }
}

for (const mode of MODES) {
  describe(`OIDC logins in the shared session list (${mode.name})`, function () {
    this.timeout(30_000);
    let env: OidcEnv;
    let spa: oidc.Configuration;
    let confidential: oidc.Configuration;
    let counter = 0;

    before(async () => {
      env = await startOidcEnv({ database: mode.database, store: mode.store });
      [spa, confidential] = await Promise.all([env.discover('spa'), env.discover('confidential')]);
    });
    after(async () => env?.close());

    /** A fresh user signed in to the first-party SPA with offline access, in its own browser. */
    async function signIn(user?: TestUser) {
      counter += 1;
      const who = user ?? (await env.createUser(`user${counter}`));
      const agent = new UserAgent();
      const run = await authorize(agent, spa, {
        redirectUri: CLIENTS.spa.redirect_uris[0],
        scope: 'openid offline_access',
        user: { login: who.email, password: who.password },
      });
      const tokens = await oidc.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
      return { user: who, agent, tokens };
    }

    async function stillSignedIn(agent: UserAgent): Promise<boolean> {
      const run = await authorize(agent, spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid', extra: { prompt: 'none' } });
      return run.callback.searchParams.has('code');
    }

    const oidcSessions = async (userId: string) => (await env.server.deps.sessions.list(userId)).filter((session) => session.kind === 'oidc');

    it('lists a browser login as a session of kind oidc with the client, IP and user agent, once per SSO session', async () => {
      const { user, agent } = await signIn();
      const sessions = await oidcSessions(user.id);
      expect(sessions).to.have.length(1);
      expect(sessions[0]).to.include({ kind: 'oidc', client_id: CLIENTS.spa.client_id, ip_address: '127.0.0.1', user_id: user.id });
      expect(sessions[0]?.user_agent).to.be.a('string');
      // Another client in the same SSO session, and a forced re-login, are still that one session.
      await authorize(agent, confidential, { redirectUri: CLIENTS.confidential.redirect_uris[0], scope: 'openid', consent: 'approve' });
      await authorize(agent, spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid', user: { login: user.email, password: user.password }, extra: { prompt: 'login' } });
      expect(await oidcSessions(user.id)).to.have.length(1);
      // A second browser is a second session.
      await signIn(user);
      expect(await oidcSessions(user.id)).to.have.length(2);
    });

    it('revoking the oidc session ends the SSO session and revokes its grants, offline ones included', async () => {
      const { user, agent, tokens } = await signIn();
      const [session] = await oidcSessions(user.id);
      expect(await stillSignedIn(agent)).to.equal(true);

      expect(await env.server.deps.sessions.revoke(user.id, session?.session_id as string, 'revoked')).to.equal(true);
      expect(await stillSignedIn(agent), 'the browser must sign in again').to.equal(false);
      expect(await fails(oidc.refreshTokenGrant(spa, tokens.refresh_token as string)), 'refresh token revoked').to.equal(true);
      expect(await fails(oidc.fetchUserInfo(spa, tokens.access_token, user.id)), 'access token revoked').to.equal(true);
      expect(await oidcSessions(user.id)).to.have.length(0);
    });

    it('a password change revokes every OIDC grant and SSO session of the user, offline grants that outlived their session too', async () => {
      const first = await signIn();
      const second = await signIn(first.user);
      // A third login whose SSO session has already ended (as when it expires): its offline grant remains.
      const before = new Set((await oidcSessions(first.user.id)).map((session) => session.session_id));
      const third = await signIn(first.user);
      const thirdSession = (await oidcSessions(first.user.id)).find((session) => !before.has(session.session_id));
      const ssoUid = thirdSession?.oidc?.sessionUid;
      expect(ssoUid).to.be.a('string');
      const sso = await env.server.deps.oidc.storage.findSessionByUid(ssoUid as string);
      await env.server.deps.oidc.storage.destroySession(sso?.ref as string, sso?.payload as Record<string, unknown>);
      expect(await fails(oidc.refreshTokenGrant(spa, third.tokens.refresh_token as string)), 'offline access outlives the SSO session').to.equal(false);

      await env.server.deps.accounts.changePassword(
        first.user.id,
        { currentPassword: first.user.password, newPassword: 'a brand new password' },
        { door: 'auth-service' },
      );
      for (const { agent, tokens } of [first, second]) {
        expect(await stillSignedIn(agent)).to.equal(false);
        expect(await fails(oidc.refreshTokenGrant(spa, tokens.refresh_token as string))).to.equal(true);
      }
      expect(await fails(oidc.refreshTokenGrant(spa, third.tokens.refresh_token as string)), 'the orphaned offline grant too').to.equal(true);
      expect(await oidcSessions(first.user.id)).to.have.length(0);
    });

    it('deactivating the user revokes the OIDC grants, and the login page then refuses the account', async () => {
      const { user, agent, tokens } = await signIn();
      await env.server.deps.accounts.setStatus(user.id, 'suspended', { door: 'admin' });
      expect(await stillSignedIn(agent)).to.equal(false);
      expect(await fails(oidc.refreshTokenGrant(spa, tokens.refresh_token as string))).to.equal(true);

      const fresh = new UserAgent();
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(spa, {
        redirect_uri: CLIENTS.spa.redirect_uris[0],
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const page = await fresh.open(url.href);
      const answer = await fresh.submit(page, '/login', { login: user.email, password: user.password });
      expect(answer.status).to.equal(403);
      expect(answer.body).to.include('This account is not active');
    });

    it('ending the SSO session at end_session removes its entry from the session list', async () => {
      const { user, agent, tokens } = await signIn();
      expect(await oidcSessions(user.id)).to.have.length(1);
      const url = oidc.buildEndSessionUrl(spa, { id_token_hint: tokens.id_token as string, post_logout_redirect_uri: CLIENTS.spa.post_logout_redirect_uris[0] });
      const confirm = await agent.open(url.href);
      await agent.submit(confirm, '/session/end/confirm', { logout: 'yes' }, RP.spa);
      expect(await oidcSessions(user.id)).to.have.length(0);
      expect(await stillSignedIn(agent)).to.equal(false);
    });
  });
}
