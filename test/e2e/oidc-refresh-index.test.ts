/**
 * The grant index stays bounded: oidc-provider's former example Redis adapter appended every token of
 * a grant to a list that only grew. Here one grant is refreshed 2,000 times through the token endpoint
 * (a public client, so every refresh rotates) and the index, counted in Redis itself (expired members
 * included), never holds more than the one live refresh token.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { grantIndexKey } from '../../src/oidc/storage-keys.ts';
import { UserAgent } from './helpers/user-agent.ts';
import { authorize, CLIENTS, startOidcEnv, type OidcEnv } from './helpers/oidc-env.ts';

const REFRESHES = 2000;

describe('the grant index under 2,000 refreshes of one grant (PostgreSQL + Redis)', function () {
  this.timeout(120_000);
  let env: OidcEnv;

  before(async () => {
    env = await startOidcEnv({ database: 'postgres', store: 'redis' });
  });
  after(async () => env?.close());

  it('stays at one member, and the last refresh token still works', async () => {
    const spa = await env.discover('spa');
    const run = await authorize(new UserAgent(), spa, {
      redirectUri: CLIENTS.spa.redirect_uris[0],
      scope: 'openid offline_access',
      user: { login: env.user.username, password: env.user.password },
    });
    const first = await oidc.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
    const stored = await env.server.deps.oidc.storage.adapterFactory('RefreshToken').find(first.refresh_token as string);
    const grantId = stored?.grantId as string;
    expect(grantId).to.be.a('string');

    const redis = env.server.deps.store.redis;
    expect(redis, 'this suite runs on Redis').to.not.equal(undefined);
    const indexSize = () => redis!.zcard(grantIndexKey(grantId));
    const sizes: number[] = [await indexSize()];

    let refreshToken = first.refresh_token as string;
    const tokenEndpoint = spa.serverMetadata().token_endpoint as string;
    for (let i = 1; i <= REFRESHES; i += 1) {
      const response = await fetch(tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: CLIENTS.spa.client_id }),
      });
      const body = (await response.json()) as { refresh_token?: string; error?: string };
      if (!response.ok || !body.refresh_token) throw new Error(`refresh ${i} failed: ${response.status} ${JSON.stringify(body)}`);
      expect(body.refresh_token).to.not.equal(refreshToken);
      refreshToken = body.refresh_token;
      if (i % 250 === 0) sizes.push(await indexSize());
    }

    expect(sizes).to.have.length(1 + REFRESHES / 250);
    expect(new Set(sizes), `index sizes every 250 refreshes: ${sizes.join(', ')}`).to.deep.equal(new Set([1]));
    const last = await oidc.refreshTokenGrant(spa, refreshToken);
    await oidc.fetchUserInfo(spa, last.access_token, env.user.id);
  });
});
