/**
 * The account pages in a real browser (Debian's Chromium, driven by playwright-core): a user who uses a
 * relying party (with a refresh token) and a legacy app (with an access token) signs in at /account through
 * this provider's own login, edits the profile, sees the current session marked, signs the legacy session
 * out (its token then fails at /auth/me), withdraws the relying party's access (its refresh token then
 * fails at the token endpoint) and changes the e-mail address through the mailed link. Every account page
 * is checked with axe-core (no serious or critical violation), in English, in German (Accept-Language) and
 * at 360 px wide; a passkey is added (a virtual authenticator), renamed and removed. Screenshots go to
 * test-artifacts/. PUBLIC_URL uses `localhost`: browsers refuse WebAuthn on IP-address origins.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import axe from 'axe-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import * as oidc from 'openid-client';
import { ARTIFACTS, launchChromium, requireChromium } from '../helpers/browser.ts';
import { CLIENTS, RP, startOidcEnv, type OidcEnv, type TestUser } from './helpers/oidc-env.ts';
import { totpCode } from '../../src/services/mfa/totp.ts';

const REDIRECT = CLIENTS.confidential.redirect_uris[0];

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** Runs axe-core in the page; fails on serious or critical violations, naming each. */
async function expectAccessible(page: Page, label: string): Promise<void> {
  await page.evaluate(axe.source);
  // A string: the test is compiled without the DOM's types; it runs in the page.
  const violations = await page.evaluate<AxeViolation[]>("axe.run(document, { resultTypes: ['violations'] }).then((results) => results.violations)");
  const severe = violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  expect(severe.map((v) => `${label}: ${v.id} (${v.impact}) ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).to.deep.equal([]);
  // One h1 per page, and the language said.
  expect(await page.locator('h1').count(), `${label}: one h1`).to.equal(1);
  expect(await page.getAttribute('html', 'lang'), `${label}: lang`).to.match(/^(en|de)$/);
}

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(ARTIFACTS, name), fullPage: true });
}

/** The newest mail to `to` whose text includes `marker`, decoded from quoted-printable enough to read a link. */
function mailTo(dir: string, to: string, marker: RegExp): string | undefined {
  return readdirSync(dir)
    .sort()
    .reverse()
    .map((name) => readFileSync(path.join(dir, name), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '='))
    .find((text) => text.toLowerCase().includes(`to: ${to}`) && marker.test(text));
}

describe('the account pages in Chromium', function () {
  this.timeout(120_000);
  let env: OidcEnv;
  let browser: Browser;
  let user: TestUser;
  /** Where the browser goes: PUBLIC_URL (`localhost`), the origin the pages and cookies belong to. */
  const base = () => env.server.config.publicUrl;

  before(async function () {
    requireChromium(this);
    // `localhost`: browsers refuse WebAuthn (the passkeys) on IP-address origins.
    env = await startOidcEnv({ database: 'postgres', store: 'redis', publicHost: 'localhost' });
    user = await env.createUser('robin');
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await env?.close();
  });

  /** Signs in at a relying party (offline access, consent approved) in this context; answers its refresh token. */
  async function relyingPartySignIn(context: BrowserContext): Promise<{ config: oidc.Configuration; refreshToken: string }> {
    const config = await env.discover('confidential');
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT,
      scope: 'openid profile offline_access',
      prompt: 'consent',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const page = await context.newPage();
    let callback: URL | undefined;
    await page.route(`${RP.confidential}/**`, async (route) => {
      callback = new URL(route.request().url());
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>Relying party</title><p>Signed in.</p>' });
    });
    await page.goto(url.href);
    await page.getByLabel('Username or e-mail').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL(`${REDIRECT}**`);
    const tokens = await oidc.authorizationCodeGrant(config, callback as URL, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.refresh_token).to.be.a('string');
    await page.close();
    return { config, refreshToken: tokens.refresh_token as string };
  }

  it('manages the account end to end, every page accessible, in English, in German and at 360 px', async () => {
    // A legacy app signed in as the user, from a named device.
    const legacy = await fetch(`${env.server.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-device-name': 'Kitchen tablet' },
      body: JSON.stringify({ username: user.username, password: user.password }),
    });
    expect(legacy.status).to.equal(200);
    const legacyToken = ((await legacy.json()) as { access_token: string }).access_token;
    const me = () => fetch(`${env.server.url}/auth/me`, { headers: { authorization: `Bearer ${legacyToken}` } });
    expect((await me()).status).to.equal(200);

    // bypassCSP: axe-core is injected into the pages, whose policy allows our own scripts only.
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, bypassCSP: true, locale: 'en-GB' });
    const { config, refreshToken } = await relyingPartySignIn(context);
    const page = await context.newPage();

    // Already signed in at the provider: the account pages' own sign-in needs no second login.
    await page.goto(`${base()}/account`);
    await page.getByRole('heading', { name: 'Your profile', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).to.equal('/account/profile');
    await expectAccessible(page, 'profile');
    await shoot(page, 'account-profile.png');

    // Profile: a bad phone is shown at the field, then a good one is saved.
    await page.getByLabel('Phone').fill('not a number!');
    await page.getByRole('button', { name: 'Save profile' }).click();
    expect(await page.getByRole('alert').textContent()).to.include('phone number');
    expect(await page.getByLabel('Phone').getAttribute('aria-invalid')).to.equal('true');
    await expectAccessible(page, 'profile with an error');
    await shoot(page, 'account-profile-error.png');
    await page.getByLabel('Full name').fill('Robin Newname');
    await page.getByLabel('Phone').fill('+49 30 555 0100');
    await page.getByRole('button', { name: 'Save profile' }).click();
    expect(await page.getByRole('status').textContent()).to.include('Your profile was saved.');
    expect(await page.getByLabel('Full name').inputValue()).to.equal('Robin Newname');
    expect((await env.server.deps.accounts.getById(user.id))?.full_name).to.equal('Robin Newname');

    // Sessions: this one marked, the legacy one listed by its device; signing it out kills its token.
    await page.getByRole('link', { name: 'Sessions' }).click();
    await page.getByRole('heading', { name: 'Your sessions', level: 1 }).waitFor();
    expect(await page.getByText('This session', { exact: true }).count()).to.equal(1);
    expect(await page.locator('li.item.current').count()).to.equal(1);
    await expectAccessible(page, 'sessions');
    await shoot(page, 'account-sessions.png');
    await page.getByRole('button', { name: /^Sign out Kitchen tablet/ }).click();
    expect(await page.getByRole('status').textContent()).to.include('The session was signed out.');
    expect(await page.getByText('Kitchen tablet').count()).to.equal(0);
    expect((await me()).status).to.equal(401);

    // Connected apps: the relying party, withdrawn; its refresh token then fails at the token endpoint.
    await page.getByRole('link', { name: 'Connected apps' }).click();
    await page.getByRole('heading', { name: 'Connected apps', level: 1 }).waitFor();
    expect(await page.getByRole('heading', { name: 'Notes App' }).count()).to.equal(1);
    expect(await page.getByText('offline_access').count()).to.equal(1);
    await expectAccessible(page, 'apps');
    await shoot(page, 'account-apps.png');
    await page.getByRole('button', { name: 'Withdraw access from Notes App' }).click();
    expect(await page.getByRole('status').textContent()).to.include('access was withdrawn');
    expect(await page.getByRole('heading', { name: 'Notes App' }).count()).to.equal(0);
    let refreshError: unknown;
    await oidc.refreshTokenGrant(config, refreshToken).catch((err: unknown) => (refreshError = err));
    expect((refreshError as { error?: string } | undefined)?.error).to.equal('invalid_grant');

    // Password and delete pages: forms with labels, checked for accessibility.
    await page.getByRole('link', { name: 'Password' }).click();
    await page.getByRole('heading', { name: 'Change your password', level: 1 }).waitFor();
    await expectAccessible(page, 'password');
    await shoot(page, 'account-password.png');
    await page.getByRole('link', { name: 'Delete account' }).click();
    await page.getByRole('heading', { level: 1 }).waitFor();
    await expectAccessible(page, 'delete');
    await shoot(page, 'account-delete.png');

    // Security: set up an authenticator app (QR code inline), see the recovery codes once.
    await page.getByRole('link', { name: 'Security' }).click();
    await page.getByRole('heading', { name: 'Security', level: 1 }).waitFor();
    await expectAccessible(page, 'security');
    await shoot(page, 'account-security.png');
    // Passkeys: added with a virtual authenticator (the ceremony runs in the page's JavaScript), renamed, removed.
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    await page.getByLabel(/^Name for the passkey/).fill('Laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await page.getByText('The passkey was added.').waitFor();
    expect((await env.server.deps.mfa.status(user.id)).passkeys.map((key) => key.name)).to.deep.equal(['Laptop']);
    await expectAccessible(page, 'security with a passkey');
    await shoot(page, 'account-security-passkey.png');
    await page.getByLabel('New name for “Laptop”').fill('Work laptop');
    await page.getByRole('button', { name: 'Rename' }).click();
    await page.getByText('The passkey was renamed.').waitFor();
    expect((await env.server.deps.mfa.status(user.id)).passkeys.map((key) => key.name)).to.deep.equal(['Work laptop']);
    await page.getByRole('button', { name: 'Remove the passkey “Work laptop”' }).click();
    await page.getByText('The passkey was removed.').waitFor();
    expect((await env.server.deps.mfa.status(user.id)).passkeys).to.deep.equal([]);

    await page.getByRole('link', { name: 'Set up an authenticator app' }).click();
    await page.getByRole('heading', { name: 'Set up an authenticator app', level: 1 }).waitFor();
    expect(await page.locator('figure.qr svg').count()).to.equal(1);
    await expectAccessible(page, 'totp');
    await shoot(page, 'account-totp.png');
    const secret = ((await page.locator('#totp-secret').textContent()) ?? '').replace(/\s/g, '');
    await page.getByLabel('Code from the app').fill(totpCode(secret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes', level: 1 }).waitFor();
    expect(await page.locator('#recovery-codes li').count()).to.equal(10);
    await expectAccessible(page, 'recovery codes');
    await shoot(page, 'account-codes.png');

    // E-mail: the link goes to the new address; opening it changes nothing until confirmed.
    await page.goto(`${base()}/account/email`);
    await expectAccessible(page, 'email');
    await page.getByLabel('New e-mail address').fill('robin.new@example.test');
    await page.getByRole('button', { name: 'Send confirmation link' }).click();
    expect(await page.getByRole('status').textContent()).to.include('confirmation link');
    await shoot(page, 'account-email-sent.png');
    await env.server.deps.mailQueue.settle();
    const mail = mailTo(env.server.config.mail.outboxDir, 'robin.new@example.test', /\/account\/email\/confirm\?token=/);
    const link = /https?:\/\/\S+\/account\/email\/confirm\?token=[\w-]+/.exec(mail ?? '')?.[0];
    expect(link, 'the confirmation mail with its link').to.be.a('string');
    await page.goto(link as string);
    await page.getByRole('heading', { level: 1 }).waitFor();
    expect(await page.getByText('robin.new@example.test').count()).to.be.greaterThan(0);
    expect((await env.server.deps.accounts.getById(user.id))?.email, 'a GET changes nothing').to.equal(user.email);
    await expectAccessible(page, 'email confirm');
    await shoot(page, 'account-email-confirm.png');
    await page.getByRole('button', { name: 'Change my e-mail address' }).click();
    expect(await page.getByRole('status').textContent()).to.include('was changed');
    expect((await env.server.deps.accounts.getById(user.id))?.email).to.equal('robin.new@example.test');
    await env.server.deps.mailQueue.settle();
    expect(mailTo(env.server.config.mail.outboxDir, user.email, /robin\.new@example\.test/), 'the old address is told').to.be.a('string');

    // An error page (a page that does not exist) is a page too.
    await page.goto(`${base()}/account/nowhere`);
    await expectAccessible(page, 'not found');

    // German, by Accept-Language (the browser's locale), with the same session.
    const german = await browser.newContext({ storageState: await context.storageState(), locale: 'de-DE', bypassCSP: true, viewport: { width: 1200, height: 900 } });
    const dePage = await german.newPage();
    for (const [name, heading] of [['profile', 'Ihr Profil'], ['sessions', 'Ihre Sitzungen'], ['security', 'Sicherheit'], ['apps', 'Verbundene Apps']] as const) {
      await dePage.goto(`${base()}/account/${name}`);
      await dePage.getByRole('heading', { name: heading, level: 1 }).waitFor();
      expect(await dePage.getAttribute('html', 'lang')).to.equal('de');
      await expectAccessible(dePage, `${name} (de)`);
    }
    await shoot(dePage, 'account-apps-de.png');
    await dePage.goto(`${base()}/account/sessions`);
    expect(await dePage.getByText('Diese Sitzung', { exact: true }).count()).to.equal(1);
    await shoot(dePage, 'account-sessions-de.png');
    await german.close();

    // 360 px wide: nothing wider than the screen.
    const narrow = await browser.newContext({ storageState: await context.storageState(), bypassCSP: true, viewport: { width: 360, height: 740 }, locale: 'en-GB' });
    const small = await narrow.newPage();
    for (const name of ['profile', 'email', 'password', 'security', 'sessions', 'apps', 'delete']) {
      await small.goto(`${base()}/account/${name}`);
      const width = await small.evaluate<number>('document.documentElement.scrollWidth');
      expect(width, `${name} at 360 px`).to.be.at.most(360);
      await expectAccessible(small, `${name} (360 px)`);
    }
    await small.goto(`${base()}/account/sessions`);
    await shoot(small, 'account-sessions-360.png');
    await small.goto(`${base()}/account/security`);
    await shoot(small, 'account-security-360.png');
    await narrow.close();

    // Sign out: the account session and, after the provider's confirmation, the SSO session.
    await page.goto(`${base()}/account/profile`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: /sign out|yes/i }).first().click();
    await page.getByRole('heading', { name: 'You are signed out', level: 1 }).waitFor();
    expect(new URL(page.url()).pathname).to.equal('/account/signed-out');
    await expectAccessible(page, 'signed out');
    await shoot(page, 'account-signed-out.png');
    await page.goto(`${base()}/account/profile`);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();

    for (const name of ['account-profile.png', 'account-sessions.png', 'account-apps.png', 'account-sessions-de.png', 'account-sessions-360.png']) {
      expect(statSync(path.join(ARTIFACTS, name)).size).to.be.greaterThan(1000);
    }
    await context.close();
  });
});
