import { expect } from 'chai';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { call, createUser, login } from '../helpers/admin-api.ts';
import { sample } from '../helpers/prometheus.ts';

const PASSWORD = 'correct horse battery';

async function scrape(server: TestServer, token?: string): Promise<string> {
  const res = await fetch(`${server.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.status).to.equal(200);
  expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

describe('GET /metrics (Prometheus)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let other: TestServer;

  before(async function () {
    server = await startTestServer({ database: 'postgres', store: 'redis', mocha: this });
    other = await startTestServer({ database: 'sqlite', store: 'memory', env: { METRICS_TOKEN: 'scrape-secret-123' } });
    await createUser(server, { email: 'admin@example.com', username: 'admin', password: PASSWORD, roles: ['idp_admin'] });
  });
  after(async () => {
    await server?.close();
    await other?.close();
  });

  it('shows logins by outcome and door, tokens issued and requests by route moving after a login', async () => {
    const before = await scrape(server);
    await login(server, 'admin', PASSWORD);
    await call(server, 'POST', '/api/v2/auth/login', { body: { email: 'admin@example.com', password: 'wrong password' } });
    await call(server, 'POST', '/api/v2/auth/login', { body: { email: 'nobody@example.com', password: 'wrong password' } });
    const after = await scrape(server);

    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('idp_logins_total', { outcome: 'success', door: 'auth-service' })).to.equal(1);
    expect(delta('idp_logins_total', { outcome: 'invalid_credentials', door: 'v2' })).to.equal(2);
    expect(delta('idp_tokens_issued_total', { type: 'access_token', issuer: 'legacy' })).to.equal(1);
    expect(delta('idp_tokens_issued_total', { type: 'refresh_token', issuer: 'legacy' })).to.equal(1);
    expect(delta('idp_http_requests_total', { method: 'POST', route: '/auth/login', status: '200' })).to.equal(1);
    expect(delta('idp_http_requests_total', { method: 'POST', route: '/api/v2/auth/login', status: '401' })).to.equal(2);
    expect(delta('idp_http_request_duration_seconds_count', { method: 'POST', route: '/auth/login', status: '200' })).to.equal(1);
    expect(sample(after, 'idp_http_request_duration_seconds_bucket', { route: '/auth/login', status: '200', le: '+Inf' })).to.be.at.least(1);
  });

  it('labels requests by route template, never by the raw path', async () => {
    const token = await login(server, 'admin', PASSWORD);
    const id = '9b2f7c1e-0000-4000-8000-00000000abcd';
    await call(server, 'GET', `/admin/api/users/${id}`, { token });
    await call(server, 'GET', `/admin/api/users/${id}/sessions`);
    await fetch(`${server.url}/oidc/auth/some-interaction-uid-1234`);
    await fetch(`${server.url}/no/such/path/${id}`);
    // A console page that sends the visitor to sign in, from a router-level guard.
    await fetch(`${server.url}/admin/users/${id}`, { redirect: 'manual' });
    const text = await scrape(server);
    expect(text).not.to.include(id);
    expect(text).not.to.include('some-interaction-uid-1234');
    expect(sample(text, 'idp_http_requests_total', { route: '/admin/api/users/:id', status: '404' })).to.equal(1);
    expect(sample(text, 'idp_http_requests_total', { route: '/admin/api/users/:id/sessions', status: '401' })).to.equal(1);
    expect(sample(text, 'idp_http_requests_total', { route: '/oidc/auth/:id' })).to.equal(1);
    expect(sample(text, 'idp_http_requests_total', { route: '/admin/users/:id', status: '303' })).to.equal(1);
    expect(sample(text, 'idp_http_requests_total', { route: 'unmatched', status: '404' })).to.be.at.least(1);
  });

  it('counts the tokens oidc-provider issues', async () => {
    const token = await login(server, 'admin', PASSWORD);
    const client = await call<{ client_id: string; client_secret: string }>(server, 'POST', '/admin/api/clients', {
      token,
      body: { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
    });
    const before = await scrape(server);
    const res = await fetch(`${server.url}/oidc/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${client.body.client_id}:${client.body.client_secret}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).to.equal(200);
    const after = await scrape(server);
    const labels = { type: 'client_credentials', issuer: 'oidc' };
    expect(sample(after, 'idp_tokens_issued_total', labels) - sample(before, 'idp_tokens_issued_total', labels)).to.equal(1);
  });

  it('has a registry per server: one server’s logins never show on another', async () => {
    await createUser(other, { email: 'solo@example.com', username: 'solo', password: PASSWORD });
    const before = await scrape(server);
    await login(other, 'solo', PASSWORD);
    const mine = await scrape(other, 'scrape-secret-123');
    const theirs = await scrape(server);
    expect(sample(mine, 'idp_logins_total', { outcome: 'success', door: 'auth-service' })).to.equal(1);
    expect(sample(theirs, 'idp_logins_total', { outcome: 'success', door: 'auth-service' })).to.equal(
      sample(before, 'idp_logins_total', { outcome: 'success', door: 'auth-service' }),
    );
    expect(mine).to.match(/^idp_process_resident_memory_bytes \d+/m);
  });

  it('with METRICS_TOKEN set, answers 401 without the token or with a wrong one', async () => {
    for (const authorization of [undefined, 'Bearer wrong', 'Bearer scrape-secret-1234', 'Basic c2NyYXBlLXNlY3JldC0xMjM=']) {
      const res = await fetch(`${other.url}/metrics`, { headers: authorization ? { authorization } : {} });
      expect(res.status, String(authorization)).to.equal(401);
      expect(await res.text()).not.to.include('idp_');
    }
    await scrape(other, 'scrape-secret-123');
  });
});
