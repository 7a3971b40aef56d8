/**
 * The pages and mails in the user's language (CONTRACT §4 "Languages"): `ui_locales`, then
 * Accept-Language, then the first of UI_LOCALES; `<html lang>` says which.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import * as openid from 'openid-client';
import type * as oidc from 'openid-client';
import { UserAgent, type Page } from '../e2e/helpers/user-agent.ts';
import { authorizationUrl, CLIENTS, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';
import { http, newUser } from '../helpers/legacy-client.ts';

/** A browser whose language is `acceptLanguage`: every request carries the header. */
class BrowserIn extends UserAgent {
  private readonly acceptLanguage: string;
  constructor(acceptLanguage: string) {
    super();
    this.acceptLanguage = acceptLanguage;
  }
  override request(url: string, init: Parameters<UserAgent['request']>[1] = {}): Promise<Page> {
    return super.request(url, { ...init, headers: { 'accept-language': this.acceptLanguage, ...init.headers } });
  }
}

const withParams = (url: URL, params: Record<string, string>): string => {
  const copy = new URL(url);
  for (const [name, value] of Object.entries(params)) copy.searchParams.set(name, value);
  return copy.href;
};

/** Quoted-printable body and RFC 2047 header words, as nodemailer writes them. */
function decodeMail(raw: string): string {
  const words = raw.replace(/=\?UTF-8\?([QB])\?([^?]*)\?=/gi, (_, kind: string, text: string) =>
    kind.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : `=QP=${text.replace(/_/g, ' ')}=QP=`,
  );
  const soft = words.replace(/=\r?\n/g, '').replace(/=QP=/g, '');
  const bytes = soft.replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

describe('pages and mails in the user’s language (embedded)', function () {
  this.timeout(60_000);
  let env: OidcEnv;
  let spa: oidc.Configuration;
  let notes: oidc.Configuration;

  before(async () => {
    env = await startOidcEnv({ database: 'sqlite', store: 'memory' });
    spa = await env.discover('spa');
    notes = await env.discover('confidential');
  });
  after(async () => env?.close());

  it('shows the login page in German for ui_locales=de, with <html lang="de">', async () => {
    const page = await new UserAgent().open(withParams(await authorizationUrl(spa), { ui_locales: 'de' }));
    expect(page.status).to.equal(200);
    expect(page.body).to.match(/<html lang="de">/);
    expect(page.body).to.include('<h1>Anmelden</h1>').and.include('Benutzername oder E-Mail-Adresse').and.include('<title>Anmelden');
    expect(page.body).to.include('um mit <strong>Console</strong> fortzufahren');
    expect(page.body).not.to.include('Sign in');
  });

  it('shows the login page in German for Accept-Language: de, and in English for ui_locales=en whatever the browser says', async () => {
    const german = await new BrowserIn('de-DE,de;q=0.9,en;q=0.5').open((await authorizationUrl(spa)).href);
    expect(german.body).to.match(/<html lang="de">/).and.include('<h1>Anmelden</h1>');
    const english = await new BrowserIn('de').open(withParams(await authorizationUrl(spa), { ui_locales: 'en' }));
    expect(english.body).to.match(/<html lang="en">/).and.include('<h1>Sign in</h1>').and.include('Username or e-mail');
    const fallback = await new BrowserIn('fr').open((await authorizationUrl(spa)).href);
    expect(fallback.body, 'a language not offered: the first of UI_LOCALES').to.match(/<html lang="en">/);
  });

  it('keeps the interaction’s language on the POST: a wrong password is told in German', async () => {
    const agent = new UserAgent();
    const page = await agent.open(withParams(await authorizationUrl(spa), { ui_locales: 'de' }));
    const wrong = await agent.submit(page, '/login', { login: env.user.username, password: 'wrong password' });
    expect(wrong.status).to.equal(401);
    expect(wrong.body).to.match(/<html lang="de">/).and.include('Benutzername oder Passwort ist falsch.');
    const empty = await agent.submit(wrong, '/login', { login: '', password: '' });
    expect(empty.status).to.equal(400);
    expect(empty.body).to.include('Bitte geben Sie Ihren Benutzernamen oder Ihre E-Mail-Adresse und Ihr Passwort ein.');
  });

  it('shows a stale form’s error page in German', async () => {
    const agent = new BrowserIn('de');
    const page = await agent.open((await authorizationUrl(spa)).href);
    const forged = await agent.submit(page, '/login', { login: env.user.username, password: env.user.password, csrf: 'forged' });
    expect(forged.status).to.equal(403);
    expect(forged.body).to.match(/<html lang="de">/).and.include('Dieses Formular ist abgelaufen').and.include('Fehlercode:');
  });

  it('shows the consent page in German, scopes in words', async () => {
    const agent = new UserAgent();
    const url = openid.buildAuthorizationUrl(notes, {
      redirect_uri: CLIENTS.confidential.redirect_uris[0],
      scope: 'openid email',
      code_challenge: await openid.calculatePKCECodeChallenge(openid.randomPKCECodeVerifier()),
      code_challenge_method: 'S256',
      ui_locales: 'de',
    });
    const login = await agent.open(url.href);
    const consent = await agent.submit(login, '/login', { login: env.user.username, password: env.user.password });
    expect(consent.status).to.equal(200);
    expect(consent.body).to.match(/<html lang="de">/);
    expect(consent.body).to.include('<h1>Zugriff erlauben?</h1>').and.include('<strong>Notes App</strong> bittet um Zugriff auf Ihr Konto (alice).');
    expect(consent.body).to.include('Ihre E-Mail-Adresse sehen').and.include('>Erlauben</button>').and.include('>Ablehnen</button>');
    expect(consent.body).to.include('name="decision" value="approve"');
  });

  it('asks to confirm the logout in German (ui_locales of the end-session request, else Accept-Language)', async () => {
    const agent = new UserAgent();
    const login = await agent.open((await authorizationUrl(spa)).href);
    await agent.submit(login, '/login', { login: env.user.username, password: env.user.password }, CLIENTS.spa.redirect_uris[0]);
    const confirm = await agent.open(`${env.issuer}/session/end?ui_locales=de`);
    expect(confirm.status).to.equal(200);
    expect(confirm.body).to.match(/<html lang="de">/).and.include('<h1>Abmelden?</h1>').and.include('name="logout" value="yes"');
    const byBrowser = await agent.request(`${env.issuer}/session/end`, { headers: { 'accept-language': 'de' } });
    expect(byBrowser.body).to.include('<h1>Abmelden?</h1>');
    const english = await agent.request(`${env.issuer}/session/end?ui_locales=en`, { headers: { 'accept-language': 'de' } });
    expect(english.body).to.match(/<html lang="en">/).and.include('<h1>Sign out?</h1>');
  });

  it('shows the provider’s error page in German', async () => {
    const page = await new BrowserIn('de').open(`${env.issuer}/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=https://x.example/cb`);
    expect(page.status).to.equal(400);
    expect(page.body).to.match(/<html lang="de">/).and.include('Die Anwendung, die Sie hierher geschickt hat, ist diesem Anmeldedienst nicht bekannt.');
  });

  it('runs the device flow’s pages in German for a German browser', async () => {
    const tv = await env.discover('device');
    const authorization = await openid.initiateDeviceAuthorization(tv, { scope: 'openid profile' });
    const agent = new BrowserIn('de');
    const input = await agent.open(authorization.verification_uri);
    expect(input.body).to.match(/<html lang="de">/).and.include('<h1>Gerät verbinden</h1>').and.include('aria-label="Code, den Ihr Gerät anzeigt"');
    const wrong = await agent.submit(input, '/oidc/device', { user_code: 'ZZZZ-ZZZZ' });
    expect(wrong.body).to.include('Dieser Code stimmt nicht.');
    const confirm = await agent.submit(wrong, '/oidc/device', { user_code: authorization.user_code });
    expect(confirm.body).to.include('<h1>Gerät bestätigen</h1>').and.include('<strong>TV App</strong> möchte Sie auf einem Gerät anmelden.');
    let page = await agent.submit(confirm, '/oidc/device', { confirm: 'yes' });
    expect(page.body).to.include('<h1>Anmelden</h1>');
    page = await agent.submit(page, '/login', { login: env.user.username, password: env.user.password });
    page = await agent.submit(page, '/confirm', { decision: 'approve' });
    expect(page.status).to.equal(200);
    expect(page.body).to.match(/<html lang="de">/).and.include('<h1>Gerät verbunden</h1>').and.include('bei <strong>TV App</strong> angemeldet');
  });

  it('writes the verification mail in German when the legacy registration said Accept-Language: de', async () => {
    const user = newUser('sprache');
    const registered = await http('POST', `${env.server.url}/api/v1/auth/register`, {
      json: { username: user.username, email: user.email, password: user.password, full_name: 'Erika Mustermann' },
      headers: { 'accept-language': 'de-DE,de;q=0.9' },
    });
    expect(registered.status).to.equal(201);
    await env.server.deps.mailQueue.settle();
    const to = user.email.toLowerCase();
    const dir = env.server.config.mail.outboxDir;
    const mails = readdirSync(dir)
      .filter((name) => name.endsWith('.eml'))
      .map((name) => decodeMail(readFileSync(path.join(dir, name), 'utf8')))
      .filter((text) => text.includes(`To: ${to}`));
    expect(mails).to.have.length(1);
    const mail = mails[0] as string;
    expect(mail).to.include('Subject: Bestätigen Sie Ihre E-Mail-Adresse');
    expect(mail).to.include('Guten Tag,').and.include('Bitte bestätigen Sie Ihre E-Mail-Adresse').and.include('läuft in 24 Stunden ab');
    // §6: the address is not verified yet, so the requester's name is not in it, in any language.
    expect(mail).not.to.include('Mustermann');
  });

  it('serves the legacy reset page and the landing page in German for Accept-Language: de', async () => {
    const reset = await http('GET', `${env.server.url}/api/v1/auth/reset-password?token=abc`, { headers: { 'accept-language': 'de' } });
    expect(reset.status).to.equal(200);
    expect(String(reset.body)).to.match(/<html lang="de">/).and.include('Neues Passwort wählen').and.include('Passwort festlegen');
    expect(reset.headers.get('vary') ?? '').to.match(/accept-language/i);
    const home = await http('GET', `${env.server.url}/`, { headers: { 'accept-language': 'de' } });
    expect(String(home.body)).to.match(/<html lang="de">/).and.include('Für Anwendungen');
    const homeEnglish = await http('GET', `${env.server.url}/`, { headers: { 'accept-language': 'en' } });
    expect(String(homeEnglish.body)).to.match(/<html lang="en">/).and.include('For applications');
  });
});

describe('UI_LOCALES=en: German requests get English (embedded)', function () {
  this.timeout(60_000);
  let env: OidcEnv;

  before(async () => {
    env = await startOidcEnv({ database: 'sqlite', store: 'memory', env: { UI_LOCALES: 'en' } });
  });
  after(async () => env?.close());

  it('answers ui_locales=de and Accept-Language: de in English', async () => {
    const spa = await env.discover('spa');
    const page = await new BrowserIn('de').open(withParams(await authorizationUrl(spa), { ui_locales: 'de' }));
    expect(page.body).to.match(/<html lang="en">/).and.include('<h1>Sign in</h1>');
    const home = await http('GET', `${env.server.url}/`, { headers: { 'accept-language': 'de' } });
    expect(String(home.body)).to.match(/<html lang="en">/);
  });
});

describe('REQUIRE_EMAIL_VERIFICATION: the verify page and its mail in the interaction’s language (embedded)', function () {
  this.timeout(60_000);
  let env: OidcEnv;

  before(async () => {
    env = await startOidcEnv({ database: 'sqlite', store: 'memory', env: { REQUIRE_EMAIL_VERIFICATION: 'true' } });
  });
  after(async () => env?.close());

  it('shows the verify page in German and sends the new link in German (ui_locales=de, an English browser)', async () => {
    const email = 'sprache-zwei@example.test';
    const password = 'unverified password 123';
    await env.server.deps.accounts.register({ email, password }, { door: 'cli' });
    const spa = await env.discover('spa');
    const agent = new BrowserIn('en');
    const login = await agent.open(withParams(await authorizationUrl(spa), { ui_locales: 'de' }));
    const verify = await agent.submit(login, '/login', { login: email, password });
    expect(verify.status).to.equal(403);
    expect(verify.body).to.match(/<html lang="de">/).and.include('Bestätigen Sie Ihre E-Mail-Adresse').and.include('Neuen Link senden');
    await env.server.deps.mailQueue.settle();
    const sent = await agent.submit(verify, '/resend-verification');
    expect(sent.status).to.equal(200);
    expect(sent.body).to.include(`Wir haben einen neuen Link an ${email} geschickt.`);
    await env.server.deps.mailQueue.settle();
    const dir = env.server.config.mail.outboxDir;
    const mails = readdirSync(dir)
      .filter((name) => name.endsWith('.eml'))
      .map((name) => decodeMail(readFileSync(path.join(dir, name), 'utf8')))
      .filter((text) => text.includes(`To: ${email}`));
    expect(mails).to.have.length(1);
    expect(mails[0]).to.include('Subject: Bestätigen Sie Ihre E-Mail-Adresse').and.include('Guten Tag,');
  });
});
