/**
 * The whole product on a 3-node Redis Cluster (REDIS_CLUSTER_NODES): legacy sessions and refresh-token
 * rotation, the login rate limits, the OIDC adapter through a real authorization-code flow, and "log out
 * everywhere" reaching both doors. A user's keys share a hash tag, so multi-key work on them stays in one
 * slot; everything else must not assume one node.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { redisServerAvailable, startRedisCluster, type RedisCluster } from '../helpers/redis.ts';
import { servicesRequired } from '../helpers/database.ts';
import { ALL_PROFILES, legacyClient, newUser, PROFILE_ADAPTERS, type LegacyClient } from '../helpers/legacy-client.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { authorize, CLIENTS, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

const AUTH_SERVICE = PROFILE_ADAPTERS[0] as (typeof PROFILE_ADAPTERS)[number];
const CLUSTER_PORTS = [7520, 7521, 7522];

describe('everything on a Redis Cluster (REDIS_CLUSTER_NODES, 3 masters)', function () {
  this.timeout(60_000);
  let cluster: RedisCluster;
  let env: OidcEnv;
  let api: LegacyClient;

  before(async function () {
    if (!(await redisServerAvailable())) {
      if (servicesRequired()) throw new Error('redis-server is not installed; REQUIRE_SERVICES=1 makes this a failure');
      this.skip();
    }
    cluster = await startRedisCluster({ ports: CLUSTER_PORTS });
    env = await startOidcEnv({ store: 'memory', mocha: this, env: { REDIS_CLUSTER_NODES: cluster.nodes.join(','), COMPAT_PROFILES: ALL_PROFILES }, loginLimits: {} });
    api = legacyClient(env.server.url, AUTH_SERVICE);
  });

  after(async () => {
    await env?.close();
    await cluster?.stop();
  });

  it('runs on the cluster store', () => {
    expect(env.server.deps.store.kind).to.equal('cluster');
  });

  it('logs in, serves /me, rotates refresh tokens and ends the session when a rotated one is replayed', async () => {
    const { user, tokens } = await api.signedIn('cluster');
    expect((await api.get('/me', { token: tokens.access })).body).to.include({ username: user.username });

    const rotated = await api.post('/refresh', { json: { refresh_token: tokens.refresh } });
    expect(rotated.status).to.equal(200);
    const next = AUTH_SERVICE.tokens(rotated.body);
    expect((await api.get('/me', { token: next.access })).status).to.equal(200);

    expect((await api.post('/refresh', { json: { refresh_token: tokens.refresh } })).status, 'replay').to.equal(401);
    expect((await api.get('/me', { token: next.access })).status, 'the session is gone').to.equal(401);
    expect((await api.post('/refresh', { json: { refresh_token: next.refresh } })).status).to.equal(401);
  });

  it('limits failed logins per identifier with its counters on the cluster', async () => {
    const user = newUser('limited');
    await api.register(user);
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      expect((await api.post('/login', { json: AUTH_SERVICE.loginBody(user, 'wrong-password') })).status).to.equal(401);
    }
    // Five failures in a row block the pair: even the right password is refused now.
    const sixth = await api.post('/login', { json: AUTH_SERVICE.loginBody(user) });
    expect(sixth.status).to.equal(429);
    expect(Number(sixth.headers.get('retry-after'))).to.be.greaterThan(0);
  });

  it('runs an OIDC code flow with refresh and userinfo, and logging out everywhere revokes both doors', async () => {
    const who = await env.createUser('clusterrp');
    const spa = await env.discover('spa');
    const agent = new UserAgent();
    const run = await authorize(agent, spa, {
      redirectUri: CLIENTS.spa.redirect_uris[0],
      scope: 'openid offline_access email',
      user: { login: who.email, password: who.password },
    });
    const oidcTokens = await oidc.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
    expect(oidcTokens.claims()?.sub).to.equal(who.id);
    const info = await oidc.fetchUserInfo(spa, oidcTokens.access_token, who.id);
    expect(info.email).to.equal(who.email);
    const refreshed = await oidc.refreshTokenGrant(spa, oidcTokens.refresh_token as string);
    expect(refreshed.access_token).to.be.a('string');

    // Two password sessions of the same user, then "log out everywhere" from one of them.
    const first = await api.login({ username: who.username, email: who.email, password: who.password });
    const second = await api.login({ username: who.username, email: who.email, password: who.password });
    const listed = (await api.get('/sessions', { token: first.access })).body as { kind: string }[];
    expect(listed.map((session) => session.kind).sort()).to.deep.equal(['oidc', 'password', 'password']);

    expect((await api.post('/logout', { token: second.access, json: { revoke_all_sessions: true } })).status).to.equal(200);
    expect((await api.get('/me', { token: first.access })).status).to.equal(401);
    expect((await api.get('/me', { token: second.access })).status).to.equal(401);
    let refreshFailed = false;
    try {
      await oidc.refreshTokenGrant(spa, refreshed.refresh_token ?? (oidcTokens.refresh_token as string));
    } catch {
      refreshFailed = true;
    }
    expect(refreshFailed, 'the OIDC refresh token was revoked').to.equal(true);
    let userinfoFailed = false;
    try {
      await oidc.fetchUserInfo(spa, refreshed.access_token, who.id);
    } catch {
      userinfoFailed = true;
    }
    expect(userinfoFailed, 'the OIDC access token was revoked').to.equal(true);
  });
});
