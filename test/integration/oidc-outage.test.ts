/**
 * The OIDC door while its store is down: protocol endpoints answer 503 with Retry-After (never 500),
 * the pages say so, discovery keeps working, and everything resumes when Redis is back.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { redisServerAvailable, startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { authorize, authorizationUrl, CLIENTS, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

const REDIS_PORT = 7320;

async function eventually<T>(operation: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await operation();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('the OIDC door during a Redis outage', function () {
  this.timeout(40_000);
  let redis: RedisServer | undefined;
  let env: OidcEnv | undefined;

  before(async function () {
    if (!(await redisServerAvailable())) {
      if (process.env.REQUIRE_SERVICES === '1') throw new Error('redis-server is not installed');
      this.skip();
    }
    redis = await startRedisServer({ port: REDIS_PORT });
    env = await startOidcEnv({ database: 'sqlite', store: 'redis', env: { REDIS_URL: redis.url } });
  });
  after(async () => {
    await env?.close();
    await redis?.stop();
  });

  it('answers 503 with Retry-After at the token endpoint and on the pages, keeps discovery up, and recovers', async () => {
    const spa = await env!.discover('spa');
    const login = { login: env!.user.email, password: env!.user.password };
    const run = await authorize(new UserAgent(), spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid offline_access', user: login });
    const tokens = await oidc.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
    const tokenEndpoint = spa.serverMetadata().token_endpoint as string;
    const waiting = new UserAgent();
    const loginPage = await waiting.open((await authorizationUrl(spa)).href);
    expect(loginPage.body).to.include('name="password"');

    await redis!.stop();
    const stalled = await waiting.submit(loginPage, '/login', login);
    expect(stalled.status, 'the login page during the outage').to.equal(503);
    expect(stalled.headers.get('retry-after')).to.equal('5');
    expect(stalled.body).to.include('temporarily unavailable');
    const refresh = await fetch(tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token as string, client_id: CLIENTS.spa.client_id }),
    });
    expect(refresh.status).to.equal(503);
    expect(refresh.headers.get('retry-after')).to.equal('5');
    expect(await refresh.json()).to.deep.equal({ error: 'temporarily_unavailable', error_description: 'Service temporarily unavailable' });

    const page = await fetch(await authorizationUrl(spa), { redirect: 'manual', headers: { accept: 'text/html' } });
    expect(page.status).to.equal(503);
    expect(page.headers.get('retry-after')).to.equal('5');
    expect(await page.text()).to.include('temporarily unavailable');

    const discovery = await fetch(`${env!.issuer}/.well-known/openid-configuration`);
    expect(discovery.status).to.equal(200);

    // Back with an empty Redis (no persistence): the old grant is gone, a new sign-in works.
    await redis!.restart();
    const again = await eventually(
      () => authorize(new UserAgent(), spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid', user: login }),
      10_000,
    );
    expect(again.callback.searchParams.get('code')).to.be.a('string');
  });
});
