/**
 * "Create an account" on the login page (CONTRACT §1 REGISTRATION, §4): a new user signs up in the middle of
 * a relying party's sign-in and comes back signed in; mistakes are shown on the form; with
 * REGISTRATION=closed there is no link and no route; with REQUIRE_EMAIL_VERIFICATION the new user is shown
 * the verify-your-e-mail page and gets the mail in the page's language.
 */
import { expect } from 'chai';
import * as openid from 'openid-client';
import type * as oidc from 'openid-client';
import { UserAgent, type Page } from '../e2e/helpers/user-agent.ts';
import { authorizationUrl, CLIENTS, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';
import { readOutbox } from '../helpers/outbox.ts';

const PASSWORD = 'a long enough sign-up password';

describe('sign-up on the login page', function () {
  this.timeout(30_000);

  describe('REGISTRATION=open (embedded)', () => {
    let env: OidcEnv;
    let spa: oidc.Configuration;
    before(async () => {
      env = await startOidcEnv({ database: 'sqlite', store: 'memory' });
      spa = await env.discover('spa');
    });
    after(async () => env?.close());

    async function signUpPage(agent: UserAgent, extra: Record<string, string> = {}): Promise<{ login: Page; page: Page; url: URL; verifier: string }> {
      const verifier = openid.randomPKCECodeVerifier();
      const url = openid.buildAuthorizationUrl(spa, {
        redirect_uri: CLIENTS.spa.redirect_uris[0],
        scope: 'openid email',
        code_challenge: await openid.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        ...extra,
      });
      const login = await agent.open(url.href);
      const link = /href="([^"]*\/sign-up)"/.exec(login.body)?.[1];
      expect(link, 'the login page links to sign-up').to.be.a('string');
      const page = await agent.open(new URL(link as string, login.url).href);
      expect(page.status).to.equal(200);
      expect(page.body).to.include('name="email"').and.include('name="password"').and.include('name="csrf"');
      return { login, page, url, verifier };
    }

    it('creates the account (user, organization, membership) and completes the sign-in at the relying party', async () => {
      const agent = new UserAgent();
      const { page } = await signUpPage(agent);
      const done = await agent.submit(page, '/sign-up', { email: 'New.Person@Example.test', username: 'newperson', full_name: 'New Person', password: PASSWORD }, CLIENTS.spa.redirect_uris[0]);
      expect(done.status, done.body.slice(0, 500)).to.equal(0);
      expect(new URL(done.url).searchParams.get('code')).to.be.a('string');
      const user = await env.server.deps.models.User.findOne({ where: { email: 'new.person@example.test' } });
      expect(user?.username).to.equal('newperson');
      expect(await env.server.deps.models.Membership.count({ where: { userId: user?.id, role: 'owner' } })).to.equal(1);
      await env.server.deps.audit.flush();
      expect(await env.server.deps.models.AuditEvent.count({ where: { type: 'register', outcome: 'success', userId: user?.id } })).to.equal(1);
    });

    it('shows each mistake beside its field, keeps what was typed, and refuses a taken e-mail with 409', async () => {
      const agent = new UserAgent();
      const { page } = await signUpPage(agent);
      const bad = await agent.submit(page, '/sign-up', { email: 'not an address', username: 'bad\u202Ename', full_name: 'Kept Name', password: 'short' });
      expect(bad.status).to.equal(422);
      expect(bad.body).to.include('Enter a valid e-mail address.').and.include('The password must have 8 to 256 characters.').and.include('A username may contain');
      expect(bad.body).to.include('value="Kept Name"').and.include('aria-invalid="true"').and.include('role="alert"');
      const taken = await agent.submit(bad, '/sign-up', { email: env.user.email, username: '', full_name: '', password: PASSWORD });
      expect(taken.status).to.equal(409);
      expect(taken.body).to.include('An account with this e-mail already exists.');
      expect(await env.server.deps.models.User.count({ where: { email: 'not an address' } })).to.equal(0);
    });

    it('refuses a form without the right CSRF token', async () => {
      const agent = new UserAgent();
      const { page } = await signUpPage(agent);
      const forged = await agent.submit(page, '/sign-up', { email: 'forged@example.test', password: PASSWORD, csrf: 'forged' });
      expect(forged.status).to.equal(403);
      expect(await env.server.deps.models.User.count({ where: { email: 'forged@example.test' } })).to.equal(0);
    });

    it('speaks German with ui_locales=de', async () => {
      const agent = new UserAgent();
      const { login, page } = await signUpPage(agent, { ui_locales: 'de' });
      expect(login.body).to.include('Konto erstellen');
      expect(page.body).to.include('<html lang="de">').and.include('Vollständiger Name');
      const bad = await agent.submit(page, '/sign-up', { email: 'x', password: PASSWORD });
      expect(bad.body).to.include('Geben Sie eine gültige E-Mail-Adresse ein.');
    });
  });

  describe('REGISTRATION=open with REQUIRE_EMAIL_VERIFICATION (embedded)', () => {
    let env: OidcEnv;
    let spa: oidc.Configuration;
    before(async () => {
      env = await startOidcEnv({ database: 'sqlite', store: 'memory', env: { REQUIRE_EMAIL_VERIFICATION: 'true' } });
      spa = await env.discover('spa');
    });
    after(async () => env?.close());

    it('shows the verify-your-e-mail page instead of signing in, and mails the link in the page language', async () => {
      const agent = new UserAgent();
      const login = await agent.open((await authorizationUrl(spa)).href + '&ui_locales=de');
      const link = /href="([^"]*\/sign-up)"/.exec(login.body)?.[1] as string;
      const page = await agent.open(new URL(link, login.url).href);
      const answer = await agent.submit(page, '/sign-up', { email: 'verify.me@example.test', password: PASSWORD });
      expect(answer.status).to.equal(403);
      expect(answer.body).to.include('verify.me@example.test').and.include('lang="de"');
      await env.server.deps.mailQueue.settle();
      const mails = readOutbox(env.server.config.mail.outboxDir).filter((text) => text.includes('To: verify.me@example.test'));
      expect(mails).to.have.length(1);
      expect(mails[0]).to.include('Bitte bestätigen Sie Ihre E-Mail-Adresse');
    });
  });

  describe('REGISTRATION=closed (embedded)', () => {
    let env: OidcEnv;
    let spa: oidc.Configuration;
    before(async () => {
      env = await startOidcEnv({ database: 'sqlite', store: 'memory', env: { REGISTRATION: 'closed' } });
      spa = await env.discover('spa');
    });
    after(async () => env?.close());

    it('offers no sign-up link and has no sign-up route', async () => {
      const agent = new UserAgent();
      const login = await agent.open((await authorizationUrl(spa)).href);
      expect(login.body).to.include('name="password"').and.not.include('/sign-up');
      const uid = /\/interaction\/([^/"]+)\/login/.exec(login.body)?.[1];
      const direct = await agent.request(`${env.server.url}/interaction/${uid}/sign-up`);
      expect(direct.status).to.equal(404);
    });
  });
});
