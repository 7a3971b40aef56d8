/**
 * CONTRACT §5: the OIDC adapter stores tokens, codes and sessions under a hash of their id, so reading
 * Redis yields no usable token or cookie. After a full code flow, a refresh and a second sign-in through the
 * SSO session, every key under the test's prefix and every value in it is read, and none holds a token,
 * code or session cookie (nor, in a key name, a uid).
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import type { Redis } from 'ioredis';
import { UserAgent } from './helpers/user-agent.ts';
import { authorize, CLIENTS, startOidcEnv, type OidcEnv } from './helpers/oidc-env.ts';

/** Every key under the prefix with its value's text (strings, hashes, sets and sorted sets). */
async function dump(redis: Redis): Promise<Map<string, string>> {
  const prefix = redis.options.keyPrefix ?? '';
  const found = new Map<string, string>();
  for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
    for (const full of keys) {
      const key = full.slice(prefix.length);
      const type = await redis.type(key);
      let text = '';
      if (type === 'string') text = (await redis.get(key)) ?? '';
      else if (type === 'hash') text = JSON.stringify(await redis.hgetall(key));
      else if (type === 'set') text = JSON.stringify(await redis.smembers(key));
      else if (type === 'zset') text = JSON.stringify(await redis.zrange(key, 0, -1));
      else if (type === 'list') text = JSON.stringify(await redis.lrange(key, 0, -1));
      found.set(full, text);
    }
  }
  return found;
}

describe('OIDC records in Redis give nothing away (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  let env: OidcEnv;

  before(async () => {
    env = await startOidcEnv({ database: 'postgres', store: 'redis' });
  });
  after(async () => env?.close());

  it('holds no token, code, session cookie or uid in a key name, and no token, code or cookie in a value', async () => {
    const spa = await env.discover('spa');
    const agent = new UserAgent();
    const run = await authorize(agent, spa, {
      redirectUri: CLIENTS.spa.redirect_uris[0],
      scope: 'openid offline_access',
      user: { login: env.user.username, password: env.user.password },
    });
    const code = run.callback.searchParams.get('code') as string;
    const interactionUid = /\/interaction\/([^/?]+)/.exec(run.pages[0]?.url ?? '')?.[1];
    expect(interactionUid, 'the login page had an interaction uid').to.be.a('string');
    const first = await oidc.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
    const refreshed = await oidc.refreshTokenGrant(spa, first.refresh_token as string);
    // A second authorization through the SSO session: its cookie is in use and its interaction (if any) too.
    const again = await authorize(agent, spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid' });
    const secondCode = again.callback.searchParams.get('code') as string;

    const cookie = agent.cookieValue(`${env.issuer}/auth`, '_session');
    expect(cookie, 'the SSO session cookie').to.be.a('string');
    const listed = (await env.server.deps.sessions.list(env.user.id)).find((session) => session.kind === 'oidc');
    const sid = (listed?.oidc as { sessionUid?: string } | undefined)?.sessionUid as string;
    expect(sid, 'the SSO session uid').to.be.a('string');

    // Still working: the records are there, only unreadable without the token.
    await oidc.fetchUserInfo(spa, refreshed.access_token, env.user.id);

    const credentials: Record<string, string> = {
      'authorization code': code,
      'second authorization code': secondCode,
      'access token': first.access_token,
      'refresh token': first.refresh_token as string,
      'rotated refresh token': refreshed.refresh_token as string,
      'refreshed access token': refreshed.access_token,
      'session cookie': cookie as string,
      'interaction uid': interactionUid as string,
    };
    const redis = env.server.deps.store.redis as Redis;
    expect(redis, 'this suite runs on Redis').to.not.equal(undefined);
    const stored = await dump(redis);
    expect(stored.size).to.be.greaterThan(5);
    expect([...stored.keys()].some((key) => key.includes(':oidc:RefreshToken:')), 'refresh tokens are stored').to.equal(true);
    for (const [key, value] of stored) {
      for (const [what, secret] of Object.entries({ ...credentials, 'session uid': sid })) {
        expect(key.includes(secret), `${what} in key ${key}`).to.equal(false);
      }
      for (const [what, secret] of Object.entries(credentials)) {
        expect(value.includes(secret), `${what} in the value of ${key}`).to.equal(false);
      }
    }
  });
});
