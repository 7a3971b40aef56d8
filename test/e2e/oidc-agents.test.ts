/**
 * CONTRACT §11 (agents and machine clients) end to end, with openid-client as the relying party:
 * the resource registry of the admin API, discovery, refresh retries, token exchange, dynamic
 * registration and client ID metadata documents. Runs in both MODES.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { MODES } from '../helpers/app.ts';
import { call, login as legacyLogin } from '../helpers/admin-api.ts';
import { UserAgent } from './helpers/user-agent.ts';
import { authorize, CLIENTS, RESOURCE, startOidcEnv, type OidcEnv } from './helpers/oidc-env.ts';
import { removeIdleDynamicClients } from '../../src/oidc/dynamic-clients.ts';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const MCP = 'https://mcp.test.example/mcp';
const TOOLS = 'https://tools.test.example/mcp';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

function oauthError(err: unknown): string | undefined {
  if (err instanceof oidc.ResponseBodyError) return err.error;
  if (err instanceof oidc.AuthorizationResponseError) return err.error;
  if (err instanceof oidc.WWWAuthenticateChallengeError) return err.cause[0]?.parameters.error;
  return undefined;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/** Audit events are written after the response: poll for them. */
async function eventually<T>(read: () => Promise<T>, ok: (value: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

interface ResourceReply {
  id: string;
  indicator: string;
  scope: string;
  access_token_ttl: number | null;
  server_client_id: string | null;
}

for (const mode of MODES) {
  describe(`Agents and machine clients, CONTRACT §11 (${mode.name})`, function () {
    this.timeout(60_000);
    let env: OidcEnv;
    let confidential: oidc.Configuration;
    let adminToken: string;
    let user: { login: string; password: string };

    before(async () => {
      env = await startOidcEnv({ database: mode.database, store: mode.store, env: { REFRESH_REUSE_INTERVAL: '3', CLIENT_REGISTRATION: 'token' } });
      confidential = await env.discover('confidential');
      user = { login: env.user.username, password: env.user.password };
      const root = await env.createUser('root', ['idp_admin']);
      adminToken = await legacyLogin(env.server, root.username, root.password);
    });
    after(async () => env?.close());

    const admin = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) =>
      call<T>(env.server, method, `/admin/api${path}`, { token: adminToken, body });

    describe('resources in the database (admin API)', () => {
      let created: ResourceReply;

      it('POST /admin/api/resources registers a resource, audited, and GET lists it', async () => {
        const reply = await admin<ResourceReply>('POST', '/resources', { indicator: MCP, scope: 'mcp:tools mcp:read', server_client_id: CLIENTS.resourceServer.client_id });
        expect(reply.status).to.equal(201);
        created = reply.body;
        expect(created).to.deep.include({ indicator: MCP, scope: 'mcp:tools mcp:read', access_token_ttl: null, server_client_id: CLIENTS.resourceServer.client_id });
        expect(created.id).to.be.a('string');
        const list = await admin<{ items: ResourceReply[]; total: number }>('GET', '/resources');
        expect(list.body.items.map((item) => item.indicator)).to.deep.equal([MCP]);
        const events = await eventually(
          () => admin<{ items: { type: string; detail: Record<string, unknown> }[] }>('GET', '/audit-events?type=admin.resource_create'),
          (r) => r.body.items.length > 0,
        );
        expect(events.body.items[0]?.detail).to.include({ indicator: MCP });
      });

      it('refuses a duplicate, an OIDC_RESOURCES indicator, a fragment, a public server client and a too long lifetime', async () => {
        expect((await admin('POST', '/resources', { indicator: MCP, scope: 'x' })).status).to.equal(409);
        expect((await admin('POST', '/resources', { indicator: RESOURCE, scope: 'x' })).status).to.equal(409);
        expect((await admin('POST', '/resources', { indicator: 'https://a.example/#x', scope: 'x' })).status).to.equal(422);
        expect((await admin('POST', '/resources', { indicator: 'not a uri', scope: 'x' })).status).to.equal(422);
        const publicServer = await admin('POST', '/resources', { indicator: 'https://b.example', scope: 'x', server_client_id: CLIENTS.spa.client_id });
        expect(publicServer.status).to.equal(422);
        expect(JSON.stringify(publicServer.body)).to.include('server_client_id');
        expect((await admin('POST', '/resources', { indicator: 'https://c.example', scope: 'x', access_token_ttl: 172_800 })).status).to.equal(422);
      });

      it('a code flow with `resource` gets a JWT whose aud is that one resource and whose scopes are at most its own', async () => {
        const agent = new UserAgent();
        const run = await authorize(agent, confidential, {
          redirectUri: CLIENTS.confidential.redirect_uris[0],
          scope: 'openid mcp:tools notes:read',
          user,
          extra: { resource: MCP },
        });
        const tokens = await oidc.authorizationCodeGrant(
          confidential,
          run.callback,
          { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce },
          { resource: MCP },
        );
        const jwks = createRemoteJWKSet(new URL(confidential.serverMetadata().jwks_uri as string));
        const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer: env.issuer, audience: MCP, typ: 'at+jwt' });
        expect(payload.aud).to.equal(MCP);
        expect(payload).to.include({ sub: env.user.id, client_id: CLIENTS.confidential.client_id, scope: 'mcp:tools' });
      });

      it('DELETE /admin/api/resources/:id removes it: a request for it is then invalid_target', async () => {
        const other = await admin<ResourceReply>('POST', '/resources', { indicator: 'https://gone.test.example', scope: 'gone:read' });
        expect(other.status).to.equal(201);
        expect((await admin('DELETE', `/resources/${other.body.id}`)).status).to.equal(204);
        expect((await admin('DELETE', `/resources/${other.body.id}`)).status).to.equal(404);
        const agent = new UserAgent();
        const url = oidc.buildAuthorizationUrl(confidential, {
          redirect_uri: CLIENTS.confidential.redirect_uris[0],
          scope: 'openid gone:read',
          code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
          code_challenge_method: 'S256',
          resource: 'https://gone.test.example',
        });
        const page = await agent.open(url.href, CLIENTS.confidential.redirect_uris[0]);
        expect(new URL(page.url).searchParams.get('error')).to.equal('invalid_target');
      });
    });

    describe('REFRESH_REUSE_INTERVAL (3 s here) for OIDC refresh tokens', () => {
      let spa: oidc.Configuration;
      before(async () => {
        spa = await env.discover('spa');
      });

      async function refreshToken(): Promise<oidc.TokenEndpointResponse> {
        const run = await authorize(new UserAgent(), spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid offline_access', user });
        const tokens = await oidc.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
        expect(tokens.refresh_token).to.be.a('string');
        return tokens;
      }

      it('10 parallel refreshes with one token inside the window all get the same successor pair, which works', async () => {
        const first = await refreshToken();
        const results = await Promise.allSettled(Array.from({ length: 10 }, () => oidc.refreshTokenGrant(spa, first.refresh_token as string)));
        const answers = results.map((result) => {
          if (result.status === 'rejected') throw result.reason;
          return result.value;
        });
        const refreshTokens = new Set(answers.map((answer) => answer.refresh_token));
        const accessTokens = new Set(answers.map((answer) => answer.access_token));
        expect(refreshTokens.size, 'one successor refresh token').to.equal(1);
        expect(accessTokens.size, 'one successor access token').to.equal(1);
        expect([...refreshTokens][0]).to.not.equal(first.refresh_token);
        const [successor] = answers;
        // The successor pair is live: userinfo answers and the successor refreshes (rotating again).
        expect((await oidc.fetchUserInfo(spa, successor!.access_token, env.user.id)).sub).to.equal(env.user.id);
        const next = await oidc.refreshTokenGrant(spa, successor!.refresh_token as string);
        expect(next.refresh_token).to.be.a('string').and.not.equal(successor!.refresh_token);
        // A sequential retry inside the window still gets the same answer.
        const retry = await oidc.refreshTokenGrant(spa, first.refresh_token as string);
        expect(retry.refresh_token).to.equal(successor!.refresh_token);
      });

      it('a replay after the window still revokes the grant, its successors included', async () => {
        const first = await refreshToken();
        const second = await oidc.refreshTokenGrant(spa, first.refresh_token as string);
        await new Promise((resolve) => setTimeout(resolve, 4200));
        const replays = await Promise.allSettled(Array.from({ length: 10 }, () => oidc.refreshTokenGrant(spa, first.refresh_token as string)));
        for (const replay of replays) {
          expect(replay.status).to.equal('rejected');
          expect(oauthError((replay as PromiseRejectedResult).reason)).to.equal('invalid_grant');
        }
        expect(oauthError(await rejection(oidc.refreshTokenGrant(spa, second.refresh_token as string)))).to.equal('invalid_grant');
      });

      it('another client presenting the token inside the window gets nothing', async () => {
        const first = await refreshToken();
        await oidc.refreshTokenGrant(spa, first.refresh_token as string);
        expect(oauthError(await rejection(oidc.refreshTokenGrant(confidential, first.refresh_token as string)))).to.equal('invalid_grant');
      });
    });

    describe('token exchange (RFC 8693)', () => {
      let gateway: oidc.Configuration;
      let stranger: oidc.Configuration;
      let subjectToken: string;

      async function confidentialClient(clientId: string, tokenExchange: boolean): Promise<oidc.Configuration> {
        const reply = await admin<{ client_secret: string }>('POST', '/clients', {
          client_id: clientId, token_exchange: tokenExchange, grant_types: [], response_types: [], redirect_uris: [],
        });
        expect(reply.status, JSON.stringify(reply.body)).to.equal(201);
        const secret = reply.body.client_secret;
        return oidc.discovery(new URL(env.issuer), clientId, { client_secret: secret }, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
      }

      const exchange = (client: oidc.Configuration, params: Record<string, string>) =>
        oidc.genericGrantRequest(client, TOKEN_EXCHANGE, { subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE, ...params });

      async function auditTypes(): Promise<{ outcome: string; detail: Record<string, unknown> }[]> {
        return (await admin<{ items: { outcome: string; detail: Record<string, unknown> }[] }>('GET', '/audit-events?type=token_exchange&limit=200')).body.items;
      }

      before(async () => {
        gateway = await confidentialClient('mcp-gateway', true);
        stranger = await confidentialClient('other-gateway', true);
        const created = await admin('POST', '/resources', { indicator: TOOLS, scope: 'mcp:tools notes:read', server_client_id: 'mcp-gateway' });
        expect(created.status).to.equal(201);
        const run = await authorize(new UserAgent(), confidential, {
          redirectUri: CLIENTS.confidential.redirect_uris[0],
          scope: 'openid mcp:tools notes:read',
          user,
          extra: { resource: TOOLS, prompt: 'consent' },
        });
        const tokens = await oidc.authorizationCodeGrant(confidential, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce }, { resource: TOOLS });
        subjectToken = tokens.access_token;
      });

      it('the resource server trades the token it received for an RFC 9068 JWT for the next resource, with the subject and the asked scope', async () => {
        const result = await exchange(gateway, { resource: RESOURCE, scope: 'notes:read' });
        expect(result.issued_token_type).to.equal(ACCESS_TOKEN_TYPE);
        expect(result.token_type).to.equal('bearer');
        const jwks = createRemoteJWKSet(new URL(confidential.serverMetadata().jwks_uri as string));
        const { payload } = await jwtVerify(result.access_token, jwks, { issuer: env.issuer, audience: RESOURCE, typ: 'at+jwt' });
        expect(payload).to.include({ sub: env.user.id, client_id: 'mcp-gateway', scope: 'notes:read', aud: RESOURCE });
        expect(payload.act).to.equal(undefined);
        // `audience` names the target as well as `resource`.
        const viaAudience = await exchange(gateway, { audience: RESOURCE, scope: 'notes:read' });
        expect((await jwtVerify(viaAudience.access_token, jwks, { audience: RESOURCE })).payload.scope).to.equal('notes:read');
        const audited = await eventually(auditTypes, (items) => items.some((item) => item.outcome === 'success'));
        expect(audited.find((item) => item.outcome === 'success')?.detail).to.include({ subject_resource: TOOLS, target_resource: RESOURCE, scope: 'notes:read' });
      });

      it('without `scope` carries only the subject token\'s scopes that the target defines, never the target\'s whole set', async () => {
        // The published flaw class: an omitted scope filled from the grant, the client or the target resource.
        const result = await exchange(gateway, { resource: RESOURCE });
        const { payload } = await jwtVerify(result.access_token, createRemoteJWKSet(new URL(confidential.serverMetadata().jwks_uri as string)), { audience: RESOURCE });
        expect(payload.scope).to.equal('notes:read');
      });

      it('adds act {sub, client_id} for an actor token', async () => {
        const service = await env.discover('service');
        const actor = await oidc.clientCredentialsGrant(service, { scope: '' });
        const result = await exchange(gateway, { resource: RESOURCE, scope: 'notes:read', actor_token: actor.access_token, actor_token_type: ACCESS_TOKEN_TYPE });
        const { payload } = await jwtVerify(result.access_token, createRemoteJWKSet(new URL(confidential.serverMetadata().jwks_uri as string)), { audience: RESOURCE });
        expect(payload.act).to.deep.equal({ sub: CLIENTS.service.client_id, client_id: CLIENTS.service.client_id });
        expect(payload.sub).to.equal(env.user.id);
        expect(oauthError(await rejection(exchange(gateway, { resource: RESOURCE, actor_token: 'not-a-token', actor_token_type: ACCESS_TOKEN_TYPE })))).to.equal('invalid_grant');
      });

      it('refuses scope escalation with invalid_scope: a scope the subject token lacks, or one the target does not define', async () => {
        expect(oauthError(await rejection(exchange(gateway, { resource: RESOURCE, scope: 'notes:write' })))).to.equal('invalid_scope');
        expect(oauthError(await rejection(exchange(gateway, { resource: RESOURCE, scope: 'notes:read notes:write' })))).to.equal('invalid_scope');
        expect(oauthError(await rejection(exchange(gateway, { resource: RESOURCE, scope: 'notes:read mcp:tools' })))).to.equal('invalid_scope');
        expect(oauthError(await rejection(exchange(gateway, { resource: RESOURCE, scope: 'openid offline_access' })))).to.equal('invalid_scope');
      });

      it('bounds the result by the subject token, not by its grant: a downscoped subject token cannot be widened back', async () => {
        // The grant holds mcp:tools and notes:read; a refresh downscopes the token to mcp:tools alone.
        const run = await authorize(new UserAgent(), confidential, {
          redirectUri: CLIENTS.confidential.redirect_uris[0],
          scope: 'openid offline_access mcp:tools notes:read',
          user,
          extra: { resource: TOOLS, prompt: 'consent' },
        });
        const tokens = await oidc.authorizationCodeGrant(confidential, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce }, { resource: TOOLS });
        const narrow = await oidc.refreshTokenGrant(confidential, tokens.refresh_token as string, { resource: TOOLS, scope: 'mcp:tools' });
        const { payload } = await jwtVerify(narrow.access_token, createRemoteJWKSet(new URL(confidential.serverMetadata().jwks_uri as string)), { audience: TOOLS });
        expect(payload.scope).to.equal('mcp:tools');
        const withNarrow = { subject_token: narrow.access_token };
        expect(oauthError(await rejection(exchange(gateway, { ...withNarrow, resource: RESOURCE, scope: 'notes:read' })))).to.equal('invalid_scope');
        expect(oauthError(await rejection(exchange(gateway, { ...withNarrow, resource: RESOURCE })))).to.equal('invalid_scope');
      });

      it('refuses an unregistered target, the subject\'s own resource, or none, with invalid_target', async () => {
        expect(oauthError(await rejection(exchange(gateway, { resource: 'https://unknown.test.example' })))).to.equal('invalid_target');
        expect(oauthError(await rejection(exchange(gateway, { audience: 'https://unknown.test.example' })))).to.equal('invalid_target');
        expect(oauthError(await rejection(exchange(gateway, { resource: TOOLS })))).to.equal('invalid_target');
        expect(oauthError(await rejection(exchange(gateway, {})))).to.equal('invalid_target');
      });

      it('refuses a foreign, opaque or made-up subject token with invalid_grant, and a client without token_exchange', async () => {
        expect(oauthError(await rejection(exchange(stranger, { resource: RESOURCE, scope: 'notes:read' }))), 'another resource server').to.equal('invalid_grant');
        const opaque = await oidc.clientCredentialsGrant(await env.discover('service'), { scope: '' });
        expect(oauthError(await rejection(exchange(gateway, { resource: RESOURCE, subject_token: opaque.access_token })))).to.equal('invalid_grant');
        expect(oauthError(await rejection(exchange(gateway, { resource: RESOURCE, subject_token: `${subjectToken.slice(0, -4)}AAAA` })))).to.equal('invalid_grant');
        const notAllowed = await confidentialClient('plain-server', false);
        expect(oauthError(await rejection(exchange(notAllowed, { resource: RESOURCE })))).to.be.oneOf(['unauthorized_client', 'invalid_request']);
        const publicOne = await admin('POST', '/clients', { client_id: 'public-exchanger', token_exchange: true, token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1:7400/cb'] });
        expect(publicOne.status).to.equal(422);
        const failures = await eventually(auditTypes, (items) => items.filter((item) => item.outcome === 'failure').length >= 3);
        expect(failures.some((item) => item.outcome === 'failure' && item.detail.error === 'invalid_grant')).to.equal(true);
      });

      it('refuses a subject token whose grant was revoked with invalid_grant', async () => {
        for (const grantId of await env.server.deps.oidc.storage.grantIdsOfAccount(env.user.id)) await env.server.deps.oidc.storage.revokeGrant(grantId);
        expect(oauthError(await rejection(exchange(gateway, { resource: RESOURCE, scope: 'notes:read' })))).to.equal('invalid_grant');
      });
    });

    describe('dynamic client registration with CLIENT_REGISTRATION=token', () => {
      const register = (token?: string) =>
        fetch(`${env.issuer}/reg`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ redirect_uris: ['https://agent.example/cb'], client_name: 'Agent', token_endpoint_auth_method: 'client_secret_basic' }),
        });

      it('needs a one-time initial access token from POST /admin/api/initial-access-tokens', async () => {
        expect(confidential.serverMetadata().registration_endpoint).to.equal(`${env.issuer}/reg`);
        expect((await register()).status).to.equal(401);
        expect((await register('made-up')).status).to.equal(401);
        const issued = await admin<{ initial_access_token: string; expires_at: string }>('POST', '/initial-access-tokens', { expires_in: 600 });
        expect(issued.status).to.equal(201);
        expect(Date.parse(issued.body.expires_at) - Date.now()).to.be.within(590_000, 610_000);
        const registered = await oidc.dynamicClientRegistration(
          new URL(env.issuer),
          { redirect_uris: ['https://agent.example/cb'], client_name: 'Token Agent', token_endpoint_auth_method: 'client_secret_basic' },
          undefined,
          { initialAccessToken: issued.body.initial_access_token, execute: [oidc.allowInsecureRequests] },
        );
        const { client_id: clientId, client_secret: secret } = registered.clientMetadata();
        expect(secret, 'a confidential client under token gets its secret once').to.be.a('string');
        const again = await register(issued.body.initial_access_token);
        expect(again.status, 'the token is good for one registration').to.equal(401);
        const listed = await admin<{ items: { client_id: string; source: string; first_party: boolean }[] }>('GET', '/clients');
        expect(listed.body.items.find((item) => item.client_id === clientId)).to.include({ source: 'dynamic', first_party: false });
        // The secret works at the token endpoint (it is stored hashed).
        const token = await oidc.clientCredentialsGrant(registered, {}).catch((err: unknown) => err);
        expect(oauthError(token), 'the secret authenticates; the grant is simply not allowed').to.not.equal('invalid_client');
      });

      it('two concurrent registrations with one initial access token: exactly one succeeds', async () => {
        const issued = await admin<{ initial_access_token: string }>('POST', '/initial-access-tokens', {});
        const statuses = (await Promise.all([register(issued.body.initial_access_token), register(issued.body.initial_access_token)])).map((res) => res.status);
        expect(statuses.sort()).to.deep.equal([201, 401]);
      });
    });

    it('discovery advertises RFC 9207 iss and S256 only', () => {
      const metadata = confidential.serverMetadata();
      expect(metadata.authorization_response_iss_parameter_supported).to.equal(true);
      expect(metadata.code_challenge_methods_supported).to.deep.equal(['S256']);
    });
  });

  describe(`Dynamic client registration with CLIENT_REGISTRATION=open (${mode.name})`, function () {
    this.timeout(60_000);
    let env: OidcEnv;
    let adminToken: string;
    let registrations = 0;

    before(async () => {
      env = await startOidcEnv({ database: mode.database, store: mode.store, env: { CLIENT_REGISTRATION: 'open' } });
      const root = await env.createUser('root', ['idp_admin']);
      adminToken = await legacyLogin(env.server, root.username, root.password);
      const created = await call(env.server, 'POST', '/admin/api/resources', { token: adminToken, body: { indicator: MCP, scope: 'mcp:tools' } });
      expect(created.status).to.equal(201);
    });
    after(async () => env?.close());

    const registerRaw = (metadata: Record<string, unknown>) =>
      fetch(`${env.issuer}/reg`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata) });

    async function refusal(metadata: Record<string, unknown>): Promise<{ status: number; error: string; description: string }> {
      const res = await registerRaw(metadata);
      const body = (await res.json()) as { error: string; error_description: string };
      return { status: res.status, error: body.error, description: body.error_description };
    }

    const AGENT = { client_name: 'Claude-like agent', redirect_uris: ['http://127.0.0.1:7500/callback', 'https://agent.example/cb'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'] };

    it('registers a public client with openid-client, which then completes a code flow with `resource`, always after consent', async () => {
      const registered = await oidc.dynamicClientRegistration(new URL(env.issuer), AGENT, oidc.None(), { execute: [oidc.allowInsecureRequests] });
      registrations += 1;
      const metadata = registered.clientMetadata();
      expect(metadata.client_secret).to.equal(undefined);
      expect(metadata.scope, 'no scope asked: the open OpenID scopes (resource scopes are bounded by the resources)').to.equal('openid profile email offline_access');
      const user = { login: env.user.username, password: env.user.password };
      const agent = new UserAgent();
      const run = await authorize(agent, registered, { redirectUri: AGENT.redirect_uris[0]!, scope: 'openid mcp:tools offline_access', user, extra: { resource: MCP } });
      expect(run.pages.some((page) => page.body.includes('name="decision"')), 'consent asked').to.equal(true);
      const { OidcClient } = env.server.deps.models;
      await OidcClient.update({ lastUsedAt: new Date(0) }, { where: { clientId: metadata.client_id } });
      const tokens = await oidc.authorizationCodeGrant(registered, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce }, { resource: MCP });
      const used = await eventually(() => OidcClient.findByPk(metadata.client_id), (row) => (row?.lastUsedAt?.getTime() ?? 0) > Date.now() - 60_000);
      expect(used?.lastUsedAt?.getTime(), 'a token request counts as use').to.be.greaterThan(Date.now() - 60_000);
      const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(registered.serverMetadata().jwks_uri as string)), { audience: MCP });
      expect(payload).to.include({ sub: env.user.id, client_id: metadata.client_id, scope: 'mcp:tools' });
      // A second authorization asks again: a dynamic client is third-party every time.
      const second = await authorize(agent, registered, { redirectUri: AGENT.redirect_uris[0]!, scope: 'openid', extra: {} });
      expect(second.pages.some((page) => page.body.includes('name="decision"'))).to.equal(true);
      const listed = await call<{ items: { client_id: string; source: string }[] }>(env.server, 'GET', '/admin/api/clients', { token: adminToken });
      expect(listed.body.items.find((item) => item.client_id === metadata.client_id)?.source).to.equal('dynamic');
    });

    it('manages a registration (RFC 7592) under the same rules: read, update, refused widening, delete', async () => {
      const created = await registerRaw({ ...AGENT, client_name: 'Managed agent' });
      expect(created.status).to.equal(201);
      registrations += 1;
      const body = (await created.json()) as { client_id: string; registration_access_token: string; registration_client_uri: string };
      const auth = { authorization: `Bearer ${body.registration_access_token}` };
      const read = await fetch(body.registration_client_uri, { headers: auth });
      expect(read.status).to.equal(200);
      const current = (await read.json()) as Record<string, unknown> & { registration_access_token: string };
      const { registration_access_token: token, registration_client_uri: _uri, client_id_issued_at: _issued, client_secret_expires_at: _expires, ...metadata } = current;
      const put = (changes: Record<string, unknown>, bearer: string) =>
        fetch(body.registration_client_uri, { method: 'PUT', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: JSON.stringify({ ...metadata, ...changes }) });
      const widened = await put({ token_endpoint_auth_method: 'client_secret_basic' }, token);
      expect(widened.status).to.equal(400);
      const renamed = await put({ client_name: 'Renamed agent' }, token);
      expect(renamed.status, await renamed.clone().text()).to.equal(200);
      const rotated = ((await renamed.json()) as { registration_access_token: string }).registration_access_token;
      const gone = await fetch(body.registration_client_uri, { method: 'DELETE', headers: { authorization: `Bearer ${rotated}` } });
      expect(gone.status).to.equal(204);
      expect(await env.server.deps.models.OidcClient.findByPk(body.client_id)).to.equal(null);
    });

    it('refuses a confidential client, a non-loopback http redirect, other grants, wider scopes and first_party', async () => {
      const confidentialOne = await refusal({ ...AGENT, token_endpoint_auth_method: 'client_secret_basic' });
      expect(confidentialOne).to.include({ status: 400, error: 'invalid_client_metadata' });
      expect(confidentialOne.description).to.include('public clients');
      const defaultMethod = await refusal({ redirect_uris: ['https://agent.example/cb'] });
      expect(defaultMethod.error, 'the RFC 7591 default is client_secret_basic').to.equal('invalid_client_metadata');
      const httpRedirect = await refusal({ ...AGENT, redirect_uris: ['http://agent.example/cb'] });
      expect(httpRedirect).to.include({ status: 400, error: 'invalid_redirect_uri' });
      expect((await refusal({ ...AGENT, redirect_uris: ['http://10.0.0.8:8080/cb'] })).error).to.equal('invalid_redirect_uri');
      expect((await refusal({ ...AGENT, grant_types: ['authorization_code', 'client_credentials'] })).error).to.equal('invalid_client_metadata');
      expect((await refusal({ ...AGENT, scope: 'openid roles' })).error).to.equal('invalid_client_metadata');
      expect((await refusal({ ...AGENT, scope: 'openid other:scope' })).error).to.equal('invalid_client_metadata');
      expect((await refusal({ ...AGENT, first_party: true })).error).to.equal('invalid_client_metadata');
      expect((await refusal({ ...AGENT, token_exchange: true })).error).to.equal('invalid_client_metadata');
      // Loopback forms that are allowed.
      const ok = await registerRaw({ ...AGENT, redirect_uris: ['http://[::1]:9000/cb', 'http://localhost:33418/cb'], scope: 'openid email mcp:tools' });
      expect(ok.status).to.equal(201);
      expect(((await ok.json()) as { scope: string }).scope).to.equal('openid email');
      registrations += 1;
    });

    it('accepts at most 10 registrations per address per hour: the 11th is a 429 with Retry-After', async () => {
      while (registrations < 10) {
        const res = await registerRaw(AGENT);
        expect(res.status).to.equal(201);
        registrations += 1;
      }
      const eleventh = await registerRaw(AGENT);
      expect(eleventh.status).to.equal(429);
      expect(Number(eleventh.headers.get('retry-after'))).to.be.greaterThan(0);
      expect(((await eleventh.json()) as { error: string }).error).to.equal('too_many_requests');
    });

    it('removes dynamic clients after 30 days without a token request, and a token request counts as use', async () => {
      const { OidcClient } = env.server.deps.models;
      const dynamic = await OidcClient.findAll({ where: { source: 'dynamic' } });
      expect(dynamic.length).to.be.greaterThan(2);
      const [idle, recent] = dynamic;
      await OidcClient.update({ lastUsedAt: new Date(Date.now() - 31 * 24 * 3600_000) }, { where: { clientId: idle!.clientId } });
      await OidcClient.update({ lastUsedAt: new Date(Date.now() - 29 * 24 * 3600_000) }, { where: { clientId: recent!.clientId } });
      const adminClient = await call(env.server, 'POST', '/admin/api/clients', { token: adminToken, body: { client_id: 'old-admin-client', redirect_uris: ['https://x.example/cb'] } });
      expect(adminClient.status).to.equal(201);
      await OidcClient.update({ lastUsedAt: new Date(0) }, { where: { clientId: 'old-admin-client' } });
      expect(await removeIdleDynamicClients(env.server.deps.models)).to.equal(1);
      expect(await OidcClient.findByPk(idle!.clientId)).to.equal(null);
      expect(await OidcClient.findByPk(recent!.clientId)).to.not.equal(null);
      expect(await OidcClient.findByPk('old-admin-client'), 'admin clients never age out').to.not.equal(null);
    });
  });

  describe(`Client ID metadata documents (${mode.name})`, function () {
    this.timeout(60_000);
    let env: OidcEnv;
    let documents: http.Server;
    let base: string;
    const served = new Map<string, { body: unknown; headers?: Record<string, string> }>();
    let fetches = 0;
    let chatgptKeys: Awaited<ReturnType<typeof generateKeyPair>>;

    before(async () => {
      documents = http.createServer((req, res) => {
        fetches += 1;
        const doc = served.get(req.url ?? '');
        if (!doc) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', ...doc.headers }).end(JSON.stringify(doc.body));
      });
      await new Promise<void>((resolve) => documents.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(documents.address() as AddressInfo).port}`;
      // Shaped like the published Claude document: a public client with https callbacks, cacheable.
      served.set('/oauth/claude-client-metadata', {
        body: {
          client_id: `${base}/oauth/claude-client-metadata`,
          client_name: 'Claude',
          client_uri: 'https://claude.ai',
          logo_uri: 'https://claude.ai/images/claude_app_icon.png',
          redirect_uris: ['https://claude.ai/api/mcp/auth_callback', 'https://claude.com/api/mcp/auth_callback'],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          token_endpoint_auth_method: 'none',
        },
        headers: { 'cache-control': 'public, max-age=3600' },
      });
      // Shaped like the published ChatGPT document: it prefers private_key_jwt and offers both methods through
      // RP Metadata Choices (its keys inline here, where the real one has a jwks_uri on chatgpt.com).
      chatgptKeys = await generateKeyPair('RS256', { extractable: true });
      served.set('/oauth/chatgpt-client-metadata.json', {
        body: {
          client_id: `${base}/oauth/chatgpt-client-metadata.json`,
          client_name: 'ChatGPT',
          client_uri: 'https://chatgpt.com/',
          redirect_uris: ['https://chatgpt.com/connector_platform_oauth_redirect'],
          token_endpoint_auth_method: 'private_key_jwt',
          token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
          token_endpoint_auth_signing_alg: 'RS256',
          jwks: { keys: [{ ...(await exportJWK(chatgptKeys.publicKey)), alg: 'RS256', use: 'sig', kid: 'chatgpt-test' }] },
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
        },
      });
      // Offers only choices, no declared method: the first the provider supports (none) is used.
      served.set('/choices-only.json', {
        body: {
          client_id: `${base}/choices-only.json`,
          client_name: 'Choices agent',
          redirect_uris: ['https://agent.example/cb'],
          token_endpoint_auth_methods_supported: ['none', 'private_key_jwt'],
          grant_types: ['authorization_code', 'refresh_token'],
        },
      });
      served.set('/cli-agent.json', {
        body: { client_id: `${base}/cli-agent.json`, client_name: 'CLI agent', redirect_uris: ['http://127.0.0.1:7600/callback'], token_endpoint_auth_method: 'none' },
      });
      served.set('/mismatch.json', {
        body: { client_id: `${base}/someone-else.json`, client_name: 'Impostor', redirect_uris: ['https://claude.ai/api/mcp/auth_callback'], token_endpoint_auth_method: 'none' },
      });
      served.set('/secret.json', {
        body: { client_id: `${base}/secret.json`, redirect_uris: ['https://x.example/cb'], token_endpoint_auth_method: 'client_secret_basic' },
      });
      env = await startOidcEnv({ database: mode.database, store: mode.store, env: { CLIENT_ID_METADATA_DOCUMENTS: 'loopback,127.0.0.1' } });
    });
    after(async () => {
      await env?.close();
      documents?.closeAllConnections();
      await new Promise<void>((resolve) => documents?.close(() => resolve()));
    });

    const configFor = (clientId: string, auth: oidc.ClientAuth = oidc.None()) =>
      oidc.discovery(new URL(env.issuer), clientId, undefined, auth, { execute: [oidc.allowInsecureRequests] });

    it('discovery says client_id_metadata_document_supported and lists none among the token endpoint auth methods', async () => {
      const metadata = (await configFor('x')).serverMetadata();
      expect(metadata.client_id_metadata_document_supported).to.equal(true);
      expect(metadata.token_endpoint_auth_methods_supported).to.include('none');
    });

    for (const [name, path, redirect, auth] of [
      ['Claude (public client)', '/oauth/claude-client-metadata', 'https://claude.ai/api/mcp/auth_callback', 'none'],
      ['ChatGPT (RP Metadata Choices, private_key_jwt)', '/oauth/chatgpt-client-metadata.json', 'https://chatgpt.com/connector_platform_oauth_redirect', 'private_key_jwt'],
      ['choices only (none)', '/choices-only.json', 'https://agent.example/cb', 'none'],
    ] as const) {
      it(`completes a code flow with the document URL as client_id: ${name}, the consent page naming the document's host`, async () => {
        const clientId = `${base}${path}`;
        const client = await configFor(clientId, auth === 'none' ? oidc.None() : oidc.PrivateKeyJwt({ key: chatgptKeys.privateKey, kid: 'chatgpt-test' }));
        if (auth === 'private_key_jwt') {
          // Its declared preference is honoured: without a client assertion the token request is refused.
          const publicTry = await configFor(clientId);
          const tryRun = await authorize(new UserAgent(), publicTry, { redirectUri: redirect, scope: 'openid', user: { login: env.user.username, password: env.user.password } });
          const refused = await rejection(oidc.authorizationCodeGrant(publicTry, tryRun.callback, { pkceCodeVerifier: tryRun.verifier, expectedState: tryRun.state, expectedNonce: tryRun.nonce }));
          expect(oauthError(refused)).to.equal('invalid_client');
        }
        const user = { login: env.user.username, password: env.user.password };
        const run = await authorize(new UserAgent(), client, { redirectUri: redirect, scope: 'openid offline_access', user, extra: { prompt: 'consent' } });
        const consent = run.pages.find((page) => page.body.includes('name="decision"'));
        expect(consent?.body).to.include(`<strong class="host">${new URL(base).host}</strong>`);
        expect(consent?.body).to.not.include('role="alert"');
        const tokens = await oidc.authorizationCodeGrant(client, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
        expect(tokens.claims()?.aud).to.equal(clientId);
        expect(tokens.refresh_token).to.be.a('string');
      });
    }

    it('caches a document per its Cache-Control', async () => {
      const before = fetches;
      await authorizationPage(`${base}/oauth/claude-client-metadata`, 'https://claude.ai/api/mcp/auth_callback');
      expect(fetches, 'max-age=3600: served from the cache').to.equal(before);
    });

    it('warns on the consent page when every redirect URI is loopback', async () => {
      const client = await configFor(`${base}/cli-agent.json`);
      const agent = new UserAgent();
      const url = oidc.buildAuthorizationUrl(client, {
        redirect_uri: 'http://127.0.0.1:7600/callback',
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      });
      let page = await agent.open(url.href, 'http://127.0.0.1:7600/callback');
      page = await agent.submit(page, '/login', { login: env.user.username, password: env.user.password }, 'http://127.0.0.1:7600/callback');
      expect(page.body).to.include('name="decision"');
      expect(page.body).to.include('role="alert"');
      expect(page.body).to.include('loopback');
    });

    async function authorizationPage(clientId: string, redirectUri: string) {
      const url = new URL(`${env.issuer}/auth`);
      url.search = new URLSearchParams({
        client_id: clientId,
        redirect_uri: redirectUri,
        response_type: 'code',
        scope: 'openid',
        code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
        code_challenge_method: 'S256',
      }).toString();
      return new UserAgent().open(url.href, redirectUri);
    }

    it('refuses a document whose client_id differs from its URL, one with a shared secret, and a redirect_uri outside the document', async () => {
      const mismatch = await authorizationPage(`${base}/mismatch.json`, 'https://claude.ai/api/mcp/auth_callback');
      expect(mismatch.status, 'an error page, no redirect').to.equal(400);
      expect(mismatch.body).to.not.include('name="password"');
      expect(mismatch.body).to.include('does not match');
      expect((await authorizationPage(`${base}/secret.json`, 'https://x.example/cb')).status).to.equal(400);
      const outside = await authorizationPage(`${base}/oauth/claude-client-metadata`, 'https://evil.example/cb');
      expect(outside.status).to.equal(400);
      expect((await authorizationPage(`${base}/missing.json`, 'https://x.example/cb')).status).to.equal(400);
    });

    it('refuses an https document on a loopback address and a host outside the list, fetching nothing', async () => {
      const before = fetches;
      const https = await authorizationPage(`https://127.0.0.1:${new URL(base).port}/oauth/claude-client-metadata`, 'https://claude.ai/api/mcp/auth_callback');
      expect(https.status).to.equal(400);
      const outside = await authorizationPage('https://agents.not-listed.example/doc.json', 'https://x.example/cb');
      expect(outside.status).to.equal(400);
      expect(fetches).to.equal(before);
    });
  });
}
