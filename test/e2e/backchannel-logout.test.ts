/**
 * OIDC Back-Channel Logout 1.0 end to end (CONTRACT §4): a relying party listening on loopback receives
 * a logout token it can verify against the provider's JWKS after every way a session ends; a receiver
 * that fails gets exactly its retries while the logout itself completes at once; with
 * BACKCHANNEL_ALLOW_PRIVATE=false nothing is sent to loopback.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { freePort } from '../helpers/app.ts';
import { call, login } from '../helpers/admin-api.ts';
import { UserAgent } from './helpers/user-agent.ts';
import { authorize, CLIENTS, startOidcEnv, type OidcEnv, type TestUser } from './helpers/oidc-env.ts';
import { LOGOUT_EVENT } from '../../src/oidc/backchannel-logout.ts';

/** A relying party's back-channel endpoint: records every POST; `/fail` answers 500 after 400 ms. */
async function startReceiver() {
  const received: { path: string; token: string; contentType: string }[] = [];
  const port = await freePort();
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ path: req.url ?? '', token: new URLSearchParams(body).get('logout_token') ?? '', contentType: req.headers['content-type'] ?? '' });
      if (req.url === '/fail') setTimeout(() => res.writeHead(500).end('down'), 400);
      else res.writeHead(200, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    tokensFor: (p: string) => received.filter((entry) => entry.path === p).map((entry) => entry.token),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type Receiver = Awaited<ReturnType<typeof startReceiver>>;

const RP_BASE = 'http://127.0.0.1:7310';

function backchannelClients(receiver: Receiver) {
  return {
    app: {
      client_id: 'bc-app',
      client_secret: 'bc-app-secret-0123456789abcdef0123456789abcd',
      client_name: 'Back-channel App',
      redirect_uris: [`${RP_BASE}/cb`],
      post_logout_redirect_uris: [`${RP_BASE}/bye`],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
      backchannel_logout_uri: `${receiver.url}/app`,
      backchannel_logout_session_required: true,
    },
    failing: {
      client_id: 'bc-failing',
      client_secret: 'bc-failing-secret-0123456789abcdef0123456789',
      client_name: 'Failing Receiver',
      redirect_uris: [`${RP_BASE}/cb2`],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
      backchannel_logout_uri: `${receiver.url}/fail`,
    },
  };
}

async function startEnv(receiver: Receiver, options: { allowPrivate: boolean; mode: 'postgres' | 'sqlite' }) {
  const dir = mkdtempSync(path.join(tmpdir(), 'idp-bc-'));
  const file = path.join(dir, 'clients.json');
  const clients = backchannelClients(receiver);
  writeFileSync(file, JSON.stringify([...Object.values(CLIENTS), clients.app, clients.failing]));
  const env = await startOidcEnv({
    database: options.mode,
    store: options.mode === 'postgres' ? 'redis' : 'memory',
    env: { OIDC_CLIENTS_FILE: file, BACKCHANNEL_ALLOW_PRIVATE: String(options.allowPrivate), ADMIN_ROLE: 'admin' },
    // 3 attempts, as in production, but 0 / 100 / 200 ms apart instead of 0 / 5 / 20 s.
    backchannelSchedule: { delaysMs: [0, 100, 200], attemptTimeoutMs: 2000 },
  });
  return { env, clients, close: async () => (await env.close(), rmSync(dir, { recursive: true, force: true })) };
}

async function discover(env: OidcEnv, client: { client_id: string; client_secret: string }): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(env.issuer), client.client_id, { client_secret: client.client_secret }, oidc.ClientSecretBasic(client.client_secret), {
    execute: [oidc.allowInsecureRequests],
  });
}

/** Signs `user` in to `config`'s client in `agent`'s browser; returns the ID token and its claims. */
async function signIn(agent: UserAgent, config: oidc.Configuration, redirectUri: string, user?: TestUser) {
  const run = await authorize(agent, config, {
    redirectUri,
    scope: 'openid',
    user: user ? { login: user.username, password: user.password } : undefined,
    consent: 'approve',
  });
  const tokens = await oidc.authorizationCodeGrant(config, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
  const claims = tokens.claims() as JWTPayload & { sid?: string };
  return { idToken: tokens.id_token as string, claims };
}

async function verifyLogoutToken(env: OidcEnv, token: string, clientId: string): Promise<JWTPayload & { sid?: string; events?: Record<string, unknown> }> {
  const jwks = createRemoteJWKSet(new URL(`${env.issuer}/jwks`));
  expect(decodeProtectedHeader(token).typ).to.equal('logout+jwt');
  const { payload } = await jwtVerify(token, jwks, { issuer: env.issuer, audience: clientId, typ: 'logout+jwt', requiredClaims: ['iat', 'jti', 'sub', 'events'] });
  expect(payload).to.not.have.property('nonce');
  return payload as JWTPayload & { sid?: string; events?: Record<string, unknown> };
}

/** An audit row's detail (JSON column: an object on PostgreSQL, text on SQLite). */
const detailOf = (detail: unknown): Record<string, unknown> => (typeof detail === 'string' ? JSON.parse(detail) : (detail as Record<string, unknown>));

/** Polls until `check` holds (deliveries are asynchronous by design). */
async function eventually(check: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('OIDC Back-Channel Logout 1.0 (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  let receiver: Receiver;
  let started: Awaited<ReturnType<typeof startEnv>>;
  let env: OidcEnv;
  let app: oidc.Configuration;
  let failing: oidc.Configuration;
  let counter = 0;

  before(async () => {
    receiver = await startReceiver();
    started = await startEnv(receiver, { allowPrivate: true, mode: 'postgres' });
    env = started.env;
    [app, failing] = await Promise.all([discover(env, started.clients.app), discover(env, started.clients.failing)]);
  });
  after(async () => {
    await started?.close();
    await receiver?.close();
  });
  beforeEach(() => {
    receiver.received.length = 0;
  });

  const freshUser = () => env.createUser(`bcuser${(counter += 1)}`);

  it('says so in discovery, and ID tokens of a back-channel client carry sid', async () => {
    const metadata = app.serverMetadata();
    expect(metadata.backchannel_logout_supported).to.equal(true);
    expect(metadata.backchannel_logout_session_supported).to.equal(true);
    const { claims } = await signIn(new UserAgent(), app, started.clients.app.redirect_uris[0] as string, await freshUser());
    expect(claims.sid).to.be.a('string').and.not.equal('');
  });

  it('RP-initiated logout: every client of the SSO session gets a verifiable logout token; a failing receiver gets exactly 3 attempts and the logout does not wait', async () => {
    const user = await freshUser();
    const agent = new UserAgent();
    const first = await signIn(agent, app, started.clients.app.redirect_uris[0] as string, user);
    const second = await signIn(agent, failing, started.clients.failing.redirect_uris[0] as string);
    expect(second.claims.sid, 'one sid per client').to.not.equal(first.claims.sid);

    const url = oidc.buildEndSessionUrl(app, { id_token_hint: first.idToken, post_logout_redirect_uri: started.clients.app.post_logout_redirect_uris[0] as string });
    const confirm = await agent.open(url.href);
    expect(confirm.status).to.equal(200);
    const done = await agent.submit(confirm, '/session/end/confirm', { logout: 'yes' }, RP_BASE);
    expect(done.url).to.equal(started.clients.app.post_logout_redirect_uris[0]);
    // The failing receiver takes ≥ 3 × 400 ms plus 300 ms of waits: the logout answered long before.
    expect(env.server.deps.oidc.backchannel.pending, 'deliveries still running after the logout answered').to.be.greaterThan(0);
    expect(receiver.tokensFor('/fail').length).to.be.lessThan(3);

    await env.server.deps.oidc.backchannel.settle(10_000);
    const [token, ...more] = receiver.tokensFor('/app');
    expect(more, 'one token for the working receiver').to.have.length(0);
    const payload = await verifyLogoutToken(env, token as string, 'bc-app');
    expect(payload.sub).to.equal(user.id);
    expect(payload.sid).to.equal(first.claims.sid);
    expect(payload.events).to.deep.equal({ [LOGOUT_EVENT]: {} });
    expect(payload.jti).to.be.a('string');
    expect(receiver.received.find((entry) => entry.path === '/app')?.contentType).to.equal('application/x-www-form-urlencoded');

    const failed = receiver.tokensFor('/fail');
    expect(failed, 'exactly its 3 attempts').to.have.length(3);
    expect(new Set(failed).size, 'the same token each time').to.equal(1);
    expect((await verifyLogoutToken(env, failed[0] as string, 'bc-failing')).sid).to.equal(second.claims.sid);

    await eventually(async () => (await env.server.deps.models.AuditEvent.count({ where: { type: 'backchannel_logout', userId: user.id } })) === 4);
    const events = await env.server.deps.models.AuditEvent.findAll({ where: { type: 'backchannel_logout', userId: user.id }, order: [['createdAt', 'ASC']] });
    const details: Record<string, unknown>[] = events.map((event) => ({ client: event.clientId, outcome: event.outcome, ...detailOf(event.detail) }));
    expect(details.filter((d) => d.client === 'bc-app')).to.deep.equal([
      { client: 'bc-app', outcome: 'success', result: 'delivered', trigger: 'end_session', attempt: 1, final: true, status: 200, sid: first.claims.sid },
    ]);
    const failures = details.filter((d) => d.client === 'bc-failing');
    expect(failures.map((d) => [d.outcome, d.result, d.status, d.attempt, d.final])).to.deep.equal([
      ['failure', 'http_error', 500, 1, false],
      ['failure', 'http_error', 500, 2, false],
      ['failure', 'http_error', 500, 3, true],
    ]);
    const scrape = await env.server.deps.metrics.scrape();
    expect(scrape).to.match(/^idp_backchannel_logout_attempts_total\{result="http_error"\} 3$/m);
    expect(scrape).to.match(/^idp_backchannel_logout_attempts_total\{result="delivered"\} [1-9]/m);
  });

  it('the legacy door: DELETE /auth/sessions/:id of the OIDC session sends the logout token', async () => {
    const user = await freshUser();
    const { claims } = await signIn(new UserAgent(), app, started.clients.app.redirect_uris[0] as string, user);
    const token = await login(env.server, user.username, user.password);
    const sessions = await call<{ session_id: string; kind: string }[]>(env.server, 'GET', '/auth/sessions', { token });
    const oidcSession = sessions.body.find((session) => session.kind === 'oidc');
    expect(oidcSession).to.not.equal(undefined);
    const deleted = await call(env.server, 'DELETE', `/auth/sessions/${oidcSession?.session_id}`, { token });
    expect(deleted.status).to.be.oneOf([200, 204]);
    await env.server.deps.oidc.backchannel.settle(10_000);
    const [logoutToken, ...more] = receiver.tokensFor('/app');
    expect(more).to.have.length(0);
    const payload = await verifyLogoutToken(env, logoutToken as string, 'bc-app');
    expect(payload).to.include({ sub: user.id, sid: claims.sid });
    expect(payload.events).to.deep.equal({ [LOGOUT_EVENT]: {} });
  });

  it('the admin API: a client registered there with backchannel_logout_uri gets the token when an admin revokes the session', async () => {
    const adminToken = await login(env.server, env.user.username, env.user.password);
    const created = await call<{ client_id: string; client_secret: string; backchannel_logout_uri?: string; backchannel_logout_session_required?: boolean }>(
      env.server,
      'POST',
      '/admin/api/clients',
      {
        token: adminToken,
        body: {
          client_name: 'Admin-made RP',
          redirect_uris: [`${RP_BASE}/admin-cb`],
          grant_types: ['authorization_code'],
          backchannel_logout_uri: `${receiver.url}/admin-made`,
          backchannel_logout_session_required: true,
        },
      },
    );
    expect(created.status).to.equal(201);
    expect(created.body).to.include({ backchannel_logout_uri: `${receiver.url}/admin-made`, backchannel_logout_session_required: true });
    const fetched = await call(env.server, 'GET', `/admin/api/clients/${created.body.client_id}`, { token: adminToken });
    expect(fetched.body).to.include({ backchannel_logout_uri: `${receiver.url}/admin-made` });
    const bad = await call(env.server, 'POST', '/admin/api/clients', { token: adminToken, body: { client_name: 'x', redirect_uris: [`${RP_BASE}/x`], backchannel_logout_uri: 'not a url' } });
    expect(bad.status).to.equal(422);

    const adminMade = await discover(env, created.body);
    const user = await freshUser();
    const { claims } = await signIn(new UserAgent(), adminMade, `${RP_BASE}/admin-cb`, user);
    const sessions = await call<{ items: { session_id: string; kind: string }[] }>(env.server, 'GET', `/admin/api/users/${user.id}/sessions`, { token: adminToken });
    const oidcSession = sessions.body.items.find((session) => session.kind === 'oidc');
    const revoked = await call(env.server, 'DELETE', `/admin/api/users/${user.id}/sessions/${oidcSession?.session_id}`, { token: adminToken });
    expect(revoked.status).to.equal(204);
    await env.server.deps.oidc.backchannel.settle(10_000);
    const [logoutToken] = receiver.tokensFor('/admin-made');
    const payload = await verifyLogoutToken(env, logoutToken as string, created.body.client_id);
    expect(payload).to.include({ sub: user.id, sid: claims.sid });
  });

  it('a password change ends the other sessions: their clients get logout tokens; a revoked grant and deactivation too', async () => {
    const user = await freshUser();
    const one = await signIn(new UserAgent(), app, started.clients.app.redirect_uris[0] as string, user);
    const two = await signIn(new UserAgent(), app, started.clients.app.redirect_uris[0] as string, user);
    const token = await login(env.server, user.username, user.password);
    const changed = await call(env.server, 'PUT', '/auth/users/me/password', { token, body: { current_password: user.password, new_password: 'a brand new password 42' } });
    expect(changed.status).to.be.oneOf([200, 204]);
    await env.server.deps.oidc.backchannel.settle(10_000);
    const sids = await Promise.all(receiver.tokensFor('/app').map(async (t) => (await verifyLogoutToken(env, t, 'bc-app')).sid));
    expect(sids).to.have.members([one.claims.sid, two.claims.sid]);

    // A revoked grant (the user-grants service's onGrantRevoked): the client's sid is found in the live SSO session.
    receiver.received.length = 0;
    const three = await signIn(new UserAgent(), app, started.clients.app.redirect_uris[0] as string, { ...user, password: 'a brand new password 42' });
    await env.server.deps.oidc.backchannel.grantRevoked({ accountId: user.id, clientId: 'bc-app' });
    await env.server.deps.oidc.backchannel.settle(10_000);
    const [grantToken] = receiver.tokensFor('/app');
    expect(await verifyLogoutToken(env, grantToken as string, 'bc-app')).to.include({ sub: user.id, sid: three.claims.sid });

    // Deactivation (status leaving active) ends that session as well.
    receiver.received.length = 0;
    const adminToken = await login(env.server, env.user.username, env.user.password);
    const patched = await call(env.server, 'PATCH', `/admin/api/users/${user.id}`, { token: adminToken, body: { status: 'suspended' } });
    expect(patched.status).to.equal(200);
    await env.server.deps.oidc.backchannel.settle(10_000);
    expect((await verifyLogoutToken(env, receiver.tokensFor('/app')[0] as string, 'bc-app')).sid).to.equal(three.claims.sid);
  });
});

describe('OIDC Back-Channel Logout 1.0: admin revoke-all and user deletion (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  let receiver: Receiver;
  let started: Awaited<ReturnType<typeof startEnv>>;

  before(async () => {
    receiver = await startReceiver();
    started = await startEnv(receiver, { allowPrivate: true, mode: 'postgres' });
  });
  after(async () => {
    await started?.close();
    await receiver?.close();
  });

  it('DELETE /admin/api/users/:id/sessions and DELETE /admin/api/users/:id each send the logout token of the live session', async () => {
    const { env } = started;
    const app = await discover(env, started.clients.app);
    const adminToken = await login(env.server, env.user.username, env.user.password);
    const user = await env.createUser('gone1');
    const redirect = started.clients.app.redirect_uris[0] as string;

    const first = await signIn(new UserAgent(), app, redirect, user);
    expect((await call(env.server, 'DELETE', `/admin/api/users/${user.id}/sessions`, { token: adminToken })).status).to.equal(200);
    await env.server.deps.oidc.backchannel.settle(10_000);
    expect((await verifyLogoutToken(env, receiver.tokensFor('/app')[0] as string, 'bc-app')).sid).to.equal(first.claims.sid);

    receiver.received.length = 0;
    const second = await signIn(new UserAgent(), app, redirect, user);
    expect((await call(env.server, 'DELETE', `/admin/api/users/${user.id}`, { token: adminToken })).status).to.equal(204);
    await env.server.deps.oidc.backchannel.settle(10_000);
    const payload = await verifyLogoutToken(env, receiver.tokensFor('/app')[0] as string, 'bc-app');
    expect(payload).to.include({ sub: user.id, sid: second.claims.sid });
  });
});

describe('OIDC Back-Channel Logout with BACKCHANNEL_ALLOW_PRIVATE=false (embedded)', function () {
  this.timeout(60_000);
  let receiver: Receiver;
  let started: Awaited<ReturnType<typeof startEnv>>;

  before(async () => {
    receiver = await startReceiver();
    started = await startEnv(receiver, { allowPrivate: false, mode: 'sqlite' });
  });
  after(async () => {
    await started?.close();
    await receiver?.close();
  });

  it('sends nothing to a loopback receiver and audits the refusal, once, without retrying; the logout still completes', async () => {
    const { env } = started;
    const app = await discover(env, started.clients.app);
    const user = await env.createUser('private1');
    const agent = new UserAgent();
    const { idToken } = await signIn(agent, app, started.clients.app.redirect_uris[0] as string, user);
    const confirm = await agent.open(oidc.buildEndSessionUrl(app, { id_token_hint: idToken, post_logout_redirect_uri: started.clients.app.post_logout_redirect_uris[0] as string }).href);
    const done = await agent.submit(confirm, '/session/end/confirm', { logout: 'yes' }, RP_BASE);
    expect(done.url).to.equal(started.clients.app.post_logout_redirect_uris[0]);
    await env.server.deps.oidc.backchannel.settle(10_000);
    expect(receiver.received).to.have.length(0);
    await eventually(async () => (await env.server.deps.models.AuditEvent.count({ where: { type: 'backchannel_logout', userId: user.id } })) > 0);
    const events = await env.server.deps.models.AuditEvent.findAll({ where: { type: 'backchannel_logout', userId: user.id } });
    expect(events).to.have.length(1);
    expect(events[0]?.outcome).to.equal('failure');
    expect(detailOf(events[0]?.detail)).to.include({ result: 'refused_private_address', attempt: 1, final: true });
  });
});
