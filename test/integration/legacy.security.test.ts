/**
 * The legacy API's security guarantees (CONTRACT §5, §6) in both modes: refresh rotation and replay,
 * immediate revocation, the two concurrency cases, audit events, bcrypt re-hashing.
 */
import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { PROFILE_ADAPTERS, UNIFORM_OPTIONS, field, legacyClient, newUser, type LegacyClient, type ProfileAdapter } from '../helpers/legacy-client.ts';

const adapter = (name: ProfileAdapter['name']): ProfileAdapter => {
  const found = PROFILE_ADAPTERS.find((p) => p.name === name);
  if (!found) throw new Error(name);
  return found;
};

describe('legacy API security (CONTRACT §5, §6)', function () {
  this.timeout(20_000);

  for (const mode of MODES) {
    describe(mode.name, function () {
      let server: TestServer;
      let api: LegacyClient;
      const profile = adapter('auth-service');

      before(async function () {
        this.timeout(60_000);
        server = await startTestServer({
          database: mode.database,
          store: mode.store,
          mocha: this,
          // Rotation (auth-service's own default is reuse; legacy.options.test.ts covers it).
          env: { COMPAT_PROFILES: JSON.stringify([{ prefix: '/auth', profile: 'auth-service', ...UNIFORM_OPTIONS }, { prefix: '/api/env/auth', profile: 'envelope', ...UNIFORM_OPTIONS }]) },
        });
        api = legacyClient(server.url, profile);
      });
      after(async () => server?.close());

      it('revokes the whole session when a rotated refresh token is replayed', async () => {
        const { user, tokens } = await api.signedIn('replay');
        const rotated = await api.post('/refresh', { json: { refresh_token: tokens.refresh } });
        expect(rotated.status).to.equal(200);
        const next = profile.tokens(rotated.body);
        expect((await api.get('/me', { token: next.access })).status).to.equal(200);

        const replay = await api.post('/refresh', { json: { refresh_token: tokens.refresh } });
        expect(replay.status).to.equal(401);
        expect(replay.body).to.deep.equal({ detail: 'Invalid or expired refresh token' });
        // The thief's replay ends the session: the legitimate holder's newer tokens die with it.
        expect((await api.get('/me', { token: next.access })).status).to.equal(401);
        expect((await api.post('/refresh', { json: { refresh_token: next.refresh } })).status).to.equal(401);

        const row = await server.deps.models.User.findOne({ where: { email: user.email.toLowerCase() } });
        const events = await server.deps.models.AuditEvent.findAll({ where: { userId: row?.id, type: 'refresh_reuse' } });
        expect(events).to.have.length(1);
        expect(events[0]?.outcome).to.equal('failure');
        expect(events[0]?.ip).to.equal('127.0.0.1');
      });

      it("refuses a revoked session's access token at once", async () => {
        const { user, tokens } = await api.signedIn('revoked');
        const row = await server.deps.models.User.findOne({ where: { email: user.email.toLowerCase() } });
        const [session] = await server.deps.sessions.list(row?.id ?? '');
        expect(await server.deps.sessions.revoke(row?.id ?? '', session?.session_id ?? '', 'admin')).to.equal(true);
        const res = await api.get('/me', { token: tokens.access });
        expect(res.status).to.equal(401);
        expect(res.body).to.deep.equal({ detail: 'Could not validate credentials' });
      });

      it('of ten concurrent registrations of one e-mail exactly one succeeds, the others get a clean 400/409', async () => {
        const email = newUser('race').email;
        const attempts = Array.from({ length: 10 }, (_, i) => ({ ...newUser(`race${i}`), email }));
        const flat = await Promise.all(attempts.map((user) => api.post('/signup', { json: profile.registerBody(user) })));
        expect(flat.filter((r) => r.status === 200)).to.have.length(1);
        for (const res of flat.filter((r) => r.status !== 200)) expect(res.body).to.deep.equal({ detail: 'Email already registered' });

        const envelope = legacyClient(server.url, adapter('envelope'));
        const email2 = newUser('race2').email;
        const wrapped = await Promise.all(
          Array.from({ length: 10 }, (_, i) => envelope.post('/register', { json: adapter('envelope').registerBody({ ...newUser(`r2${i}`), email: email2 }) })),
        );
        expect(wrapped.filter((r) => r.status === 201)).to.have.length(1);
        expect(wrapped.filter((r) => r.status === 409)).to.have.length(9);
        expect(await server.deps.models.User.count({ where: { email: email2.toLowerCase() } })).to.equal(1);
      });

      it('of ten concurrent refreshes of one refresh token at most one succeeds', async () => {
        const { tokens } = await api.signedIn('refresh-race');
        const results = await Promise.all(Array.from({ length: 10 }, () => api.post('/refresh', { json: { refresh_token: tokens.refresh } })));
        const statuses = results.map((r) => r.status);
        expect(statuses.filter((s) => s === 200).length).to.be.at.most(1);
        expect(statuses.every((s) => s === 200 || s === 401), statuses.join(',')).to.equal(true);
      });

      it('records login success and failure, logout and password change as audit events with IP and outcome', async () => {
        const user = newUser('audit');
        await api.register(user);
        await api.post('/login', { json: profile.loginBody(user, 'wrong-password') });
        const tokens = await api.login(user, { 'User-Agent': 'audit-test' });
        await api.put('/users/me/password', { token: tokens.access, json: { current_password: user.password, new_password: 'audited-new-pass' } });
        await api.post('/logout', { token: tokens.access });
        const row = await server.deps.models.User.findOne({ where: { email: user.email.toLowerCase() } });
        const events = await server.deps.models.AuditEvent.findAll({ where: { userId: row?.id }, order: [['createdAt', 'ASC']] });
        const summary = events.map((e) => `${e.type}:${e.outcome}`);
        expect(summary).to.include.members(['register:success', 'login:failure', 'login:success', 'password_change:success', 'logout:success']);
        const success = events.find((e) => e.type === 'login' && e.outcome === 'success');
        expect(success?.ip).to.equal('127.0.0.1');
        expect(success?.userAgent).to.equal('audit-test');
        expect(JSON.stringify(events.map((e) => e.detail))).to.not.include(user.password);
      });

      it('verifies an imported bcrypt hash and re-hashes it to argon2id on the first login', async () => {
        const user = newUser('bcrypt');
        await api.register(user);
        const { User } = server.deps.models;
        await User.update({ passwordHash: bcrypt.hashSync(user.password, 4).replace(/^\$2[ab]\$/, '$2y$') }, { where: { email: user.email.toLowerCase() } });
        expect((await api.post('/login', { json: profile.loginBody(user) })).status).to.equal(200);
        const row = await User.findOne({ where: { email: user.email.toLowerCase() } });
        expect(row?.passwordHash).to.match(/^\$argon2id\$/);
        expect((await api.post('/login', { json: profile.loginBody(user) })).status).to.equal(200);
      });

      it('never answers 500 to hostile input', async () => {
        const { tokens } = await api.signedIn('hostile');
        const probes = [
          api.post('/login', { json: [] }),
          api.post('/login', { json: 'a string' }),
          api.post('/login', { json: { username: { $ne: 1 }, password: ['x'] } }),
          api.post('/refresh', { json: { refresh_token: '{u:x}:*' } }),
          api.delete('/sessions/%7Bu%3Aother%7D%3Ax', { token: tokens.access }),
          api.delete(`/sessions/${'a'.repeat(500)}`, { token: tokens.access }),
          api.get('/me', { headers: { authorization: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.' } }),
          api.put('/users/me', { token: tokens.access, json: { onboarding_data: 'nope', username: 'has space' } }),
          api.post('/verify-email', { json: { token: 'x'.repeat(43) } }),
          api.post('/register', { raw: 'a=1&b=2', headers: { 'content-type': 'text/plain' } }),
        ];
        for (const res of await Promise.all(probes)) {
          expect(res.status, JSON.stringify(res.body)).to.be.within(400, 499);
          expect(JSON.stringify(res.body)).to.not.match(/stack|sequelize|SELECT|at .*\.ts/i);
        }
        const form = await api.post('/login', { form: { username: 'x', password: 'y', grant_type: 'password' } });
        expect(form.status).to.equal(401);
        expect(field(form.body, 'detail')).to.equal('Incorrect username or password');
      });
    });
  }
});
