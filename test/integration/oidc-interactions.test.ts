/**
 * The interaction pages' defences and messages: CSRF tokens, stale or foreign interactions, missing
 * fields, the rate-limit message, and never a stack trace.
 */
import http from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import * as openid from 'openid-client';
import type * as oidc from 'openid-client';
import { createApp } from '../../src/app.ts';
import { RateLimitedError } from '../../src/errors.ts';
import { createInteractionRouter } from '../../src/http/interactions.ts';
import { UserAgent, formsOf, type Page } from '../e2e/helpers/user-agent.ts';
import { authorizationUrl, authorize, CLIENTS, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

const RATE_LIMITED_PORT = 7310;

function noStackTrace(page: Page): void {
  expect(page.body).not.to.match(/\bat \S+ \(|node_modules|Error:/);
}

describe('interaction pages: CSRF, stale requests and error messages (embedded)', function () {
  this.timeout(30_000);
  let env: OidcEnv;
  let spa: oidc.Configuration;

  before(async () => {
    env = await startOidcEnv({ database: 'sqlite', store: 'memory' });
    spa = await env.discover('spa');
  });
  after(async () => env?.close());

  async function loginPage(agent: UserAgent): Promise<Page> {
    const url = await authorizationUrl(spa);
    const page = await agent.open(url.href);
    expect(page.body).to.include('name="password"');
    return page;
  }

  it('refuses a login form without the right CSRF token', async () => {
    const agent = new UserAgent();
    const page = await loginPage(agent);
    const form = formsOf(page.body, page.url)[0];
    const forged = await agent.request(form?.action as string, { form: { login: env.user.email, password: env.user.password, csrf: 'forged' } });
    expect(forged.status).to.equal(403);
    expect(forged.body).to.include('This form has expired');
    noStackTrace(forged);
  });

  it('refuses a form posted without the interaction cookie (a cross-site POST carries no Lax cookie)', async () => {
    const page = await loginPage(new UserAgent());
    const form = formsOf(page.body, page.url)[0];
    const fields = form?.fields.map((field) => (field.name === 'login' ? { name: 'login', value: env.user.email } : field)) ?? [];
    const response = await new UserAgent().request(form?.action as string, { form: [...fields, { name: 'password', value: env.user.password }] });
    expect(response.status).to.equal(400);
    expect(response.body).to.include('expired');
    noStackTrace(response);
  });

  it('answers an unknown interaction with an error page, and the consent endpoint during login with one too', async () => {
    const agent = new UserAgent();
    const page = await loginPage(agent);
    const unknown = await agent.request(`${env.server.url}/interaction/not-a-real-uid`);
    expect(unknown.status).to.equal(400);
    noStackTrace(unknown);
    const wrongStep = await agent.request(page.url.replace(/\/?$/, '/confirm'), { form: { decision: 'approve', csrf: 'x' } });
    expect(wrongStep.status).to.equal(400);
    expect(wrongStep.body).to.include('no longer expected');
  });

  it('asks again for empty fields and shows a wrong password on the page, with 401', async () => {
    const agent = new UserAgent();
    const page = await loginPage(agent);
    const empty = await agent.submit(page, '/login', { login: '', password: '' });
    expect(empty.status).to.equal(400);
    expect(empty.body).to.include('Enter your username or e-mail and your password.');
    const wrong = await agent.submit(empty, '/login', { login: env.user.username, password: 'wrong password' });
    expect(wrong.status).to.equal(401);
    expect(wrong.body).to.include('Incorrect username or password.').and.include('value="alice"');
    const right = await agent.submit(wrong, '/login', { login: env.user.username, password: env.user.password }, CLIENTS.spa.redirect_uris[0]);
    expect(new URL(right.url).searchParams.get('code')).to.be.a('string');
  });

  it('shows the rate-limit message with 429 and Retry-After when sign-in attempts are limited', async () => {
    // The same provider behind a login that is always limited, as the brute-force protection answers.
    const router = createInteractionRouter({
      provider: env.server.deps.oidc.provider,
      views: env.server.deps.views,
      i18n: env.server.deps.i18n,
      cookieKeys: env.server.deps.cookieKeys,
      authenticate: async () => {
        throw new RateLimitedError(120);
      },
      getAccount: async () => undefined,
    });
    const app = createApp({ config: env.server.config, logger: env.server.deps.logger, readiness: [], errorTranslators: [], routers: [router] });
    const server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(RATE_LIMITED_PORT, '127.0.0.1', resolve));
    try {
      const agent = new UserAgent();
      const page = await loginPage(agent);
      // Cookies are per host, not per port: the limited server sees the same interaction.
      const limitedPage = { ...page, url: page.url.replace(env.server.url, `http://127.0.0.1:${RATE_LIMITED_PORT}`), body: page.body.replace(/action="\//, `action="http://127.0.0.1:${RATE_LIMITED_PORT}/`) };
      const limited = await agent.submit(limitedPage, '/login', { login: env.user.username, password: env.user.password });
      expect(limited.status).to.equal(429);
      expect(limited.headers.get('retry-after')).to.equal('120');
      expect(limited.body).to.include('Too many sign-in attempts. Try again in 2 minutes.');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('login page with REQUIRE_EMAIL_VERIFICATION (embedded)', function () {
  this.timeout(30_000);
  let env: OidcEnv;
  let spa: oidc.Configuration;

  before(async () => {
    env = await startOidcEnv({ database: 'sqlite', store: 'memory', env: { REQUIRE_EMAIL_VERIFICATION: 'true' } });
    spa = await env.discover('spa');
  });
  after(async () => env?.close());

  /** Someone signs up with another person's address (no username: the e-mail is the login). */
  async function squatter(email: string): Promise<{ id: string; email: string; password: string }> {
    const password = 'squatter password 123';
    const { id } = await env.server.deps.accounts.register({ email, password }, { door: 'cli' });
    return { id, email, password };
  }

  function verificationMails(to: string): string[] {
    const dir = env.server.config.mail.outboxDir;
    let names: string[];
    try {
      names = readdirSync(dir).filter((name) => name.endsWith('.eml'));
    } catch {
      return [];
    }
    return names.map((name) => readFileSync(path.join(dir, name), 'utf8')).filter((text) => text.includes(`To: ${to}`) && text.includes('Subject: Verify your e-mail address'));
  }

  async function submitLogin(agent: UserAgent, user: { email: string; password: string }): Promise<Page> {
    const page = await agent.open((await authorizationUrl(spa)).href);
    return agent.submit(page, '/login', { login: user.email, password: user.password }, CLIENTS.spa.redirect_uris[0]);
  }

  it('shows the verify-your-e-mail page instead of signing an unverified user in', async () => {
    const user = await squatter('victim-one@example.test');
    const agent = new UserAgent();
    const page = await submitLogin(agent, user);
    expect(page.status).to.equal(403);
    expect(page.body).to.include('Verify your e-mail').and.include('victim-one@example.test');
    expect(page.body).not.to.include('name="password"');
    // No SSO session was made: the next authorization request asks for the login again.
    const again = await agent.open((await authorizationUrl(spa)).href, CLIENTS.spa.redirect_uris[0]);
    expect(again.body).to.include('name="password"');
  });

  it('sends a new link from the resend button (a plain form with a CSRF token), and signs in once verified', async () => {
    const user = await squatter('victim-two@example.test');
    const agent = new UserAgent();
    const page = await submitLogin(agent, user);
    expect(page.status).to.equal(403);
    await env.server.deps.mailQueue.settle();
    const before = verificationMails(user.email).length;

    const sent = await agent.submit(page, '/resend-verification');
    expect(sent.status).to.equal(200);
    expect(sent.body).to.include('We sent a new link to victim-two@example.test');
    await env.server.deps.mailQueue.settle();
    const mails = verificationMails(user.email);
    expect(mails.length).to.equal(before + 1);

    const link = /https?:\/\/\S+verify-email\?token=[A-Za-z0-9_-]+/.exec((mails.at(-1) ?? '').replace(/=\r?\n/g, '').replace(/=3D/g, '='))?.[0];
    expect(link, 'verification link').to.be.a('string');
    expect((await fetch(link as string)).status).to.equal(200);

    const signedIn = await submitLogin(new UserAgent(), user);
    expect(signedIn.status).to.equal(0);
    expect(new URL(signedIn.url).searchParams.get('code')).to.be.a('string');
  });

  it('refuses a resend without the token bound to the account, or for another account', async () => {
    const user = await squatter('victim-three@example.test');
    const other = await squatter('victim-four@example.test');
    const agent = new UserAgent();
    const page = await submitLogin(agent, user);
    const form = formsOf(page.body, page.url).find((candidate) => candidate.action.endsWith('/resend-verification'));
    expect(form, 'resend form').to.not.equal(undefined);
    const fields = (form?.fields ?? []).map((field) => (field.name === 'account' ? { name: 'account', value: other.id } : field));
    const forged = await agent.request(form?.action as string, { form: fields });
    expect(forged.status).to.equal(403);
    const noToken = await agent.request(form?.action as string, { form: { account: user.id, csrf: '' } });
    expect(noToken.status).to.equal(403);
    noStackTrace(forged);
  });

  it('signs in a verified user as before', async () => {
    await env.server.deps.models.User.update({ emailVerified: true }, { where: { id: env.user.id } });
    const run = await authorize(new UserAgent(), spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid profile email', user: { login: env.user.email, password: env.user.password } });
    expect(run.callback.searchParams.get('code')).to.be.a('string');
  });
});

describe('preferred_username of an unverified e-mail (embedded, verification not required)', function () {
  this.timeout(30_000);
  let env: OidcEnv;
  let spa: oidc.Configuration;

  before(async () => {
    env = await startOidcEnv({ database: 'sqlite', store: 'memory' });
    spa = await env.discover('spa');
  });
  after(async () => env?.close());

  it('signs the user in but leaves preferred_username out of the ID token and userinfo', async () => {
    const user = { email: 'someone-else@example.test', password: 'squatter password 123' };
    await env.server.deps.accounts.register(user, { door: 'cli' });
    const run = await authorize(new UserAgent(), spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid profile email', user: { login: user.email, password: user.password } });
    const tokens = await openid.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
    const claims = tokens.claims();
    expect(claims).to.include({ email: user.email, email_verified: false });
    expect(claims).not.to.have.property('preferred_username');
    const info = await openid.fetchUserInfo(spa, tokens.access_token, claims?.sub as string);
    expect(info).to.include({ email: user.email, email_verified: false });
    expect(info).not.to.have.property('preferred_username');
  });
});
