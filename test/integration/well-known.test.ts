import { expect } from 'chai';
import { startTestServer, type TestServer } from '../helpers/app.ts';

/** RFC 8414 §3.1: for the issuer $PUBLIC_URL/oidc, metadata clients look for at the root (MCP clients try these first). */
describe('authorization server metadata at the root, for an issuer with a path', function () {
  this.timeout(30_000);
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ database: 'sqlite', store: 'memory' });
  });
  after(() => server?.close());

  it('serves the discovery document at /.well-known/oauth-authorization-server/oidc and /.well-known/openid-configuration/oidc', async () => {
    const canonical = (await (await fetch(`${server.config.issuer}/.well-known/openid-configuration`.replace(server.config.publicUrl, server.url))).json()) as Record<string, unknown>;
    expect(canonical.issuer).to.equal(server.config.issuer);
    for (const path of ['/.well-known/oauth-authorization-server/oidc', '/.well-known/openid-configuration/oidc']) {
      const res = await fetch(`${server.url}${path}`);
      expect(res.status, path).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      expect(await res.json(), path).to.deep.equal(canonical);
    }
  });

  it('leaves other well-known paths alone', async () => {
    expect((await fetch(`${server.url}/.well-known/oauth-authorization-server`)).status).to.equal(404);
    expect((await fetch(`${server.url}/.well-known/oauth-authorization-server/other`)).status).to.equal(404);
  });
});
