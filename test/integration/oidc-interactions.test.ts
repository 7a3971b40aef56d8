/**
 * The interaction pages' defences and messages: CSRF tokens, stale or foreign interactions, missing
 * fields, the rate-limit message, and never a stack trace.
 */
import http from 'node:http';
import { expect } from 'chai';
import type * as oidc from 'openid-client';
import { createApp } from '../../src/app.ts';
import { RateLimitedError } from '../../src/errors.ts';
import { createInteractionRouter } from '../../src/http/interactions.ts';
import { UserAgent, formsOf, type Page } from '../e2e/helpers/user-agent.ts';
import { authorizationUrl, CLIENTS, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

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
