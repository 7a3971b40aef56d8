/**
 * CONTRACT §11 (agents and machine clients) end to end, with openid-client as the relying party:
 * the resource registry of the admin API, discovery, refresh retries, token exchange, dynamic
 * registration and client ID metadata documents. Runs in both MODES.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { MODES } from '../helpers/app.ts';
import { call, login as legacyLogin } from '../helpers/admin-api.ts';
import { UserAgent } from './helpers/user-agent.ts';
import { authorize, CLIENTS, RESOURCE, startOidcEnv, type OidcEnv } from './helpers/oidc-env.ts';

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
      env = await startOidcEnv({ database: mode.database, store: mode.store, env: { REFRESH_REUSE_INTERVAL: '3' } });
      confidential = await env.discover('confidential');
      user = { login: env.user.username, password: env.user.password };
      adminToken = await legacyLogin(env.server, env.user.username, env.user.password);
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
        expect((await admin('POST', '/resources', { indicator: 'https://c.example', scope: 'x', access_token_ttl: 86_400 })).status).to.equal(422);
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

    it('discovery advertises RFC 9207 iss and S256 only', () => {
      const metadata = confidential.serverMetadata();
      expect(metadata.authorization_response_iss_parameter_supported).to.equal(true);
      expect(metadata.code_challenge_methods_supported).to.deep.equal(['S256']);
    });
  });
}
