/**
 * A user's grants to applications (CONTRACT §7 `/users/:id/grants`, §10 "Connected apps"): listed with
 * client, scopes and times; revoking one ends its refresh and access tokens, is audited, and tells the
 * grant-revoked listeners (back-channel logout) with the sid of the SSO session it was made in.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { MODES } from '../helpers/app.ts';
import { call, login } from '../helpers/admin-api.ts';
import { createBrowserFetch, formAction, hiddenValue } from '../helpers/browser-fetch.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { authorize, CLIENTS, startOidcEnv, type OidcEnv, type TestUser } from '../e2e/helpers/oidc-env.ts';
import type { GrantRevokedEvent, UserGrantView } from '../../src/services/user-grants.ts';

async function fails(promise: Promise<unknown>): Promise<boolean> {
  try {
    await promise;
    return false;
  } catch {
    return true;
  }
}

for (const mode of MODES) {
  describe(`admin: a user's grants (${mode.name})`, function () {
    this.timeout(60_000);
    let env: OidcEnv;
    let notes: oidc.Configuration;
    let adminToken: string;
    let admin: TestUser;
    const revoked: GrantRevokedEvent[] = [];
    let counter = 0;

    before(async function () {
      this.timeout(90_000);
      env = await startOidcEnv({ database: mode.database, store: mode.store });
      notes = await env.discover('confidential');
      admin = await env.createUser('grantroot', [env.server.deps.config.admin.role]);
      adminToken = await login(env.server, admin.username, admin.password);
      // A listener that fails must not fail the revocation; the one after it still hears of it.
      env.server.deps.userGrants.onGrantRevoked(() => {
        throw new Error('listener failure (expected by the test)');
      });
      env.server.deps.userGrants.onGrantRevoked(async () => Promise.reject(new Error('async listener failure (expected by the test)')));
      env.server.deps.userGrants.onGrantRevoked((event) => {
        revoked.push(event);
      });
    });
    after(async () => env?.close());

    /** A fresh user who consented to the Notes App with offline access; returns its tokens. */
    async function connected() {
      counter += 1;
      const user = await env.createUser(`granter${counter}`);
      const run = await authorize(new UserAgent(), notes, {
        redirectUri: CLIENTS.confidential.redirect_uris[0],
        scope: 'openid email offline_access',
        user: { login: user.email, password: user.password },
        extra: { prompt: 'consent' },
      });
      const tokens = await oidc.authorizationCodeGrant(notes, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
      return { user, tokens };
    }

    const list = (userId: string) => call<{ items: UserGrantView[] }>(env.server, 'GET', `/admin/api/users/${userId}/grants`, { token: adminToken });

    it('GET /users/:id/grants lists the grant with client name, scopes, creation and last use', async () => {
      const started = Math.floor(Date.now() / 1000) * 1000;
      const { user } = await connected();
      const res = await list(user.id);
      expect(res.status).to.equal(200);
      expect(res.body.items).to.have.length(1);
      const [grant] = res.body.items as [UserGrantView];
      expect(Object.keys(grant).sort()).to.deep.equal(['client_id', 'client_name', 'created_at', 'id', 'last_used_at', 'scopes']);
      expect(grant).to.include({ client_id: 'notes-app', client_name: 'Notes App' });
      expect(grant.scopes).to.include.members(['openid', 'email', 'offline_access']);
      expect(Date.parse(grant.created_at)).to.be.at.least(started);
      // The code exchange was a token response from the grant.
      expect(grant.last_used_at).to.be.a('string');
      expect(Date.parse(grant.last_used_at as string)).to.be.at.least(Date.parse(grant.created_at));
    });

    it('DELETE /users/:id/grants/:grantId revokes it: refresh and access tokens fail, audited, listeners told with the sid', async () => {
      const { user, tokens } = await connected();
      const [grant] = (await list(user.id)).body.items as [UserGrantView];
      expect(await fails(oidc.fetchUserInfo(notes, tokens.access_token, user.id)), 'usable before').to.equal(false);

      const res = await call(env.server, 'DELETE', `/admin/api/users/${user.id}/grants/${grant.id}`, { token: adminToken });
      expect(res.status).to.equal(204);
      expect(await fails(oidc.refreshTokenGrant(notes, tokens.refresh_token as string)), 'refresh token revoked').to.equal(true);
      expect(await fails(oidc.fetchUserInfo(notes, tokens.access_token, user.id)), 'access token revoked').to.equal(true);
      expect((await list(user.id)).body.items).to.deep.equal([]);

      const event = revoked.find((item) => item.grantId === grant.id);
      expect(event).to.include({ accountId: user.id, clientId: 'notes-app', grantId: grant.id });
      expect(event?.sid).to.be.a('string').with.length.above(10);

      await env.server.deps.audit.flush();
      const events = await call<{ items: { type: string; client_id: string | null; detail: Record<string, unknown> }[] }>(
        env.server,
        'GET',
        `/admin/api/audit-events?user_id=${user.id}&type=admin.grant_revoke`,
        { token: adminToken },
      );
      expect(events.body.items).to.have.length(1);
      expect(events.body.items[0]?.client_id).to.equal('notes-app');
      expect(events.body.items[0]?.detail).to.deep.include({ grant_id: grant.id, actor_id: admin.id, door: 'admin' });
      // Gone now: a second DELETE is a 404.
      expect((await call(env.server, 'DELETE', `/admin/api/users/${user.id}/grants/${grant.id}`, { token: adminToken })).status).to.equal(404);
    });

    it('updates last_used_at at a refresh', async () => {
      const { user, tokens } = await connected();
      const [before] = (await list(user.id)).body.items as [UserGrantView];
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await oidc.refreshTokenGrant(notes, tokens.refresh_token as string);
      const [after] = (await list(user.id)).body.items as [UserGrantView];
      expect(Date.parse(after.last_used_at as string)).to.be.above(Date.parse(before.last_used_at as string));
    });

    it('answers 404 for another user\'s grant, an unknown grant or user; 401 without a token and 403 for a non-admin', async () => {
      const owner = await connected();
      const other = await connected();
      const [grant] = (await list(owner.user.id)).body.items as [UserGrantView];
      expect((await call(env.server, 'DELETE', `/admin/api/users/${other.user.id}/grants/${grant.id}`, { token: adminToken })).status).to.equal(404);
      expect(await fails(oidc.refreshTokenGrant(notes, owner.tokens.refresh_token as string)), 'untouched').to.equal(false);
      expect((await call(env.server, 'DELETE', `/admin/api/users/${owner.user.id}/grants/not-a-grant`, { token: adminToken })).status).to.equal(404);
      expect((await call(env.server, 'DELETE', `/admin/api/users/${owner.user.id}/grants/${'x'.repeat(300)}`, { token: adminToken })).status).to.equal(404);
      const unknown = '00000000-0000-4000-8000-000000000000';
      expect((await call(env.server, 'GET', `/admin/api/users/${unknown}/grants`, { token: adminToken })).status).to.equal(404);
      expect((await call(env.server, 'GET', `/admin/api/users/${owner.user.id}/grants`)).status).to.equal(401);
      const plain = await login(env.server, owner.user.username, owner.user.password);
      expect((await call(env.server, 'GET', `/admin/api/users/${owner.user.id}/grants`, { token: plain })).status).to.equal(403);
      expect((await call(env.server, 'DELETE', `/admin/api/users/${owner.user.id}/grants/${grant.id}`, { token: plain })).status).to.equal(403);
    });

    it('the user\'s own revocation (connected apps) is audited as grant_revoke and refuses a grant not theirs', async () => {
      const { user, tokens } = await connected();
      const other = await connected();
      const apps = env.server.deps.connectedApps;
      const [grant] = await apps.list(user.id);
      let refused: unknown;
      await apps.revoke(other.user.id, grant?.id as string, { door: 'interaction' }).catch((err: unknown) => (refused = err));
      expect(refused).to.have.property('status', 404);
      await apps.revoke(user.id, grant?.id as string, { door: 'interaction', ip: '127.0.0.1' });
      expect(await fails(oidc.refreshTokenGrant(notes, tokens.refresh_token as string))).to.equal(true);
      await env.server.deps.audit.flush();
      const rows = await env.server.deps.models.AuditEvent.findAll({ where: { userId: user.id, type: 'grant_revoke' } });
      expect(rows).to.have.length(1);
      expect(rows[0]?.clientId).to.equal('notes-app');
    });

    it('the console lists a user\'s connected apps and revokes one', async () => {
      const { user, tokens } = await connected();
      const browser = createBrowserFetch(env.server.url);
      const loginPage = await browser.follow('/admin/users');
      const submitted = await browser.post(formAction(loginPage.text, /\/login$/), { csrf: hiddenValue(loginPage.text, 'csrf'), login: admin.username, password: admin.password });
      await browser.follow('', submitted);
      const page = await browser.get(`/admin/users/${user.id}`);
      expect(page.status).to.equal(200);
      expect(page.text).to.include('Connected apps');
      expect(page.text).to.include('Notes App');
      const done = await browser.post(formAction(page.text, /\/grants\/[^/]+\/revoke$/), { csrf: hiddenValue(page.text, 'csrf') });
      expect(done.location).to.equal(`/admin/users/${user.id}?notice=grant-revoked`);
      expect(await fails(oidc.refreshTokenGrant(notes, tokens.refresh_token as string))).to.equal(true);
      expect((await browser.get(`/admin/users/${user.id}`)).text).to.include('No connected apps.');
    });
  });
}
