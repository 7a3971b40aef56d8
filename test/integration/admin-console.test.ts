import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MODES, startServerWith, startTestServer, type TestServer } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { call, createUser, login } from '../helpers/admin-api.ts';
import { createBrowserFetch, formAction, hiddenValue, type PageResponse } from '../helpers/browser-fetch.ts';

const PASSWORD = 'correct horse battery';

type Browser = ReturnType<typeof createBrowserFetch>;

/** Signs in through the console's OIDC login (login page included); returns the first console page. */
async function signIn(browser: Browser, username: string, password: string, start = '/admin/users'): Promise<PageResponse> {
  const loginPage = await browser.follow(start);
  expect(loginPage.url).to.match(/\/interaction\/[^/]+$/);
  const submitted = await browser.post(formAction(loginPage.text, /\/login$/), { csrf: hiddenValue(loginPage.text, 'csrf'), login: username, password });
  return browser.follow('', submitted);
}

const csrfOf = (page: PageResponse) => hiddenValue(page.text, 'csrf');

for (const mode of MODES) {
  describe(`admin console /admin (${mode.name})`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let adminId: string;

    before(async function () {
      server = await startTestServer({ database: mode.database, store: mode.store, mocha: this });
      adminId = await createUser(server, { email: 'root@example.com', username: 'root', password: PASSWORD, roles: ['idp_admin'] });
      await createUser(server, { email: 'plain@example.com', username: 'plain', password: PASSWORD });
    });
    after(async () => server?.close());

    it('registers itself as a first-party public PKCE client at start', async () => {
      const row = await server.deps.models.OidcClient.findByPk('admin-console');
      expect(row?.firstParty).to.equal(true);
      expect(row?.secretHash).to.equal(null);
      expect(row?.metadata).to.deep.include({ token_endpoint_auth_method: 'none', redirect_uris: [`${server.url}/admin/callback`] });
      const token = await login(server, 'root', PASSWORD);
      expect((await call(server, 'DELETE', '/admin/api/clients/admin-console', { token })).status).to.equal(409);
    });

    it('sends a visitor to the OIDC login and back to the page they asked for, with PKCE', async () => {
      const browser = createBrowserFetch(server.url);
      const first = await browser.get('/admin/users?q=ro');
      expect(first.status).to.equal(303);
      expect(first.location).to.equal('/admin/login?return_to=%2Fadmin%2Fusers%3Fq%3Dro');
      const authorize = await browser.get(first.location ?? '');
      const url = new URL(authorize.location ?? '', server.url);
      expect(url.pathname).to.equal('/oidc/auth');
      expect(url.searchParams.get('client_id')).to.equal('admin-console');
      expect(url.searchParams.get('code_challenge_method')).to.equal('S256');
      expect(url.searchParams.get('state')).to.match(/^[\w-]{43}$/);
      expect(url.searchParams.get('nonce')).to.match(/^[\w-]{43}$/);

      const page = await signIn(browser, 'root', PASSWORD, authorize.location ?? '');
      expect(page.status).to.equal(200);
      expect(page.url).to.equal(`${server.url}/admin/users?q=ro`);
      expect(page.text).to.include('Signed in as <strong>root@example.com</strong>');
      expect(page.headers.get('cache-control')).to.equal('no-store');
      const cookie = page.headers.getSetCookie().join();
      expect(cookie, 'no cookie is set on the page itself').to.equal('');
      expect(browser.jar.get('idp_admin')?.path).to.equal('/admin');
    });

    it('refuses a replayed or foreign callback and never redirects outside the console', async () => {
      const browser = createBrowserFetch(server.url);
      const forged = await browser.get('/admin/callback?code=abc&state=' + 'x'.repeat(43));
      expect(forged.status).to.equal(400);
      expect(forged.text).to.include('This sign-in has expired');
      const outside = await browser.get('/admin/login?return_to=https://evil.example/');
      const state = new URL(outside.location ?? '', server.url).searchParams.get('state');
      expect(state).to.be.a('string');
      const page = await signIn(browser, 'root', PASSWORD, outside.location ?? '');
      expect(page.url).to.equal(`${server.url}/admin/users`);
    });

    it('tells a signed-in user without the admin role that the console is for admins', async () => {
      const browser = createBrowserFetch(server.url);
      const page = await signIn(browser, 'plain', PASSWORD);
      expect(page.status).to.equal(403);
      expect(page.text).to.include('does not have the idp_admin role');
      expect(browser.jar.has('idp_admin')).to.equal(false);
    });

    describe('signed in', () => {
      let browser: Browser;
      let home: PageResponse;
      before(async () => {
        browser = createBrowserFetch(server.url);
        home = await signIn(browser, 'root', PASSWORD);
      });

      it('refuses a form without the right CSRF token (403) and changes nothing', async () => {
        const target = await createUser(server, { email: 'csrf-target@example.com', username: 'csrftarget', password: PASSWORD });
        const res = await browser.post(`/admin/users/${target}/status`, { status: 'inactive', csrf: 'forged' });
        expect(res.status).to.equal(403);
        expect(res.text).to.include('This form has expired');
        expect((await server.deps.accounts.getById(target))?.status).to.equal('active');
        const anonymous = await createBrowserFetch(server.url).post(`/admin/users/${target}/status`, { status: 'inactive', csrf: csrfOf(home) });
        expect(anonymous.status).to.equal(303);
        expect(anonymous.location).to.match(/^\/admin\/login/);
      });

      it('searches users, shows one with roles, organizations and sessions, and deactivates them (their token is refused)', async () => {
        const id = await createUser(server, { email: 'victim@example.com', username: 'victim', fullName: 'Vic Tim', password: PASSWORD, roles: ['idp_admin'] });
        const token = await login(server, 'victim', PASSWORD);
        const list = await browser.get('/admin/users?q=VICTIM&status=');
        expect(list.text).to.include('1 user matching “VICTIM”');
        expect(list.text).to.include(`href="/admin/users/${id}"`);

        const detail = await browser.get(`/admin/users/${id}`);
        expect(detail.status).to.equal(200);
        expect(detail.text).to.include('Vic Tim');
        expect(detail.text).to.match(/<input type="checkbox" name="roles" value="idp_admin" checked>/);
        expect(detail.text).to.include('(primary)');
        expect(detail.text).to.include('Revoke all sessions');

        const res = await browser.post(formAction(detail.text, /\/status$/), { csrf: csrfOf(detail), status: 'inactive' });
        expect(res.status).to.equal(303);
        expect(res.location).to.equal(`/admin/users/${id}?notice=user-deactivated`);
        const after = await browser.get(res.location ?? '');
        expect(after.text).to.include('role="status">The user was deactivated');
        expect(after.text).to.include('<span class="badge inactive">inactive</span>');
        expect(after.text).to.include('No active sessions.');
        expect((await call(server, 'GET', '/auth/me', { token })).status).to.equal(401);

        const activated = await browser.post(`/admin/users/${id}/status`, { csrf: csrfOf(after), status: 'active' });
        expect(activated.location).to.equal(`/admin/users/${id}?notice=user-activated`);
      });

      it('creates a user (with errors shown on the form), sets roles, sends a reset link, revokes sessions, deletes', async () => {
        const form = await browser.get('/admin/users/new');
        const bad = await browser.post('/admin/users', { csrf: csrfOf(form), email: 'nope', password: 'short', username: '', full_name: '' });
        expect(bad.status).to.equal(422);
        expect(bad.text).to.include('role="alert"');
        expect(bad.text).to.include('E-mail: value is not a valid email address');
        expect(bad.text).to.include('Password: String should have at least 8 characters');
        expect(bad.text).to.include('value="nope"');

        const created = await browser.post('/admin/users', { csrf: csrfOf(form), email: 'New.Person@example.com', password: PASSWORD, username: 'newperson', full_name: 'New Person', roles: 'idp_admin' });
        expect(created.status).to.equal(303);
        const id = /\/admin\/users\/([0-9a-f-]{36})\?notice=user-created/.exec(created.location ?? '')?.[1] ?? '';
        expect((await server.deps.accounts.getById(id))?.roles).to.deep.equal(['idp_admin']);
        const again = await browser.post('/admin/users', { csrf: csrfOf(form), email: 'new.person@example.com', password: PASSWORD });
        expect(again.status).to.equal(409);
        expect(again.text).to.include('Email already registered');

        expect((await browser.post(`/admin/users/${id}/roles`, { csrf: csrfOf(form) })).location).to.equal(`/admin/users/${id}?notice=roles-saved`);
        expect((await server.deps.accounts.getById(id))?.roles).to.deep.equal([]);

        const outbox = () => server.deps.mailQueue.settle();
        const reset = await browser.post(`/admin/users/${id}/reset-link`, { csrf: csrfOf(form) });
        expect(reset.location).to.equal(`/admin/users/${id}?notice=reset-sent`);
        await outbox();
        const mails = readdirSync(server.config.mail.outboxDir).map((name) => readFileSync(path.join(server.config.mail.outboxDir, name), 'utf8'));
        expect(mails.some((mail) => mail.includes('new.person@example.com') && mail.includes('/auth/reset-password?token='))).to.equal(true);

        const first = await login(server, 'newperson', PASSWORD);
        await login(server, 'newperson', PASSWORD);
        const sessions = await server.deps.sessions.list(id);
        const one = await browser.post(`/admin/users/${id}/sessions/${sessions[1]?.session_id}/revoke`, { csrf: csrfOf(form) });
        expect(one.location).to.equal(`/admin/users/${id}?notice=session-revoked`);
        expect((await server.deps.sessions.list(id)).length).to.equal(1);
        const all = await browser.post(`/admin/users/${id}/sessions/revoke-all`, { csrf: csrfOf(form) });
        expect(all.location).to.equal(`/admin/users/${id}?notice=sessions-revoked`);
        expect((await call(server, 'GET', '/auth/me', { token: first })).status).to.equal(401);

        const confirm = await browser.get(`/admin/users/${id}/delete`);
        expect(confirm.text).to.include('cannot be undone');
        const deleted = await browser.post(formAction(confirm.text, /\/delete$/), { csrf: csrfOf(confirm) });
        expect(deleted.location).to.equal('/admin/users?notice=user-deleted');
        expect((await browser.get(`/admin/users/${id}`)).status).to.equal(404);
        expect((await browser.get('/admin/users/not-a-uuid')).status).to.equal(404);
      });

      it('does not let the admin deactivate their own account', async () => {
        const page = await browser.get(`/admin/users/${adminId}`);
        expect(page.text).to.include('This is your own account');
        const res = await browser.post(`/admin/users/${adminId}/status`, { csrf: csrfOf(page), status: 'inactive' });
        expect(res.status).to.equal(409);
        expect(res.text).to.include('You cannot deactivate your own account');
      });

      it('manages roles, organizations and members', async () => {
        const roles = await browser.get('/admin/roles');
        expect(roles.text).to.include('protected');
        expect((await browser.post('/admin/roles', { csrf: csrfOf(roles), name: 'bad name!' })).status).to.equal(422);
        expect((await browser.post('/admin/roles', { csrf: csrfOf(roles), name: 'auditor', description: 'Reads the log' })).location).to.equal('/admin/roles?notice=role-created');
        const listed = await browser.get('/admin/roles');
        const role = (await server.deps.models.Role.findOne({ where: { name: 'auditor' } }))?.id;
        expect(listed.text).to.include('Reads the log');
        expect((await browser.post(`/admin/roles/${role}/delete`, { csrf: csrfOf(listed) })).location).to.equal('/admin/roles?notice=role-deleted');

        const resources = await browser.get('/admin/resources');
        expect(resources.status).to.equal(200);
        expect((await browser.post('/admin/resources', { csrf: csrfOf(resources), indicator: 'not a uri', scope: 'x' })).status).to.equal(422);
        const resourceCreated = await browser.post('/admin/resources', { csrf: csrfOf(resources), indicator: 'https://mcp.console.example/mcp', scope: 'mcp:tools', access_token_ttl: '', server_client_id: '' });
        expect(resourceCreated.location).to.equal('/admin/resources?notice=resource-created');
        const resourceList = await browser.get('/admin/resources');
        expect(resourceList.text).to.include('https://mcp.console.example/mcp');
        const resourceId = (await server.deps.models.Resource.findOne({ where: { indicator: 'https://mcp.console.example/mcp' } }))?.id;
        expect((await browser.post(`/admin/resources/${resourceId}/delete`, { csrf: csrfOf(resourceList) })).location).to.equal('/admin/resources?notice=resource-deleted');
        expect(await server.deps.models.Resource.count()).to.equal(0);

        const created = await browser.post('/admin/organizations', { csrf: csrfOf(roles), name: 'Console Org', slug: '' });
        expect(created.status).to.equal(303);
        const orgPath = (created.location ?? '').split('?')[0] ?? '';
        const added = await browser.post(`${orgPath}/members`, { csrf: csrfOf(roles), user: 'PLAIN@example.com', role: 'admin' });
        expect(added.location).to.equal(`${orgPath}?notice=member-saved`);
        const org = await browser.get(orgPath);
        expect(org.text).to.include('plain@example.com');
        expect(org.text).to.match(/<td>admin<\/td>/);
        const unknown = await browser.post(`${orgPath}/members`, { csrf: csrfOf(roles), user: 'ghost@example.com', role: 'member' });
        expect(unknown.status).to.equal(422);
        expect(unknown.text).to.include('User: User not found');
        const search = await browser.get('/admin/organizations?q=console');
        expect(search.text).to.include('1 organization matching “console”');
      });

      it('registers a client and shows its secret once', async () => {
        const page = await browser.get('/admin/clients');
        expect(page.text).to.include('admin-console');
        const res = await browser.post('/admin/clients', {
          csrf: csrfOf(page),
          client_name: 'Portal',
          redirect_uris: 'https://portal.example.com/cb\r\n',
          type: 'confidential',
          grant_types: ['authorization_code', 'refresh_token'],
        });
        expect(res.status).to.equal(200);
        const secret = /id="client-secret">([^<]+)</.exec(res.text)?.[1];
        const clientId = /id="client-id">([^<]+)</.exec(res.text)?.[1];
        expect(secret).to.match(/^[\w-]{43}$/);
        const shown = await browser.get(`/admin/clients/${clientId}`);
        expect(shown.text).not.to.include(secret);
        expect(shown.text).to.include('https://portal.example.com/cb');
        const bad = await browser.post('/admin/clients', { csrf: csrfOf(page), client_name: 'x', redirect_uris: 'not a url', type: 'public', grant_types: 'authorization_code' });
        expect(bad.status).to.equal(422);
        expect(bad.text).to.include('Redirect URIs:');
        const protectedPage = await browser.get('/admin/clients/admin-console');
        expect(protectedPage.text).not.to.include('Delete client');
      });

      it('shows the audit log with filters', async () => {
        const page = await browser.get(`/admin/audit?user_id=${adminId}&type=admin.console_sign_in`);
        expect(page.status).to.equal(200);
        expect(page.text).to.include('admin.console_sign_in');
        expect(page.text).to.match(/<option value="admin.user_update">/);
        const bad = await browser.get('/admin/audit?user_id=nope&since=yesterday');
        expect(bad.status).to.equal(422);
        expect(bad.text).to.include('role="alert"');
      });

      it('ends the console session when the admin’s sessions are revoked, and signs out through end-session', async () => {
        const other = createBrowserFetch(server.url);
        const page = await signIn(other, 'root', PASSWORD);
        expect(page.status).to.equal(200);
        const signOut = await other.post('/admin/logout', { csrf: csrfOf(page) });
        expect(signOut.status).to.equal(303);
        const end = new URL(signOut.location ?? '', server.url);
        expect(end.pathname).to.equal('/oidc/session/end');
        expect(end.searchParams.get('post_logout_redirect_uri')).to.equal(`${server.url}/admin/signed-out`);
        expect((await other.get('/admin/users')).status).to.equal(303);

        await server.deps.sessions.revokeAll(adminId, { reason: 'admin' });
        const gone = await browser.get('/admin/users');
        expect(gone.status).to.equal(303);
        expect(gone.location).to.match(/^\/admin\/login/);
      });
    });
  });
}

describe('admin console client across PUBLIC_URLs (PostgreSQL + Redis)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  const servers: TestServer[] = [];

  before(async function () {
    db = await createTestDatabase('postgres', { mocha: this });
  });
  after(async () => {
    for (const server of servers) await server.close();
    await db?.drop();
  });

  it('keeps the first instance’s redirect URIs when a second starts with another PUBLIC_URL on the same database', async () => {
    // Each test server's PUBLIC_URL is its own http://127.0.0.1:<port>.
    const first = await startServerWith({ databaseUrl: db.url });
    servers.push(first);
    const second = await startServerWith({ databaseUrl: db.url });
    servers.push(second);
    expect(first.config.publicUrl).not.to.equal(second.config.publicUrl);
    // A restart of the first adds nothing twice.
    const again = await startServerWith({ databaseUrl: db.url, env: { PUBLIC_URL: first.config.publicUrl } });
    await again.close();

    const row = await db.models.OidcClient.findByPk('admin-console');
    expect(row?.metadata.redirect_uris).to.deep.equal([`${first.url}/admin/callback`, `${second.url}/admin/callback`]);
    expect(row?.metadata.post_logout_redirect_uris).to.deep.equal([`${first.url}/admin/signed-out`, `${second.url}/admin/signed-out`]);

    await createUser(first, { email: 'root@example.com', username: 'root', password: PASSWORD, roles: ['idp_admin'] });
    for (const server of [first, second]) {
      const page = await signIn(createBrowserFetch(server.url), 'root', PASSWORD);
      expect(page.status, server.url).to.equal(200);
      expect(page.url).to.equal(`${server.url}/admin/users`);
    }
  });
});
