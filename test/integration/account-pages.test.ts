import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { call, createUser, login } from '../helpers/admin-api.ts';
import { createBrowserFetch, formAction, hiddenValue, type PageResponse } from '../helpers/browser-fetch.ts';
import { totpCode } from '../../src/services/mfa/totp.ts';

const PASSWORD = 'correct horse battery';

type Browser = ReturnType<typeof createBrowserFetch>;

/** Signs in through the account pages' OIDC login (login page included); returns the first account page. */
async function signIn(browser: Browser, username: string, password: string, start = '/account'): Promise<PageResponse> {
  const loginPage = await browser.follow(start);
  expect(loginPage.url).to.match(/\/interaction\/[^/]+$/);
  const submitted = await browser.post(formAction(loginPage.text, /\/login$/), { csrf: hiddenValue(loginPage.text, 'csrf'), login: username, password });
  return browser.follow('', submitted);
}

const csrfOf = (page: PageResponse) => hiddenValue(page.text, 'csrf');
const h1s = (html: string) => html.match(/<h1[\s>]/g)?.length ?? 0;

for (const mode of MODES) {
  describe(`account pages /account (${mode.name})`, function () {
    this.timeout(60_000);
    let server: TestServer;

    before(async function () {
      server = await startTestServer({ database: mode.database, store: mode.store, mocha: this });
    });
    after(async () => server?.close());

    it('registers itself as a first-party public PKCE client at start, which the admin API may not delete', async () => {
      const row = await server.deps.models.OidcClient.findByPk('account');
      expect(row?.firstParty).to.equal(true);
      expect(row?.secretHash).to.equal(null);
      expect(row?.metadata).to.deep.include({
        token_endpoint_auth_method: 'none',
        redirect_uris: [`${server.url}/account/callback`],
        post_logout_redirect_uris: [`${server.url}/account/signed-out`],
      });
      await createUser(server, { email: 'boss@example.com', username: 'boss', password: PASSWORD, roles: ['idp_admin'] });
      const token = await login(server, 'boss', PASSWORD);
      expect((await call(server, 'DELETE', '/admin/api/clients/account', { token })).status).to.equal(409);
    });

    it('sends a visitor to the OIDC login with PKCE and back to the page asked for; never outside /account', async () => {
      await createUser(server, { email: 'ann@example.com', username: 'ann', password: PASSWORD });
      const browser = createBrowserFetch(server.url);
      const first = await browser.get('/account/sessions');
      expect(first.status).to.equal(303);
      expect(first.location).to.equal('/account/login?return_to=%2Faccount%2Fsessions');
      const authorize = await browser.get(first.location ?? '');
      const url = new URL(authorize.location ?? '', server.url);
      expect(url.pathname).to.equal('/oidc/auth');
      expect(url.searchParams.get('client_id')).to.equal('account');
      expect(url.searchParams.get('code_challenge_method')).to.equal('S256');
      const page = await signIn(browser, 'ann', PASSWORD, authorize.location ?? '');
      expect(page.status).to.equal(200);
      expect(page.url).to.equal(`${server.url}/account/sessions`);
      expect(page.headers.get('cache-control')).to.equal('no-store');
      expect(browser.jar.get('idp_account')?.path).to.equal('/account');

      const other = createBrowserFetch(server.url);
      const outside = await other.get('/account/login?return_to=https://evil.example/');
      const landed = await signIn(other, 'ann', PASSWORD, outside.location ?? '');
      expect(landed.url).to.equal(`${server.url}/account/profile`);
      const forged = await other.get(`/account/callback?code=abc&state=${'x'.repeat(43)}`);
      expect(forged.status).to.equal(400);
      expect(forged.text).to.include('This sign-in has expired');
    });

    describe('signed in', () => {
      let browser: Browser;
      let userId: string;
      let profile: PageResponse;

      before(async () => {
        userId = await createUser(server, { email: 'bea@example.com', username: 'bea', fullName: 'Bea Old', password: PASSWORD });
        await createUser(server, { email: 'carl@example.com', username: 'carl', password: PASSWORD });
        browser = createBrowserFetch(server.url);
        profile = await signIn(browser, 'bea', PASSWORD);
      });

      it('shows the profile with one h1, labelled fields and the nav', async () => {
        expect(profile.url).to.equal(`${server.url}/account/profile`);
        expect(profile.text).to.include('<html lang="en">');
        expect(h1s(profile.text)).to.equal(1);
        for (const name of ['full_name', 'phone', 'username']) expect(profile.text).to.match(new RegExp(`<label for="${name}">`));
        expect(profile.text).to.include('value="Bea Old"');
        expect(profile.text).to.include('aria-current="page"');
      });

      it('refuses a form without the right CSRF token (403) and changes nothing; a visitor without a session is sent to sign in', async () => {
        const res = await browser.post('/account/profile', { csrf: 'forged', full_name: 'Mallory', phone: '', username: 'bea' });
        expect(res.status).to.equal(403);
        expect(res.headers.get('content-type')).to.match(/^text\/html/);
        expect(res.text).to.include('This form has expired');
        expect(res.text).to.include('role="alert"');
        expect((await server.deps.accounts.getById(userId))?.full_name).to.equal('Bea Old');
        const anonymous = await createBrowserFetch(server.url).post('/account/profile', { csrf: csrfOf(profile), full_name: 'Mallory' });
        expect(anonymous.status).to.equal(303);
        expect(anonymous.location).to.match(/^\/account\/login/);
      });

      it('saves the profile, and shows what is wrong on the page (invalid phone 422, taken username 409)', async () => {
        const saved = await browser.post('/account/profile', { csrf: csrfOf(profile), full_name: 'Bea New', phone: '+49 30 1234', username: 'bea' });
        expect(saved.status).to.equal(303);
        expect(saved.location).to.equal('/account/profile?notice=profile-saved');
        const account = await server.deps.accounts.getById(userId);
        expect(account?.full_name).to.equal('Bea New');
        expect(account?.phone).to.equal('+49 30 1234');
        const notice = await browser.get(saved.location ?? '');
        expect(notice.text).to.include('Your profile was saved.');

        const bad = await browser.post('/account/profile', { csrf: csrfOf(profile), full_name: 'Bea', phone: 'call me <maybe>', username: 'bea' });
        expect(bad.status).to.equal(422);
        expect(bad.text).to.include('role="alert"');
        expect(bad.text).to.match(/id="phone"[^>]*aria-invalid="true"/);
        expect(bad.text).to.include('value="call me &lt;maybe&gt;"');
        const taken = await browser.post('/account/profile', { csrf: csrfOf(profile), full_name: 'Bea', phone: '', username: 'carl' });
        expect(taken.status).to.equal(409);
        expect(taken.text).to.include('This username is already taken.');
      });

      it('lists every session with the current one marked; revoking another ends it (its legacy token fails at /auth/me); another user’s session is 404', async () => {
        const token = await login(server, 'bea', PASSWORD);
        const carlToken = await login(server, 'carl', PASSWORD);
        const page = await browser.get('/account/sessions');
        expect(page.status).to.equal(200);
        expect(page.text.match(/class="badge">This session</g)).to.have.length(1);
        const sessions = await server.deps.sessions.list(userId);
        const legacy = sessions.find((item) => item.kind === 'password' && item.is_active);
        expect(legacy, 'the legacy session is listed').to.not.equal(undefined);
        expect(page.text).to.include(`/account/sessions/${legacy?.session_id}/revoke`);

        const carlSession = (await server.deps.sessions.list((await server.deps.accounts.findByEmail('carl@example.com'))?.id ?? '')).find((item) => item.is_active);
        const foreign = await browser.post(`/account/sessions/${carlSession?.session_id}/revoke`, { csrf: csrfOf(page) });
        expect(foreign.status).to.equal(404);
        expect(foreign.headers.get('content-type')).to.match(/^text\/html/);
        expect((await call(server, 'GET', '/auth/me', { token: carlToken })).status).to.equal(200);

        expect((await call(server, 'GET', '/auth/me', { token })).status).to.equal(200);
        const revoked = await browser.post(`/account/sessions/${legacy?.session_id}/revoke`, { csrf: csrfOf(page) });
        expect(revoked.status).to.equal(303);
        expect(revoked.location).to.equal('/account/sessions?notice=session-revoked');
        expect((await call(server, 'GET', '/auth/me', { token })).status).to.equal(401);
        // This page's own session goes on.
        expect((await browser.get('/account/sessions')).status).to.equal(200);
      });

      it('signs every other session out and keeps this one', async () => {
        const token = await login(server, 'bea', PASSWORD);
        const page = await browser.get('/account/sessions');
        const res = await browser.post('/account/sessions/revoke-others', { csrf: csrfOf(page) });
        expect(res.status).to.equal(303);
        expect((await call(server, 'GET', '/auth/me', { token })).status).to.equal(401);
        const after = await browser.get('/account/sessions');
        expect(after.status).to.equal(200);
        expect(after.text.match(/<li class="item/g)).to.have.length(1);
      });

      it('sets up an authenticator app with an inline SVG QR code, and regenerates recovery codes only with the password', async () => {
        const enrol = await browser.get('/account/security/totp');
        expect(enrol.status).to.equal(200);
        expect(enrol.text).to.match(/<figure class="qr" role="img" aria-label="[^"]+">\s*<svg/);
        const secret = /<code id="totp-secret">([^<]+)<\/code>/.exec(enrol.text)?.[1]?.replace(/\s/g, '') ?? '';
        const wrong = await browser.post('/account/security/totp', { csrf: csrfOf(enrol), code: totpCode(secret, Date.now() + 10 * 30_000) });
        expect(wrong.status).to.equal(400);
        expect(wrong.text).to.include('role="alert"');
        const codes = await browser.post('/account/security/totp', { csrf: csrfOf(enrol), code: totpCode(secret) });
        expect(codes.status).to.equal(200);
        expect(codes.text.match(/<li><code>/g)).to.have.length(10);
        expect((await server.deps.mfa.status(userId)).totp).to.equal(true);

        const security = await browser.get('/account/security');
        expect(security.text).to.include('10 unused recovery codes');
        const refused = await browser.post('/account/security/recovery-codes', { csrf: csrfOf(security), password: 'not the password' });
        expect(refused.status).to.equal(400);
        expect(refused.text).to.include('The password is not correct.');
        const fresh = await browser.post('/account/security/recovery-codes', { csrf: csrfOf(security), password: PASSWORD });
        expect(fresh.status).to.equal(200);
        expect(fresh.text.match(/<li><code>/g)).to.have.length(10);
        const removed = await browser.post('/account/security/totp/remove', { csrf: csrfOf(security), password: PASSWORD });
        expect(removed.status).to.equal(303);
        expect((await server.deps.mfa.status(userId)).totp).to.equal(false);
      });

      it('changes the password with the current one (a wrong one is told on the page); other sessions end, this one stays', async () => {
        const token = await login(server, 'bea', PASSWORD);
        const page = await browser.get('/account/password');
        expect(h1s(page.text)).to.equal(1);
        const wrong = await browser.post('/account/password', { csrf: csrfOf(page), current_password: 'nope nope', new_password: 'another good secret' });
        expect(wrong.status).to.equal(400);
        expect(wrong.text).to.include('The current password is not correct.');
        const short = await browser.post('/account/password', { csrf: csrfOf(page), current_password: PASSWORD, new_password: 'short' });
        expect(short.status).to.equal(422);
        const changed = await browser.post('/account/password', { csrf: csrfOf(page), current_password: PASSWORD, new_password: 'another good secret' });
        expect(changed.status).to.equal(303);
        expect((await call(server, 'GET', '/auth/me', { token })).status).to.equal(401);
        expect((await browser.get('/account/profile')).status).to.equal(200);
        await login(server, 'bea', 'another good secret');
      });

      it('renames and removes the user’s own passkeys; another user’s passkey is 404 and stays', async () => {
        const carlId = (await server.deps.accounts.findByEmail('carl@example.com'))?.id ?? '';
        const passkey = (owner: string, name: string) =>
          server.deps.models.Passkey.create({ userId: owner, name, credentialId: randomBytes(16).toString('base64url'), publicKeySealed: 'pk', signCount: 0, transports: null });
        const mine = await passkey(userId, 'Laptop');
        const theirs = await passkey(carlId, 'Carl phone');
        const page = await browser.get('/account/security');
        expect(page.text).to.include('Laptop');
        expect(page.text).to.match(new RegExp(`<label for="rename-${mine.id}">`));
        const renamed = await browser.post(`/account/security/passkeys/${mine.id}/rename`, { csrf: csrfOf(page), name: 'Work laptop' });
        expect(renamed.status).to.equal(303);
        expect((await server.deps.mfa.status(userId)).passkeys.map((key) => key.name)).to.deep.equal(['Work laptop']);
        const blank = await browser.post(`/account/security/passkeys/${mine.id}/rename`, { csrf: csrfOf(page), name: '   ' });
        expect(blank.status).to.equal(422);
        expect(blank.text).to.include('role="alert"');
        const foreignRename = await browser.post(`/account/security/passkeys/${theirs.id}/rename`, { csrf: csrfOf(page), name: 'Mine now' });
        expect(foreignRename.status).to.equal(404);
        const foreignRemove = await browser.post(`/account/security/passkeys/${theirs.id}/remove`, { csrf: csrfOf(page) });
        expect(foreignRemove.status).to.equal(404);
        expect((await server.deps.mfa.status(carlId)).passkeys.map((key) => key.name)).to.deep.equal(['Carl phone']);
        const removed = await browser.post(`/account/security/passkeys/${mine.id}/remove`, { csrf: csrfOf(page) });
        expect(removed.status).to.equal(303);
        expect((await server.deps.mfa.status(userId)).passkeys).to.deep.equal([]);
      });

      it('lists connected apps; another user’s grant id is 404', async () => {
        const page = await browser.get('/account/apps');
        expect(page.status).to.equal(200);
        expect(h1s(page.text)).to.equal(1);
        const res = await browser.post('/account/apps/not-a-grant-of-yours/revoke', { csrf: csrfOf(page) });
        expect(res.status).to.equal(404);
        expect(res.text).to.include('role="alert"');
      });

      it('changes the e-mail only when the mailed link is confirmed by its owner (a GET changes nothing)', async () => {
        const page = await browser.get('/account/email');
        expect(h1s(page.text)).to.equal(1);
        const invalid = await browser.post('/account/email', { csrf: csrfOf(page), new_email: 'not an address' });
        expect(invalid.status).to.equal(422);
        expect(invalid.text).to.include('role="alert"');
        const taken = await browser.post('/account/email', { csrf: csrfOf(page), new_email: 'carl@example.com' });
        expect(taken.status).to.equal(409);
        const sent = await browser.post('/account/email', { csrf: csrfOf(page), new_email: 'Bea.New@Example.com' });
        expect(sent.status).to.equal(303);
        await server.deps.mailQueue.settle();
        const dir = server.config.mail.outboxDir;
        const mail = readdirSync(dir)
          .map((name) => readFileSync(path.join(dir, name), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '='))
          .find((text) => text.includes('bea.new@example.com') && text.includes('/account/email/confirm?token='));
        const link = new URL(/https?:\/\/\S+\/account\/email\/confirm\?token=[\w-]+/.exec(mail ?? '')?.[0] ?? 'http://x/');
        const token = link.searchParams.get('token') ?? '';
        expect(token).to.have.length.greaterThan(20);

        // Another signed-in user cannot use it, and a GET changes nothing.
        await createUser(server, { email: 'dan@example.com', username: 'dan', password: PASSWORD });
        const other = createBrowserFetch(server.url);
        const otherHome = await signIn(other, 'dan', PASSWORD);
        expect(otherHome.url).to.equal(`${server.url}/account/profile`);
        expect((await other.get(`/account/email/confirm?token=${token}`)).status).to.equal(400);
        const confirmPage = await browser.get(`/account/email/confirm?token=${token}`);
        expect(confirmPage.status).to.equal(200);
        expect(confirmPage.text).to.include('bea.new@example.com');
        expect((await server.deps.accounts.getById(userId))?.email).to.equal('bea@example.com');
        const forged = await other.post('/account/email/confirm', { csrf: csrfOf(await other.get('/account/email')), token });
        expect(forged.status).to.equal(400);
        expect((await server.deps.accounts.getById(userId))?.email).to.equal('bea@example.com');

        const confirmed = await browser.post('/account/email/confirm', { csrf: csrfOf(confirmPage), token });
        expect(confirmed.status).to.equal(303);
        expect(confirmed.location).to.equal('/account/email?notice=email-changed');
        expect((await server.deps.accounts.getById(userId))?.email).to.equal('bea.new@example.com');
        const again = await browser.post('/account/email/confirm', { csrf: csrfOf(confirmPage), token });
        expect(again.status).to.equal(400);
      });

      it('answers errors as HTML pages: unknown page 404, a form over the body limit 413', async () => {
        const missing = await browser.get('/account/nowhere');
        expect(missing.status).to.equal(404);
        expect(missing.headers.get('content-type')).to.match(/^text\/html/);
        const big = await browser.post('/account/profile', { csrf: csrfOf(profile), full_name: 'x'.repeat(200_000) });
        expect(big.status).to.equal(413);
        expect(big.headers.get('content-type')).to.match(/^text\/html/);
        expect(big.text).to.include('<h1>');
      });

      it('speaks German to a German browser', async () => {
        const cookie = `idp_account=${browser.jar.get('idp_account')?.value}`;
        const res = await fetch(`${server.url}/account/profile`, { headers: { cookie, 'accept-language': 'de-DE,de;q=0.9,en;q=0.5' } });
        const text = await res.text();
        expect(text).to.include('<html lang="de">');
        expect(text).to.include('Ihr Profil');
        const signedOut = await fetch(`${server.url}/account/signed-out`, { headers: { 'accept-language': 'de' } });
        expect(await signedOut.text()).to.include('Sie sind abgemeldet');
      });

      it('signs out: ends the account session and sends the browser to end the SSO session', async () => {
        const page = await browser.get('/account/profile');
        const res = await browser.post('/account/logout', { csrf: csrfOf(page) });
        expect(res.status).to.equal(303);
        const url = new URL(res.location ?? '', server.url);
        expect(url.pathname).to.equal('/oidc/session/end');
        expect(url.searchParams.get('post_logout_redirect_uri')).to.equal(`${server.url}/account/signed-out`);
        expect(browser.jar.has('idp_account')).to.equal(false);
        expect((await browser.get('/account/profile')).status).to.equal(303);
      });
    });
  });
}

describe('account pages under MFA_POLICY=required', function () {
  this.timeout(60_000);
  let server: TestServer;
  before(async function () {
    server = await startTestServer({ database: 'sqlite', store: 'memory', mocha: this, env: { MFA_POLICY: 'required' } });
  });
  after(async () => server?.close());

  it('refuses to remove the last second factor, with the reason on the security page', async () => {
    const userId = await createUser(server, { email: 'dora@example.com', username: 'dora', password: PASSWORD });
    const { secret } = await server.deps.mfa.startTotp(userId, 'dora@example.com');
    await server.deps.mfa.confirmTotp(userId, totpCode(secret), { door: 'test' });
    const browser = createBrowserFetch(server.url);
    const loginPage = await browser.follow('/account');
    const afterPassword = await browser.follow('', await browser.post(formAction(loginPage.text, /\/login$/), { csrf: hiddenValue(loginPage.text, 'csrf'), login: 'dora', password: PASSWORD }));
    expect(afterPassword.url).to.match(/\/second-factor$/);
    // The next step's code: the one enrolment used is accepted once only.
    const code = totpCode(secret, Date.now() + 30_000);
    const security = await browser.follow('/account/security', await browser.post(formAction(afterPassword.text, /\/second-factor$/), { csrf: hiddenValue(afterPassword.text, 'csrf'), code }));
    expect(security.url).to.equal(`${server.url}/account/profile`);
    const page = await browser.get('/account/security');
    const refused = await browser.post('/account/security/totp/remove', { csrf: csrfOf(page), password: PASSWORD });
    expect(refused.status).to.equal(409);
    expect(refused.text).to.include('Your account must keep a second factor.');
    expect((await server.deps.mfa.status(userId)).totp).to.equal(true);
  });
});

describe('account pages: deleting one’s account', function () {
  this.timeout(60_000);
  let server: TestServer;
  before(async function () {
    server = await startTestServer({ database: 'sqlite', store: 'memory', mocha: this });
  });
  after(async () => server?.close());

  it('asks for the password and the second factor’s code, then deletes the account and signs out', async () => {
    const userId = await createUser(server, { email: 'eve@example.com', username: 'eve', password: PASSWORD });
    const browser = createBrowserFetch(server.url);
    await signIn(browser, 'eve', PASSWORD);
    const token = await login(server, 'eve', PASSWORD);
    const { secret } = await server.deps.mfa.startTotp(userId, 'eve@example.com');
    await server.deps.mfa.confirmTotp(userId, totpCode(secret), { door: 'test' });

    const page = await browser.get('/account/delete');
    expect(page.text).to.match(/<label for="delete-code">/);
    const wrongPassword = await browser.post('/account/delete', { csrf: csrfOf(page), password: 'nope nope', code: '000000' });
    expect(wrongPassword.status).to.equal(400);
    expect(wrongPassword.text).to.include('The password is not correct.');
    const noCode = await browser.post('/account/delete', { csrf: csrfOf(page), password: PASSWORD });
    expect(noCode.status).to.equal(400);
    expect(noCode.text).to.include('Enter a code from your second factor.');
    expect(await server.deps.accounts.getById(userId)).to.not.equal(undefined);

    const deleted = await browser.post('/account/delete', { csrf: csrfOf(page), password: PASSWORD, code: totpCode(secret, Date.now() + 30_000) });
    expect(deleted.status).to.equal(200);
    expect(deleted.text).to.include('Your account was deleted');
    expect(browser.jar.has('idp_account')).to.equal(false);
    expect(await server.deps.accounts.getById(userId)).to.equal(undefined);
    expect((await call(server, 'GET', '/auth/me', { token })).status).to.equal(401);
    expect((await browser.get('/account/profile')).status).to.equal(303);
  });
});
