import { expect } from 'chai';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { createHash } from 'node:crypto';
import { call, createUser, login } from '../helpers/admin-api.ts';
import { createBrowserFetch, formAction, hiddenValue } from '../helpers/browser-fetch.ts';

interface UserBody {
  id: string;
  email: string;
  username: string | null;
  full_name: string | null;
  phone: string | null;
  status: string;
  email_verified: boolean;
  roles: string[];
  organization_id: string;
  organizations?: { id: string; name: string; slug: string; role: string }[];
}
interface PageBody<T> {
  items: T[];
  total: number;
}
type Issues = { detail: { loc: (string | number)[]; msg: string; type: string }[] };

const UNKNOWN_UUID = '00000000-0000-4000-8000-000000000000';
const PASSWORD = 'correct horse battery';

/** Every route of CONTRACT §7 (plus the console's extras), for the 401/403 checks. */
const ROUTES: [string, string][] = [
  ['GET', '/admin/api/users'],
  ['POST', '/admin/api/users'],
  ['GET', `/admin/api/users/${UNKNOWN_UUID}`],
  ['PATCH', `/admin/api/users/${UNKNOWN_UUID}`],
  ['DELETE', `/admin/api/users/${UNKNOWN_UUID}`],
  ['GET', `/admin/api/users/${UNKNOWN_UUID}/sessions`],
  ['DELETE', `/admin/api/users/${UNKNOWN_UUID}/sessions/abc`],
  ['DELETE', `/admin/api/users/${UNKNOWN_UUID}/sessions`],
  ['GET', '/admin/api/roles'],
  ['POST', '/admin/api/roles'],
  ['DELETE', `/admin/api/roles/${UNKNOWN_UUID}`],
  ['GET', '/admin/api/organizations'],
  ['POST', '/admin/api/organizations'],
  ['GET', `/admin/api/organizations/${UNKNOWN_UUID}`],
  ['POST', `/admin/api/organizations/${UNKNOWN_UUID}/members`],
  ['DELETE', `/admin/api/organizations/${UNKNOWN_UUID}/members/${UNKNOWN_UUID}`],
  ['GET', '/admin/api/clients'],
  ['POST', '/admin/api/clients'],
  ['GET', '/admin/api/clients/x'],
  ['PATCH', '/admin/api/clients/x'],
  ['DELETE', '/admin/api/clients/x'],
  ['GET', '/admin/api/audit-events'],
];

for (const mode of MODES) {
  describe(`admin API /admin/api (${mode.name})`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let adminId: string;
    let adminToken: string;
    let userToken: string;

    before(async function () {
      server = await startTestServer({ database: mode.database, store: mode.store, mocha: this });
      adminId = await createUser(server, { email: 'root@example.com', username: 'root', password: PASSWORD, roles: ['idp_admin'] });
      await createUser(server, { email: 'plain@example.com', username: 'plain', password: PASSWORD });
      adminToken = await login(server, 'root', PASSWORD);
      userToken = await login(server, 'plain', PASSWORD);
    });
    after(async () => server?.close());

    const admin = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) =>
      call<T>(server, method, path, { token: adminToken, body });

    describe('authentication', () => {
      it('answers 401 with WWW-Authenticate on every route without a token or with a bad one', async () => {
        for (const [method, path] of ROUTES) {
          const none = await call(server, method, path);
          expect(none.status, `${method} ${path}`).to.equal(401);
          expect(none.headers.get('www-authenticate'), `${method} ${path}`).to.equal('Bearer');
          expect(none.body).to.deep.equal({ detail: 'Could not validate credentials' });
          const bad = await call(server, method, path, { token: 'not.a.jwt' });
          expect(bad.status, `${method} ${path} (bad token)`).to.equal(401);
        }
      });

      it('answers 403 on every route for a user without the admin role', async () => {
        for (const [method, path] of ROUTES) {
          const res = await call(server, method, path, { token: userToken, body: method === 'GET' ? undefined : {} });
          expect(res.status, `${method} ${path}`).to.equal(403);
          expect(res.body).to.deep.equal({ detail: 'Admin role required' });
        }
      });

      it('grants the admin API to ADMIN_ROLE only: an Aurora `admin` (an application role) gets 403, an idp_admin 200', async () => {
        await createUser(server, { email: 'aurora-admin@example.com', username: 'auroraadmin', password: PASSWORD, roles: ['admin', 'pmc_admin'] });
        const aurora = await login(server, 'auroraadmin', PASSWORD);
        for (const [method, path] of ROUTES) {
          const res = await call(server, method, path, { token: aurora, body: method === 'GET' ? undefined : {} });
          expect(res.status, `${method} ${path}`).to.equal(403);
          expect(res.body).to.deep.equal({ detail: 'Admin role required' });
        }
        expect((await call(server, 'GET', '/admin/api/users', { token: adminToken })).status).to.equal(200);
        // The application role still travels in the token, for the applications that use it.
        const claims = JSON.parse(Buffer.from(aurora.split('.')[1] ?? '', 'base64url').toString()) as { roles: string[] };
        expect(claims.roles).to.deep.equal(['admin', 'pmc_admin']);
      });

      it('reads the admin role from the database, not the token: a demoted admin is refused at once', async () => {
        const id = await createUser(server, { email: 'temp-admin@example.com', username: 'tempadmin', password: PASSWORD, roles: ['idp_admin'] });
        const token = await login(server, 'tempadmin', PASSWORD);
        expect((await call(server, 'GET', '/admin/api/roles', { token })).status).to.equal(200);
        expect((await admin('PATCH', `/admin/api/users/${id}`, { roles: [] })).status).to.equal(200);
        expect((await call(server, 'GET', '/admin/api/roles', { token })).status).to.equal(403);
      });

      it('never lets responses be cached', async () => {
        const res = await admin('GET', '/admin/api/roles');
        expect(res.headers.get('cache-control')).to.equal('no-store');
      });
    });

    describe('users', () => {
      let aliceId: string;

      before(async () => {
        await admin('POST', '/admin/api/roles', { name: 'pmc_admin', description: 'Property managers' });
        const created = await admin<UserBody>('POST', '/admin/api/users', {
          email: 'Alice.Smith@Example.com',
          password: PASSWORD,
          username: 'alice',
          full_name: 'Alice Smith',
          roles: ['pmc_admin'],
        });
        expect(created.status).to.equal(201);
        aliceId = created.body.id;
        for (let i = 0; i < 5; i += 1) {
          await createUser(server, { email: `bulk${i}@example.org`, username: `bulk${i}`, fullName: `Bulk Person ${i}`, password: PASSWORD });
        }
      });

      it('POST /users creates the user with a personal organization and the given roles', async () => {
        const res = await admin<UserBody>('GET', `/admin/api/users/${aliceId}`);
        expect(res.status).to.equal(200);
        expect(res.body).to.include({ email: 'alice.smith@example.com', username: 'alice', full_name: 'Alice Smith', status: 'active', email_verified: false });
        expect(res.body.roles).to.deep.equal(['pmc_admin']);
        expect(res.body.organizations).to.have.length(1);
        expect(res.body.organizations?.[0]).to.include({ id: res.body.organization_id, role: 'owner' });
        expect(res.body).not.to.have.property('password_hash');
        expect(res.body).not.to.have.property('passwordHash');
        // The new user can log in with the password the admin set.
        await login(server, 'alice', PASSWORD);
      });

      it('POST /users refuses a taken e-mail (409), an unknown role and bad input (422), malformed JSON (400)', async () => {
        const taken = await admin('POST', '/admin/api/users', { email: 'ALICE.smith@example.com', password: PASSWORD });
        expect(taken.status).to.equal(409);
        expect(taken.body).to.deep.equal({ detail: 'Email already registered' });

        const role = await admin<Issues>('POST', '/admin/api/users', { email: 'new@example.com', password: PASSWORD, roles: ['idp_admin', 'nope'] });
        expect(role.status).to.equal(422);
        expect(role.body.detail).to.deep.equal([{ loc: ['body', 'roles', 1], msg: "Unknown role 'nope'", type: 'value_error' }]);
        expect((await admin<UserBody>('GET', '/admin/api/users?q=new@example.com')).body).to.deep.include({ total: 0 });

        const bad = await admin<Issues>('POST', '/admin/api/users', { email: 'not-an-email', password: 'short', username: 'has <angle> brackets' });
        expect(bad.status).to.equal(422);
        expect(bad.body.detail.map((issue) => issue.loc.join('.')).sort()).to.deep.equal(['body.email', 'body.password', 'body.username']);

        const missing = await admin<Issues>('POST', '/admin/api/users', {});
        expect(missing.body.detail).to.deep.include({ type: 'missing', loc: ['body', 'email'], msg: 'Field required', input: {} });

        const malformed = await call(server, 'POST', '/admin/api/users', { token: adminToken, rawBody: '{"email":' });
        expect(malformed.status).to.equal(400);
      });

      it('GET /users searches e-mail, username and name case-insensitively and paginates', async () => {
        const all = await admin<PageBody<UserBody>>('GET', '/admin/api/users?q=BULK');
        expect(all.body.total).to.equal(5);
        expect(all.body.items.map((user) => user.username)).to.deep.equal(['bulk0', 'bulk1', 'bulk2', 'bulk3', 'bulk4']);

        const page = await admin<PageBody<UserBody>>('GET', '/admin/api/users?q=example.org&limit=2&offset=2');
        expect(page.body.total).to.equal(5);
        expect(page.body.items.map((user) => user.username)).to.deep.equal(['bulk2', 'bulk3']);

        const byName = await admin<PageBody<UserBody>>('GET', '/admin/api/users?q=person%203');
        expect(byName.body.items.map((user) => user.username)).to.deep.equal(['bulk3']);

        const byId = await admin<PageBody<UserBody>>('GET', `/admin/api/users?q=${aliceId}`);
        expect(byId.body.items.map((user) => user.id)).to.deep.equal([aliceId]);

        const wildcard = await admin<PageBody<UserBody>>('GET', '/admin/api/users?q=%25');
        expect(wildcard.body.total, 'LIKE wildcards are plain characters').to.equal(0);

        const everyone = await admin<PageBody<UserBody>>('GET', '/admin/api/users');
        expect(everyone.body.total).to.be.at.least(8);
        expect(everyone.body.items.find((user) => user.id === adminId)?.roles).to.deep.equal(['idp_admin']);
      });

      it('GET /users rejects bad pagination with 422 on the query parameter', async () => {
        for (const query of ['limit=0', 'limit=1000', 'limit=x', 'offset=-1', 'status=gone']) {
          const res = await admin<Issues>('GET', `/admin/api/users?${query}`);
          expect(res.status, query).to.equal(422);
          expect(res.body.detail[0]?.loc, query).to.deep.equal(['query', query.split('=')[0]]);
        }
      });

      it('GET /users/:id answers 404 for a malformed or unknown id, never 500', async () => {
        for (const id of ['nope', UNKNOWN_UUID, "1' OR '1'='1", '%00']) {
          const res = await admin('GET', `/admin/api/users/${encodeURIComponent(id)}`);
          expect(res.status, id).to.equal(404);
          expect(res.body).to.deep.equal({ detail: 'User not found' });
        }
        expect((await admin('PATCH', '/admin/api/users/nope', { full_name: 'x' })).status).to.equal(404);
        expect((await admin('DELETE', '/admin/api/users/nope')).status).to.equal(404);
        expect((await admin('GET', '/admin/api/users/nope/sessions')).status).to.equal(404);
      });

      it('PATCH /users/:id changes fields, roles and e-mail verification, and audits it', async () => {
        const res = await admin<UserBody>('PATCH', `/admin/api/users/${aliceId}`, {
          full_name: 'Alice Jones',
          phone: '+1 555 0100',
          username: 'alicej',
          email_verified: true,
          roles: ['idp_admin', 'pmc_admin'],
        });
        expect(res.status).to.equal(200);
        expect(res.body).to.include({ full_name: 'Alice Jones', phone: '+1 555 0100', username: 'alicej', email_verified: true });
        expect(res.body.roles).to.deep.equal(['idp_admin', 'pmc_admin']);

        const cleared = await admin<UserBody>('PATCH', `/admin/api/users/${aliceId}`, { phone: null, roles: ['pmc_admin'] });
        expect(cleared.body).to.include({ phone: null });
        expect(cleared.body.roles).to.deep.equal(['pmc_admin']);

        const events = await admin<PageBody<{ type: string; detail: Record<string, unknown> }>>(
          'GET',
          `/admin/api/audit-events?user_id=${aliceId}&type=admin.user_update`,
        );
        expect(events.body.total).to.equal(2);
        expect(events.body.items[1]?.detail).to.deep.include({ actor_id: adminId, door: 'admin' });
        expect(events.body.items[1]?.detail.changes).to.deep.include({ username: 'alicej', email_verified: true, roles: { added: ['idp_admin'], removed: [] } });
      });

      it('PATCH /users/:id refuses a taken username (409), bad values (422) and unknown roles (422)', async () => {
        expect((await admin('PATCH', `/admin/api/users/${aliceId}`, { username: 'bulk1' })).status).to.equal(409);
        const bad = await admin<Issues>('PATCH', `/admin/api/users/${aliceId}`, { status: 'deleted', email_verified: 'yes', roles: 'admin' });
        expect(bad.status).to.equal(422);
        expect(bad.body.detail.map((issue) => issue.loc.join('.')).sort()).to.deep.equal(['body.email_verified', 'body.roles', 'body.status']);
        expect((await admin('PATCH', `/admin/api/users/${aliceId}`, { roles: ['ghost'] })).status).to.equal(422);
        const after = await admin<UserBody>('GET', `/admin/api/users/${aliceId}`);
        expect(after.body.roles).to.deep.equal(['pmc_admin']);
      });

      it('an admin cannot deactivate, demote or delete their own account (409)', async () => {
        expect((await admin('PATCH', `/admin/api/users/${adminId}`, { status: 'suspended' })).status).to.equal(409);
        expect((await admin('PATCH', `/admin/api/users/${adminId}`, { roles: ['pmc_admin'] })).status).to.equal(409);
        expect((await admin('DELETE', `/admin/api/users/${adminId}`)).status).to.equal(409);
        expect((await admin<UserBody>('GET', `/admin/api/users/${adminId}`)).body).to.deep.include({ status: 'active', roles: ['idp_admin'] });
      });

      it('deactivating a user ends every session at once: earlier access and refresh tokens are refused', async () => {
        const id = await createUser(server, { email: 'leaver@example.com', username: 'leaver', password: PASSWORD });
        const res = await fetch(`${server.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'leaver', password: PASSWORD }),
        });
        const tokens = (await res.json()) as { access_token: string; refresh_token: string };
        await login(server, 'leaver', PASSWORD);
        expect((await call(server, 'GET', '/auth/me', { token: tokens.access_token })).status).to.equal(200);
        expect((await admin<PageBody<unknown>>('GET', `/admin/api/users/${id}/sessions`)).body.total).to.equal(2);

        const patched = await admin<UserBody>('PATCH', `/admin/api/users/${id}`, { status: 'inactive' });
        expect(patched.body.status).to.equal('inactive');
        expect((await call(server, 'GET', '/auth/me', { token: tokens.access_token })).status).to.be.oneOf([401, 403]);
        expect((await call(server, 'POST', '/auth/refresh', { body: { refresh_token: tokens.refresh_token } })).status).to.equal(401);
        expect((await admin<PageBody<unknown>>('GET', `/admin/api/users/${id}/sessions`)).body.total).to.equal(0);
        expect((await call(server, 'POST', '/auth/login', { body: { username: 'leaver', password: PASSWORD } })).status).to.equal(403);

        // Active again: the user may log in again, the old tokens stay dead.
        await admin('PATCH', `/admin/api/users/${id}`, { status: 'active' });
        await login(server, 'leaver', PASSWORD);
        expect((await call(server, 'GET', '/auth/me', { token: tokens.access_token })).status).to.equal(401);
      });

      it('deactivating a user revokes their OIDC grants at once: access and refresh tokens stop working', async () => {
        const redirectUri = 'https://rp.example.com/cb';
        await admin('POST', '/admin/api/clients', {
          client_id: 'grant-test',
          token_endpoint_auth_method: 'none',
          redirect_uris: [redirectUri],
          grant_types: ['authorization_code', 'refresh_token'],
          first_party: true,
        });
        const id = await createUser(server, { email: 'oidc-user@example.com', username: 'oidcuser', password: PASSWORD });
        const verifier = 'v'.repeat(64);
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        const browser = createBrowserFetch(server.url);
        const loginPage = await browser.follow(
          `/oidc/auth?client_id=grant-test&response_type=code&scope=${encodeURIComponent('openid offline_access')}&redirect_uri=${encodeURIComponent(redirectUri)}&code_challenge=${challenge}&code_challenge_method=S256`,
        );
        let res = await browser.post(formAction(loginPage.text, /\/login$/), { csrf: hiddenValue(loginPage.text, 'csrf'), login: 'oidcuser', password: PASSWORD });
        // Follow our own redirects only; the last one goes to the relying party with the code.
        while (res.location && !res.location.startsWith(redirectUri)) res = await browser.get(new URL(res.location, res.url).toString());
        const code = new URL(res.location ?? '').searchParams.get('code') ?? '';
        const tokenRes = await fetch(`${server.url}/oidc/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, client_id: 'grant-test', code_verifier: verifier }),
        });
        const tokens = (await tokenRes.json()) as { access_token: string; refresh_token: string };
        expect(tokenRes.status).to.equal(200);
        const userinfo = () => fetch(`${server.url}/oidc/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
        expect((await userinfo()).status).to.equal(200);
        const sessions = await admin<PageBody<{ kind: string; client_id: string }>>('GET', `/admin/api/users/${id}/sessions`);
        expect(sessions.body.items.map((item) => item.kind)).to.deep.equal(['oidc']);

        await admin('PATCH', `/admin/api/users/${id}`, { status: 'suspended' });
        expect((await userinfo()).status).to.equal(401);
        const refreshed = await fetch(`${server.url}/oidc/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: 'grant-test' }),
        });
        expect(refreshed.status).to.equal(400);
        expect(((await refreshed.json()) as { error: string }).error).to.equal('invalid_grant');
      });

      it('sessions: lists them, revokes one (404 for an unknown one), revokes all', async () => {
        const id = await createUser(server, { email: 'multi@example.com', username: 'multi', password: PASSWORD });
        const first = await login(server, 'multi', PASSWORD);
        const second = await login(server, 'multi', PASSWORD);
        const listed = await admin<PageBody<{ session_id: string; kind: string; ip_address: string }>>('GET', `/admin/api/users/${id}/sessions`);
        expect(listed.body.total).to.equal(2);
        expect(listed.body.items[0]).to.include({ kind: 'password' });

        const firstSid = JSON.parse(Buffer.from(first.split('.')[1] ?? '', 'base64url').toString()).sid as string;
        expect((await admin('DELETE', `/admin/api/users/${id}/sessions/${firstSid}`)).status).to.equal(204);
        expect((await call(server, 'GET', '/auth/me', { token: first })).status).to.equal(401);
        expect((await call(server, 'GET', '/auth/me', { token: second })).status).to.equal(200);
        expect((await admin('DELETE', `/admin/api/users/${id}/sessions/${firstSid}`)).status).to.equal(404);
        expect((await admin('DELETE', `/admin/api/users/${id}/sessions/${encodeURIComponent('../../x')}`)).status).to.equal(404);
        expect((await admin('GET', `/admin/api/users/${id}/sessions?include_expired=maybe`)).status).to.equal(422);

        const all = await admin('DELETE', `/admin/api/users/${id}/sessions`);
        expect(all.status).to.equal(200);
        expect(all.body).to.deep.equal({ revoked: 1 });
        expect((await call(server, 'GET', '/auth/me', { token: second })).status).to.equal(401);
      });

      it('DELETE /users/:id deletes the user and their personal organization, revoking their sessions', async () => {
        const id = await createUser(server, { email: 'gone@example.com', username: 'gone', password: PASSWORD });
        const token = await login(server, 'gone', PASSWORD);
        const orgId = (await admin<UserBody>('GET', `/admin/api/users/${id}`)).body.organization_id;
        const res = await admin('DELETE', `/admin/api/users/${id}`);
        expect(res.status).to.equal(204);
        expect(res.body).to.equal('');
        expect((await admin('GET', `/admin/api/users/${id}`)).status).to.equal(404);
        expect((await admin('GET', `/admin/api/organizations/${orgId}`)).status).to.equal(404);
        expect((await call(server, 'GET', '/auth/me', { token })).status).to.equal(401);
        expect((await server.deps.sessions.list(id, { includeExpired: true })).length).to.equal(0);
        const audit = await admin<PageBody<{ type: string }>>('GET', `/admin/api/audit-events?user_id=${id}&type=admin.user_delete`);
        expect(audit.body.total).to.equal(1);
      });
    });

    describe('roles', () => {
      it('lists (admin first, with user counts), creates, refuses duplicates and bad names, deletes', async () => {
        const created = await admin<{ id: string; name: string; user_count: number }>('POST', '/admin/api/roles', { name: 'auditor', description: 'Reads logs' });
        expect(created.status).to.equal(201);
        expect(created.body).to.include({ name: 'auditor', description: 'Reads logs', user_count: 0 });
        expect((await admin('POST', '/admin/api/roles', { name: 'auditor' })).status).to.equal(409);
        const bad = await admin<Issues>('POST', '/admin/api/roles', { name: 'no spaces allowed' });
        expect(bad.status).to.equal(422);
        expect(bad.body.detail[0]?.loc).to.deep.equal(['body', 'name']);

        const list = await admin<PageBody<{ name: string; user_count: number }>>('GET', '/admin/api/roles');
        expect(list.body.items.find((role) => role.name === 'idp_admin')?.user_count).to.be.at.least(1);
        expect(list.body.items.map((role) => role.name)).to.include('auditor');

        expect((await admin('DELETE', `/admin/api/roles/${created.body.id}`)).status).to.equal(204);
        expect((await admin('DELETE', `/admin/api/roles/${created.body.id}`)).status).to.equal(404);
        expect((await admin('DELETE', '/admin/api/roles/not-a-uuid')).status).to.equal(404);
      });

      it('refuses to delete ADMIN_ROLE (409) and removes a deleted role from its users', async () => {
        const roles = await admin<PageBody<{ id: string; name: string }>>('GET', '/admin/api/roles');
        const adminRole = roles.body.items.find((role) => role.name === 'idp_admin');
        expect((await admin('DELETE', `/admin/api/roles/${adminRole?.id}`)).status).to.equal(409);

        const temp = await admin<{ id: string }>('POST', '/admin/api/roles', { name: 'temporary' });
        const user = await admin<UserBody>('POST', '/admin/api/users', { email: 'temp-role@example.com', password: PASSWORD, roles: ['temporary'] });
        expect((await admin('DELETE', `/admin/api/roles/${temp.body.id}`)).status).to.equal(204);
        expect((await admin<UserBody>('GET', `/admin/api/users/${user.body.id}`)).body.roles).to.deep.equal([]);
      });
    });

    describe('organizations', () => {
      it('creates (slug from the name, 409 for a taken slug), lists with search, shows members', async () => {
        const created = await admin<{ id: string; slug: string; member_count: number }>('POST', '/admin/api/organizations', { name: 'Acme Property Group' });
        expect(created.status).to.equal(201);
        expect(created.body).to.include({ slug: 'acme-property-group', member_count: 0 });
        const again = await admin<{ slug: string }>('POST', '/admin/api/organizations', { name: 'Acme Property Group' });
        expect(again.status).to.equal(201);
        expect(again.body.slug).to.match(/^acme-property-group-[0-9a-f]{6}$/);
        expect((await admin('POST', '/admin/api/organizations', { name: 'Other', slug: 'acme-property-group' })).status).to.equal(409);
        expect((await admin<Issues>('POST', '/admin/api/organizations', { name: '', slug: 'Bad Slug' })).status).to.equal(422);

        const list = await admin<PageBody<{ name: string }>>('GET', '/admin/api/organizations?q=ACME');
        expect(list.body.total).to.equal(2);
        expect((await admin('GET', '/admin/api/organizations?limit=-3')).status).to.equal(422);
      });

      it('POST /organizations/:id/members adds a member (201), changes the role (200), checks its input', async () => {
        const org = await admin<{ id: string }>('POST', '/admin/api/organizations', { name: 'Members Inc' });
        const user = await admin<UserBody>('POST', '/admin/api/users', { email: 'member@example.com', password: PASSWORD });
        const added = await admin('POST', `/admin/api/organizations/${org.body.id}/members`, { user_id: user.body.id, role: 'admin' });
        expect(added.status).to.equal(201);
        expect(added.body).to.deep.equal({ organization_id: org.body.id, user_id: user.body.id, role: 'admin' });
        const changed = await admin('POST', `/admin/api/organizations/${org.body.id}/members`, { user_id: user.body.id, role: 'member' });
        expect(changed.status).to.equal(200);

        const detail = await admin<{ member_count: number; members: { user_id: string; role: string; email: string }[] }>(
          'GET',
          `/admin/api/organizations/${org.body.id}`,
        );
        expect(detail.body.member_count).to.equal(1);
        expect(detail.body.members[0]).to.include({ user_id: user.body.id, role: 'member', email: 'member@example.com' });
        const orgs = (await admin<UserBody>('GET', `/admin/api/users/${user.body.id}`)).body.organizations ?? [];
        expect(orgs.map((o) => o.role).sort()).to.deep.equal(['member', 'owner']);

        const unknownUser = await admin<Issues>('POST', `/admin/api/organizations/${org.body.id}/members`, { user_id: UNKNOWN_UUID, role: 'member' });
        expect(unknownUser.status).to.equal(422);
        expect(unknownUser.body.detail[0]?.loc).to.deep.equal(['body', 'user_id']);
        expect((await admin('POST', `/admin/api/organizations/${org.body.id}/members`, { user_id: user.body.id, role: 'king' })).status).to.equal(422);
        expect((await admin('POST', '/admin/api/organizations/nope/members', { user_id: user.body.id, role: 'member' })).status).to.equal(404);

        expect((await admin('DELETE', `/admin/api/organizations/${org.body.id}/members/${user.body.id}`)).status).to.equal(204);
        expect((await admin('DELETE', `/admin/api/organizations/${org.body.id}/members/${user.body.id}`)).status).to.equal(404);
      });
    });

    describe('clients', () => {
      async function clientCredentials(clientId: string, secret: string): Promise<number> {
        const res = await fetch(`${server.url}/oidc/token`, {
          method: 'POST',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
          },
          body: 'grant_type=client_credentials',
        });
        await res.arrayBuffer();
        return res.status;
      }

      it('creates a confidential client whose secret is shown once, stored hashed, and works at the token endpoint', async () => {
        const created = await admin<{ client_id: string; client_secret: string; has_secret: boolean; source: string }>('POST', '/admin/api/clients', {
          client_name: 'Reporting job',
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
        });
        expect(created.status).to.equal(201);
        expect(created.body).to.include({ has_secret: true, source: 'admin', client_name: 'Reporting job' });
        const { client_id: clientId, client_secret: secret } = created.body;
        expect(secret).to.match(/^[A-Za-z0-9_-]{43}$/);

        const row = await server.deps.models.OidcClient.findByPk(clientId);
        expect(row?.secretHash).to.match(/^sha256\$/);
        expect(JSON.stringify(row?.toJSON())).not.to.include(secret);

        const shown = await admin('GET', `/admin/api/clients/${clientId}`);
        expect(shown.status).to.equal(200);
        expect(shown.body).not.to.have.property('client_secret');
        expect(JSON.stringify((await admin('GET', '/admin/api/clients')).body)).not.to.include(secret);

        expect(await clientCredentials(clientId, secret)).to.equal(200);
        expect(await clientCredentials(clientId, `${secret}x`)).to.equal(401);

        // Rotation: a new secret once; the old one stops working at once.
        const rotated = await admin<{ client_secret: string }>('PATCH', `/admin/api/clients/${clientId}`, { rotate_secret: true, client_name: 'Nightly job' });
        expect(rotated.status).to.equal(200);
        expect(rotated.body).to.include({ client_name: 'Nightly job' });
        expect(rotated.body.client_secret).to.be.a('string').and.not.equal(secret);
        expect(await clientCredentials(clientId, secret)).to.equal(401);
        expect(await clientCredentials(clientId, rotated.body.client_secret)).to.equal(200);

        expect((await admin('DELETE', `/admin/api/clients/${clientId}`)).status).to.equal(204);
        expect((await admin('GET', `/admin/api/clients/${clientId}`)).status).to.equal(404);
        expect((await admin('DELETE', `/admin/api/clients/${clientId}`)).status).to.equal(404);
        expect(await clientCredentials(clientId, rotated.body.client_secret)).to.equal(401);
      });

      it('creates a public PKCE client without a secret, with a chosen id; 409 when the id is taken', async () => {
        const body = {
          client_id: 'spa-app',
          client_name: 'SPA',
          token_endpoint_auth_method: 'none',
          redirect_uris: ['https://spa.example.com/callback'],
          grant_types: ['authorization_code', 'refresh_token'],
          first_party: true,
        };
        const created = await admin('POST', '/admin/api/clients', body);
        expect(created.status).to.equal(201);
        expect(created.body).to.include({ client_id: 'spa-app', has_secret: false, first_party: true });
        expect(created.body).not.to.have.property('client_secret');
        expect((await admin('POST', '/admin/api/clients', body)).status).to.equal(409);

        const discovery = await fetch(`${server.url}/oidc/auth?client_id=spa-app&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://spa.example.com/callback')}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`, { redirect: 'manual' });
        expect(discovery.status, 'the provider knows the new client at once').to.equal(303);

        // Switching to a secret-based method makes a secret (shown once).
        const confidential = await admin<{ client_secret?: string; has_secret: boolean }>('PATCH', '/admin/api/clients/spa-app', { token_endpoint_auth_method: 'client_secret_basic' });
        expect(confidential.body.has_secret).to.equal(true);
        expect(confidential.body.client_secret).to.be.a('string');
      });

      it('rejects invalid metadata with 422 naming the member, and unknown members', async () => {
        const badUri = await admin<Issues>('POST', '/admin/api/clients', { redirect_uris: ['not a uri'] });
        expect(badUri.status).to.equal(422);
        expect(badUri.body.detail[0]?.loc).to.deep.equal(['body', 'redirect_uris']);
        const noRedirect = await admin<Issues>('POST', '/admin/api/clients', { client_name: 'x' });
        expect(noRedirect.status).to.equal(422);
        expect((await admin('POST', '/admin/api/clients', { redirect_uris: ['https://a.example/cb'], client_secret: 'mine' })).status).to.equal(422);
        expect((await admin('POST', '/admin/api/clients', { redirect_uris: ['https://a.example/cb'], grant_types: ['password'] })).status).to.equal(422);
        expect((await admin('PATCH', '/admin/api/clients/nope', { client_name: 'x' })).status).to.equal(404);
      });
    });

    describe('audit events', () => {
      it('filters by user, type and time range, newest first, with a total', async () => {
        const user = await admin<UserBody>('POST', '/admin/api/users', { email: 'audited@example.com', password: PASSWORD });
        await admin('PATCH', `/admin/api/users/${user.body.id}`, { full_name: 'Audited' });
        const all = await admin<PageBody<{ type: string; user_id: string; ip: string; created_at: string }>>('GET', `/admin/api/audit-events?user_id=${user.body.id}`);
        expect(all.status).to.equal(200);
        expect(all.body.items.map((event) => event.type)).to.include.members(['register', 'admin.user_create', 'admin.user_update']);
        expect(all.body.items[0]?.type).to.equal('admin.user_update');
        expect(all.body.total).to.equal(all.body.items.length);

        const typed = await admin<PageBody<{ type: string }>>('GET', `/admin/api/audit-events?user_id=${user.body.id}&type=register`);
        expect(typed.body.items.map((event) => event.type)).to.deep.equal(['register']);

        const newest = all.body.items[0]?.created_at ?? '';
        const until = await admin<PageBody<unknown>>('GET', `/admin/api/audit-events?user_id=${user.body.id}&until=${encodeURIComponent(newest)}`);
        expect(until.body.total).to.equal(all.body.total - 1);
        const since = await admin<PageBody<unknown>>('GET', `/admin/api/audit-events?user_id=${user.body.id}&since=${encodeURIComponent(newest)}`);
        expect(since.body.total).to.equal(1);
        const future = await admin<PageBody<unknown>>('GET', '/admin/api/audit-events?since=2999-01-01');
        expect(future.body).to.deep.equal({ items: [], total: 0 });

        const paged = await admin<PageBody<unknown>>('GET', '/admin/api/audit-events?limit=1&offset=1');
        expect(paged.body.items).to.have.length(1);
        expect(paged.body.total).to.be.greaterThan(1);
      });

      it('rejects a malformed user id or time with 422', async () => {
        for (const query of ['user_id=nope', 'since=yesterday', 'until=2024-13-45', 'limit=abc']) {
          const res = await admin<Issues>('GET', `/admin/api/audit-events?${query}`);
          expect(res.status, query).to.equal(422);
          expect(res.body.detail[0]?.loc, query).to.deep.equal(['query', query.split('=')[0]]);
        }
      });
    });
  });
}
