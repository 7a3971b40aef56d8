/**
 * Account enumeration (CONTRACT §3, §6): a login for an unknown user and one with a wrong password give
 * the same status, body and headers, and take about the same time (a dummy hash is verified). Timed
 * with the production argon2 cost, so hashing dominates and a missing dummy verify shows clearly.
 */
import { expect } from 'chai';
import { MODES, TEST_IP_ATTEMPTS, startTestServer, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, legacyClient, newUser, type HttpResult, type ProfileAdapter } from '../helpers/legacy-client.ts';
import { freshIp } from '../helpers/security.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { authorizationUrl, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

const SAMPLES = 30;
/** Headers that differ between any two responses. */
const PER_RESPONSE = new Set(['date', 'x-request-id']);

function comparableHeaders(res: HttpResult): Record<string, string> {
  return Object.fromEntries([...res.headers].filter(([name]) => !PER_RESPONSE.has(name)));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A login body naming someone who has no account, in the profile's fields. */
function unknownLogin(profile: ProfileAdapter, password: string): Record<string, unknown> {
  const ghost = newUser('ghost');
  return profile.loginBody({ ...ghost, password });
}

for (const mode of MODES) {
  describe(`enumeration: unknown user vs wrong password, ${mode.name}`, function () {
    this.timeout(60_000);
    let server: TestServer;

    before(async function () {
      this.timeout(60_000);
      server = await startTestServer({
        database: mode.database,
        store: mode.store,
        mocha: this,
        // Production argon2 cost (OWASP minimum); a fresh client address per attempt keeps the per-IP limits
        // out of the way, and the account-wide lock (20 failures from any IPs) is raised for the 33 samples.
        loginLimits: { ipAttempts: TEST_IP_ATTEMPTS, accountMaxConsecutiveFailures: 1000 },
        env: { COMPAT_PROFILES: ALL_PROFILES, TRUST_PROXY: 'true', ARGON2_MEMORY_KIB: '19456', ARGON2_TIME_COST: '2' },
      });
    });
    after(async () => server?.close());

    for (const profile of PROFILE_ADAPTERS) {
      it(`${profile.name}: same status, body and headers`, async () => {
        const api = legacyClient(server.url, profile);
        const user = newUser('enum');
        await api.register(user);
        const wrong = await api.post('/login', { json: profile.loginBody(user, 'wrong-password'), headers: { 'X-Forwarded-For': freshIp() } });
        const unknown = await api.post('/login', { json: unknownLogin(profile, 'wrong-password'), headers: { 'X-Forwarded-For': freshIp() } });
        expect(wrong.status).to.equal(401);
        expect(unknown.status).to.equal(wrong.status);
        expect(unknown.body).to.deep.equal(wrong.body);
        expect(comparableHeaders(unknown)).to.deep.equal(comparableHeaders(wrong));
        expect(wrong.headers.get('www-authenticate')).to.equal('Bearer');
      });
    }

    it(`takes the same time: medians of ${SAMPLES} attempts each within 25 %`, async () => {
      const profile = PROFILE_ADAPTERS[0]!;
      const api = legacyClient(server.url, profile);
      const user = newUser('timing');
      await api.register(user);
      const attempt = async (body: Record<string, unknown>): Promise<number> => {
        const started = performance.now();
        const res = await api.post('/login', { json: body, headers: { 'X-Forwarded-For': freshIp() } });
        const ms = performance.now() - started;
        expect(res.status).to.equal(401);
        return ms;
      };
      const known = () => attempt(profile.loginBody(user, 'wrong-password'));
      const unknown = () => attempt(unknownLogin(profile, 'wrong-password'));
      for (let i = 0; i < 3; i += 1) await Promise.all([known(), unknown()]).catch(() => undefined); // warm-up (the dummy hash is made once)
      const times = { known: [] as number[], unknown: [] as number[] };
      // Interleaved, one at a time, so drift in machine load affects both sides alike.
      for (let i = 0; i < SAMPLES; i += 1) {
        if (i % 2) {
          times.known.push(await known());
          times.unknown.push(await unknown());
        } else {
          times.unknown.push(await unknown());
          times.known.push(await known());
        }
      }
      const a = median(times.known);
      const b = median(times.unknown);
      const ratio = Math.max(a, b) / Math.min(a, b);
      expect(ratio, `median wrong password ${a.toFixed(1)} ms, unknown user ${b.toFixed(1)} ms`).to.be.at.most(1.25);
      // The comparison means something only if hashing is most of the time (it is at this cost).
      expect(Math.min(a, b)).to.be.above(5);
    });
  });
}

describe('enumeration: the interaction login page', function () {
  this.timeout(40_000);
  let env: OidcEnv;
  before(async function () {
    this.timeout(60_000);
    env = await startOidcEnv({ database: 'sqlite', store: 'memory', mocha: this });
  });
  after(async () => env?.close());

  it('shows the same status and message for an unknown user and a wrong password', async () => {
    const user = await env.createUser('pageenum');
    const spa = await env.discover('spa');
    const results = [];
    for (const login of [user.username, 'nobody-has-this-name']) {
      const agent = new UserAgent();
      const url = await authorizationUrl(spa);
      const page = await agent.submit(await agent.open(url.href), '/login', { login, password: 'wrong-password' });
      const message = /role="alert"[^>]*>\s*<p>([^<]*)<\/p>/.exec(page.body)?.[1];
      results.push({ status: page.status, message });
    }
    expect(results[0]!.status).to.equal(401);
    expect(results[0]!.message).to.be.a('string').and.not.equal('');
    expect(results[1]).to.deep.equal(results[0]);
  });
});
