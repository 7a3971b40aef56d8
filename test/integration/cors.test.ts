/** CORS (CONTRACT §6): only CORS_ORIGINS get Access-Control-Allow-Origin on the legacy API, never `*`. */
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, http } from '../helpers/legacy-client.ts';

const ALLOWED = 'https://dashboard.example.com';

describe('CORS on the legacy mounts', function () {
  this.timeout(30_000);
  let server: TestServer;
  before(async function () {
    this.timeout(60_000);
    server = await startTestServer({ database: 'sqlite', store: 'memory', env: { COMPAT_PROFILES: ALL_PROFILES, CORS_ORIGINS: `${ALLOWED},http://localhost:5173` } });
  });
  after(async () => server?.close());

  for (const profile of PROFILE_ADAPTERS) {
    it(`answers the preflight of an allowed origin at ${profile.prefix} and echoes only that origin`, async () => {
      const preflight = await http('OPTIONS', `${server.url}${profile.prefix}/login`, {
        headers: { origin: ALLOWED, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-device-id' },
      });
      expect(preflight.status).to.equal(204);
      expect(preflight.headers.get('access-control-allow-origin')).to.equal(ALLOWED);
      expect(preflight.headers.get('access-control-allow-credentials')).to.equal('true');
      expect(preflight.headers.get('access-control-allow-methods')).to.include('POST');
      expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).to.include('authorization').and.include('x-device-id');
      expect(preflight.headers.get('vary')).to.include('Origin');

      const actual = await http('POST', `${server.url}${profile.prefix}/login`, { headers: { origin: ALLOWED }, json: {} });
      expect(actual.status).to.equal(422);
      expect(actual.headers.get('access-control-allow-origin')).to.equal(ALLOWED);
    });
  }

  it("grants a preflight every header it asks for (Starlette's allow_headers=[\"*\"]) and the methods the path serves", async () => {
    const ask = async (path: string, method: string, headers: string) =>
      http('OPTIONS', `${server.url}${path}`, { headers: { origin: ALLOWED, 'access-control-request-method': method, 'access-control-request-headers': headers } });
    const dashboard = await ask('/api/v1/auth/users/me', 'PUT', 'x-requested-with,x-custom-trace,content-type');
    expect(dashboard.status).to.equal(204);
    expect(dashboard.headers.get('access-control-allow-headers')).to.equal('x-requested-with,x-custom-trace,content-type');
    expect(dashboard.headers.get('access-control-allow-methods')?.split(',').sort()).to.deep.equal(['GET', 'HEAD', 'PUT']);
    const session = await ask('/api/v2/auth/sessions/abc-123', 'DELETE', 'authorization');
    expect(session.headers.get('access-control-allow-methods')).to.equal('DELETE');
    const login = await ask('/auth/login', 'POST', 'authorization');
    expect(login.headers.get('access-control-allow-methods')).to.equal('POST');
  });

  it('gives other origins no CORS headers at all', async () => {
    for (const origin of ['https://evil.example.com', 'null', 'https://dashboard.example.com.evil.com']) {
      const preflight = await http('OPTIONS', `${server.url}/auth/login`, { headers: { origin, 'access-control-request-method': 'POST' } });
      expect(preflight.headers.get('access-control-allow-origin')).to.equal(null);
      const actual = await http('GET', `${server.url}/auth/me`, { headers: { origin } });
      expect(actual.status).to.equal(401);
      expect(actual.headers.get('access-control-allow-origin')).to.equal(null);
    }
  });

  it('leaves paths outside the legacy and admin APIs alone', async () => {
    const res = await http('GET', `${server.url}/healthz`, { headers: { origin: ALLOWED } });
    expect(res.headers.get('access-control-allow-origin')).to.equal(null);
  });
});
