/**
 * Passkeys in a real browser (CONTRACT §9): Chromium with a virtual authenticator (CDP WebAuthn: ctap2,
 * internal transport, resident keys, user verification) enrols a passkey on the enrolment page that
 * MFA_POLICY sends a user to, then signs in with the passkey alone from the login page. The second-factor
 * pages are photographed into test-artifacts/. PUBLIC_URL uses `localhost`: browsers refuse WebAuthn on
 * IP-address origins.
 */
import { expect } from 'chai';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import * as oidc from 'openid-client';
import { ARTIFACTS, launchChromium, requireChromium } from '../helpers/browser.ts';
import { CLIENTS, RP, startOidcEnv, type OidcEnv } from './helpers/oidc-env.ts';
import { totpCode } from '../../src/services/mfa/totp.ts';

const REDIRECT = CLIENTS.spa.redirect_uris[0];

/** A page whose requests to the relying party (which is not listening) get a small page instead. */
async function pageWithRp(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await context.route(`${RP.spa}/**`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>Relying party</title><p>Signed in.</p>' }),
  );
  return page;
}

/**
 * Runs `act` and returns the address the browser was sent to at the relying party, read from the request
 * itself, not from the routed page: a navigation can escape request routing (one that starts while a page is
 * still loading, and now and then the last redirect of a sign-in under load), and then it fails to connect.
 */
async function sentToRp(page: Page, act: () => Promise<unknown>): Promise<URL> {
  const request = page.waitForRequest((candidate) => candidate.url().startsWith(REDIRECT));
  await act();
  return new URL((await request).url());
}

describe('passkeys and the second-factor pages in Chromium', function () {
  this.timeout(90_000);
  let env: OidcEnv;
  let browser: Browser;
  let spa: oidc.Configuration;

  before(async function () {
    requireChromium(this);
    env = await startOidcEnv({ database: 'postgres', store: 'redis', publicHost: 'localhost', env: { MFA_POLICY: 'roles:staff' } });
    spa = await env.discover('spa');
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await env?.close();
  });

  async function authorization(): Promise<{ url: string; verifier: string; state: string }> {
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const url = oidc.buildAuthorizationUrl(spa, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    return { url: url.href, verifier, state };
  }

  async function claimsOf(run: { verifier: string; state: string }, callback: URL | undefined): Promise<oidc.IDToken> {
    expect(callback, 'the relying party received the redirect').to.not.equal(undefined);
    const tokens = await oidc.authorizationCodeGrant(spa, callback as URL, { pkceCodeVerifier: run.verifier, expectedState: run.state });
    const claims = tokens.claims();
    if (!claims) throw new Error('no ID token');
    return claims;
  }

  it('enrols a passkey on the enrolment page, then signs in with it alone through the login page autofill, and uses it as a second factor', async () => {
    const user = await env.createUser('pia', ['staff']);
    const context = await browser.newContext({ viewport: { width: 800, height: 1000 } });
    const page = await pageWithRp(context);
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });

    const first = await authorization();
    await page.goto(first.url);
    expect(await page.getByLabel('Username or e-mail').getAttribute('autocomplete')).to.equal('username webauthn');
    await page.getByLabel('Username or e-mail').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();

    await page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor();
    expect(await page.locator('figure.qr svg').count()).to.equal(1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'second-factor-enrol.png'), fullPage: true });
    await page.getByLabel('Name for this passkey').fill('Laptop');
    await page.getByRole('button', { name: 'Add a passkey instead' }).click();

    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    expect(await page.locator('#recovery-codes li').count()).to.equal(10);
    await page.screenshot({ path: path.join(ARTIFACTS, 'second-factor-recovery-codes.png'), fullPage: true });
    const enrolled = await claimsOf(first, await sentToRp(page, () => page.getByRole('button', { name: /continue/ }).click()));
    expect(enrolled.amr).to.deep.equal(['pwd', 'hwk', 'user', 'mfa']);
    expect(enrolled.acr).to.equal('urn:idp:acr:mfa');

    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    expect(credentials).to.have.length(1);
    expect(credentials[0]?.isResidentCredential).to.equal(true);
    const status = await env.server.deps.mfa.status(user.id);
    expect(status.passkeys.map((p) => p.name)).to.deep.equal(['Laptop']);

    // Signed out (no SSO cookie): the passkey alone signs in. The login page starts a conditional
    // (autofill) request at once, and Chromium's virtual authenticator answers it without a click.
    await context.clearCookies();
    // (That navigation starts while the page is still loading, where request routing does not catch it: the
    // request to the relying party is read instead.)
    const second = await authorization();
    const toRp = page.waitForRequest((request) => request.url().startsWith(REDIRECT));
    await page.goto(second.url).catch(() => undefined);
    const claims = await claimsOf(second, new URL((await toRp).url()));
    expect(claims.sub).to.equal(user.id);
    expect(claims.amr).to.deep.equal(['hwk', 'user']);
    expect(claims.acr).to.equal('urn:idp:acr:mfa');
    expect((await env.server.deps.mfa.status(user.id)).passkeys[0]?.last_used_at).to.be.a('string');
    // The credential as it is now (its signature counter moved on with the sign-in).
    const [credential] = (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;
    await context.close();

    // After the password, the passkey is the second factor. A page whose authenticator only appears once the
    // password is in (so the login page's autofill has nothing to offer), holding the same credential.
    if (!credential) throw new Error('no credential');
    const other = await browser.newContext({ viewport: { width: 800, height: 900 } });
    const rpPage = await pageWithRp(other);
    const third = await authorization();
    await rpPage.goto(third.url);
    await rpPage.getByLabel('Username or e-mail').fill(user.username);
    await rpPage.getByLabel('Password').fill(user.password);
    await rpPage.getByLabel('Password').press('Enter');
    await rpPage.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    const session = await other.newCDPSession(rpPage);
    await session.send('WebAuthn.enable');
    const added = await session.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    await session.send('WebAuthn.addCredential', { authenticatorId: added.authenticatorId, credential });
    await rpPage.screenshot({ path: path.join(ARTIFACTS, 'second-factor-passkey.png'), fullPage: true });
    const landed = await sentToRp(rpPage, () => rpPage.getByRole('button', { name: 'Use your passkey' }).click());
    expect((await claimsOf(third, landed)).amr).to.deep.equal(['pwd', 'hwk', 'user', 'mfa']);
    await other.close();
  });

  it('asks for the TOTP code after the password, with no JavaScript needed', async () => {
    const user = await env.createUser('tom');
    const { secret } = await env.server.deps.mfa.startTotp(user.id, user.email);
    await env.server.deps.mfa.confirmTotp(user.id, totpCode(secret), { door: 'test' });
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 800, height: 800 } });
    const page = await pageWithRp(context);
    const run = await authorization();
    await page.goto(run.url);
    await page.getByLabel('Username or e-mail').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Two-step verification' }).waitFor();
    await page.keyboard.type('000000');
    await page.keyboard.press('Enter');
    await page.getByRole('alert').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'second-factor.png'), fullPage: true });
    await page.getByLabel('Code').fill(totpCode(secret, Date.now() + 30_000));
    const landed = await sentToRp(page, () => page.getByRole('button', { name: 'Verify' }).click());
    expect((await claimsOf(run, landed)).amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    for (const name of ['second-factor.png', 'second-factor-enrol.png', 'second-factor-recovery-codes.png', 'second-factor-passkey.png']) {
      expect(statSync(path.join(ARTIFACTS, name)).size).to.be.greaterThan(1000);
    }
    await context.close();
  });
});

describe('a passkey sign-in with REQUIRE_EMAIL_VERIFICATION, in Chromium', function () {
  this.timeout(90_000);
  let env: OidcEnv;
  let browser: Browser;
  let spa: oidc.Configuration;

  before(async function () {
    requireChromium(this);
    env = await startOidcEnv({ database: 'sqlite', store: 'memory', publicHost: 'localhost', env: { MFA_POLICY: 'roles:staff', REQUIRE_EMAIL_VERIFICATION: 'true' } });
    spa = await env.discover('spa');
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await env?.close();
  });

  const authorizationUrl = async (): Promise<string> =>
    oidc.buildAuthorizationUrl(spa, {
      redirect_uri: REDIRECT,
      scope: 'openid',
      code_challenge: await oidc.calculatePKCECodeChallenge(oidc.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      state: oidc.randomState(),
    }).href;

  it('shows the verify-e-mail page to an unverified user who signs in with the passkey alone, as after a password', async () => {
    const user = await env.createUser('vera', ['staff']);
    await env.server.deps.models.User.update({ emailVerified: true }, { where: { id: user.id } });
    const context = await browser.newContext({ viewport: { width: 800, height: 1000 } });
    const page = await pageWithRp(context);
    // Counted from the requests themselves: a navigation can escape routing (see sentToRp).
    const reachedRp: string[] = [];
    page.on('request', (request) => {
      if (request.url().startsWith(REDIRECT)) reachedRp.push(request.url());
    });
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    });
    // A verified user enrols a passkey (MFA_POLICY sends them to the enrolment page).
    await page.goto(await authorizationUrl());
    await page.getByLabel('Username or e-mail').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Set up two-step verification' }).waitFor();
    await page.getByLabel('Name for this passkey').fill('Laptop');
    await page.getByRole('button', { name: 'Add a passkey instead' }).click();
    await page.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
    await sentToRp(page, () => page.getByRole('button', { name: /continue/ }).click());
    expect(reachedRp).to.have.length(1);

    // The address is unverified again (e.g. changed): the passkey alone must not get around the check.
    await env.server.deps.models.User.update({ emailVerified: false }, { where: { id: user.id } });
    await context.clearCookies();
    await page.goto(await authorizationUrl()).catch(() => undefined);
    await page.getByRole('heading', { name: 'Verify your e-mail' }).waitFor();
    expect(await page.content()).to.include(user.email);
    expect(reachedRp).to.have.length(1);
    await context.close();
  });
});
