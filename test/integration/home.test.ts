import { expect } from 'chai';
import { startTestServer, type TestServer } from '../helpers/app.ts';

describe('GET / (the landing page)', function () {
  this.timeout(30_000);
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ database: 'sqlite', store: 'memory', env: { COMPAT_PROFILES: '/auth=auth-service,/api/v2/auth=v2' } });
  });
  after(() => server?.close());

  it('answers a browser with a page naming the issuer, discovery, the account pages, the console, each mount’s docs and health', async () => {
    const res = await fetch(`${server.url}/`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(res.headers.get('content-security-policy')).to.include("frame-ancestors 'none'");
    const html = await res.text();
    expect(html).to.match(/<html lang="en">/);
    expect(html).to.include(server.config.issuer);
    expect(html).to.include(`href="${server.config.issuer}/.well-known/openid-configuration"`);
    expect(html).to.include('href="/admin"');
    expect(html).to.include('href="/account"');
    expect(html).to.include('href="/auth/docs"').and.include('href="/api/v2/auth/docs"');
    expect(html).not.to.include('href="/api/v1/auth/docs"');
    expect(html).to.include('href="/healthz"').and.include('href="/readyz"');
  });

  it('keeps unknown paths a JSON 404', async () => {
    const res = await fetch(`${server.url}/nowhere`);
    expect(res.status).to.equal(404);
    expect(await res.json()).to.deep.equal({ detail: 'Not Found' });
  });
});
