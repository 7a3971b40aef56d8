/**
 * The login page in German in a real browser (issue #15): by `ui_locales=de`, and by the browser's own
 * language (Chromium's locale sets Accept-Language). Screenshots in test-artifacts/.
 */
import path from 'node:path';
import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import type * as oidc from 'openid-client';
import { ARTIFACTS, launchChromium, requireChromium } from '../helpers/browser.ts';
import { authorizationUrl, startOidcEnv, type OidcEnv } from './helpers/oidc-env.ts';

describe('the login page in German (Chromium)', function () {
  this.timeout(90_000);
  let env: OidcEnv;
  let browser: Browser;
  let spa: oidc.Configuration;

  before(async function () {
    requireChromium(this);
    env = await startOidcEnv({ database: 'sqlite', store: 'memory' });
    spa = await env.discover('spa');
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await env?.close();
  });

  it('is German with ui_locales=de in an English browser, and says so in <html lang>', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    try {
      const page = await context.newPage();
      const url = await authorizationUrl(spa);
      url.searchParams.set('ui_locales', 'de');
      await page.goto(url.href);
      await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
      expect(await page.getAttribute('html', 'lang')).to.equal('de');
      await page.getByLabel('Benutzername oder E-Mail-Adresse').fill(env.user.username);
      await page.getByLabel('Passwort').fill('not the password');
      await page.getByRole('button', { name: 'Anmelden', exact: true }).click();
      await page.getByRole('alert').filter({ hasText: 'Benutzername oder Passwort ist falsch.' }).waitFor();
      await page.screenshot({ path: path.join(ARTIFACTS, 'login-de-ui-locales.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it('is German in a German browser (Accept-Language), and English in an English one', async () => {
    const german = await browser.newContext({ locale: 'de-DE' });
    try {
      const page = await german.newPage();
      await page.goto((await authorizationUrl(spa)).href);
      await page.getByRole('heading', { name: 'Anmelden' }).waitFor();
      expect(await page.getAttribute('html', 'lang')).to.equal('de');
      await page.screenshot({ path: path.join(ARTIFACTS, 'login-de-accept-language.png'), fullPage: true });
    } finally {
      await german.close();
    }
    const english = await browser.newContext({ locale: 'en-US' });
    try {
      const page = await english.newPage();
      await page.goto((await authorizationUrl(spa)).href);
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      expect(await page.getAttribute('html', 'lang')).to.equal('en');
    } finally {
      await english.close();
    }
  });
});
