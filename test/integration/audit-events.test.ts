/**
 * The audit trail (CONTRACT §6): login success and failure, logout, refresh-token reuse (legacy and
 * OIDC), password change and reset, and admin changes are stored with time, user, IP, user agent,
 * client and outcome. A failure to write an event never fails the request; it is logged and counted.
 */
import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import * as oidc from 'openid-client';
import { MODES, startServerWith, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, legacyClient, newUser } from '../helpers/legacy-client.ts';
import { createUser, login as adminLogin } from '../helpers/admin-api.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { captureLogs, type LogCapture } from '../helpers/log-capture.ts';
import { eventually, freshIp } from '../helpers/security.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { CLIENTS, authorize, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';
import type { AuditEvent } from '../../src/db/models/index.ts';

const AGENT = 'audit-test-agent/1.0';

for (const mode of MODES) {
  describe(`audit events, ${mode.name}`, function () {
    this.timeout(40_000);
    let env: OidcEnv;

    before(async function () {
      this.timeout(60_000);
      env = await startOidcEnv({ database: mode.database, store: mode.store, mocha: this, env: { COMPAT_PROFILES: ALL_PROFILES, TRUST_PROXY: 'true' } });
    });
    after(async () => env?.close());

    async function eventsOf(userId: string, since: Date): Promise<AuditEvent[]> {
      const all = await env.server.deps.models.AuditEvent.findAll({ where: { userId }, order: [['createdAt', 'ASC']] });
      return all.filter((event) => event.createdAt.getTime() >= since.getTime() - 1000);
    }

    function expectFacts(event: AuditEvent | undefined, facts: { type: string; outcome: string; userId: string; ip: string; clientId?: string | null }, since: Date): void {
      expect(event, facts.type).to.not.equal(undefined);
      expect(event!.type).to.equal(facts.type);
      expect(event!.outcome, facts.type).to.equal(facts.outcome);
      expect(event!.userId, facts.type).to.equal(facts.userId);
      expect(event!.ip, facts.type).to.equal(facts.ip);
      expect(event!.userAgent, facts.type).to.equal(AGENT);
      expect(event!.clientId ?? null, facts.type).to.equal(facts.clientId ?? null);
      expect(event!.createdAt.getTime(), facts.type).to.be.within(since.getTime() - 1000, Date.now() + 1000);
    }

    it('stores every legacy and admin security event with time, user, IP, user agent and outcome', async () => {
      const since = new Date();
      const ip = freshIp();
      const headers = { 'X-Forwarded-For': ip, 'User-Agent': AGENT };
      const profile = PROFILE_ADAPTERS[0]!;
      const api = legacyClient(env.server.url, profile);
      const user = newUser('audited');
      await api.post('/register', { json: profile.registerBody(user), headers });
      const account = await env.server.deps.accounts.findByEmail(user.email);
      const userId = account!.id;

      expect((await api.post('/login', { json: profile.loginBody(user, 'wrong-password'), headers })).status).to.equal(401);
      const first = profile.tokens((await api.post('/login', { json: profile.loginBody(user), headers })).body);
      const rotated = await api.post('/refresh', { json: { refresh_token: first.refresh }, headers });
      expect(rotated.status).to.equal(200);
      expect((await api.post('/refresh', { json: { refresh_token: first.refresh }, headers })).status).to.equal(401); // replay
      const second = profile.tokens((await api.post('/login', { json: profile.loginBody(user), headers })).body);
      const newPassword = 'audited-new-password';
      expect((await api.put('/users/me/password', { token: second.access, json: { current_password: user.password, new_password: newPassword }, headers })).status).to.equal(200);
      expect((await api.post('/logout', { token: second.access, headers })).status).to.equal(200);
      let resetToken = '';
      await env.server.deps.accounts.requestPasswordReset(user.email, { door: 'test' }, {
        verifyEmail: () => '',
        resetPassword: (token) => {
          resetToken = token;
          return '';
        },
      });
      expect((await api.post('/reset-password', { json: { token: resetToken, new_password: 'audited-reset-password' }, headers })).status).to.equal(200);

      const admin = newUser('auditor');
      await createUser(env.server, { email: admin.email, password: admin.password, username: admin.username, roles: ['idp_admin'] });
      const adminToken = await adminLogin(env.server, admin.username, admin.password);
      const patched = await fetch(`${env.server.url}/admin/api/users/${userId}`, {
        method: 'PATCH',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', 'x-forwarded-for': ip, 'user-agent': AGENT },
        body: JSON.stringify({ full_name: 'Changed By Admin' }),
      });
      expect(patched.status).to.equal(200);

      const events = await eventsOf(userId, since);
      const find = (type: string, outcome: string) => events.find((e) => e.type === type && e.outcome === outcome);
      for (const [type, outcome] of [
        ['register', 'success'], ['login', 'failure'], ['login', 'success'], ['refresh_reuse', 'failure'],
        ['password_change', 'success'], ['logout', 'success'], ['password_reset', 'success'],
      ] as const) {
        expectFacts(find(type, outcome), { type, outcome, userId, ip }, since);
      }
      expect((find('login', 'failure')!.detail as { reason?: string }).reason).to.equal('bad_password');
      const adminChange = events.find((e) => e.type.startsWith('admin.'));
      expectFacts(adminChange, { type: adminChange?.type ?? 'admin.*', outcome: 'success', userId, ip }, since);
      const adminRow = await env.server.deps.accounts.findByEmail(admin.email);
      expect((adminChange!.detail as { actor_id?: string }).actor_id, 'the acting admin').to.equal(adminRow!.id);
      // Nothing secret in what was stored.
      const stored = JSON.stringify(events.map((e) => e.toJSON()));
      for (const secret of [user.password, newPassword, first.access, first.refresh, second.access, resetToken]) expect(stored).to.not.include(secret);
    });

    it('keeps the event of every one of many concurrent logins (written in batches)', async () => {
      const since = new Date();
      const profile = PROFILE_ADAPTERS[0]!;
      const api = legacyClient(env.server.url, profile);
      const users = Array.from({ length: 6 }, () => newUser('crowd'));
      for (const user of users) await api.register(user);
      const responses = await Promise.all(
        users.flatMap((user) => [
          api.post('/login', { json: profile.loginBody(user), headers: { 'X-Forwarded-For': freshIp(), 'User-Agent': AGENT } }),
          api.post('/login', { json: profile.loginBody(user, 'wrong-password'), headers: { 'X-Forwarded-For': freshIp(), 'User-Agent': AGENT } }),
        ]),
      );
      expect(responses.map((response) => response.status)).to.deep.equal(users.flatMap(() => [200, 401]));
      for (const user of users) {
        const account = await env.server.deps.accounts.findByEmail(user.email);
        const logins = (await eventsOf(account!.id, since)).filter((event) => event.type === 'login');
        expect(logins.map((event) => event.outcome).sort(), user.email).to.deep.equal(['failure', 'success']);
      }
    });

    it('stores an OIDC refresh-token replay with its client', async () => {
      const since = new Date();
      const ip = freshIp();
      const spa = await env.discover('spa');
      const run = await authorize(new UserAgent(), spa, {
        redirectUri: CLIENTS.spa.redirect_uris[0],
        scope: 'openid offline_access',
        user: { login: env.user.username, password: env.user.password },
      });
      const tokens = await oidc.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
      const refresh = (token: string) =>
        fetch(`${env.issuer}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip, 'user-agent': AGENT },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token, client_id: CLIENTS.spa.client_id }),
        });
      expect((await refresh(tokens.refresh_token!)).status).to.equal(200);
      expect((await refresh(tokens.refresh_token!)).status).to.equal(400);
      // The provider's events are recorded without holding up its response: wait for the row.
      const events = await eventually(async () => {
        const found = await eventsOf(env.user.id, since);
        if (!found.some((e) => e.type === 'refresh_reuse')) throw new Error('no refresh_reuse event yet');
        return found;
      }, 3000, 25);
      expectFacts(events.find((e) => e.type === 'refresh_reuse'), { type: 'refresh_reuse', outcome: 'failure', userId: env.user.id, ip, clientId: CLIENTS.spa.client_id }, since);
      // The sign-in on the login page was audited as a login of this user, for the client it signed in to.
      const login = events.find((e) => e.type === 'login' && e.outcome === 'success');
      expect(login?.clientId, 'the interaction login names its client').to.equal(CLIENTS.spa.client_id);
    });
  });
}

/** Makes every insert into audit_events fail, as a broken or full table would. */
async function breakAuditTable(db: TestDatabase): Promise<void> {
  if (db.kind === 'postgres') {
    await db.sequelize.query(`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit table is broken'; END $$`);
    await db.sequelize.query('CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit()');
  } else {
    await db.sequelize.query("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit table is broken'); END");
  }
}

for (const mode of MODES) {
  describe(`audit events that cannot be written, ${mode.name}`, function () {
    this.timeout(40_000);
    let db: TestDatabase;
    let server: TestServer;
    let logs: LogCapture;

    before(async function () {
      this.timeout(60_000);
      db = await createTestDatabase(mode.database, { mocha: this });
      logs = captureLogs('info');
      server = await startServerWith({ databaseUrl: db.url, store: mode.store, logger: logs.logger });
    });
    after(async () => {
      await server?.close();
      await db?.drop();
    });

    it('never fail a login; each is logged and counted', async () => {
      const profile = PROFILE_ADAPTERS[0]!;
      const api = legacyClient(server.url, profile);
      const user = newUser('noaudit');
      await api.register(user);
      await breakAuditTable(db);
      const before = server.deps.audit.failures();
      logs.clear();

      expect((await api.post('/login', { json: profile.loginBody(user) })).status).to.equal(200);
      expect((await api.post('/login', { json: profile.loginBody(user, 'wrong-password') })).status).to.equal(401);
      const tokens = await api.login(user);
      expect((await api.post('/logout', { token: tokens.access })).status).to.equal(200);

      expect(server.deps.audit.failures() - before).to.equal(4);
      const lost = logs.lines().filter((line) => line.msg === 'audit event not recorded');
      expect(lost.map((line) => `${String(line.type)}:${String(line.outcome)}`)).to.deep.equal(['login:success', 'login:failure', 'login:success', 'logout:success']);
      expect(lost.every((line) => line.level === 'error')).to.equal(true);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(/^idp_audit_write_failures (\d+)/m.exec(metrics)?.[1]).to.equal(String(server.deps.audit.failures()));
      const rows = await db.sequelize.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM audit_events', { type: QueryTypes.SELECT });
      expect(Number(rows[0]!.n)).to.equal(1); // the registration, before the table broke
    });
  });
}
