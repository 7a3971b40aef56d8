/**
 * The legacy mounts' options (CONTRACT §3 "Mounts and their options"), each run both ways at the HTTP
 * level, then the defaults that copy each original service, then the HS256 bridge: a token of an HS256
 * mount verifies with the old SECRET_KEY alone (jose standing in for python-jose) and its `sub` finds the
 * user, whichever layout the mount uses.
 */
import { expect } from 'chai';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import {
  ALL_PROFILES_DEFAULTS,
  PROFILE_ADAPTERS,
  UNIFORM_OPTIONS,
  field,
  http,
  legacyClient,
  newUser,
  type LegacyClient,
  type ProfileAdapter,
  type Tokens,
} from '../helpers/legacy-client.ts';
import { hashToken } from '../../src/services/secret-tokens.ts';
import { totpCode } from '../../src/services/mfa/totp.ts';

type ProfileName = ProfileAdapter['name'];
type Mount = { prefix: string; profile: ProfileName } & Record<string, unknown>;

const SECRET = 'old-fastapi-SECRET_KEY-0123456789abcdef';
const OTHER_SECRET = 'another-services-SECRET_KEY-0123456789';
const REFRESH_TTL = 2_592_000;

const adapterAt = (name: ProfileName, prefix: string): ProfileAdapter => {
  const found = PROFILE_ADAPTERS.find((p) => p.name === name);
  if (!found) throw new Error(name);
  return { ...found, prefix };
};

interface OptionCase {
  option: string;
  profile: ProfileName;
  values: readonly (string | number | boolean | Record<string, unknown>)[];
  /** One check per value; `api` is a client of the mount with that value, `peer` of the mount with the other one. */
  check(value: OptionCase['values'][number], ctx: CaseContext): Promise<void>;
}

interface CaseContext {
  server: TestServer;
  api: LegacyClient;
  profile: ProfileAdapter;
  peer: LegacyClient;
  signedIn(): Promise<{ user: ReturnType<typeof newUser>; tokens: Tokens; id: string }>;
}

const prefixOf = (option: string, value: unknown): string =>
  `/opt/${option}/${typeof value === 'object' ? String((value as { signing: string }).signing) : String(value)}`;

/** Every option of the table, each value at a mount of its own (the other options uniform). */
const CASES: OptionCase[] = [
  {
    option: 'access_token_ttl',
    profile: 'aurora',
    values: [600, 3600],
    async check(value, { api, signedIn }) {
      const { tokens } = await signedIn();
      const claims = decodeJwt(tokens.access);
      expect(Number(claims.exp) - Number(claims.iat)).to.equal(value);
      const login = await api.post('/refresh', { json: { refresh_token: tokens.refresh } });
      expect(field(login.body, 'expires_in')).to.equal(value);
    },
  },
  {
    option: 'refresh',
    profile: 'aurora',
    values: ['rotate', 'reuse'],
    async check(value, { api, profile, signedIn }) {
      const { tokens } = await signedIn();
      const first = await api.post('/refresh', { json: { refresh_token: tokens.refresh } });
      expect(first.status).to.equal(200);
      const next = profile.tokens(first.body);
      expect((await api.get('/me', { token: next.access })).status).to.equal(200);
      if (value === 'rotate') {
        expect(next.refresh).to.not.equal(tokens.refresh);
        // Presenting the spent one again is a replay: the whole session ends.
        const replay = await api.post('/refresh', { json: { refresh_token: tokens.refresh } });
        expect(replay.status).to.equal(401);
        expect((await api.get('/me', { token: next.access })).status).to.equal(401);
        return;
      }
      // Seed 003: "the (currently unchanged) refresh token", usable again and again while the session lives.
      expect(next.refresh).to.equal(tokens.refresh);
      for (let i = 0; i < 3; i += 1) {
        const again = await api.post('/refresh', { json: { refresh_token: tokens.refresh } });
        expect(again.status, JSON.stringify(again.body)).to.equal(200);
        expect(profile.tokens(again.body).refresh).to.equal(tokens.refresh);
      }
      expect((await api.get('/me', { token: next.access })).status).to.equal(200);
      // ...until its session ends.
      expect((await api.post('/logout', { token: next.access })).status).to.equal(200);
      const after = await api.post('/refresh', { json: { refresh_token: tokens.refresh } });
      expect(after.status).to.equal(401);
      expect(after.body).to.deep.equal({ detail: 'Invalid or expired refresh token' });
    },
  },
  {
    option: 'refresh_token_format',
    profile: 'v2',
    values: ['jwt', 'opaque'],
    async check(value, { server, api, peer, profile, signedIn }) {
      const { tokens, id } = await signedIn();
      if (value === 'opaque') {
        expect(tokens.refresh).to.match(/^[A-Za-z0-9_-]{43}$/);
      } else {
        const header = decodeProtectedHeader(tokens.refresh);
        expect(header).to.include({ typ: 'refresh+jwt', alg: 'ES256' });
        const claims = decodeJwt(tokens.refresh);
        expect(Object.keys(claims).sort()).to.deep.equal(['exp', 'iat', 'jti', 'sid', 'sub']);
        expect(claims.sub).to.equal(id);
        expect(claims.sid).to.equal(decodeJwt(tokens.access).sid);
        expect(Number(claims.exp) - Number(claims.iat)).to.equal(REFRESH_TTL);
        // Signed like the mount's access tokens: with the published key set.
        const jwks = await http('GET', `${server.url}/oidc/jwks`);
        await jwtVerify(tokens.refresh, createLocalJWKSet(jwks.body as JSONWebKeySet), { typ: 'refresh+jwt' });
        // Not an access token.
        expect((await api.get('/me', { token: tokens.refresh })).status).to.equal(401);
      }
      // Stored only as a hash.
      expect(await server.deps.store.get(`rt:${tokens.refresh}`)).to.equal(undefined);
      expect(await server.deps.store.get(`rt:${hashToken(tokens.refresh)}`)).to.not.equal(undefined);
      // Accepted only at the /refresh of the mount that issued it.
      const elsewhere = await peer.post('/refresh', { json: { refresh_token: tokens.refresh } });
      expect(elsewhere.status).to.equal(401);
      const rotated = await api.post('/refresh', { json: { refresh_token: tokens.refresh } });
      expect(rotated.status, JSON.stringify(rotated.body)).to.equal(200);
      const next = profile.tokens(rotated.body);
      if (value === 'jwt') expect(decodeProtectedHeader(next.refresh).typ).to.equal('refresh+jwt');
      else expect(next.refresh).to.match(/^[A-Za-z0-9_-]{43}$/);
    },
  },
  {
    option: 'require_email_verification',
    profile: 'envelope',
    values: [true, false],
    async check(value, { server, api, profile, signedIn }) {
      const { user, tokens, id } = await signedIn();
      const me = await api.get('/users/me', { token: tokens.access });
      if (value === false) {
        expect(me.status).to.equal(200);
        return;
      }
      // Seed 002's get_current_verified_user: a plain FastAPI 403 on every Bearer route...
      expect(me.status).to.equal(403);
      expect(me.body).to.deep.equal({ detail: 'Email not verified' });
      for (const [method, path] of [['GET', '/sessions'], ['PUT', '/users/me'], ['POST', '/logout']] as const) {
        const res = await http(method, api.url(path), { token: tokens.access, json: method === 'GET' ? undefined : {} });
        expect(res.status, `${method} ${path}`).to.equal(403);
      }
      // ...while login, refresh and the e-mail routes stay open.
      expect((await api.post('/login', { json: profile.loginBody(user) })).status).to.equal(200);
      const refreshed = await api.post('/refresh', { json: { refresh_token: tokens.refresh } });
      expect(refreshed.status).to.equal(200);
      expect((await api.post('/resend-verification', { token: tokens.access })).status).to.equal(202);
      expect((await api.post('/forgot-password', { json: { email: user.email } })).status).to.equal(202);
      await server.deps.models.User.update({ emailVerified: true }, { where: { id }, individualHooks: true });
      expect((await api.get('/users/me', { token: profile.tokens(refreshed.body).access })).status).to.equal(200);
    },
  },
  {
    option: 'missing_bearer',
    profile: 'aurora',
    values: [403, 401],
    async check(value, { api, signedIn }) {
      const none = await api.get('/me');
      const basic = await api.get('/me', { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
      const empty = await api.get('/me', { headers: { authorization: 'Bearer' } });
      if (value === 403) {
        // FastAPI's HTTPBearer before 0.122: 403, no WWW-Authenticate.
        for (const res of [none, empty]) {
          expect(res.status).to.equal(403);
          expect(res.body).to.deep.equal({ detail: 'Not authenticated' });
          expect(res.headers.get('www-authenticate')).to.equal(null);
        }
        expect(basic.status).to.equal(403);
        expect(basic.body).to.deep.equal({ detail: 'Invalid authentication credentials' });
        expect(basic.headers.get('www-authenticate')).to.equal(null);
      } else {
        for (const res of [none, basic, empty]) {
          expect(res.status).to.equal(401);
          expect(res.body).to.deep.equal({ detail: 'Not authenticated' });
          expect(res.headers.get('www-authenticate')).to.equal('Bearer');
        }
      }
      // A bad token is the 401 of get_current_user either way.
      const bad = await api.get('/me', { token: 'not-a-jwt' });
      expect(bad.status).to.equal(401);
      expect(bad.body).to.deep.equal({ detail: 'Could not validate credentials' });
      expect(bad.headers.get('www-authenticate')).to.equal('Bearer');
      const { tokens } = await signedIn();
      expect((await api.get('/me', { token: tokens.access })).status).to.equal(200);
    },
  },
  {
    option: 'token',
    profile: 'aurora',
    values: [{ signing: 'jwks' }, { signing: 'HS256', secret_env: 'OPTIONS_TEST_SECRET' }],
    async check(value, { server, api, peer, signedIn }) {
      const { user, tokens } = await signedIn();
      const header = decodeProtectedHeader(tokens.access);
      const claims = decodeJwt(tokens.access);
      if ((value as { signing: string }).signing === 'jwks') {
        expect(header.alg).to.equal('ES256');
        expect(claims.iss).to.equal(server.config.issuer);
        const jwks = await http('GET', `${server.url}/oidc/jwks`);
        await jwtVerify(tokens.access, createLocalJWKSet(jwks.body as JSONWebKeySet), { issuer: server.config.issuer });
        // Key-set tokens pass at every jwks mount, and not at an HS256 one.
        const other = legacyClient(server.url, adapterAt('aurora', '/api/v1/auth'));
        expect((await other.get('/me', { token: tokens.access })).status).to.equal(200);
        expect((await peer.get('/me', { token: tokens.access })).status).to.equal(401);
      } else {
        expect(header).to.deep.equal({ alg: 'HS256', typ: 'JWT' });
        // The retired backend's check: the secret alone, sub = username (seed 000: "by username claim").
        const { payload } = await jwtVerify(tokens.access, new TextEncoder().encode(SECRET), { algorithms: ['HS256'] });
        expect(payload.sub).to.equal(user.username);
        expect(payload.sid).to.equal(payload.session_id);
        expect((await api.get('/me', { token: tokens.access })).status).to.equal(200);
        // Only at its own mount: not at a jwks mount, not at userinfo.
        expect((await peer.get('/me', { token: tokens.access })).status).to.equal(401);
        const userinfo = await http('GET', `${server.url}/oidc/me`, { token: tokens.access });
        expect(userinfo.status).to.equal(401);
      }
      // Whatever the signing, the token dies with its session.
      expect((await api.post('/logout', { token: tokens.access })).status).to.equal(200);
      expect((await api.get('/me', { token: tokens.access })).status).to.equal(401);
    },
  },
];

function optionMounts(): Mount[] {
  return CASES.flatMap((c) => c.values.map((value) => ({ ...UNIFORM_OPTIONS, prefix: prefixOf(c.option, value), profile: c.profile, [c.option]: value })));
}

/** HS256 mounts, one per `sub` layout, and two that share one secret (a token of one must not pass at the other). */
const HS256_MOUNTS: Mount[] = [
  { prefix: '/hs/aurora', profile: 'aurora', token: { signing: 'HS256', secret_env: 'OPTIONS_TEST_SECRET' } },
  { prefix: '/hs/v2', profile: 'v2', token: { signing: 'HS256', secret_env: 'OPTIONS_TEST_SECRET' } },
  { prefix: '/hs/auth', profile: 'auth-service', token: { signing: 'HS256', secret_env: 'OPTIONS_TEST_OTHER_SECRET', sub: 'number' } },
  { prefix: '/hs/envelope', profile: 'envelope', require_email_verification: false, token: { signing: 'HS256', secret_env: 'OPTIONS_TEST_OTHER_SECRET' } },
];

describe('legacy mount options (CONTRACT §3)', function () {
  this.timeout(30_000);

  for (const mode of MODES) {
    describe(mode.name, function () {
      let server: TestServer;

      before(async function () {
        this.timeout(60_000);
        const mounts = [...optionMounts(), ...HS256_MOUNTS, { prefix: '/api/v1/auth', profile: 'aurora', ...UNIFORM_OPTIONS }];
        server = await startTestServer({
          database: mode.database,
          store: mode.store,
          mocha: this,
          env: { COMPAT_PROFILES: JSON.stringify(mounts), OPTIONS_TEST_SECRET: SECRET, OPTIONS_TEST_OTHER_SECRET: OTHER_SECRET },
        });
      });
      after(async () => server?.close());

      const userIdOf = async (email: string): Promise<string> => {
        const row = await server.deps.models.User.findOne({ where: { email: email.toLowerCase() } });
        if (!row) throw new Error(email);
        return row.id;
      };

      for (const c of CASES) {
        for (const value of c.values) {
          it(`${c.option}: ${JSON.stringify(value)} (${c.profile})`, async () => {
            const other = c.values.find((v) => v !== value);
            const profile = adapterAt(c.profile, prefixOf(c.option, value));
            const api = legacyClient(server.url, profile);
            const peer = legacyClient(server.url, adapterAt(c.profile, prefixOf(c.option, other)));
            await c.check(value, {
              server,
              api,
              profile,
              peer,
              async signedIn() {
                const { user, tokens } = await api.signedIn(c.option.slice(0, 6));
                return { user, tokens, id: await userIdOf(user.email) };
              },
            });
          });
        }
      }

      describe('HS256 mounts: the old SECRET_KEY bridge', () => {
        const verifyWith = async (token: string, secret: string) =>
          (await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ['HS256'] })).payload;

        it('sub = username (aurora), id (v2), number (auth-service): verifies with the secret alone and /me finds the user', async () => {
          const user = newUser('bridge');
          const aurora = legacyClient(server.url, adapterAt('aurora', '/hs/aurora'));
          await aurora.register(user);
          const row = await server.deps.models.User.findOne({ where: { email: user.email.toLowerCase() } });
          const layouts: [ProfileName, string, string, unknown][] = [
            ['aurora', '/hs/aurora', SECRET, user.username],
            ['v2', '/hs/v2', SECRET, row?.id],
            ['auth-service', '/hs/auth', OTHER_SECRET, String(row?.number)],
          ];
          for (const [name, prefix, secret, sub] of layouts) {
            const client = legacyClient(server.url, adapterAt(name, prefix));
            const tokens = await client.login(user);
            const payload = await verifyWith(tokens.access, secret);
            expect(payload.sub, prefix).to.equal(sub);
            expect(payload.email).to.equal(user.email.toLowerCase());
            expect(payload.iss).to.equal(`${server.url}${prefix}`);
            const me = await client.get('/me', { token: tokens.access });
            expect(me.status, prefix).to.equal(200);
            expect(field(me.body, name === 'v2' ? 'user.email' : 'email')).to.equal(user.email.toLowerCase());
            if (name === 'v2') expect(payload.organization_id).to.equal(row?.organizationId);
            // auth-service's JWT refresh token is signed like its access tokens: with the same secret.
            if (name === 'auth-service') {
              expect((await verifyWith(tokens.refresh, secret)).sub).to.equal(sub);
              const again = await client.post('/refresh', { json: { refresh_token: tokens.refresh } });
              expect(field(again.body, 'refresh_token')).to.equal(tokens.refresh);
            }
          }
        });

        it('a second factor at an HS256 mount: /mfa takes its tokens, and the second step answers tokens signed like the password login\'s', async () => {
          const prefix = '/hs/aurora';
          const client = legacyClient(server.url, adapterAt('aurora', prefix));
          const user = newUser('hsmfa');
          await client.register(user);
          const first = await client.login(user);
          const started = await client.post('/mfa/totp', { token: first.access });
          expect(started.status, JSON.stringify(started.body)).to.equal(200);
          const secret = String(field(started.body, 'secret'));
          expect((await client.post('/mfa/totp/confirm', { token: first.access, json: { code: totpCode(secret) } })).status).to.equal(200);

          const challenge = await client.post('/login', { json: { username: user.username, password: user.password } });
          expect(challenge.status).to.equal(401);
          const done = await client.post('/login/mfa', { json: { mfa_token: field(challenge.body, 'mfa_token'), code: totpCode(secret, Date.now() + 30_000) } });
          expect(done.status, JSON.stringify(done.body)).to.equal(200);
          const access = String(field(done.body, 'access_token'));
          expect(decodeProtectedHeader(access)).to.deep.equal({ alg: 'HS256', typ: 'JWT' });
          const payload = await verifyWith(access, SECRET);
          expect(payload.sub).to.equal(user.username);
          expect(payload.iss).to.equal(`${server.url}${prefix}`);
          expect(payload.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
          expect((await client.get('/me', { token: access })).status).to.equal(200);
        });

        it('a user without a username is named by its e-mail, and found by it', async () => {
          const v2 = legacyClient(server.url, adapterAt('v2', '/hs/v2'));
          const user = newUser('nameless');
          await v2.register(user);
          const aurora = legacyClient(server.url, adapterAt('aurora', '/hs/aurora'));
          const tokens = await aurora.login({ ...user, username: user.email });
          expect((await verifyWith(tokens.access, SECRET)).sub).to.equal(user.email.toLowerCase());
          const me = await aurora.get('/me', { token: tokens.access });
          expect(me.status).to.equal(200);
          expect(field(me.body, 'username')).to.equal(null);
        });

        it('a token of one HS256 mount passes at no other, even with the same secret; its key is chosen by the mount', async () => {
          const aurora = legacyClient(server.url, adapterAt('aurora', '/hs/aurora'));
          const v2 = legacyClient(server.url, adapterAt('v2', '/hs/v2'));
          const { user, tokens } = await aurora.signedIn('confined');
          const fromV2 = await v2.login(user);
          expect((await v2.get('/me', { token: tokens.access })).status).to.equal(401);
          expect((await aurora.get('/me', { token: fromV2.access })).status).to.equal(401);
          expect((await http('GET', `${server.url}/hs/envelope/users/me`, { token: tokens.access })).status).to.equal(401);
          expect((await http('GET', `${server.url}/api/v1/auth/me`, { token: tokens.access })).status).to.equal(401);
          // Refresh tokens too: only at the /refresh of the mount that issued them.
          expect((await v2.post('/refresh', { json: { refresh_token: tokens.refresh } })).status).to.equal(401);
          expect((await aurora.post('/refresh', { json: { refresh_token: tokens.refresh } })).status).to.equal(200);
        });

        it("refuses a genuine signature whose sub names another user (the session is the token's own)", async () => {
          const aurora = legacyClient(server.url, adapterAt('aurora', '/hs/aurora'));
          const victim = await aurora.signedIn('victim');
          const attacker = await aurora.signedIn('attacker');
          const claims = decodeJwt(attacker.tokens.access);
          const { SignJWT } = await import('jose');
          const forged = await new SignJWT({ ...claims, sub: victim.user.username })
            .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
            .sign(new TextEncoder().encode(SECRET));
          expect((await aurora.get('/me', { token: forged })).status).to.equal(401);
        });
      });

      it('defaults copy each original service (short form)', async function () {
        this.timeout(60_000);
        const defaults = await startTestServer({ database: mode.database, store: mode.store, mocha: this, env: { COMPAT_PROFILES: ALL_PROFILES_DEFAULTS } });
        try {
          const authService = legacyClient(defaults.url, adapterAt('auth-service', '/auth'));
          const { tokens } = await authService.signedIn('dflt');
          const claims = decodeJwt(tokens.access);
          expect(Number(claims.exp) - Number(claims.iat)).to.equal(86_400);
          expect(decodeProtectedHeader(tokens.refresh).typ).to.equal('refresh+jwt');
          const refreshed = await authService.post('/refresh', { json: { refresh_token: tokens.refresh } });
          expect(Object.keys(refreshed.body as object).sort()).to.deep.equal(['access_token', 'refresh_token', 'token_type']);
          expect(field(refreshed.body, 'refresh_token')).to.equal(tokens.refresh);
          expect((await authService.get('/me')).status).to.equal(401);

          const aurora = legacyClient(defaults.url, adapterAt('aurora', '/api/v1/auth'));
          expect((await aurora.get('/me')).status).to.equal(403);
          const auroraTokens = (await aurora.signedIn('dflt')).tokens;
          expect(decodeJwt(auroraTokens.access).exp! - decodeJwt(auroraTokens.access).iat!).to.equal(1800);
          expect(auroraTokens.refresh).to.match(/^[A-Za-z0-9_-]{43}$/);

          const envelope = legacyClient(defaults.url, adapterAt('envelope', '/api/env/auth'));
          const signed = await envelope.signedIn('dflt');
          const me = await envelope.get('/users/me', { token: signed.tokens.access });
          expect(me.status).to.equal(403);
          expect(me.body).to.deep.equal({ detail: 'Email not verified' });
          const missing = await envelope.get('/users/me');
          expect(missing.status).to.equal(403);
          expect(missing.body).to.deep.equal({ detail: 'Not authenticated' });
        } finally {
          await defaults.close();
        }
      });
    });
  }
});
