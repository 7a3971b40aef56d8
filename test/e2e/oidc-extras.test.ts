/**
 * The extras oidc-provider brings and we switched on: pushed authorization requests, DPoP and the
 * device authorization grant (with its pages), driven by openid-client.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { UserAgent } from './helpers/user-agent.ts';
import { CLIENTS, startOidcEnv, type OidcEnv } from './helpers/oidc-env.ts';

describe('OIDC extras: PAR, DPoP, device flow (PostgreSQL + Redis)', function () {
  this.timeout(30_000);
  let env: OidcEnv;
  let login: { login: string; password: string };

  before(async () => {
    env = await startOidcEnv({ database: 'postgres', store: 'redis' });
    login = { login: env.user.email, password: env.user.password };
  });
  after(async () => env?.close());

  it('accepts a pushed authorization request and completes the code flow from its request_uri', async () => {
    const config = await env.discover('confidential');
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = await oidc.buildAuthorizationUrlWithPAR(config, {
      redirect_uri: CLIENTS.confidential.redirect_uris[0],
      scope: 'openid email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    expect(url.searchParams.get('request_uri')).to.match(/^urn:ietf:params:oauth:request_uri:/);
    const agent = new UserAgent();
    let page = await agent.open(url.href, CLIENTS.confidential.redirect_uris[0]);
    page = await agent.submit(page, '/login', login, CLIENTS.confidential.redirect_uris[0]);
    page = await agent.submit(page, '/confirm', { decision: 'approve' }, CLIENTS.confidential.redirect_uris[0]);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url), { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()?.email).to.equal(env.user.email);
  });

  it('binds tokens to a DPoP key: the token type is DPoP and userinfo needs the proof', async () => {
    const spa = await env.discover('spa');
    const dpop = oidc.getDPoPHandle(spa, await oidc.randomDPoPKeyPair('ES256'));
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(spa, {
      redirect_uri: CLIENTS.spa.redirect_uris[0],
      scope: 'openid offline_access',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const agent = new UserAgent();
    let page = await agent.open(url.href, CLIENTS.spa.redirect_uris[0]);
    page = await agent.submit(page, '/login', login, CLIENTS.spa.redirect_uris[0]);
    const tokens = await oidc.authorizationCodeGrant(spa, new URL(page.url), { pkceCodeVerifier: verifier, expectedState: state }, undefined, { DPoP: dpop });
    expect(tokens.token_type.toLowerCase()).to.equal('dpop');
    const userinfo = await oidc.fetchUserInfo(spa, tokens.access_token, env.user.id, { DPoP: dpop });
    expect(userinfo.sub).to.equal(env.user.id);
    const bearer = await fetch(spa.serverMetadata().userinfo_endpoint as string, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(bearer.status, 'a DPoP-bound token without its proof').to.equal(401);
    const refreshed = await oidc.refreshTokenGrant(spa, tokens.refresh_token as string, undefined, { DPoP: dpop });
    expect(refreshed.token_type.toLowerCase()).to.equal('dpop');
  });

  it('runs the device authorization grant: code page, confirmation, login, consent, then the device gets tokens', async () => {
    const tv = await env.discover('device');
    const authorization = await oidc.initiateDeviceAuthorization(tv, { scope: 'openid profile' });
    expect(authorization.user_code).to.match(/^[A-Z]{4}-[A-Z]{4}$/);

    const agent = new UserAgent();
    const input = await agent.open(authorization.verification_uri);
    expect(input.status).to.equal(200);
    expect(input.body).to.include('id="user_code"').and.include('aria-label=');
    expect(input.body).not.to.include('onfocus=');
    const confirm = await agent.submit(input, '/oidc/device', { user_code: authorization.user_code });
    expect(confirm.body).to.include(authorization.user_code).and.include('TV App');
    let page = await agent.submit(confirm, '/oidc/device', { confirm: 'yes' });
    page = await agent.submit(page, '/login', login);
    page = await agent.submit(page, '/confirm', { decision: 'approve' });
    expect(page.status).to.equal(200);
    expect(page.body).to.include('Device connected');

    const tokens = await oidc.pollDeviceAuthorizationGrant(tv, { ...authorization, interval: 0 });
    expect(tokens.claims()?.sub).to.equal(env.user.id);
  });
});
