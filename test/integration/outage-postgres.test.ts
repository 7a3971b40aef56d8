/**
 * A PostgreSQL outage under traffic (CONTRACT §6): the server reaches its database through a TCP proxy
 * the test cuts (every connection dropped, new ones refused) and restores. 503 with Retry-After, never
 * a 500; /healthz 200, /readyz 503 naming the database; service back within seconds, no restart. A
 * registration cut off half-way through its transaction leaves no user, organization or membership.
 */
import { expect } from 'chai';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startServerWith, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, legacyClient, newUser, type TestUser } from '../helpers/legacy-client.ts';
import { startPostgresProxy, type PostgresProxy } from '../helpers/postgres-proxy.ts';
import { startTraffic, type TrafficResult } from '../helpers/traffic.ts';
import { eventually } from '../helpers/security.ts';

const PROXY_PORT = 7702;
const UNAVAILABLE = { detail: 'Service temporarily unavailable' };

function expectNoServerErrors(results: TrafficResult[]): void {
  const bad = results.filter((r) => r.status === 0 || (r.status >= 500 && r.status !== 503));
  expect(bad.map((r) => `${r.label} ${r.status} ${r.body.slice(0, 160)}`)).to.deep.equal([]);
  for (const r of results.filter((x) => x.status === 503)) {
    expect(r.retryAfter, `${r.label}: Retry-After`).to.match(/^\d+$/);
    expect(r.body, r.label).to.not.match(/stack|Error:|ECONNREFUSED|Sequelize|SELECT|INSERT/i);
  }
}

describe('outage: PostgreSQL goes away under traffic and comes back', function () {
  this.timeout(60_000);
  let db: TestDatabase | undefined;
  let proxy: PostgresProxy | undefined;
  let server: TestServer | undefined;
  let user: TestUser;

  before(async function () {
    this.timeout(60_000);
    db = await createTestDatabase('postgres', { mocha: this });
    proxy = await startPostgresProxy({ port: PROXY_PORT });
    server = await startServerWith({ databaseUrl: proxy.via(db.url), store: 'redis', env: { COMPAT_PROFILES: ALL_PROFILES } });
    user = newUser('pgout');
    await legacyClient(server.url, PROFILE_ADAPTERS[0]!).register(user);
  });
  after(async () => {
    await server?.close();
    await proxy?.close();
    await db?.drop();
  });

  it('answers 503 with Retry-After (never 500), keeps /healthz up, fails /readyz, and recovers by itself', async () => {
    const url = server!.url;
    const api = legacyClient(url, PROFILE_ADAPTERS[0]!);
    const tokens = await api.login(user);
    const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const traffic = startTraffic([
      async () => ({ label: 'login', response: await post('/auth/login', { username: user.username, password: user.password }) }),
      async () => ({ label: 'me', response: await fetch(`${url}/auth/me`, { headers: { authorization: `Bearer ${tokens.access}` } }) }),
      async () => ({ label: 'register', response: await post('/api/v1/auth/register', { ...newUser('during'), full_name: 'During' }) }),
      async () => ({ label: 'sessions', response: await fetch(`${url}/auth/sessions`, { headers: { authorization: `Bearer ${tokens.access}` } }) }),
      async () => ({ label: 'healthz', response: await fetch(`${url}/healthz`) }),
      async () => ({ label: 'readyz', response: await fetch(`${url}/readyz`) }),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 300));

    proxy!.cut();
    const cutAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const register = await api.post('/register', { json: newUser('cut') });
    expect(register.status).to.equal(503);
    expect(register.body).to.deep.equal(UNAVAILABLE);
    expect(register.headers.get('retry-after')).to.equal('5');
    const login = await api.post('/login', { json: { username: user.username, password: user.password } });
    expect(login.status).to.equal(503);
    expect(login.body).to.deep.equal(UNAVAILABLE);
    const enveloped = await legacyClient(url, PROFILE_ADAPTERS.find((p) => p.envelope)!).post('/login', { json: { username: user.username, password: user.password } });
    expect(enveloped.status).to.equal(503);
    // Seed 002 enveloped two errors only: a 503 is FastAPI's plain body there too.
    expect(enveloped.body).to.deep.equal(UNAVAILABLE);
    expect((await fetch(`${url}/healthz`)).status).to.equal(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).to.equal(503);
    expect(await ready.json()).to.deep.equal({ status: 'unavailable', failed: ['database'] });
    await new Promise((resolve) => setTimeout(resolve, 1000));

    proxy!.restore();
    const restoredAt = Date.now();
    await eventually(async () => {
      const res = await api.post('/register', { json: newUser('back') });
      if (res.status !== 200) throw new Error(`register still ${res.status}`);
    }, 5000);
    const recoveredIn = Date.now() - restoredAt;
    await eventually(async () => {
      const res = await fetch(`${url}/readyz`);
      if (res.status !== 200) throw new Error(`readyz still ${res.status}`);
    }, 5000);
    // The logins during the outage did not count against the user: the limits are not a lock-out.
    expect((await api.post('/login', { json: { username: user.username, password: user.password } })).status).to.equal(200);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const results = await traffic.stop();

    expectNoServerErrors(results);
    const during = results.filter((r) => r.at > cutAt + 200 && r.at < restoredAt);
    expect(during.filter((r) => r.label === 'register').map((r) => r.status)).to.include(503);
    expect(during.filter((r) => r.label === 'healthz').every((r) => r.status === 200)).to.equal(true);
    expect(during.filter((r) => r.label === 'readyz').every((r) => r.status === 503)).to.equal(true);
    const afterwards = results.filter((r) => r.at > restoredAt + recoveredIn + 200);
    expect(afterwards.filter((r) => r.label === 'register').map((r) => r.status)).to.include(201);
    expect(recoveredIn).to.be.below(5000);
    expect(proxy!.accepted, 'the server opened new connections after the cut').to.be.above(1);
  });

  it('leaves no half user when the connection drops in the middle of a registration', async () => {
    const url = server!.url;
    const api = legacyClient(url, PROFILE_ADAPTERS[1]!);
    const { User, Organization, Membership } = db!.models;
    const before = { organizations: await Organization.count(), memberships: await Membership.count(), users: await User.count() };
    const victim = newUser('halfway');

    // The organization row is written, then the connection goes as the user row is sent.
    const cut = proxy!.cutOnStatement('INSERT INTO "users"');
    const res = await api.post('/register', { json: PROFILE_ADAPTERS[1]!.registerBody(victim) });
    await cut;
    expect(res.status).to.equal(503);
    expect(res.body).to.deep.equal(UNAVAILABLE);
    proxy!.restore();

    expect(await User.count({ where: { email: victim.email.toLowerCase() } })).to.equal(0);
    expect({ organizations: await Organization.count(), memberships: await Membership.count(), users: await User.count() }).to.deep.equal(before);
    // Nothing half-made stands in the way: the same registration now succeeds, whole.
    const again = await eventually(async () => {
      const retry = await api.post('/register', { json: PROFILE_ADAPTERS[1]!.registerBody(victim) });
      if (retry.status === 503) throw new Error('still unavailable');
      return retry;
    }, 5000);
    expect(again.status).to.equal(201);
    const row = await User.findOne({ where: { email: victim.email.toLowerCase() } });
    expect(row?.organizationId).to.be.a('string');
    expect(await Membership.count({ where: { userId: row!.id, organizationId: row!.organizationId!, role: 'owner' } })).to.equal(1);
  });
});
