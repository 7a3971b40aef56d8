/**
 * The admin console in a real browser (Debian's Chromium, driven by playwright-core), JavaScript off:
 * an admin signs in on this provider's own login page with the keyboard, searches a user, deactivates
 * them, and that user's earlier access token is then refused at /auth/me. Screenshots go to
 * test-artifacts/.
 */
import { expect } from 'chai';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { ARTIFACTS, launchChromium, requireChromium } from '../helpers/browser.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { call, createUser, login } from '../helpers/admin-api.ts';

const PASSWORD = 'correct horse battery';

describe('the admin console in Chromium', function () {
  this.timeout(60_000);
  let server: TestServer;
  let browser: Browser;

  before(async function () {
    requireChromium(this);
    server = await startTestServer({ database: 'postgres', store: 'redis', mocha: this });
    await createUser(server, { email: 'admin@example.com', username: 'admin', fullName: 'Ada Admin', password: PASSWORD, roles: ['idp_admin'] });
    for (const [email, name] of [['grace@example.com', 'Grace Hopper'], ['linus@example.com', 'Linus Torvalds'], ['margaret@example.com', 'Margaret Hamilton']] as const) {
      await createUser(server, { email, fullName: name, password: PASSWORD });
    }
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('signs an admin in through the login page, searches a user and deactivates them: their earlier token is refused', async () => {
    // The user is signed in somewhere with a legacy access token.
    const token = await login(server, 'linus@example.com', PASSWORD);
    expect((await call(server, 'GET', '/auth/me', { token })).status).to.equal(200);

    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${server.url}/admin`);

    // This provider's own login page; keyboard only: the login field has focus, Tab, Enter.
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(page.url()).to.match(/\/interaction\/[^/]+$/);
    await page.keyboard.type('admin');
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORD);
    await page.keyboard.press('Enter');

    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).to.equal('/admin/users');
    expect(await page.getByText('Signed in as').textContent()).to.include('admin@example.com');
    expect(await page.getByRole('link', { name: 'Users' }).getAttribute('aria-current')).to.equal('page');
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-users.png'), fullPage: true });

    // Search by part of the name, case-insensitively.
    await page.getByRole('searchbox', { name: 'Search' }).fill('torval');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 user matching “torval”').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-users-search.png'), fullPage: true });
    await page.getByRole('link', { name: 'linus@example.com' }).click();

    await page.getByRole('heading', { name: 'Linus Torvalds', level: 1 }).waitFor();
    expect(await page.getByRole('table').filter({ hasText: 'password' }).count(), 'the legacy session is listed').to.equal(1);
    await page.getByRole('button', { name: 'Deactivate' }).click();

    const notice = page.getByRole('status');
    expect(await notice.textContent()).to.include('The user was deactivated');
    expect(await page.getByText('No active sessions.').count()).to.equal(1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-user-deactivated.png'), fullPage: true });

    // The token the user got before is refused at once.
    const me = await call(server, 'GET', '/auth/me', { token });
    expect(me.status).to.equal(401);
    expect(me.body).to.deep.equal({ detail: 'Could not validate credentials' });
    expect((await call(server, 'POST', '/auth/login', { body: { username: 'linus@example.com', password: PASSWORD } })).status).to.equal(403);

    for (const name of ['admin-users.png', 'admin-users-search.png', 'admin-user-deactivated.png']) {
      expect(statSync(path.join(ARTIFACTS, name)).size).to.be.greaterThan(1000);
    }
    await context.close();
  });

  it('has labelled fields, table headers and a skip link on every section, all reachable without JavaScript', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    await page.goto(`${server.url}/admin/roles`);
    await page.getByLabel('Username or e-mail').fill('admin');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Roles', level: 1 }).waitFor();

    for (const [section, heading] of [['Roles', 'Roles'], ['Organizations', 'Organizations'], ['Clients', 'Clients'], ['Audit log', 'Audit log'], ['Users', 'Users']]) {
      await page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: section }).click();
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      expect(await page.getByRole('link', { name: 'Skip to content' }).count(), section).to.equal(1);
      expect(await page.getByRole('main').count(), section).to.equal(1);
      expect(await page.getByRole('columnheader').count(), section).to.be.greaterThan(0);
    }
    await page.goto(`${server.url}/admin/users/new`);
    for (const label of ['E-mail', 'Username (optional)', 'Full name (optional)', 'Initial password']) {
      expect(await page.getByLabel(label).count(), label).to.equal(1);
    }
    await page.getByLabel('E-mail').fill('not an address');
    await page.getByLabel('Initial password').fill('short');
    await page.getByRole('button', { name: 'Create user' }).click();
    expect(await page.getByRole('alert').textContent()).to.include('E-mail:');
    await context.close();
  });
});
