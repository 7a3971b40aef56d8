/**
 * Moving from the FastAPI services, end to end (CONTRACT §3 "Moving the users over", README "Migrating
 * from the FastAPI services"): a JSON export of legacy users (old UUIDs, old integer ids, bcrypt hashes,
 * roles, and the names the originals accepted) goes in through the `import-users` CLI; then a client of
 * each retired service logs in and refreshes at its mount, and the same user signs in through OIDC with
 * `sub` equal to the old UUID.
 *
 * Each mount's tokens are checked the way that service's other backends check them (`verifyAtBackend`):
 * Aurora's and v2's backends keep their python-jose check with the old SECRET_KEY (jose's HS256 stands in
 * for it), so those mounts sign with `token: {signing: "HS256", …}` and the backend finds the user by the
 * `sub` it always read (Aurora: the username; v2: the UUID); the other mounts sign with the key set, checked
 * against the published JWKS.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { MODES } from '../helpers/app.ts';
import { http, field } from '../helpers/legacy-client.ts';
import { runCli } from '../helpers/process.ts';
import { UserAgent } from './helpers/user-agent.ts';
import { authorize, CLIENTS, startOidcEnv, type OidcEnv } from './helpers/oidc-env.ts';

const PASSWORD = 'legacy password 1';
/** The v2 user's organization, whose id its clients read as `organization_id`. */
const ORGANIZATION = '7e500000-0000-4000-8000-000000000001';

/** The legacy export: what the old services' databases held. */
const LEGACY = {
  jo: { id: '6f1c2a3b-0000-4a00-8000-000000000042', number: 42, email: 'jo@aurora.example', username: 'jo', roles: ['admin'] },
  mary: { id: '6f1c2a3b-0000-4a00-8000-000000000007', number: 7, email: 'Mary.Smith@Aurora.example', username: 'mary smith', roles: ['pmc_admin'] },
  bob: { id: '6f1c2a3b-0000-4a00-8000-000000001001', number: 1001, email: 'bob@corp.example', username: 'bob@corp', roles: [] as string[] },
  jose: { id: '6f1c2a3b-0000-4a00-8000-000000000055', number: 55, email: 'josé@exämple.com', username: 'josé', roles: ['viewer'], organization: ORGANIZATION },
};
type LegacyName = keyof typeof LEGACY;

interface Mount {
  profile: 'auth-service' | 'aurora' | 'v2' | 'envelope';
  prefix: string;
  /** Who logs in here, and with which body (each original's own login shape). */
  user: LegacyName;
  loginBody: (user: (typeof LEGACY)[LegacyName]) => Record<string, unknown>;
  tokens: (body: unknown) => { access: string; refresh: string };
  /** The `id` the original's `/me` answered for this user. */
  meId: (user: (typeof LEGACY)[LegacyName], me: unknown) => unknown;
  expectedMeId: (user: (typeof LEGACY)[LegacyName]) => unknown;
  /** HS256 with the retired service's SECRET_KEY, and which of the user's legacy fields its backends read from `sub`. */
  hs256?: { secretEnv: string; secret: string; sub: 'id' | 'username' };
}

const flatTokens = (body: unknown) => ({ access: String(field(body, 'access_token')), refresh: String(field(body, 'refresh_token')) });

const MOUNTS: Mount[] = [
  {
    profile: 'auth-service',
    prefix: '/auth',
    user: 'jo',
    loginBody: (u) => ({ username: u.username, password: PASSWORD }),
    tokens: flatTokens,
    meId: (_u, me) => field(me, 'id'),
    expectedMeId: (u) => u.number,
  },
  {
    profile: 'aurora',
    prefix: '/api/v1/auth',
    hs256: { secretEnv: 'AURORA_SECRET_KEY', secret: 'aurora-old-secret-key-kept-for-its-backends', sub: 'username' },
    user: 'mary',
    loginBody: (u) => ({ username: u.username, password: PASSWORD }),
    tokens: flatTokens,
    meId: (_u, me) => field(me, 'id'),
    expectedMeId: (u) => u.id,
  },
  {
    profile: 'v2',
    prefix: '/api/v2/auth',
    hs256: { secretEnv: 'V2_SECRET_KEY', secret: 'v2-old-secret-key-the-pmc-backends-still-use', sub: 'id' },
    user: 'jose',
    loginBody: (u) => ({ email: u.email, password: PASSWORD }),
    tokens: flatTokens,
    meId: (_u, me) => field(me, 'user.id'),
    expectedMeId: (u) => u.id,
  },
  {
    profile: 'envelope',
    prefix: '/api/env/auth',
    user: 'bob',
    loginBody: (u) => ({ username: u.username, password: PASSWORD }),
    tokens: (body) => {
      const data = field(body, 'data') as Record<string, unknown>;
      const token = (data.token ?? data) as Record<string, unknown>;
      return { access: String(token.access_token), refresh: String(token.refresh_token) };
    },
    meId: (_u, me) => field(me, 'data.id'),
    expectedMeId: (u) => u.id,
  },
];

for (const mode of MODES) {
  describe(`migrating from the FastAPI services, end to end (${mode.name})`, function () {
    this.timeout(120_000);
    let env: OidcEnv;
    let dir: string;
    let verifyAtBackend: (mount: Mount, token: string) => Promise<JWTPayload>;

    before(async function () {
      this.timeout(120_000);
      dir = mkdtempSync(path.join(tmpdir(), 'idp-migration-'));
      env = await startOidcEnv({
        database: mode.database,
        store: mode.store,
        mocha: this,
        env: {
          // The mount options README "Migrating from the FastAPI services" gives for these services.
          COMPAT_PROFILES: JSON.stringify(
            MOUNTS.map((mount) => ({
              prefix: mount.prefix,
              profile: mount.profile,
              ...(mount.hs256 ? { token: { signing: 'HS256', secret_env: mount.hs256.secretEnv } } : {}),
            })),
          ),
          ...Object.fromEntries(MOUNTS.flatMap((mount) => (mount.hs256 ? [[mount.hs256.secretEnv, mount.hs256.secret]] : []))),
        },
      });
      const jwks = createRemoteJWKSet(new URL(`${env.issuer}/jwks`));
      verifyAtBackend = async (mount, token) =>
        mount.hs256
          ? // python-jose's jwt.decode(token, SECRET_KEY, algorithms=["HS256"]): the old key alone, nothing fetched.
            (await jwtVerify(token, new TextEncoder().encode(mount.hs256.secret), { algorithms: ['HS256'] })).payload
          : (await jwtVerify(token, jwks, { issuer: env.issuer })).payload;

      // The export, as the old services' users tables held it: bcrypt hashes ($2b$, cost 10, like passlib's).
      const hash = bcrypt.hashSync(PASSWORD, 10);
      const file = path.join(dir, 'legacy-users.json');
      writeFileSync(
        file,
        JSON.stringify(
          Object.values(LEGACY).map((user) => ({ ...user, full_name: `${user.username} (legacy)`, password_hash: hash, email_verified: true })),
          null,
          2,
        ),
      );
      const run = await runCli(['import-users', file], { DATABASE_URL: env.server.config.database.url, DATA_DIR: dir });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout.trim().split('\n').at(-1)).to.equal('created 4, skipped 0, rejected 0');
    });
    after(async () => {
      await env?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    for (const mount of MOUNTS) {
      it(`a client of the ${mount.profile} service logs in and refreshes at ${mount.prefix}, and its /me says the old id`, async () => {
        const user = LEGACY[mount.user];
        const base = `${env.server.url}${mount.prefix}`;
        const login = await http('POST', `${base}/login`, { json: mount.loginBody(user) });
        expect(login.status, JSON.stringify(login.body)).to.equal(200);
        const first = mount.tokens(login.body);

        const refreshed = await http('POST', `${base}/refresh`, { json: { refresh_token: first.refresh } });
        expect(refreshed.status, JSON.stringify(refreshed.body)).to.equal(200);
        const second = mount.tokens(refreshed.body);
        // A second refresh with what the client now holds (the same token under `reuse`, the new one under `rotate`).
        expect((await http('POST', `${base}/refresh`, { json: { refresh_token: second.refresh } })).status).to.equal(200);

        const me = await http('GET', `${base}/me`, { headers: { authorization: `Bearer ${second.access}` } });
        expect(me.status, JSON.stringify(me.body)).to.equal(200);
        expect(mount.meId(user, me.body)).to.equal(mount.expectedMeId(user));
        if (mount.profile === 'v2') expect(field(me.body, 'organization_id')).to.equal(ORGANIZATION);

        const claims = await verifyAtBackend(mount, second.access);
        // The old backend finds its user by the claim it always read, in the table the export came from.
        const subField = mount.hs256?.sub ?? 'id';
        expect(claims.sub).to.equal(user[subField]);
        expect(Object.values(LEGACY).filter((row) => row[subField] === claims.sub)).to.deep.equal([user]);
        expect(claims.sid).to.be.a('string');
        if (mount.hs256) {
          // And the token is refused anywhere else: a key-set mount, and OIDC's userinfo.
          const elsewhere = await http('GET', `${env.server.url}/auth/me`, { headers: { authorization: `Bearer ${second.access}` } });
          expect(elsewhere.status).to.equal(401);
          expect((await http('GET', `${env.issuer}/me`, { headers: { authorization: `Bearer ${second.access}` } })).status).to.be.oneOf([400, 401]);
        }
      });
    }

    it('keeps the legacy identity in the database: the old UUID, the old number, the roles as application roles', async () => {
      for (const user of Object.values(LEGACY)) {
        const account = await env.server.deps.accounts.getById(user.id);
        expect(account, user.username).to.not.equal(undefined);
        expect(account).to.deep.include({ id: user.id, number: user.number, username: user.username, email: user.email.toLowerCase() });
        expect(account?.roles).to.deep.equal(user.roles);
      }
      // Aurora's dashboard admin is not an admin of the identity provider.
      const login = await http('POST', `${env.server.url}/auth/login`, { json: { username: 'jo', password: PASSWORD } });
      const admin = await http('GET', `${env.server.url}/admin/api/users`, { headers: { authorization: `Bearer ${flatTokens(login.body).access}` } });
      expect(admin.status).to.equal(403);
    });

    it('the same users sign in through OIDC on the login page, with sub equal to the old UUID', async () => {
      const spa = await env.discover('spa');
      for (const [name, typed] of [
        ['jo', 'jo'],
        ['mary', 'MARY SMITH'],
        ['jose', 'JOSÉ@EXÄMPLE.COM'],
        ['bob', 'bob@corp'],
      ] as [LegacyName, string][]) {
        const run = await authorize(new UserAgent(), spa, {
          redirectUri: CLIENTS.spa.redirect_uris[0],
          scope: 'openid profile email roles',
          user: { login: typed, password: PASSWORD },
        });
        const tokens = await oidc.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
        const claims = tokens.claims();
        expect(claims?.sub, name).to.equal(LEGACY[name].id);
        expect(claims?.email, name).to.equal(LEGACY[name].email.toLowerCase());
        expect(claims?.roles, name).to.deep.equal(LEGACY[name].roles);
      }
    });
  });
}
