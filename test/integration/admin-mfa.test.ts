/**
 * Admins and a user's second factors (CONTRACT §7, §9): GET /admin/api/users/:id/mfa in the shape of
 * GET /mfa, DELETE removes everything and is audited; the console shows them and removes them.
 */
import { expect } from 'chai';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { call, createUser, login } from '../helpers/admin-api.ts';
import { createBrowserFetch, formAction, hiddenValue, type PageResponse } from '../helpers/browser-fetch.ts';
import { totpCode } from '../../src/services/mfa/totp.ts';

const PASSWORD = 'correct horse battery';

for (const mode of MODES) {
  describe(`admin: a user's second factors (${mode.name})`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let adminToken: string;
    let adminId: string;

    before(async function () {
      server = await startTestServer({ database: mode.database, store: mode.store, mocha: this });
      adminId = await createUser(server, { email: 'root@example.com', username: 'root', password: PASSWORD, roles: [server.deps.config.admin.role] });
      adminToken = await login(server, 'root', PASSWORD);
    });
    after(async () => server?.close());

    async function userWithTotp(name: string): Promise<string> {
      const id = await createUser(server, { email: `${name}@example.com`, username: name, password: PASSWORD });
      const { secret } = await server.deps.mfa.startTotp(id, `${name}@example.com`);
      await server.deps.mfa.confirmTotp(id, totpCode(secret), { door: 'test' });
      return id;
    }

    it('GET /users/:id/mfa shows the factors; DELETE removes them all (audited); the next login is one step', async () => {
      const id = await userWithTotp('lost');
      const shown = await call(server, 'GET', `/admin/api/users/${id}/mfa`, { token: adminToken });
      expect(shown.status).to.equal(200);
      expect(shown.body).to.deep.equal({ totp: true, passkeys: [], recovery_codes_left: 10 });
      expect((await call(server, 'POST', '/auth/login', { body: { username: 'lost', password: PASSWORD } })).status).to.equal(401);

      const removed = await call(server, 'DELETE', `/admin/api/users/${id}/mfa`, { token: adminToken });
      expect(removed.status).to.equal(204);
      expect((await call(server, 'GET', `/admin/api/users/${id}/mfa`, { token: adminToken })).body).to.deep.equal({ totp: false, passkeys: [], recovery_codes_left: 0 });
      expect((await call(server, 'POST', '/auth/login', { body: { username: 'lost', password: PASSWORD } })).status).to.equal(200);

      await server.deps.audit.flush();
      const events = await call<{ items: { type: string; detail: Record<string, unknown> }[] }>(server, 'GET', `/admin/api/audit-events?user_id=${id}&type=mfa_remove`, { token: adminToken });
      expect(events.body.items).to.have.length(1);
      expect(events.body.items[0]?.detail).to.deep.include({ method: 'all', actor_id: adminId, door: 'admin' });
    });

    it('answers 404 for an unknown user, 401 without a token and 403 for a non-admin', async () => {
      const unknown = '00000000-0000-4000-8000-000000000000';
      expect((await call(server, 'GET', `/admin/api/users/${unknown}/mfa`, { token: adminToken })).status).to.equal(404);
      expect((await call(server, 'DELETE', `/admin/api/users/${unknown}/mfa`, { token: adminToken })).status).to.equal(404);
      expect((await call(server, 'GET', `/admin/api/users/${adminId}/mfa`)).status).to.equal(401);
      await createUser(server, { email: 'plain@example.com', username: 'plain', password: PASSWORD });
      const plain = await login(server, 'plain', PASSWORD);
      expect((await call(server, 'DELETE', `/admin/api/users/${adminId}/mfa`, { token: plain })).status).to.equal(403);
    });

    it('the console shows a user\'s second factors and removes them', async () => {
      const id = await userWithTotp('phoneless');
      const browser = createBrowserFetch(server.url);
      const loginPage = await browser.follow('/admin/users');
      const submitted = await browser.post(formAction(loginPage.text, /\/login$/), { csrf: hiddenValue(loginPage.text, 'csrf'), login: 'root', password: PASSWORD });
      await browser.follow('', submitted);
      const page: PageResponse = await browser.get(`/admin/users/${id}`);
      expect(page.status).to.equal(200);
      expect(page.text).to.match(/Authenticator app \(TOTP\)<\/dt><dd>On<\/dd>/);
      expect(page.text).to.match(/Recovery codes left<\/dt><dd>10<\/dd>/);
      const removed = await browser.post(formAction(page.text, /\/mfa\/remove$/), { csrf: hiddenValue(page.text, 'csrf') });
      expect(removed.location).to.equal(`/admin/users/${id}?notice=mfa-removed`);
      expect((await server.deps.mfa.status(id)).totp).to.equal(false);
      const after = await browser.get(`/admin/users/${id}`);
      expect(after.text).to.include('No second factor.');
    });
  });
}
