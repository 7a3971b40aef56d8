/**
 * `<mount>/openapi.json` (OpenAPI 3.1, generated from the validating schemas) and `<mount>/docs`
 * (Swagger UI served from the installed package, no CDN) for every mounted profile.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, field, http, newUser } from '../helpers/legacy-client.ts';

const OPERATIONS: [string, string][] = [
  ['/signup', 'post'], ['/register', 'post'], ['/login', 'post'], ['/refresh', 'post'], ['/logout', 'post'],
  ['/me', 'get'], ['/users/me', 'get'], ['/users/me', 'put'], ['/users/me/password', 'put'], ['/sessions', 'get'],
  ['/sessions/{session_id}', 'delete'], ['/verify-email', 'post'], ['/resend-verification', 'post'],
  ['/forgot-password', 'post'], ['/reset-password', 'post'],
];

describe('OpenAPI documents and /docs of the legacy mounts', function () {
  this.timeout(30_000);
  let server: TestServer;
  before(async function () {
    this.timeout(60_000);
    server = await startTestServer({ database: 'sqlite', store: 'memory', env: { COMPAT_PROFILES: ALL_PROFILES } });
  });
  after(async () => server?.close());

  for (const profile of PROFILE_ADAPTERS) {
    describe(`${profile.name} at ${profile.prefix}`, () => {
      it('serves an OpenAPI 3.1 document listing every §3 operation', async () => {
        const res = await http('GET', `${server.url}${profile.prefix}/openapi.json`);
        expect(res.status).to.equal(200);
        expect(field(res.body, 'openapi')).to.equal('3.1.0');
        expect(field(res.body, 'servers')).to.deep.equal([{ url: profile.prefix }]);
        const paths = field(res.body, 'paths') as Record<string, Record<string, Record<string, unknown>>>;
        for (const [path, method] of OPERATIONS) expect(paths[path]?.[method], `${method} ${path}`).to.be.an('object');
        const ids = Object.values(paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
        expect(new Set(ids).size).to.equal(ids.length);
        expect(field(paths['/me']?.get, 'security')).to.deep.equal([{ HTTPBearer: [] }]);
        expect(field(res.body, 'components.securitySchemes.HTTPBearer')).to.deep.equal({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
        // Every status the mount answers, and the pages the e-mailed links open.
        const statuses = (path: string, method: string) => Object.keys(paths[path]?.[method]?.responses as object);
        expect(statuses('/login', 'post')).to.include.members(['401', '403', '405', '413', '422', '429', '503']);
        expect(statuses('/users/me', 'put')).to.include.members(['401', '403', '405', '413', '422', '503']);
        expect(statuses('/sessions/{session_id}', 'delete')).to.include.members(['404', '405']);
        expect(statuses('/register', 'post')).to.include(profile.envelope ? '409' : '400');
        expect(paths['/verify-email']?.get).to.be.an('object');
        expect(field(paths['/reset-password']?.get, 'responses.200.content')).to.have.property('text/html');
        expect(field(paths['/login']?.post, 'responses.429.headers.Retry-After')).to.be.an('object');
      });

      it('documents the same request schemas that validate, and the responses the profile renders', async () => {
        const doc = (await http('GET', `${server.url}${profile.prefix}/openapi.json`)).body;
        const login = field(doc, 'paths./login.post') as Record<string, unknown>;
        const body = field(login, 'requestBody.content.application/json.schema');
        // The document's field names are the profile's own: v2 logs in by e-mail.
        const identifier = profile.name === 'v2' ? 'email' : 'username';
        expect(field(body, `properties.${identifier}`)).to.be.an('object');
        expect(field(body, 'properties.password.maxLength')).to.equal(256);
        expect(field(login, 'requestBody.content.application/x-www-form-urlencoded')).to.be.an('object');
        expect(field(login, 'responses.422')).to.be.an('object');
        const signup = field(doc, 'paths./signup.post.responses') as Record<string, unknown>;
        expect(Object.keys(signup)).to.include(profile.name === 'auth-service' ? '200' : '201');
        expect(Object.keys(signup)).to.include(profile.envelope ? '409' : '400');
        // The routes under a rate limit say so (CONTRACT §6), the others do not.
        for (const [path, method] of [['/signup', 'post'], ['/login', 'post'], ['/users/me/password', 'put'], ['/verify-email', 'post'], ['/verify-email', 'get'], ['/resend-verification', 'post'], ['/forgot-password', 'post'], ['/reset-password', 'post']]) {
          expect(field(doc, `paths.${path}.${method}.responses`), `${method} ${path}`).to.have.property('429');
        }
        expect(field(doc, 'paths./me.get.responses')).to.not.have.property('429');
        // The documented 200 of /me lists exactly the members a live /me answers with.
        const meSchema = field(doc, 'paths./me.get.responses.200.content.application/json.schema');
        const user = newUser('doc');
        await http('POST', `${server.url}${profile.prefix}/register`, { json: profile.registerBody(user) });
        const signedIn = await http('POST', `${server.url}${profile.prefix}/login`, { json: profile.loginBody(user) });
        const live = await http('GET', `${server.url}${profile.prefix}/me`, { token: profile.tokens(signedIn.body).access });
        expect(live.status).to.equal(200);
        const documented = (schema: unknown) => Object.keys(field(schema, 'properties') as object).sort();
        expect(documented(meSchema)).to.deep.equal(Object.keys(live.body as object).sort());
        expect((field(meSchema, 'required') as string[]).sort()).to.deep.equal(documented(meSchema));
        if (profile.envelope) {
          expect(documented(field(meSchema, 'properties.data'))).to.deep.equal(Object.keys(field(live.body, 'data') as object).sort());
        }
      });

      it('renders /docs with Swagger UI from local files only', async () => {
        const page = await http('GET', `${server.url}${profile.prefix}/docs`);
        expect(page.status).to.equal(200);
        const html = String(page.body);
        const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? '');
        expect(sources).to.not.be.empty;
        for (const source of sources) {
          expect(source.startsWith(`${profile.prefix}/docs/`), source).to.equal(true);
          const asset = await http('GET', `${server.url}${source}`);
          expect(asset.status, source).to.equal(200);
        }
        expect(html).to.not.match(/<script>[^<]/);
        const csp = page.headers.get('content-security-policy') ?? '';
        expect(csp).to.include("script-src 'self'").and.not.include('http');
        const init = await http('GET', `${server.url}${profile.prefix}/docs/init.js`);
        expect(String(init.body)).to.include(`"url":"${profile.prefix}/openapi.json"`);
      });
    });
  }
});
