/**
 * Secrets never appear in logs (CONTRACT §6). The server logs at debug level, and at trace level with
 * PostgreSQL (every request and SQL statement), into memory while a user signs up, logs in (right and
 * wrong), refreshes, changes and resets the password, logs out, and signs in through OIDC and the admin
 * console; no password, access or refresh token, reset token, authorization code, client secret, session
 * cookie, cookie key, database password, key-encryption key, metrics token or private signing key may be
 * found in what was logged. With PostgreSQL the server connects as a role of its own with a password.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { MODES, startServerWith, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, legacyClient, newUser } from '../helpers/legacy-client.ts';
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from '../helpers/database.ts';
import { createSequelize } from '../../src/db/sequelize.ts';
import { captureLogs, type LogCapture } from '../helpers/log-capture.ts';
import { createUser } from '../helpers/admin-api.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { CLIENTS, authorize } from '../e2e/helpers/oidc-env.ts';

/** A login role with a password, allowed to use the test database; dropped with dropRole() once the database is gone. */
async function createPasswordRole(db: TestDatabase): Promise<{ url: string; password: string; dropRole(): Promise<void> }> {
  const role = `idp_secret_${randomBytes(4).toString('hex')}`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  await db.sequelize.query(`CREATE ROLE "${role}" LOGIN PASSWORD '${password}'`);
  await db.sequelize.query(`GRANT USAGE, CREATE ON SCHEMA public TO "${role}"`);
  await db.sequelize.query(`GRANT ALL ON ALL TABLES IN SCHEMA public TO "${role}"`);
  await db.sequelize.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO "${role}"`);
  const url = new URL(db.url);
  url.username = role;
  url.password = password;
  return {
    url: url.toString(),
    password,
    async dropRole() {
      const admin = createSequelize({ url: TEST_DATABASE_URL, poolMax: 1 });
      try {
        await admin.query(`DROP ROLE IF EXISTS "${role}"`);
      } finally {
        await admin.close();
      }
    },
  };
}

for (const mode of MODES) {
  const level = mode.database === 'postgres' ? 'trace' : 'debug';
  describe(`secrets in the logs, ${mode.name}, LOG_LEVEL=${level}`, function () {
    this.timeout(40_000);
    let db: TestDatabase;
    let server: TestServer;
    let logs: LogCapture;
    let dir: string;
    let role: Awaited<ReturnType<typeof createPasswordRole>> | undefined;
    const cookieKeys = [randomBytes(24).toString('base64url'), randomBytes(24).toString('base64url')];
    const keyEncryptionKey = randomBytes(32).toString('base64');
    const metricsToken = randomBytes(18).toString('base64url');

    before(async function () {
      this.timeout(60_000);
      db = await createTestDatabase(mode.database, { mocha: this });
      dir = mkdtempSync(path.join(tmpdir(), 'idp-secrets-'));
      const clientsFile = path.join(dir, 'clients.json');
      writeFileSync(clientsFile, JSON.stringify(Object.values(CLIENTS)));
      if (mode.database === 'postgres') role = await createPasswordRole(db);
      logs = captureLogs(level);
      server = await startServerWith({
        databaseUrl: role?.url ?? db.url,
        store: mode.store,
        logger: logs.logger,
        env: {
          COMPAT_PROFILES: ALL_PROFILES,
          COOKIE_KEYS: cookieKeys.join(','),
          OIDC_CLIENTS_FILE: clientsFile,
          LOG_LEVEL: level,
          KEY_ENCRYPTION_KEY: keyEncryptionKey,
          METRICS_TOKEN: metricsToken,
        },
      });
    });
    after(async () => {
      await server?.close();
      await db?.drop();
      await role?.dropRole();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('logs none of them while every kind of secret goes through the server', async () => {
      const secrets: Record<string, string> = {};
      const keep = (name: string, value: string | undefined) => {
        if (value) secrets[name] = value;
        return value ?? '';
      };
      cookieKeys.forEach((key, i) => keep(`cookie key ${i}`, key));
      keep('key-encryption key', keyEncryptionKey);
      keep('metrics token', metricsToken);
      if (role) keep('database password', role.password);
      for (const jwk of (await server.deps.keys.load()).jwks.keys) {
        for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const) keep(`signing key ${jwk.kid} ${member}`, jwk[member]);
      }
      expect((await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).status).to.equal(200);

      for (const profile of PROFILE_ADAPTERS) {
        const api = legacyClient(server.url, profile);
        const user = newUser('secret');
        keep(`${profile.name} password`, user.password);
        await api.register(user);
        await api.post('/login', { json: profile.loginBody(user, keep(`${profile.name} wrong password`, `wrong-${randomBytes(6).toString('hex')}`)) });
        const first = await api.login(user);
        keep(`${profile.name} access token`, first.access);
        keep(`${profile.name} refresh token`, first.refresh);
        const refreshed = profile.tokens((await api.post('/refresh', { json: { refresh_token: first.refresh } })).body);
        keep(`${profile.name} refreshed access token`, refreshed.access);
        keep(`${profile.name} refreshed refresh token`, refreshed.refresh);
        const changed = keep(`${profile.name} new password`, `new-${randomBytes(8).toString('hex')}`);
        expect((await api.put('/users/me/password', { token: refreshed.access, json: { current_password: user.password, new_password: changed } })).status).to.equal(200);
        await api.post('/logout', { token: refreshed.access, json: { refresh_token: refreshed.refresh } });

        let resetToken = '';
        await server.deps.accounts.requestPasswordReset(user.email, { door: 'test' }, {
          verifyEmail: () => '',
          resetPassword: (token) => (resetToken = token),
        });
        keep(`${profile.name} reset token`, resetToken);
        await api.post('/reset-password', { json: { token: resetToken, new_password: keep(`${profile.name} reset password`, `reset-${randomBytes(8).toString('hex')}`) } });
        // The e-mailed link as a browser opens it: the token travels in the query string.
        await api.get(`/reset-password?token=${encodeURIComponent(resetToken)}`);
      }

      // OIDC: a confidential client with a secret, an authorization code, ID/access/refresh tokens, cookies.
      const admin = newUser('secretadmin');
      keep('admin password', admin.password);
      await createUser(server, { email: admin.email, password: admin.password, username: admin.username, roles: ['idp_admin'] });
      keep('client secret', CLIENTS.confidential.client_secret);
      const app = await oidc.discovery(new URL(server.config.issuer), CLIENTS.confidential.client_id, { client_secret: CLIENTS.confidential.client_secret }, oidc.ClientSecretBasic(CLIENTS.confidential.client_secret), { execute: [oidc.allowInsecureRequests] });
      const browser = new UserAgent();
      const run = await authorize(browser, app, {
        redirectUri: CLIENTS.confidential.redirect_uris[0],
        scope: 'openid profile email offline_access',
        user: { login: admin.username, password: admin.password },
        extra: { prompt: 'consent' },
      });
      keep('authorization code', run.callback.searchParams.get('code') ?? undefined);
      const tokens = await oidc.authorizationCodeGrant(app, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
      keep('oidc access token', tokens.access_token);
      keep('oidc id token', tokens.id_token);
      keep('oidc refresh token', tokens.refresh_token);
      const again = await oidc.refreshTokenGrant(app, tokens.refresh_token!);
      keep('oidc refreshed refresh token', again.refresh_token);
      await oidc.fetchUserInfo(app, again.access_token, oidc.skipSubjectCheck);

      const consoleAgent = new UserAgent();
      const home = await consoleAgent.submit(await consoleAgent.open(`${server.url}/admin/login`), '/login', { login: admin.username, password: admin.password });
      expect(home.status).to.equal(200);

      // Session cookies are bearer secrets too: collect every cookie value the browsers were given.
      const cookieValues = new Map<string, string>();
      for (const agent of [browser, consoleAgent]) {
        for (const [name, value] of Object.entries((agent as unknown as { cookies: { name: string; value: string }[] }).cookies.reduce<Record<string, string>>((all, c) => ({ ...all, [c.name]: c.value }), {}))) {
          // The interaction cookies hold the interaction's id, which is in its URL by design: not a secret.
          if (value.length >= 16 && !/^_interaction(_resume)?$/.test(name)) cookieValues.set(`cookie ${name}`, value);
        }
      }
      for (const [name, value] of cookieValues) keep(name, value);

      const text = logs.text();
      // The capture is real: requests and SQL were logged at debug level.
      expect(logs.lines().filter((l) => l.msg === 'request').length).to.be.above(50);
      expect(logs.lines().some((l) => l.msg === 'sql')).to.equal(true);
      expect(Object.keys(secrets).length).to.be.at.least(mode.database === 'postgres' ? 56 : 55);
      const found = Object.entries(secrets).filter(([, value]) => text.includes(value) || text.includes(JSON.stringify(value).slice(1, -1)) || text.includes(encodeURIComponent(value)));
      expect(found.map(([name]) => name)).to.deep.equal([]);
    });
  });
}
