/**
 * A Redis outage under traffic (CONTRACT §6): the test runs its own redis-server, stops it while
 * requests flow, and sees 503 with Retry-After (never a 500, never a dropped connection), /healthz 200,
 * /readyz 503 naming the store, and service back within seconds of Redis returning, with no restart.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, legacyClient, newUser, type TestUser } from '../helpers/legacy-client.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { startTraffic, type TrafficResult } from '../helpers/traffic.ts';
import { eventually, requireRedisServerBinary } from '../helpers/security.ts';

const REDIS_PORT = 7701;
const UNAVAILABLE = { detail: 'Service temporarily unavailable' };

function expectNoServerErrors(results: TrafficResult[]): void {
  const bad = results.filter((r) => r.status === 0 || (r.status >= 500 && r.status !== 503));
  expect(bad.map((r) => `${r.label} ${r.status} ${r.body.slice(0, 120)}`)).to.deep.equal([]);
  for (const r of results.filter((x) => x.status === 503)) {
    expect(r.retryAfter, `${r.label}: Retry-After`).to.match(/^\d+$/);
    expect(r.body, r.label).to.not.match(/stack|Error:|ECONNREFUSED|ioredis/i);
  }
}

describe('outage: Redis goes away under traffic and comes back', function () {
  this.timeout(60_000);
  let redis: RedisServer | undefined;
  let server: TestServer;
  let user: TestUser;

  before(async function () {
    this.timeout(60_000);
    await requireRedisServerBinary(this);
    redis = await startRedisServer({ port: REDIS_PORT });
    server = await startTestServer({ database: 'postgres', store: 'redis', mocha: this, env: { REDIS_URL: redis.url, COMPAT_PROFILES: ALL_PROFILES } });
    user = newUser('redisout');
    await legacyClient(server.url, PROFILE_ADAPTERS[0]!).register(user);
  });
  after(async () => {
    await server?.close();
    await redis?.stop();
  });

  it('answers 503 with Retry-After (never 500), keeps /healthz up, fails /readyz, and recovers by itself', async () => {
    const api = legacyClient(server.url, PROFILE_ADAPTERS[0]!);
    const envelope = legacyClient(server.url, PROFILE_ADAPTERS.find((p) => p.envelope)!);
    const tokens = await api.login(user);
    const post = (path: string, body: unknown) => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const traffic = startTraffic([
      async () => ({ label: 'login', response: await post('/auth/login', { username: user.username, password: user.password }) }),
      async () => ({ label: 'me', response: await fetch(`${server.url}/auth/me`, { headers: { authorization: `Bearer ${tokens.access}` } }) }),
      async () => ({ label: 'register', response: await post('/api/v1/auth/register', { ...newUser('during'), full_name: 'During' }) }),
      async () => ({ label: 'wrong password', response: await post('/auth/login', { username: user.username, password: 'wrong-password' }) }),
      async () => ({ label: 'healthz', response: await fetch(`${server.url}/healthz`) }),
      async () => ({ label: 'readyz', response: await fetch(`${server.url}/readyz`) }),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 300));

    await redis!.stop();
    const stoppedAt = Date.now();
    // Give in-flight requests a moment to meet the outage, then look at each door during it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const login = await api.post('/login', { json: { username: user.username, password: user.password } });
    expect(login.status).to.equal(503);
    expect(login.body).to.deep.equal(UNAVAILABLE);
    expect(login.headers.get('retry-after')).to.equal('5');
    const enveloped = await envelope.post('/login', { json: { username: user.username, password: user.password } });
    expect(enveloped.status).to.equal(503);
    // Seed 002 enveloped two errors only: a 503 is FastAPI's plain body there too.
    expect(enveloped.body).to.deep.equal(UNAVAILABLE);
    const refresh = await api.post('/refresh', { json: { refresh_token: tokens.refresh } });
    expect(refresh.status).to.equal(503);
    const me = await api.get('/me', { token: tokens.access });
    expect(me.status).to.equal(503);
    expect((await fetch(`${server.url}/healthz`)).status).to.equal(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).to.equal(503);
    expect(await ready.json()).to.deep.equal({ status: 'unavailable', failed: ['store'] });
    await new Promise((resolve) => setTimeout(resolve, 1000));

    await redis!.restart();
    const restartedAt = Date.now();
    // Redis came back empty (no persistence): a new login must work, within seconds.
    await eventually(async () => {
      const res = await api.post('/login', { json: { username: user.username, password: user.password } });
      if (res.status !== 200) throw new Error(`login still ${res.status}`);
    }, 5000);
    const recoveredIn = Date.now() - restartedAt;
    await eventually(async () => {
      const res = await fetch(`${server.url}/readyz`);
      if (res.status !== 200) throw new Error(`readyz still ${res.status}`);
    }, 5000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const results = await traffic.stop();

    expectNoServerErrors(results);
    const during = results.filter((r) => r.at > stoppedAt + 200 && r.at < restartedAt);
    expect(during.filter((r) => r.label === 'login').map((r) => r.status)).to.include(503);
    // Registration needs only the database: it goes on, and the user can ask for the e-mail link later.
    const registrations = during.filter((r) => r.label === 'register');
    expect(registrations.length).to.be.above(0);
    expect(registrations.every((r) => r.status === 201), registrations.map((r) => r.status).join(',')).to.equal(true);
    expect(during.filter((r) => r.label === 'healthz').every((r) => r.status === 200)).to.equal(true);
    expect(during.filter((r) => r.label === 'readyz').every((r) => r.status === 503)).to.equal(true);
    const afterwards = results.filter((r) => r.at > restartedAt + recoveredIn + 200);
    expect(afterwards.filter((r) => r.label === 'login').map((r) => r.status)).to.include(200);
    expect(recoveredIn).to.be.below(5000);
  });
});
