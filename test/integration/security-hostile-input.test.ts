/**
 * Hostile input (CONTRACT §6: no client input ever produces a 500; no stack trace or SQL in a response).
 * A property-based test sends generated bodies — any JSON, the routes' own fields with wrong types,
 * huge, NUL-laden or unpaired-surrogate strings, `__proto__`/`constructor` keys, malformed JSON, wrong
 * content types — to every JSON route of every legacy mount and of the admin API, and generated query
 * strings and path parameters. A 100 kB password is refused before any hashing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { ROUTES } from '../../src/http/legacy/operations.ts';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, legacyClient, newUser } from '../helpers/legacy-client.ts';
import { createUser, login } from '../helpers/admin-api.ts';
import { LEAK, spyOnArgon2 } from '../helpers/security.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { authorizationUrl, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

const RUNS_PER_ROUTE = 20;
const ADMIN_SOURCES = path.resolve(import.meta.dirname, '../../src/http/admin');

interface RouteUnderTest {
  method: string;
  /** With `:name` parameters. */
  path: string;
  auth: 'none' | 'user' | 'admin';
}

/** Every admin API route, read from its source so a new route is covered without touching this file. */
function adminRoutes(): RouteUnderTest[] {
  const routes: RouteUnderTest[] = [];
  for (const file of readdirSync(ADMIN_SOURCES).filter((name) => name.endsWith('.ts'))) {
    const text = readFileSync(path.join(ADMIN_SOURCES, file), 'utf8');
    for (const match of text.matchAll(/router\.(get|post|put|patch|delete)\('([^']+)'/g)) {
      routes.push({ method: match[1]!.toUpperCase(), path: `/admin/api${match[2]}`, auth: 'admin' });
    }
  }
  return routes;
}

function legacyRoutes(): RouteUnderTest[] {
  return PROFILE_ADAPTERS.flatMap((profile) =>
    ROUTES.map((route) => ({
      method: route.method.toUpperCase(),
      path: `${profile.prefix}${route.path}`,
      // Logout is sent without a token: with one, a generated `revoke_all_sessions` would end the test's session.
      auth: route.auth === 'bearer' ? ('user' as const) : ('none' as const),
    })),
  );
}

/** Field names the routes read, so generated bodies reach validation and the services, not just "missing". */
const FIELDS = [
  'username', 'email', 'password', 'full_name', 'phone', 'refresh_token', 'token', 'new_password', 'current_password',
  'revoke_all_sessions', 'session_id', 'onboarding_completed', 'onboarding_step', 'onboarding_data', 'roles', 'status',
  'email_verified', 'name', 'description', 'slug', 'user_id', 'role', 'client_id', 'client_name', 'redirect_uris',
  'grant_types', 'response_types', 'token_endpoint_auth_method', 'first_party', 'post_logout_redirect_uris', 'scope', 'jwks',
];

const nasty = fc.constantFrom(
  '', ' ', '\u0000', 'a\u0000b', '\ud800', '\udfff\ud800', '💥'.repeat(300), '\u202e\u0000', "' OR 1=1 --", '"; DROP TABLE users; --',
  '{u:x}:*', '*', '../../../etc/passwd', '%00', '$ne', '__proto__', 'constructor', 'null', 'NaN', '-1', '1e309',
  'a@b', `${'a'.repeat(300)}@example.com`, 'x'.repeat(70_000), '<script>alert(1)</script>', 'eyJhbGciOiJub25lIn0.e30.',
);

const value: fc.Arbitrary<unknown> = fc.oneof(
  nasty,
  fc.string({ unit: 'binary', maxLength: 400 }),
  fc.string({ unit: 'grapheme', maxLength: 50 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(2 ** 53 + 1, -(2 ** 63), 1e308),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
);

const fieldBody = fc.dictionary(fc.constantFrom(...FIELDS), value, { maxKeys: 6 });

/** A JSON text; some with `__proto__` / `constructor.prototype` members written as own keys. */
const jsonText: fc.Arbitrary<string> = fc.oneof(
  fieldBody.map((body) => JSON.stringify(body)),
  fc.jsonValue({ maxDepth: 4 }).map((body) => JSON.stringify(body)),
  fieldBody.map((body) => {
    const inner = JSON.stringify(body).slice(1, -1);
    return `{"__proto__":{"polluted":"yes","isAdmin":true},"constructor":{"prototype":{"polluted":"yes"}}${inner ? `,${inner}` : ''}}`;
  }),
  fc.nat({ max: 5000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
  fc.string({ maxLength: 200 }), // mostly malformed
  fc.constantFrom('', 'null', '[]', '"text"', '{', '{"a":', '{"password": "x"} trailing', '\ufeff{}', '{"a":1,"a":2}'),
);

const formText = fc.oneof(
  fc.constantFrom(
    '__proto__[polluted]=yes&constructor[prototype][polluted]=yes',
    'username[]=a&username[]=b&password[$ne]=1',
    'username=a&password=b&grant_type=password',
    `password=${'x'.repeat(5000)}`,
    'a[b][c][d][e][f][g][h][i][j][k][l]=deep',
    '%E0%A4%A=1&%ZZ=2',
  ),
  fc.dictionary(fc.constantFrom(...FIELDS), fc.string({ maxLength: 50 }), { maxKeys: 4 }).map((form) => new URLSearchParams(form).toString()),
);

interface Sent {
  contentType?: string;
  body?: string;
}

const request: fc.Arbitrary<Sent> = fc.oneof(
  { weight: 6, arbitrary: jsonText.map((body) => ({ contentType: 'application/json', body })) },
  { weight: 2, arbitrary: formText.map((body) => ({ contentType: 'application/x-www-form-urlencoded', body })) },
  {
    weight: 2,
    arbitrary: fc.record({
      contentType: fc.constantFrom(
        'text/plain', 'application/xml', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/json; charset=latin1',
        'application/vnd.api+json', 'application/octet-stream', 'application/json; charset=nope', 'x/x',
      ),
      body: fc.oneof(jsonText, formText),
    }),
  },
  { weight: 1, arbitrary: fc.constant({}) },
);

/** Path parameters; `raw:` ones go into the URL as they are (broken percent-encoding). */
const pathParam = fc.oneof(
  nasty.filter((s) => s.length > 0 && s.length < 2000),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 100 }),
  fc.uuid(),
  fc.constantFrom('raw:%', 'raw:%zz', 'raw:%E0%A4', 'raw:%C0%AF', 'raw:%00', 'raw:..%2F..%2F', 'raw:%2e%2e'),
);
const queryText = fc.dictionary(fc.constantFrom('q', 'limit', 'offset', 'include_expired', 'user_id', 'type', 'since', 'until', 'token', '__proto__'), fc.oneof(nasty.filter((s) => s.length < 2000), fc.string({ maxLength: 30 })), { maxKeys: 4 });

const every = (v: unknown): string => JSON.stringify(Object.fromEntries(FIELDS.map((name) => [name, v])));

/** Sent to every route on top of the generated cases: each field at once with the same hostile value. */
const EXAMPLES: [Sent, string[], Record<string, string>][] = [
  [{ contentType: 'application/json', body: every('a\u0000b') }, ['a\u0000b'], { q: 'x\u0000', include_expired: '\u0000' }],
  [{ contentType: 'application/json', body: every('x'.repeat(2500)) }, ['x'.repeat(1500)], { limit: '1e309', offset: '-1' }],
  [{ contentType: 'application/json', body: every({ $gt: '' }) }, ['raw:%00'], { limit: '99999999999999999999' }],
  [{ contentType: 'application/json', body: every(['a']) }, ['00000000-0000-0000-0000-000000000000'], { since: 'yesterday', until: '9999-99-99' }],
  [{ contentType: 'application/json', body: every(2 ** 63) }, ['-1'], { offset: 'NaN' }],
  [{ contentType: 'application/json', body: every(true) }, ["' OR 1=1 --"], {}],
  [{ contentType: 'application/json', body: every(null) }, ['\ud800'], {}],
  [{ contentType: 'application/json', body: every('\ud800\udfff\ud800') }, ['💥'], {}],
  [{ contentType: 'application/x-www-form-urlencoded', body: 'username=a%00b&password=x%00y&email=a%00%40b.c&__proto__[x]=1' }, ['x'], {}],
  [{ contentType: 'application/json', body: `{"__proto__":{"polluted":"yes"},${every('v').slice(1)}` }, ['constructor'], { ['__proto__']: 'x', constructor: 'y' }],
];

/** Percent-encodes every byte of the UTF-8 form (an unpaired surrogate becomes U+FFFD, as in any client). */
function segment(param: string): string {
  if (param.startsWith('raw:')) return param.slice(4);
  return [...Buffer.from(param, 'utf8')].map((byte) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0')}`)).join('');
}

function fill(template: string, params: string[]): string {
  let i = 0;
  return template.replace(/:[A-Za-z_]+/g, () => segment(params[i++ % params.length] ?? 'x'));
}

async function send(server: TestServer, route: RouteUnderTest, token: string | undefined, sent: Sent, params: string[], query: Record<string, string>): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (sent.contentType) headers['content-type'] = sent.contentType;
  const search = new URLSearchParams(query).toString();
  const url = `${server.url}${fill(route.path, params)}${search ? `?${search}` : ''}`;
  const hasBody = route.method !== 'GET' && route.method !== 'HEAD';
  const res = await fetch(url, { method: route.method, headers, body: hasBody ? sent.body : undefined });
  return { status: res.status, text: await res.text() };
}

for (const mode of MODES) {
  describe(`hostile input on every JSON route, ${mode.name}`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let userToken: string;
    let adminToken: string;

    before(async function () {
      this.timeout(60_000);
      server = await startTestServer({ database: mode.database, store: mode.store, mocha: this, env: { COMPAT_PROFILES: ALL_PROFILES } });
      const api = legacyClient(server.url, PROFILE_ADAPTERS[0]!);
      userToken = (await api.signedIn('hostile')).tokens.access;
      const admin = newUser('admin');
      await createUser(server, { email: admin.email, password: admin.password, username: admin.username, roles: ['idp_admin'] });
      adminToken = await login(server, admin.username, admin.password);
    });
    after(async () => server?.close());

    const routes = [...legacyRoutes(), ...adminRoutes()];
    it('covers the admin API and every legacy mount', () => {
      expect(adminRoutes().length).to.be.at.least(20);
      expect(legacyRoutes()).to.have.length(ROUTES.length * PROFILE_ADAPTERS.length);
    });

    for (const route of routes) {
      it(`${route.method} ${route.path}: never a 5xx, never a stack trace or SQL`, async () => {
        const token = route.auth === 'user' ? userToken : route.auth === 'admin' ? adminToken : undefined;
        await fc.assert(
          fc.asyncProperty(request, fc.array(pathParam, { minLength: 1, maxLength: 2 }), queryText, async (sent, params, query) => {
            const res = await send(server, route, token, sent, params, query);
            expect(res.status, res.text.slice(0, 300)).to.be.below(500);
            expect(res.text).to.not.match(LEAK);
          }),
          { numRuns: RUNS_PER_ROUTE, examples: EXAMPLES },
        );
      });
    }

    it('left no property on Object.prototype and kept both tokens working', async () => {
      expect(Object.keys(Object.prototype)).to.deep.equal([]);
      expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
      expect(({} as Record<string, unknown>).isAdmin).to.equal(undefined);
      const me = await fetch(`${server.url}/auth/me`, { headers: { authorization: `Bearer ${userToken}` } });
      expect(me.status).to.equal(200);
      const users = await fetch(`${server.url}/admin/api/users`, { headers: { authorization: `Bearer ${adminToken}` } });
      expect(users.status).to.equal(200);
    });
  });
}

/** The OIDC endpoints and pages take forms and queries: generated ones, with the protocol's own parameter names. */
const OIDC_PARAMS = [
  'client_id', 'client_secret', 'grant_type', 'code', 'code_verifier', 'redirect_uri', 'refresh_token', 'token', 'token_type_hint', 'scope',
  'response_type', 'state', 'nonce', 'prompt', 'claims', 'resource', 'request', 'request_uri', 'id_token_hint', 'post_logout_redirect_uri',
  'code_challenge', 'code_challenge_method', 'max_age', 'login_hint', 'ui_locales', 'acr_values', 'client_assertion', 'client_assertion_type',
];
const oidcForm = fc.dictionary(fc.constantFrom(...OIDC_PARAMS), fc.oneof(nasty.filter((v) => v.length < 5000), fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('console-spa', 'notes-app', 'authorization_code', 'refresh_token', 'client_credentials', 'openid', 'code', '{"userinfo":{"email":null}}', '{"id_token":[1]}')), { maxKeys: 8 });

for (const mode of MODES) {
  describe(`hostile input on the OIDC endpoints and pages, ${mode.name}`, function () {
    this.timeout(60_000);
    let env: OidcEnv;
    before(async function () {
      this.timeout(60_000);
      env = await startOidcEnv({ database: mode.database, store: mode.store, mocha: this });
    });
    after(async () => env?.close());

    const endpoints = [
      { method: 'GET', path: '/oidc/auth' }, { method: 'POST', path: '/oidc/auth' }, { method: 'POST', path: '/oidc/token' },
      { method: 'POST', path: '/oidc/token/introspection' }, { method: 'POST', path: '/oidc/token/revocation' }, { method: 'POST', path: '/oidc/request' },
      { method: 'POST', path: '/oidc/device/auth' }, { method: 'GET', path: '/oidc/session/end' }, { method: 'POST', path: '/oidc/session/end/confirm' },
      { method: 'GET', path: '/oidc/me' }, { method: 'GET', path: '/interaction/:uid' }, { method: 'POST', path: '/interaction/:uid/login' },
      { method: 'POST', path: '/interaction/:uid/confirm' },
    ];
    for (const endpoint of endpoints) {
      it(`${endpoint.method} ${endpoint.path}: never a 5xx, never a stack trace or SQL`, async () => {
        await fc.assert(
          fc.asyncProperty(oidcForm, pathParam, fc.option(fc.string({ maxLength: 300 }), { nil: undefined }), async (form, uid, authorization) => {
            const query = endpoint.method === 'GET' ? `?${new URLSearchParams(form as Record<string, string>)}` : '';
            const headers: Record<string, string> = endpoint.method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {};
            if (authorization !== undefined) headers.authorization = `Basic ${Buffer.from(authorization).toString('base64')}`;
            const url = `${env.server.url}${endpoint.path.replace(':uid', segment(uid))}${query}`;
            const res = await fetch(url, { method: endpoint.method, headers, redirect: 'manual', body: endpoint.method === 'POST' ? new URLSearchParams(form as Record<string, string>).toString() : undefined });
            const text = await res.text();
            expect(res.status, text.slice(0, 300)).to.be.below(500);
            expect(text).to.not.match(LEAK);
          }),
          { numRuns: RUNS_PER_ROUTE },
        );
      });
    }
  });
}

describe('a 100 kB password is refused before any hashing', function () {
  this.timeout(30_000);
  let server: TestServer;
  let env: OidcEnv;
  let spy: ReturnType<typeof spyOnArgon2> | undefined;

  before(async function () {
    this.timeout(60_000);
    env = await startOidcEnv({ database: 'sqlite', store: 'memory', mocha: this, env: { COMPAT_PROFILES: ALL_PROFILES } });
    server = env.server;
  });
  after(async () => env?.close());
  afterEach(() => spy?.restore());

  const huge = 'p'.repeat(100 * 1024);
  const justUnderLimit = 'p'.repeat(99_000);

  it('at every legacy route that takes a password and at the admin API: 413 or 422, and no argon2 call', async () => {
    const api = legacyClient(server.url, PROFILE_ADAPTERS[0]!);
    const { user, tokens } = await api.signedIn('hugepw');
    const admin = newUser('hugeadmin');
    await createUser(server, { email: admin.email, password: admin.password, username: admin.username, roles: ['idp_admin'] });
    const adminToken = await login(server, admin.username, admin.password);
    spy = spyOnArgon2();
    for (const password of [huge, justUnderLimit]) {
      const expected = password === huge ? 413 : 422;
      for (const profile of PROFILE_ADAPTERS) {
        const client = legacyClient(server.url, profile);
        const fresh = newUser('huge');
        expect((await client.post('/register', { json: profile.registerBody({ ...fresh, password }) })).status, `${profile.name} register`).to.equal(expected);
        expect((await client.post('/login', { json: profile.loginBody(user, password) })).status, `${profile.name} login`).to.equal(expected);
        expect((await client.put('/users/me/password', { token: tokens.access, json: { current_password: password, new_password: 'another-password' } })).status).to.equal(expected);
        expect((await client.put('/users/me/password', { token: tokens.access, json: { current_password: user.password, new_password: password } })).status).to.equal(expected);
        expect((await client.post('/reset-password', { json: { token: 'x'.repeat(43), new_password: password } })).status).to.equal(expected);
      }
      const created = await fetch(`${server.url}/admin/api/users`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: newUser('hugeadm').email, password }),
      });
      expect(created.status, 'admin create user').to.equal(expected);
    }
    expect({ hashes: spy.hashes, verifies: spy.verifies }).to.deep.equal({ hashes: 0, verifies: 0 });
  });

  it('at the account service and the interaction login page: refused as a wrong password, no argon2 call', async () => {
    const user = await env.createUser('hugepage');
    spy = spyOnArgon2();
    for (const login of [user.username, 'nobody-at-all']) {
      const err = await server.deps.accounts.authenticate(login, justUnderLimit, { door: 'test', ip: '192.0.2.77' }).catch((e: unknown) => e);
      expect((err as { status?: number }).status).to.equal(401);
    }
    const spa = await env.discover('spa');
    const agent = new UserAgent();
    const url = await authorizationUrl(spa);
    const page = await agent.submit(await agent.open(url.href), '/login', { login: user.username, password: justUnderLimit });
    expect(page.status).to.be.oneOf([400, 401, 413, 422]);
    expect({ hashes: spy.hashes, verifies: spy.verifies }).to.deep.equal({ hashes: 0, verifies: 0 });
  });
});
