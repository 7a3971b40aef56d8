/**
 * Brute force (CONTRACT §6): per login identifier and IP, 5 attempts that did not succeed → 429 with
 * Retry-After, the block doubling up to 15 minutes; 100 attempts per IP per minute; unknown identifiers
 * limited alike; a success resets. Counting happens before the password is checked, so concurrent
 * attempts cannot get more password checks than allowed. X-Forwarded-For counts only with TRUST_PROXY.
 */
import { mock } from 'node:test';
import { expect } from 'chai';
import { RateLimitedError, ServiceUnavailableError } from '../../src/errors.ts';
import { InvalidCredentialsError } from '../../src/services/accounts/errors.ts';
import { DEFAULT_LOGIN_LIMITS, createLoginRateLimiter, type LoginRateLimiter } from '../../src/services/rate-limits.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { createRedisStore, type RedisStore } from '../../src/store/redis-store.ts';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, http, legacyClient, newUser, type ProfileAdapter } from '../helpers/legacy-client.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { eventually, freshIp, requireRedisServerBinary, sharedRedisStore, spyOnArgon2 } from '../helpers/security.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { authorizationUrl, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

const OWN_REDIS_PORT = 7704;
const TOO_MANY = 'Too many attempts, try again later';

/** A password check that fails after a moment, as a wrong password does; counts how often it ran. */
function failingCheck(): { runs: number; check: () => Promise<never> } {
  const state = {
    runs: 0,
    async check(): Promise<never> {
      state.runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      throw new InvalidCredentialsError();
    },
  };
  return state;
}

async function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'ok',
    (err: unknown) => err,
  );
}

const retryAfter = (err: unknown): number => ((err as RateLimitedError).detail as { retryAfter: number }).retryAfter;

describe('brute force: the login limiter (src/services/rate-limits.ts)', function () {
  this.timeout(30_000);

  const kinds = [
    { name: 'in-process', make: async () => ({ store: createMemoryStore(), close: async () => undefined }) },
    {
      name: 'Redis',
      make: async (context: Mocha.Context) => {
        const store = await sharedRedisStore(context);
        return { store, close: () => store.close() };
      },
    },
  ];

  for (const kind of kinds) {
    describe(kind.name, function () {
      let made: { store: { redis?: RedisStore['redis'] }; close: () => Promise<void> };
      before(async function () {
        made = await kind.make(this);
      });
      after(async () => made?.close());

      it('lets at most 5 of 50 concurrent wrong attempts reach the password check; the rest get 429', async () => {
        const limiter = createLoginRateLimiter({ store: made.store });
        const attempt = failingCheck();
        const results = await Promise.all(Array.from({ length: 50 }, () => outcome(limiter.guard({ identifier: 'victim', ip: '192.0.2.1' }, attempt.check))));
        expect(attempt.runs).to.equal(5);
        expect(results.filter((r) => r instanceof InvalidCredentialsError)).to.have.length(5);
        const limited = results.filter((r) => r instanceof RateLimitedError);
        expect(limited).to.have.length(45);
        for (const err of limited) expect(retryAfter(err)).to.be.within(59, 60);
      });

      it('blocks for the base time, doubles the block each time it is reached, up to the maximum', async () => {
        const limiter = createLoginRateLimiter({ store: made.store, limits: { baseBlockSeconds: 1, maxBlockSeconds: 2 } });
        const attempt = failingCheck();
        const seen: number[] = [];
        for (let round = 0; round < 3; round += 1) {
          for (let i = 0; i < 5; i += 1) expect(await outcome(limiter.guard({ identifier: 'doubling', ip: '192.0.2.2' }, attempt.check))).to.be.instanceOf(InvalidCredentialsError);
          const refused = await outcome(limiter.guard({ identifier: 'doubling', ip: '192.0.2.2' }, async () => 'ok'));
          expect(refused, `round ${round}`).to.be.instanceOf(RateLimitedError);
          seen.push(retryAfter(refused));
          if (round < 2) await new Promise((resolve) => setTimeout(resolve, retryAfter(refused) * 1000 + 150));
        }
        expect(seen).to.deep.equal([1, 2, 2]);
        expect(attempt.runs).to.equal(15);
      });

      it('resets the count on a success, and counts an identifier whatever its case and spaces', async () => {
        const limiter = createLoginRateLimiter({ store: made.store });
        const attempt = failingCheck();
        const ip = '192.0.2.3';
        for (let i = 0; i < 4; i += 1) await outcome(limiter.guard({ identifier: ' Carol@Example.com ', ip }, attempt.check));
        expect(await limiter.guard({ identifier: 'carol@example.com', ip }, async () => 'signed in')).to.equal('signed in');
        for (let i = 0; i < 4; i += 1) expect(await outcome(limiter.guard({ identifier: 'CAROL@example.com', ip }, attempt.check))).to.be.instanceOf(InvalidCredentialsError);
        // Four after the success, then the fifth: allowed, and the sixth is refused.
        expect(await outcome(limiter.guard({ identifier: 'carol@example.com', ip }, attempt.check))).to.be.instanceOf(InvalidCredentialsError);
        expect(await outcome(limiter.guard({ identifier: 'carol@example.com', ip }, attempt.check))).to.be.instanceOf(RateLimitedError);
        // Another IP, or another identifier from this IP, has its own count.
        expect(await outcome(limiter.guard({ identifier: 'carol@example.com', ip: '192.0.2.4' }, attempt.check))).to.be.instanceOf(InvalidCredentialsError);
        expect(await outcome(limiter.guard({ identifier: 'dave', ip }, attempt.check))).to.be.instanceOf(InvalidCredentialsError);
      });

      it('does not count attempts that failed because a dependency was down (no lock-out after an outage)', async () => {
        const limiter = createLoginRateLimiter({ store: made.store });
        const ip = '192.0.2.5';
        const outage = async (): Promise<never> => {
          throw new ServiceUnavailableError('database');
        };
        for (let i = 0; i < 12; i += 1) expect(await outcome(limiter.guard({ identifier: 'erin', ip }, outage))).to.be.instanceOf(ServiceUnavailableError);
        const attempt = failingCheck();
        for (let i = 0; i < 4; i += 1) await outcome(limiter.guard({ identifier: 'erin', ip }, attempt.check));
        // The fifth attempt sets the block; it then meets an outage: the block is lifted again.
        expect(await outcome(limiter.guard({ identifier: 'erin', ip }, outage))).to.be.instanceOf(ServiceUnavailableError);
        expect(await limiter.guard({ identifier: 'erin', ip }, async () => 'signed in')).to.equal('signed in');
        expect(attempt.runs).to.equal(4);
      });

      it('counts one account as one, whichever identifier names it, from one IP', async () => {
        const limiter = createLoginRateLimiter({ store: made.store });
        const attempt = failingCheck();
        const ip = '192.0.2.20';
        const accountId = `acct-${Math.random()}`;
        for (const identifier of ['bob', 'bob@example.com', 'BOB', 'bob@example.com', 'bob']) {
          expect(await outcome(limiter.guard({ identifier, accountId, ip }, attempt.check))).to.be.instanceOf(InvalidCredentialsError);
        }
        expect(await outcome(limiter.guard({ identifier: 'bob@example.com', accountId, ip }, async () => 'ok'))).to.be.instanceOf(RateLimitedError);
        expect(attempt.runs).to.equal(5);
      });

      it('locks an account after 20 failures in a row from any IPs, doubling the block; a success anywhere resets it', async () => {
        const limiter = createLoginRateLimiter({ store: made.store, limits: { baseBlockSeconds: 1, maxBlockSeconds: 2 } });
        const attempt = failingCheck();
        const accountId = `acct-${Math.random()}`;
        let ip = 0;
        const from = () => `198.51.100.${(ip += 1)}`;
        // 19 failures, a success from elsewhere, and the count starts again.
        for (let i = 0; i < 19; i += 1) await outcome(limiter.guard({ identifier: 'alice', accountId, ip: from() }, attempt.check));
        expect(await limiter.guard({ identifier: 'alice', accountId, ip: from() }, async () => 'signed in')).to.equal('signed in');
        const seen: number[] = [];
        for (let round = 0; round < 2; round += 1) {
          for (let i = 0; i < 20; i += 1) {
            expect(await outcome(limiter.guard({ identifier: 'alice', accountId, ip: from() }, attempt.check)), `round ${round}, failure ${i + 1}`).to.be.instanceOf(InvalidCredentialsError);
          }
          // Locked for everyone, the right password from a new address included.
          const refused = await outcome(limiter.guard({ identifier: 'alice@example.com', accountId, ip: from() }, async () => 'ok'));
          expect(refused).to.be.instanceOf(RateLimitedError);
          seen.push(retryAfter(refused));
          await new Promise((resolve) => setTimeout(resolve, retryAfter(refused) * 1000 + 150));
        }
        expect(seen).to.deep.equal([1, 2]);
        expect(attempt.runs).to.equal(19 + 40);
      });

      it('lets at most 20 of 50 concurrent wrong attempts on one account from 50 IPs reach the password check', async () => {
        const limiter = createLoginRateLimiter({ store: made.store });
        const attempt = failingCheck();
        const accountId = `acct-${Math.random()}`;
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => outcome(limiter.guard({ identifier: 'carol', accountId, ip: `203.0.113.${i + 1}` }, attempt.check))));
        expect(attempt.runs).to.equal(20);
        const limited = results.filter((r) => r instanceof RateLimitedError);
        expect(limited).to.have.length(30);
        for (const err of limited) expect(retryAfter(err)).to.be.within(59, 60);
      });

      it('caps one IP at 100 attempts a minute, whatever the identifiers', async () => {
        const limiter = createLoginRateLimiter({ store: made.store });
        const ip = '2001:db8:7:7::1';
        const results = await Promise.all(Array.from({ length: 100 }, (_, i) => outcome(limiter.guard({ identifier: `spray-${i}`, ip }, async () => 'ok'))));
        expect(results.every((r) => r === 'ok')).to.equal(true);
        const refused = await outcome(limiter.guard({ identifier: 'spray-new', ip }, async () => 'ok'));
        expect(refused).to.be.instanceOf(RateLimitedError);
        expect(retryAfter(refused)).to.be.within(1, 60);
        // The same /64 is the same client; another /64 is not.
        expect(await outcome(limiter.guard({ identifier: 'spray-new', ip: '2001:db8:7:7::2' }, async () => 'ok'))).to.be.instanceOf(RateLimitedError);
        expect(await outcome(limiter.guard({ identifier: 'spray-new', ip: '2001:db8:7:8::1' }, async () => 'ok'))).to.equal('ok');
      });
    });
  }

  it('follows 60 s, 120 s, 240 s, 480 s, then 900 s blocks with the default limits', async () => {
    mock.timers.enable({ apis: ['Date', 'setTimeout'], now: Date.parse('2030-01-01T00:00:00Z') });
    try {
      const limiter = createLoginRateLimiter({ store: createMemoryStore() });
      expect(limiter.limits).to.deep.equal(DEFAULT_LOGIN_LIMITS);
      const attempt = failingCheck();
      const seen: number[] = [];
      for (let round = 0; round < 6; round += 1) {
        for (let i = 0; i < 5; i += 1) {
          const pending = outcome(limiter.guard({ identifier: 'schedule', ip: '192.0.2.9' }, async () => {
            throw new InvalidCredentialsError();
          }));
          expect(await pending).to.be.instanceOf(InvalidCredentialsError);
        }
        const refused = await outcome(limiter.guard({ identifier: 'schedule', ip: '192.0.2.9' }, attempt.check));
        seen.push(retryAfter(refused));
        mock.timers.tick(retryAfter(refused) * 1000 + 1);
      }
      expect(seen).to.deep.equal([60, 120, 240, 480, 900, 900]);
      expect(attempt.runs).to.equal(0);
    } finally {
      mock.timers.reset();
    }
  });

  describe('when Redis is down', function () {
    let redis: RedisServer | undefined;
    let store: RedisStore | undefined;
    before(async function () {
      await requireRedisServerBinary(this);
      redis = await startRedisServer({ port: OWN_REDIS_PORT });
      store = createRedisStore({ url: redis.url, keyPrefix: 'rl-outage:' });
      await store.connect();
    });
    after(async () => {
      await store?.close();
      await redis?.stop();
    });

    it('refuses with ServiceUnavailableError (503) without checking the password, and limits again once Redis is back', async () => {
      const limiter: LoginRateLimiter = createLoginRateLimiter({ store: store! });
      const attempt = failingCheck();
      await outcome(limiter.guard({ identifier: 'x', ip: '192.0.2.10' }, attempt.check));
      expect(attempt.runs).to.equal(1);
      await redis!.stop();
      const started = Date.now();
      const during = await Promise.all(Array.from({ length: 5 }, () => outcome(limiter.guard({ identifier: 'x', ip: '192.0.2.10' }, attempt.check))));
      for (const err of during) {
        expect(err).to.be.instanceOf(ServiceUnavailableError);
        expect((err as ServiceUnavailableError).status).to.equal(503);
      }
      expect(Date.now() - started).to.be.below(3000);
      expect(attempt.runs, 'no password check while the limits cannot be kept').to.equal(1);

      await redis!.restart();
      await eventually(() => store!.ping(), 5000);
      // Redis came back empty: a fresh count of 5, and the limit holds again.
      const after = [];
      for (let i = 0; i < 6; i += 1) after.push(await outcome(limiter.guard({ identifier: 'x', ip: '192.0.2.10' }, attempt.check)));
      expect(after.slice(0, 5).every((r) => r instanceof InvalidCredentialsError)).to.equal(true);
      expect(after[5]).to.be.instanceOf(RateLimitedError);
    });
  });
});

function adapter(name: ProfileAdapter['name']): ProfileAdapter {
  const found = PROFILE_ADAPTERS.find((p) => p.name === name);
  if (!found) throw new Error(name);
  return found;
}

/** The 429 body: FastAPI's `detail` on every profile (seed 002 enveloped only two other errors). */
function expectLimitedBody(_profile: ProfileAdapter, body: unknown): void {
  expect(body).to.deep.equal({ detail: TOO_MANY });
}

for (const mode of MODES) {
  describe(`brute force: password logins, ${mode.name}`, function () {
    this.timeout(30_000);
    let server: TestServer;
    let spy: ReturnType<typeof spyOnArgon2> | undefined;

    before(async function () {
      this.timeout(60_000);
      server = await startTestServer({
        database: mode.database,
        store: mode.store,
        mocha: this,
        // The contract's limits, and client addresses from X-Forwarded-For so each test is its own client.
        loginLimits: {},
        env: { COMPAT_PROFILES: ALL_PROFILES, TRUST_PROXY: 'true' },
      });
    });
    after(async () => server?.close());
    afterEach(() => spy?.restore());

    for (const profile of PROFILE_ADAPTERS) {
      it(`${profile.name}: 5 wrong passwords, then 429 with Retry-After in the profile's shape, even for the right password`, async () => {
        const api = legacyClient(server.url, profile);
        const user = newUser('bf');
        await api.register(user);
        const headers = { 'X-Forwarded-For': freshIp() };
        for (let i = 0; i < 5; i += 1) {
          const res = await api.post('/login', { json: profile.loginBody(user, 'wrong-password'), headers });
          expect(res.status, `attempt ${i + 1}`).to.equal(401);
        }
        for (const password of ['wrong-password', user.password]) {
          const res = await api.post('/login', { json: profile.loginBody(user, password), headers });
          expect(res.status).to.equal(429);
          expect(Number(res.headers.get('retry-after'))).to.be.within(59, 60);
          expectLimitedBody(profile, res.body);
        }
      });
    }

    it('limits an unknown identifier exactly like a known one', async () => {
      const api = legacyClient(server.url, adapter('auth-service'));
      const headers = { 'X-Forwarded-For': freshIp() };
      const ghost = { username: `ghost_${Date.now()}`, password: 'whatever-password' };
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) statuses.push((await api.post('/login', { json: ghost, headers })).status);
      expect(statuses).to.deep.equal([401, 401, 401, 401, 401, 429]);
    });

    it('resets the count when the right password is given', async () => {
      const profile = adapter('aurora');
      const api = legacyClient(server.url, profile);
      const user = newUser('reset');
      await api.register(user);
      const headers = { 'X-Forwarded-For': freshIp() };
      const wrong = () => api.post('/login', { json: profile.loginBody(user, 'wrong-password'), headers });
      for (let i = 0; i < 4; i += 1) expect((await wrong()).status).to.equal(401);
      expect((await api.post('/login', { json: profile.loginBody(user), headers })).status).to.equal(200);
      for (let i = 0; i < 5; i += 1) expect((await wrong()).status, `attempt ${i + 1} after the success`).to.equal(401);
      expect((await wrong()).status).to.equal(429);
    });

    it('gives an account one budget per IP, whether its username or its e-mail is typed', async () => {
      const profile = adapter('auth-service');
      const api = legacyClient(server.url, profile);
      const user = newUser('both');
      await api.register(user);
      const headers = { 'X-Forwarded-For': freshIp() };
      const wrong = (login: string) => api.post('/login', { json: { username: login, password: 'wrong-password' }, headers });
      const seen = [];
      for (const login of [user.username, user.email, user.username.toUpperCase(), user.email.toLowerCase(), user.username]) seen.push((await wrong(login)).status);
      expect(seen).to.deep.equal([401, 401, 401, 401, 401]);
      for (const login of [user.email, user.username]) {
        const res = await api.post('/login', { json: { username: login, password: user.password }, headers });
        expect(res.status).to.equal(429);
        expect(Number(res.headers.get('retry-after'))).to.be.within(59, 60);
      }
    });

    it('locks an account after 20 failures in a row from 20 IPs: 429 for everyone, the right password included', async () => {
      const profile = adapter('aurora');
      const api = legacyClient(server.url, profile);
      const user = newUser('spread');
      await api.register(user);
      const seen: number[] = [];
      for (let i = 0; i < 20; i += 1) {
        const login = i % 2 ? user.username : user.email;
        seen.push((await api.post('/login', { json: { username: login, password: 'wrong-password' }, headers: { 'X-Forwarded-For': freshIp() } })).status);
      }
      expect(seen).to.deep.equal(Array(20).fill(401));
      const locked = await api.post('/login', { json: profile.loginBody(user), headers: { 'X-Forwarded-For': freshIp() } });
      expect(locked.status).to.equal(429);
      expect(Number(locked.headers.get('retry-after'))).to.be.within(59, 60);
      expectLimitedBody(profile, locked.body);
      // Another account is not affected.
      const other = newUser('spread');
      await api.register(other);
      expect((await api.post('/login', { json: profile.loginBody(other), headers: { 'X-Forwarded-For': freshIp() } })).status).to.equal(200);
    });

    it('lets 20 of 50 concurrent wrong logins for one account from 50 IPs check the password', async () => {
      const profile = adapter('auth-service');
      const api = legacyClient(server.url, profile);
      const user = newUser('swarm');
      await api.register(user);
      spy = spyOnArgon2();
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          api.post('/login', { json: { username: i % 2 ? user.email : user.username, password: 'wrong-password' }, headers: { 'X-Forwarded-For': freshIp() } }),
        ),
      );
      const verifications = spy.verifies;
      spy.restore();
      expect(results.filter((r) => r.status === 401)).to.have.length(20);
      expect(results.filter((r) => r.status === 429)).to.have.length(30);
      expect(verifications, 'argon2 verifications').to.equal(20);
    });

    it('counts a wrong current password of PUT /users/me/password toward the account, and refuses it once blocked', async () => {
      const profile = adapter('v2');
      const api = legacyClient(server.url, profile);
      const ip = freshIp();
      const headers = { 'X-Forwarded-For': ip };
      const user = newUser('guess');
      await api.register(user);
      const { access } = await api.login(user, headers);
      const change = (current: string) => api.put('/users/me/password', { token: access, json: { current_password: current, new_password: 'brand-new-pass-1' }, headers });
      const seen: number[] = [];
      for (let i = 0; i < 5; i += 1) seen.push((await change(`guess-${i}-password`)).status);
      expect(seen).to.deep.equal([400, 400, 400, 400, 400]);
      spy = spyOnArgon2();
      for (const current of ['guess-5-password', user.password]) {
        const refused = await change(current);
        expect(refused.status).to.equal(429);
        expect(Number(refused.headers.get('retry-after'))).to.be.within(59, 60);
        expect(refused.body).to.deep.equal({ detail: TOO_MANY });
      }
      expect(spy.verifies, 'no password checked while blocked').to.equal(0);
      spy.restore();
      // The same account's login from that address is blocked too: one set of counters.
      expect((await api.post('/login', { json: profile.loginBody(user), headers })).status).to.equal(429);
    });

    it('lets 5 of 50 concurrent wrong logins check the password: 5 × 401, 45 × 429', async () => {
      const profile = adapter('v2');
      const api = legacyClient(server.url, profile);
      const user = newUser('parallel');
      await api.register(user);
      const headers = { 'X-Forwarded-For': freshIp() };
      spy = spyOnArgon2();
      const results = await Promise.all(Array.from({ length: 50 }, () => api.post('/login', { json: profile.loginBody(user, 'wrong-password'), headers })));
      const verifications = spy.verifies;
      spy.restore();
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 401)).to.have.length(5);
      expect(statuses.filter((s) => s === 429)).to.have.length(45);
      for (const res of results.filter((r) => r.status === 429)) expect(Number(res.headers.get('retry-after'))).to.be.within(59, 60);
      expect(verifications, 'argon2 verifications').to.equal(5);
      const row = await server.deps.models.User.findOne({ where: { email: user.email.toLowerCase() } });
      const checked = await server.deps.models.AuditEvent.count({ where: { userId: row?.id, type: 'login', outcome: 'failure' } });
      expect(checked, 'failed logins that reached the password check').to.equal(5);
    });

    it('caps one client at 100 login attempts a minute across identifiers; other clients go on', async () => {
      const api = legacyClient(server.url, adapter('auth-service'));
      const ip = freshIp();
      const statuses: number[] = [];
      for (let batch = 0; batch < 10; batch += 1) {
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => api.post('/login', { json: { username: `spray-${batch}-${i}-${ip}`, password: 'password1' }, headers: { 'X-Forwarded-For': ip } })),
        );
        statuses.push(...results.map((r) => r.status));
      }
      expect(statuses.every((s) => s === 401)).to.equal(true);
      const refused = await api.post('/login', { json: { username: `spray-last-${ip}`, password: 'password1' }, headers: { 'X-Forwarded-For': ip } });
      expect(refused.status).to.equal(429);
      expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 60);
      const other = await api.post('/login', { json: { username: `spray-last-${ip}`, password: 'password1' }, headers: { 'X-Forwarded-For': freshIp() } });
      expect(other.status).to.equal(401);
    });

    it('counts every refusal in the metrics, by limit, and as a rate-limited login', async () => {
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      const value = (pattern: RegExp) => Number(pattern.exec(metrics)?.[1] ?? 0);
      expect(value(/^idp_rate_limit_rejections_total\{limit="login_identifier"\} (\d+)/m)).to.be.at.least(45);
      expect(value(/^idp_rate_limit_rejections_total\{limit="login_ip"\} (\d+)/m)).to.be.at.least(1);
      const limitedLogins = [...metrics.matchAll(/^idp_logins_total\{[^}]*outcome="rate_limited"[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      expect(limitedLogins).to.be.at.least(46);
    });

    it('counts the address the proxy saw (the last X-Forwarded-For entry), not what the client put before it', async () => {
      const api = legacyClient(server.url, adapter('auth-service'));
      const user = newUser('xff');
      await api.register(user);
      const proxySaw = freshIp();
      const statuses: number[] = [];
      for (let i = 0; i < 6; i += 1) {
        // A client rotating a forged first entry; our proxy appends the real address last.
        const res = await api.post('/login', { json: { username: user.username, password: 'wrong-password' }, headers: { 'X-Forwarded-For': `${freshIp()}, ${proxySaw}` } });
        statuses.push(res.status);
      }
      expect(statuses).to.deep.equal([401, 401, 401, 401, 401, 429]);
    });
  });
}

describe('brute force: X-Forwarded-For without TRUST_PROXY', function () {
  this.timeout(30_000);
  let server: TestServer;
  before(async function () {
    this.timeout(60_000);
    server = await startTestServer({ database: 'sqlite', store: 'memory', mocha: this, loginLimits: {} });
  });
  after(async () => server?.close());

  it('is ignored: a forged header per attempt does not escape the limit', async () => {
    const api = legacyClient(server.url, adapter('auth-service'));
    const statuses: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const res = await api.post('/login', { json: { username: 'nobody-here', password: 'wrong-password' }, headers: { 'X-Forwarded-For': freshIp() } });
      statuses.push(res.status);
    }
    expect(statuses).to.deep.equal([401, 401, 401, 401, 401, 429]);
  });
});

describe('brute force: the interaction login page shares the limits', function () {
  this.timeout(40_000);
  let env: OidcEnv;
  before(async function () {
    this.timeout(60_000);
    env = await startOidcEnv({ database: 'sqlite', store: 'memory', mocha: this });
  });
  after(async () => env?.close());

  it('answers the sixth failed sign-in with a 429 page and Retry-After, and the legacy door is blocked for that identifier too', async () => {
    const user = await env.createUser('pagebrute');
    const spa = await env.discover('spa');
    const agent = new UserAgent();
    const url = await authorizationUrl(spa);
    let page = await agent.open(url.href);
    expect(page.body).to.include('name="password"');
    for (let i = 0; i < 5; i += 1) {
      page = await agent.submit(page, '/login', { login: user.username, password: 'wrong-password' });
      expect(page.status, `attempt ${i + 1}`).to.equal(401);
    }
    page = await agent.submit(page, '/login', { login: user.username, password: user.password });
    expect(page.status).to.equal(429);
    expect(Number(page.headers.get('retry-after'))).to.be.within(59, 60);
    expect(page.body).to.include('Too many sign-in attempts');
    expect(page.body).to.include('name="password"');

    const legacy = await http('POST', `${env.server.url}/auth/login`, { json: { username: user.username, password: user.password } });
    expect(legacy.status).to.equal(429);
  });
});
