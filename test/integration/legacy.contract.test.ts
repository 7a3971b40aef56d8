/**
 * The legacy password API contract (CONTRACT §3, §5): every operation against every profile, in both
 * modes (PostgreSQL + Redis, and the embedded SQLite + in-process store). Statuses, exact key sets and
 * messages are checked to the letter, because the clients of the retired services parse them.
 */
import { expect } from 'chai';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { startSmtpServer, firstLink, type TestSmtpServer } from '../helpers/smtp.ts';
import {
  ALL_PROFILES,
  PROFILE_ADAPTERS,
  field,
  http,
  legacyClient,
  newUser,
  type HttpResult,
  type LegacyClient,
  type ProfileAdapter,
} from '../helpers/legacy-client.ts';

const TOKENS = ['access_token', 'refresh_token', 'token_type', 'expires_in'];
/** Seed 003's Token model: no expires_in. */
const AUTH_SERVICE_TOKENS = ['access_token', 'refresh_token', 'token_type'];
const AUTH_SERVICE_USER = ['id', 'username', 'email', 'is_active'];
const AURORA_REGISTERED = ['id', 'username', 'email', 'full_name', 'status', 'is_active', 'email_verified', 'created_at'];
const AURORA_USER = ['id', 'username', 'email', 'full_name', 'role', 'status', 'is_active'];
/** Seed 002's one `user` shape. */
const ENVELOPE_USER = ['id', 'username', 'email', 'full_name', 'role', 'status', 'is_active', 'email_verified', 'created_at'];
const V2_USER = ['id', 'email', 'full_name', 'phone', 'organization_id', 'status', 'onboarding_completed', 'onboarding_step', 'onboarding_data', 'created_at', 'updated_at'];
const SESSION = ['session_id', 'kind', 'client_id', 'device_id', 'device_name', 'device_type', 'user_agent', 'ip_address', 'created_at', 'last_active_at', 'expires_at', 'is_current', 'is_active', 'amr', 'ended_at', 'end_reason'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const SHAPES: Record<ProfileAdapter['name'], { register: string[]; me: string[]; login: string[]; refresh: string[] }> = {
  'auth-service': { register: AUTH_SERVICE_USER, me: AUTH_SERVICE_USER, login: AUTH_SERVICE_TOKENS, refresh: AUTH_SERVICE_TOKENS },
  aurora: { register: AURORA_REGISTERED, me: AURORA_USER, login: TOKENS, refresh: TOKENS },
  v2: { register: V2_USER, me: ['user', 'roles', 'organization_id'], login: TOKENS, refresh: TOKENS },
  envelope: { register: ENVELOPE_USER, me: ENVELOPE_USER, login: ['token', 'user'], refresh: ['access_token', 'refresh_token', 'token_type'] },
};

const keysOf = (value: unknown): string[] => Object.keys(value as object).sort();

/** Checks a success response and returns its payload (envelope: `data`). */
function expectSuccess(profile: ProfileAdapter, res: HttpResult, status: number, keys?: string[]): unknown {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers.get('cache-control')).to.equal('no-store');
  let payload = res.body;
  if (profile.envelope) {
    expect(keysOf(res.body)).to.deep.equal(['data', 'message', 'success']);
    expect(field(res.body, 'success')).to.equal(true);
    payload = field(res.body, 'data');
  }
  if (keys) expect(keysOf(payload)).to.deep.equal([...keys].sort());
  return payload;
}

/**
 * Checks a reply that is only a message: `{"message": …}`, or the envelope with that in `data` and its
 * own `message` (null except for the password change, seed 002).
 */
function expectMessage(profile: ProfileAdapter, res: HttpResult, status: number, message: string, envelopeMessage: string | null = null): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  if (profile.envelope) expect(res.body).to.deep.equal({ success: true, data: { message }, message: envelopeMessage });
  else expect(res.body).to.deep.equal({ message });
}

/** The two errors seed 002 enveloped; every other error is FastAPI's `detail` on every profile. */
const ENVELOPED = new Set(['AUTH_EMAIL_EXISTS', 'AUTH_USERNAME_EXISTS', 'AUTH_INVALID_CREDENTIALS']);

/** Checks an error: FastAPI `{"detail": …}`, or the envelope with its code (and its own status for conflicts). */
function expectError(profile: ProfileAdapter, res: HttpResult, status: number, message: string, code: string, envelopeStatus = status): void {
  if (profile.envelope && ENVELOPED.has(code)) {
    expect(res.status, JSON.stringify(res.body)).to.equal(envelopeStatus);
    expect(res.body).to.deep.equal({ success: false, error: { code, message } });
  } else {
    expect(res.status, JSON.stringify(res.body)).to.equal(status);
    expect(res.body).to.deep.equal({ detail: message });
  }
}

/** FastAPI's 422 on every profile (the envelope's too): pydantic v2 issues with `input`, and `ctx` where pydantic has one. */
function expectValidationError(_profile: ProfileAdapter, res: HttpResult, fields: string[]): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(422);
  expect(keysOf(res.body)).to.deep.equal(['detail']);
  const detail = field(res.body, 'detail') as { loc: unknown[]; msg: string; type: string }[];
  expect(detail).to.be.an('array').that.is.not.empty;
  for (const issue of detail) expect(Object.keys(issue).slice(0, 4)).to.deep.equal(['type', 'loc', 'msg', 'input']);
  expect(detail.map((issue) => issue.loc.join('.'))).to.have.members(fields.map((f) => `body.${f}`));
}

const UNAUTHENTICATED = ['Could not validate credentials', 'AUTH_INVALID_TOKEN'] as const;

describe('legacy password API contract (CONTRACT §3)', function () {
  this.timeout(20_000);

  for (const mode of MODES) {
    describe(mode.name, function () {
      let server: TestServer;
      let smtp: TestSmtpServer;

      before(async function () {
        this.timeout(60_000);
        smtp = await startSmtpServer();
        server = await startTestServer({
          database: mode.database,
          store: mode.store,
          mocha: this,
          env: { COMPAT_PROFILES: ALL_PROFILES, SMTP_URL: smtp.url },
        });
      });

      after(async () => {
        await server?.close();
        await smtp?.close();
      });

      const userId = async (email: string): Promise<string> => {
        const user = await server.deps.models.User.findOne({ where: { email: email.toLowerCase() } });
        if (!user) throw new Error(`no user ${email}`);
        return user.id;
      };

      for (const profile of PROFILE_ADAPTERS) {
        describe(`${profile.name} profile at ${profile.prefix}`, () => {
          let api: LegacyClient;
          before(() => {
            api = legacyClient(server.url, profile);
          });

          it('POST /signup and POST /register create the user, a personal organization and an owner membership', async () => {
            for (const path of ['/signup', '/register']) {
              const user = newUser('reg');
              const res = await api.post(path, { json: profile.registerBody(user) });
              const data = expectSuccess(profile, res, profile.registerStatus, SHAPES[profile.name].register);
              expect(field(data, 'email')).to.equal(user.email.toLowerCase());
              if (profile.name === 'auth-service') {
                expect(field(data, 'id')).to.be.a('number');
                expect(field(data, 'username')).to.equal(user.username);
                expect(field(data, 'is_active')).to.equal(true);
              } else {
                expect(field(data, 'id')).to.match(UUID);
                expect(field(data, 'status')).to.equal('active');
              }
              if (profile.name === 'aurora' || profile.name === 'envelope') {
                expect(field(data, 'email_verified')).to.equal(false);
                expect(new Date(String(field(data, 'created_at'))).getTime()).to.be.closeTo(Date.now(), 60_000);
              }
              const { Membership, Organization, User } = server.deps.models;
              const row = await User.findOne({ where: { email: user.email.toLowerCase() } });
              const membership = await Membership.findOne({ where: { userId: row?.id } });
              expect(membership?.role).to.equal('owner');
              expect(membership?.organizationId).to.equal(row?.organizationId);
              expect(await Organization.findByPk(row?.organizationId ?? '')).to.not.equal(null);
            }
          });

          it('answers a taken e-mail or username with a clean 400 (envelope: 409)', async () => {
            const user = newUser('dup');
            await api.register(user);
            const again = await api.post('/register', { json: profile.registerBody({ ...newUser('dup'), email: user.email.toUpperCase() }) });
            expectError(profile, again, 400, 'Email already registered', 'AUTH_EMAIL_EXISTS', 409);
            if (profile.name !== 'v2') {
              const sameName = await api.post('/signup', { json: profile.registerBody({ ...newUser('dup'), username: user.username.toUpperCase() }) });
              expectError(profile, sameName, 400, 'Username already registered', 'AUTH_USERNAME_EXISTS', 409);
            }
          });

          it('answers invalid bodies with 422 in FastAPI shape, before any hashing', async () => {
            const user = newUser('bad');
            expectValidationError(profile, await api.post('/register', { json: {} }), profile.name === 'auth-service' ? ['username', 'email', 'password'] : ['email', 'password']);
            expectValidationError(profile, await api.post('/register', { json: { ...profile.registerBody(user), password: 'short' } }), ['password']);
            expectValidationError(profile, await api.post('/register', { json: { ...profile.registerBody(user), password: 'x'.repeat(257) } }), ['password']);
            expectValidationError(profile, await api.post('/register', { json: { ...profile.registerBody(user), email: 'not-an-email' } }), ['email']);
            const res = await api.post('/login', { json: { ...profile.loginBody(user), password: 'x'.repeat(257) } });
            expectValidationError(profile, res, ['password']);
            const tooLong = (field(res.body, 'detail') as { msg: string; type: string }[])[0];
            expect(tooLong).to.deep.equal({
              type: 'string_too_long', loc: ['body', 'password'], msg: 'String should have at most 256 characters', input: 'x'.repeat(257), ctx: { max_length: 256 },
            });
            const missing = await api.post('/register', { json: {} });
            expect((field(missing.body, 'detail') as unknown[])[0]).to.deep.include({ type: 'missing', msg: 'Field required', input: {} });
          });

          it('POST /login answers the token pair for JSON and form-encoded bodies, matching username and e-mail case-insensitively', async () => {
            const user = newUser('login');
            await api.register(user);
            const json = await api.post('/login', { json: profile.loginBody({ ...user, username: user.username.toUpperCase(), email: user.email.toUpperCase() }) });
            const data = expectSuccess(profile, json, 200, SHAPES[profile.name].login);
            const tokens = profile.tokens(json.body);
            if (profile.envelope) {
              expect(field(json.body, 'message')).to.equal('Login successful');
              expect(keysOf(field(data, 'token'))).to.deep.equal(['access_token', 'refresh_token', 'token_type']);
              expect(field(data, 'token.token_type')).to.equal('bearer');
              expect(keysOf(field(data, 'user'))).to.deep.equal([...ENVELOPE_USER].sort());
            } else if (profile.name === 'auth-service') {
              expect(field(data, 'token_type')).to.equal('bearer');
            } else {
              expect(field(data, 'token_type')).to.equal('bearer');
              expect(field(data, 'expires_in')).to.equal(1800);
            }
            expect(tokens.refresh).to.match(/^[A-Za-z0-9_-]{43}$/);
            expect(json.headers.get('pragma')).to.equal('no-cache');

            const form = await api.post('/login', { form: { username: profile.name === 'v2' ? user.email : user.username, password: user.password } });
            expectSuccess(profile, form, 200, SHAPES[profile.name].login);
            if (profile.name !== 'v2') {
              const byEmail = await api.post('/login', { json: { ...profile.loginBody(user), username: user.email } });
              expectSuccess(profile, byEmail, 200);
            }
          });

          it('issues ES256 access tokens with the §5 claims that verify against the published JWKS', async () => {
            const { user, tokens } = await api.signedIn('jwt');
            const header = decodeProtectedHeader(tokens.access);
            expect(header.alg).to.equal('ES256');
            expect(header.kid).to.be.a('string');
            const discovery = await http('GET', `${server.url}/oidc/.well-known/openid-configuration`);
            const jwks = await http('GET', String(field(discovery.body, 'jwks_uri')));
            const { payload } = await jwtVerify(tokens.access, createLocalJWKSet(jwks.body as JSONWebKeySet), { issuer: server.config.issuer });
            // v2 (seed 001): "Tokens include user ID, email, roles, and organization ID".
            const extra = profile.name === 'v2' ? ['organization_id'] : [];
            expect(keysOf(payload)).to.deep.equal(['amr', 'email', 'exp', 'iat', 'iss', 'jti', 'org_id', ...extra, 'preferred_username', 'roles', 'session_id', 'sid', 'sub']);
            if (profile.name === 'v2') expect(payload.organization_id).to.equal(payload.org_id);
            expect(payload.amr).to.deep.equal(['pwd']);
            expect(payload.sub).to.equal(await userId(user.email));
            expect(payload.sid).to.equal(payload.session_id);
            expect(payload.email).to.equal(user.email.toLowerCase());
            expect(payload.roles).to.deep.equal([]);
            expect(payload.org_id).to.match(UUID);
            expect(Number(payload.exp) - Number(payload.iat)).to.equal(1800);
          });

          it('answers a wrong password and an unknown user with the same 401 and WWW-Authenticate: Bearer', async () => {
            const user = newUser('wrong');
            await api.register(user);
            const message = profile.name === 'v2' ? 'Incorrect email or password' : 'Incorrect username or password';
            const wrong = await api.post('/login', { json: profile.loginBody(user, 'not-the-password') });
            const unknown = await api.post('/login', { json: profile.loginBody(newUser('ghost')) });
            for (const res of [wrong, unknown]) {
              expectError(profile, res, 401, message, 'AUTH_INVALID_CREDENTIALS');
              expect(res.headers.get('www-authenticate')).to.equal('Bearer');
            }
          });

          it('refuses an inactive account (403) and ends its sessions at once', async () => {
            const { user, tokens } = await api.signedIn('inactive');
            await server.deps.accounts.setStatus(await userId(user.email), 'suspended', { door: 'admin' });
            expectError(profile, await api.post('/login', { json: profile.loginBody(user) }), 403, 'User account is not active', 'AUTH_INACTIVE');
            expectError(profile, await api.get('/me', { token: tokens.access }), 401, ...UNAUTHENTICATED);
            expectError(profile, await api.post('/refresh', { json: { refresh_token: tokens.refresh } }), 401, 'Invalid or expired refresh token', 'AUTH_INVALID_TOKEN');
          });

          it('POST /refresh rotates the refresh token; the old one stops working', async () => {
            const { tokens } = await api.signedIn('refresh');
            const res = await api.post('/refresh', { json: { refresh_token: tokens.refresh } });
            const data = expectSuccess(profile, res, 200, SHAPES[profile.name].refresh);
            expect(field(data, 'token_type')).to.equal('bearer');
            const next = profile.tokens(res.body);
            expect(next.refresh).to.not.equal(tokens.refresh);
            expectSuccess(profile, await api.get('/me', { token: next.access }), 200);
            const again = await api.post('/refresh', { json: { refresh_token: next.refresh } });
            expectSuccess(profile, again, 200);
            expectError(profile, await api.post('/refresh', { json: { refresh_token: 'x'.repeat(43) } }), 401, 'Invalid or expired refresh token', 'AUTH_INVALID_TOKEN');
            expectValidationError(profile, await api.post('/refresh', { json: {} }), ['refresh_token']);
          });

          it('GET /me and GET /users/me answer the current user; no or bad token → 401 with WWW-Authenticate', async () => {
            const { user, tokens } = await api.signedIn('me');
            for (const path of ['/me', '/users/me']) {
              const data = expectSuccess(profile, await api.get(path, { token: tokens.access }), 200, SHAPES[profile.name].me);
              if (profile.name === 'v2') {
                expect(keysOf(field(data, 'user'))).to.deep.equal([...V2_USER].sort());
                expect(field(data, 'roles')).to.deep.equal([]);
                expect(field(data, 'organization_id')).to.equal(field(data, 'user.organization_id')).and.match(UUID);
                expect(field(data, 'user.email')).to.equal(user.email.toLowerCase());
              } else {
                expect(field(data, 'email')).to.equal(user.email.toLowerCase());
                expect(field(data, 'is_active')).to.equal(true);
              }
              if (profile.name === 'aurora' || profile.name === 'envelope') expect(field(data, 'role')).to.equal(null);
            }
            for (const token of [undefined, 'garbage', `${tokens.access.slice(0, -4)}AAAA`]) {
              const res = await api.get('/me', { token });
              // missing_bearer 401: FastAPI >= 0.122's HTTPBearer (aurora, envelope) says "Not authenticated".
              const httpBearer = token === undefined && (profile.name === 'aurora' || profile.name === 'envelope');
              if (httpBearer) expectError(profile, res, 401, 'Not authenticated', 'AUTH_NOT_AUTHENTICATED');
              else expectError(profile, res, 401, ...UNAUTHENTICATED);
              expect(res.headers.get('www-authenticate')).to.equal('Bearer');
            }
          });

          it("shows the user's first role, admin first (aurora `role`, v2 `roles`)", async () => {
            const { user, tokens } = await api.signedIn('roles');
            const { Role, User } = server.deps.models;
            const names = ['pmc_admin', 'admin', 'billing'];
            const roles = await Promise.all(names.map(async (name) => (await Role.findOrCreate({ where: { name }, defaults: { name, description: `${name} role` } }))[0]));
            const row = await User.findOne({ where: { email: user.email.toLowerCase() } });
            await row?.setRoles(roles);
            const data = expectSuccess(profile, await api.get('/me', { token: tokens.access }), 200);
            if (profile.name === 'aurora' || profile.name === 'envelope') expect(field(data, 'role')).to.equal('admin');
            if (profile.name === 'v2') {
              expect((field(data, 'roles') as { name: string }[]).map((r) => r.name)).to.deep.equal(['admin', 'billing', 'pmc_admin']);
              expect(keysOf((field(data, 'roles') as object[])[0])).to.deep.equal(['description', 'id', 'name']);
            }
          });

          it('PUT /users/me changes the allowed fields only, never roles or status', async () => {
            const { user, tokens } = await api.signedIn('put');
            const res = await api.put('/users/me', {
              token: tokens.access,
              json: {
                full_name: 'New Name',
                phone: '+1 555 0100',
                onboarding_completed: true,
                onboarding_step: 3,
                onboarding_data: { plan: 'pro' },
                roles: ['admin'],
                role: 'admin',
                status: 'suspended',
                is_active: false,
                email: 'hijack@example.com',
                email_verified: true,
                id: '00000000-0000-0000-0000-000000000000',
              },
            });
            const data = expectSuccess(profile, res, 200, SHAPES[profile.name].me);
            if (profile.name === 'v2') {
              expect(field(data, 'user.full_name')).to.equal('New Name');
              expect(field(data, 'user.onboarding_data')).to.deep.equal({ plan: 'pro' });
            }
            const row = await server.deps.models.User.findOne({ where: { email: user.email.toLowerCase() } });
            expect(row?.fullName).to.equal('New Name');
            expect(row?.phone).to.equal('+1 555 0100');
            expect(row?.onboardingCompleted).to.equal(true);
            expect(row?.onboardingStep).to.equal(3);
            expect(row?.status).to.equal('active');
            expect(row?.emailVerified).to.equal(false);
            expect(await row?.getRoles()).to.deep.equal([]);
            expectSuccess(profile, await api.get('/me', { token: tokens.access }), 200);

            const other = newUser('taken');
            await api.register(other);
            if (profile.name !== 'v2') {
              const taken = await api.put('/users/me', { token: tokens.access, json: { username: other.username } });
              expectError(profile, taken, 400, 'Username already registered', 'AUTH_USERNAME_EXISTS', 409);
            }
            expectValidationError(profile, await api.put('/users/me', { token: tokens.access, json: { onboarding_step: 'three' } }), ['onboarding_step']);
          });

          it('PUT /users/me/password checks the current password and ends every other session', async () => {
            const { user, tokens } = await api.signedIn('pwd');
            const other = await api.login(user);
            const wrong = await api.put('/users/me/password', { token: tokens.access, json: { current_password: 'not-it-at-all', new_password: 'brand-new-secret' } });
            expectError(profile, wrong, 400, 'Incorrect current password', 'AUTH_INCORRECT_PASSWORD');
            const ok = await api.put('/users/me/password', { token: tokens.access, json: { current_password: user.password, new_password: 'brand-new-secret' } });
            if (profile.envelope) expectMessage(profile, ok, 200, 'Password changed successfully', 'Password updated successfully');
            else expectMessage(profile, ok, 200, 'Password updated successfully');
            expectSuccess(profile, await api.get('/me', { token: tokens.access }), 200);
            expectError(profile, await api.get('/me', { token: other.access }), 401, ...UNAUTHENTICATED);
            expectError(profile, await api.post('/refresh', { json: { refresh_token: other.refresh } }), 401, 'Invalid or expired refresh token', 'AUTH_INVALID_TOKEN');
            expect((await api.post('/login', { json: profile.loginBody(user) })).status).to.equal(401);
            expect((await api.post('/login', { json: profile.loginBody(user, 'brand-new-secret') })).status).to.equal(200);
          });

          it('GET /sessions lists password and OIDC sessions with their device, and include_expired shows expired ones', async () => {
            const { user, tokens } = await api.signedIn('sess');
            const id = await userId(user.email);
            const expired = await server.deps.sessions.create({ userId: id, kind: 'password', context: { door: 'test' }, ttlSeconds: 0.3 });
            await server.deps.sessions.create({ userId: id, kind: 'oidc', clientId: 'some-app', context: { door: 'interaction', ip: '10.0.0.9' } });
            await api.login(user, { 'X-Device-ID': 'dev-1', 'X-Device-Name': 'Work laptop', 'X-Device-Type': 'desktop', 'User-Agent': 'contract-test/1.0' });
            await new Promise((resolve) => setTimeout(resolve, 350));

            const res = await api.get('/sessions', { token: tokens.access });
            const items = expectSuccess(profile, res, 200) as Record<string, unknown>[];
            expect(items).to.have.length(3);
            for (const item of items) expect(keysOf(item)).to.deep.equal([...SESSION].sort());
            expect(items.filter((item) => item.is_current)).to.have.length(1);
            const device = items.find((item) => item.device_id === 'dev-1');
            expect(device).to.include({ kind: 'password', device_name: 'Work laptop', device_type: 'desktop', user_agent: 'contract-test/1.0', ip_address: '127.0.0.1', is_current: false });
            expect(items.find((item) => item.kind === 'oidc')).to.include({ client_id: 'some-app', device_type: 'unknown', ip_address: '10.0.0.9' });
            expect(items.find((item) => item.is_current)).to.include({ device_type: 'unknown', device_id: null });

            const all = expectSuccess(profile, await api.get('/sessions?include_expired=true', { token: tokens.access }), 200) as Record<string, unknown>[];
            expect(all.map((item) => item.session_id)).to.include(expired.session_id).and.have.length(4);
            const bad = await api.get('/sessions?include_expired=maybe', { token: tokens.access });
            expect(bad.status).to.equal(422);
            expect(field(bad.body, 'detail')).to.deep.equal([{ type: 'bool_parsing', loc: ['query', 'include_expired'], msg: 'Input should be a valid boolean, unable to interpret input', input: 'maybe' }]);
          });

          it("DELETE /sessions/{id} ends one of the user's sessions; anyone else's id is a 404", async () => {
            const { user, tokens } = await api.signedIn('del');
            const second = await api.login(user);
            const mine = expectSuccess(profile, await api.get('/sessions', { token: second.access }), 200) as { session_id: string; is_current: boolean }[];
            const secondId = mine.find((s) => s.is_current)?.session_id ?? '';
            expectMessage(profile, await api.delete(`/sessions/${secondId}`, { token: tokens.access }), 200, 'Session revoked successfully');
            expectError(profile, await api.get('/me', { token: second.access }), 401, ...UNAUTHENTICATED);
            expectSuccess(profile, await api.get('/me', { token: tokens.access }), 200);

            const stranger = await api.signedIn('stranger');
            const theirs = expectSuccess(profile, await api.get('/sessions', { token: stranger.tokens.access }), 200) as { session_id: string }[];
            const theirId = theirs[0]?.session_id ?? '';
            expectError(profile, await api.delete(`/sessions/${theirId}`, { token: tokens.access }), 404, 'Session not found', 'AUTH_SESSION_NOT_FOUND');
            expectError(profile, await api.delete('/sessions/no-such-session', { token: tokens.access }), 404, 'Session not found', 'AUTH_SESSION_NOT_FOUND');
            expectSuccess(profile, await api.get('/me', { token: stranger.tokens.access }), 200);
          });

          it('POST /logout ends the current session, a given one, or all of them', async () => {
            const { user, tokens } = await api.signedIn('logout');
            const other = await api.login(user);
            const one = profile.name === 'auth-service' ? 'Logout successful' : 'Logged out successfully';
            expectMessage(profile, await api.post('/logout', { token: tokens.access }), 200, one);
            expectError(profile, await api.get('/me', { token: tokens.access }), 401, ...UNAUTHENTICATED);
            expectError(profile, await api.post('/refresh', { json: { refresh_token: tokens.refresh } }), 401, 'Invalid or expired refresh token', 'AUTH_INVALID_TOKEN');
            expectSuccess(profile, await api.get('/me', { token: other.access }), 200);

            const third = await api.login(user);
            if (profile.envelope) {
              // Seed 002's logout depends on the verified current user: no bearer, no logout.
              const none = await api.post('/logout', { json: { refresh_token: third.refresh } });
              expect(none.status).to.equal(401);
              expect(none.body).to.deep.equal({ detail: 'Not authenticated' });
              expectError(profile, await api.post('/logout', { token: 'garbage' }), 401, ...UNAUTHENTICATED);
              expectMessage(profile, await api.post('/logout', { token: third.access }), 200, one);
            } else {
              // By refresh token alone (no bearer), and the client-side logout with nothing at all.
              expectMessage(profile, await api.post('/logout', { json: { refresh_token: third.refresh } }), 200, one);
              expectMessage(profile, await api.post('/logout'), 200, one);
              expectMessage(profile, await api.post('/logout', { token: 'garbage' }), 200, one);
            }
            expectError(profile, await api.get('/me', { token: third.access }), 401, ...UNAUTHENTICATED);

            await api.login(user);
            const all = await api.post('/logout', { token: other.access, json: { revoke_all_sessions: true } });
            expectMessage(profile, all, 200, profile.name === 'auth-service' ? 'Logout successful' : 'Logged out from all 2 sessions');
            expectError(profile, await api.get('/me', { token: other.access }), 401, ...UNAUTHENTICATED);
          });

          it('POST /logout with session_id ends that session only', async () => {
            const { user, tokens } = await api.signedIn('logout-id');
            const other = await api.login(user);
            const list = expectSuccess(profile, await api.get('/sessions', { token: other.access }), 200) as { session_id: string; is_current: boolean }[];
            const otherId = list.find((s) => s.is_current)?.session_id;
            expect((await api.post('/logout', { token: tokens.access, json: { session_id: otherId } })).status).to.equal(200);
            expectError(profile, await api.get('/me', { token: other.access }), 401, ...UNAUTHENTICATED);
            expectSuccess(profile, await api.get('/me', { token: tokens.access }), 200);
            expectError(profile, await api.post('/logout', { token: tokens.access, json: { session_id: otherId } }), 404, 'Session not found', 'AUTH_SESSION_NOT_FOUND');
          });

          it('e-mail verification: the mailed link verifies once; resend sends a new one', async () => {
            const user = newUser('verify');
            await api.register(user);
            const mail = await smtp.waitFor((m) => m.to.includes(user.email.toLowerCase()) && m.subject === 'Verify your e-mail address');
            const link = firstLink(mail);
            expect(link.startsWith(`${server.url}${profile.prefix}/verify-email?token=`)).to.equal(true);
            const token = new URL(link).searchParams.get('token') ?? '';
            const tokens = await api.login(user);

            expectMessage(profile, await api.post('/resend-verification', { token: tokens.access }), 202, 'Verification email sent');
            await smtp.waitFor((m) => m.to.includes(user.email.toLowerCase()) && firstLink(m) !== link);

            expectMessage(profile, await http('GET', link), 200, 'Email verified successfully');
            expectError(profile, await api.post('/verify-email', { json: { token } }), 400, 'Invalid or expired verification token', 'AUTH_INVALID_VERIFICATION_TOKEN');
            expectError(profile, await api.post('/verify-email', { json: { token: 'nope' } }), 400, 'Invalid or expired verification token', 'AUTH_INVALID_VERIFICATION_TOKEN');
            expect((await server.deps.accounts.findByEmail(user.email))?.email_verified).to.equal(true);
            expectError(profile, await api.post('/resend-verification', { token: tokens.access }), 400, 'Email already verified', 'AUTH_EMAIL_ALREADY_VERIFIED');
          });

          it('password reset: always 202; the mailed link sets the password once and ends every session', async () => {
            const message = 'If an account with that email exists, a password reset link has been sent';
            expectMessage(profile, await api.post('/forgot-password', { json: { email: 'nobody-here@example.com' } }), 202, message);
            const { user, tokens } = await api.signedIn('reset');
            expectMessage(profile, await api.post('/forgot-password', { json: { email: user.email } }), 202, message);
            const mail = await smtp.waitFor((m) => m.to.includes(user.email.toLowerCase()) && m.subject === 'Reset your password');
            const link = firstLink(mail);
            const page = await http('GET', link);
            expect(page.status).to.equal(200);
            expect(page.headers.get('content-type')).to.match(/^text\/html/);
            const token = new URL(link).searchParams.get('token') ?? '';
            expect(String(page.body)).to.include(`value="${token}"`).and.include('name="new_password"');

            expectError(profile, await api.post('/reset-password', { json: { token: 'x'.repeat(43), new_password: 'after-reset-secret' } }), 400, 'Invalid or expired reset token', 'AUTH_INVALID_VERIFICATION_TOKEN');
            expectMessage(profile, await api.post('/reset-password', { json: { token, new_password: 'after-reset-secret' } }), 200, 'Password has been reset successfully');
            expectError(profile, await api.get('/me', { token: tokens.access }), 401, ...UNAUTHENTICATED);
            expectError(profile, await api.post('/reset-password', { json: { token, new_password: 'another-secret-1' } }), 400, 'Invalid or expired reset token', 'AUTH_INVALID_VERIFICATION_TOKEN');
            expect((await api.post('/login', { json: profile.loginBody(user, 'after-reset-secret') })).status).to.equal(200);
            expectValidationError(profile, await api.post('/forgot-password', { json: { email: 'nope' } }), ['email']);
          });

          it("keeps FastAPI's errors for malformed JSON (422 json_invalid), oversized bodies (413), unknown paths (404) and wrong methods (405)", async () => {
            const jsonInvalid = (pos: number, error: string) => ({ detail: [{ type: 'json_invalid', loc: ['body', pos], msg: 'JSON decode error', input: {}, ctx: { error } }] });
            const raw = (text: string) => api.post('/login', { raw: text, headers: { 'content-type': 'application/json' } });
            const malformed = await raw('{"username": ');
            expect(malformed.status).to.equal(422);
            expect(malformed.body).to.deep.equal(jsonInvalid(13, 'Expecting value'));
            // Offsets count characters as Python does: the emoji is one (two UTF-16 units, four UTF-8 bytes).
            expect((await raw('{"username": "😀", x}')).body).to.deep.equal(jsonInvalid(18, 'Expecting property name enclosed in double quotes'));
            expect((await raw('{"username": "josé" "password": 1}')).body).to.deep.equal(jsonInvalid(20, "Expecting ',' delimiter"));
            const scalar = await raw('"just a string"');
            expect(scalar.status).to.equal(422);
            expect(scalar.body).to.deep.equal({ detail: [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: 'just a string' }] });
            const huge = await api.post('/login', { json: { username: 'x', password: 'y', pad: 'z'.repeat(110_000) } });
            expectError(profile, huge, 413, 'Request body too large', 'PAYLOAD_TOO_LARGE');
            expectError(profile, await api.get('/no-such-route'), 404, 'Not Found', 'NOT_FOUND');
            const wrongMethod = await api.get('/login');
            expectError(profile, wrongMethod, 405, 'Method Not Allowed', 'METHOD_NOT_ALLOWED');
            expect(wrongMethod.headers.get('allow')).to.equal('POST');
            const options = await http('OPTIONS', api.url('/users/me'));
            expect(options.status).to.equal(204);
            expect(options.headers.get('allow')).to.equal('GET, PUT, HEAD, OPTIONS');
          });
        });
      }
    });
  }
});
