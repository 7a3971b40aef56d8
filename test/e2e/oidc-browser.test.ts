/**
 * A real browser on the interactive pages: Chromium (Debian's, driven by playwright-core) signs in on
 * the login page, approves the consent page and lands on the relying party's redirect URI with a code
 * that openid-client exchanges. JavaScript is disabled in the page, so this also proves the pages need
 * none; the login is typed with the keyboard only. Screenshots go to test-artifacts/.
 */
import { expect } from 'chai';
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { ARTIFACTS, launchChromium, requireChromium } from '../helpers/browser.ts';
import * as oidc from 'openid-client';
import { authorizationUrl, CLIENTS, RP, startOidcEnv, type OidcEnv } from './helpers/oidc-env.ts';

describe('the login and consent pages in Chromium', function () {
  this.timeout(60_000);
  let env: OidcEnv;
  let browser: Browser;

  before(async function () {
    requireChromium(this);
    env = await startOidcEnv({ database: 'postgres', store: 'redis' });
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await env?.close();
  });

  it('signs in with the keyboard, approves consent and lands on the redirect URI with a code, without JavaScript', async () => {
    const config = await env.discover('confidential');
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const redirectUri = CLIENTS.confidential.redirect_uris[0];
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: 'openid profile email',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });

    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 800, height: 900 } });
    const page = await context.newPage();
    // The relying party: answer its callback in the browser instead of running a server for it.
    let callback: URL | undefined;
    await page.route(`${RP.confidential}/**`, async (route) => {
      callback = new URL(route.request().url());
      await route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>Relying party</title><p>Signed in.</p>' });
    });

    await page.goto(url.href);
    expect(await page.getByRole('heading', { name: 'Sign in' }).isVisible()).to.equal(true);
    expect(await page.getByLabel('Username or e-mail').count()).to.equal(1);
    expect(await page.getByLabel('Password').count()).to.equal(1);
    // Keyboard only: the login field has focus on arrival, Tab moves to the password, Enter submits.
    await page.keyboard.type(env.user.email);
    await page.keyboard.press('Tab');
    await page.keyboard.type(env.user.password);
    await page.screenshot({ path: path.join(ARTIFACTS, 'oidc-login.png'), fullPage: true });
    await page.keyboard.press('Enter');

    await page.getByRole('heading', { name: 'Allow access?' }).waitFor();
    expect(await page.getByText('Notes App').count()).to.be.greaterThan(0);
    expect(await page.getByText('See your e-mail address').count()).to.equal(1);
    await page.screenshot({ path: path.join(ARTIFACTS, 'oidc-consent.png'), fullPage: true });
    await page.getByRole('button', { name: 'Allow' }).click();

    await page.waitForURL(`${redirectUri}**`);
    expect(callback, 'the relying party received the redirect').to.not.equal(undefined);
    expect(callback?.searchParams.get('state')).to.equal(state);
    const tokens = await oidc.authorizationCodeGrant(config, callback as URL, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()?.sub).to.equal(env.user.id);

    for (const name of ['oidc-login.png', 'oidc-consent.png']) expect(statSync(path.join(ARTIFACTS, name)).size).to.be.greaterThan(1000);
    await context.close();
  });

  it('shows a wrong password on the page, announced to screen readers, and keeps the typed login', async () => {
    const config = await env.discover('spa');
    const url = await authorizationUrl(config);
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(url.href);
    await page.getByLabel('Username or e-mail').fill('alice');
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    expect(await alert.textContent()).to.include('Incorrect username or password');
    expect(await page.getByLabel('Username or e-mail').inputValue()).to.equal('alice');
    expect(await page.getByLabel('Password').getAttribute('aria-invalid')).to.equal('true');
    await page.screenshot({ path: path.join(ARTIFACTS, 'oidc-login-error.png'), fullPage: true });
    await context.close();
  });
});
