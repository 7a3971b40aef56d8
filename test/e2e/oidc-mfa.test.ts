/**
 * Second factors on the login page, end to end with openid-client (CONTRACT §4, §9): the code step after
 * the password, amr/acr in the ID token, step-up by acr_values and max_age, and the enrolment MFA_POLICY
 * forces. The pages are driven as a browser without JavaScript would.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { MODES } from '../helpers/app.ts';
import { UserAgent, type Page } from './helpers/user-agent.ts';
import { CLIENTS, startOidcEnv, type OidcEnv, type TestUser } from './helpers/oidc-env.ts';
import { totpCode } from '../../src/services/mfa/totp.ts';

const REDIRECT = CLIENTS.spa.redirect_uris[0];
const STEP_MS = 30_000;

interface Flow {
  page: Page;
  verifier: string;
  state: string;
  nonce: string;
}

async function start(agent: UserAgent, config: oidc.Configuration, extra: Record<string, string> = {}): Promise<Flow> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  return { page: await agent.open(url.href, REDIRECT), verifier, state, nonce };
}

async function idToken(config: oidc.Configuration, flow: Flow, page: Page): Promise<oidc.IDToken> {
  expect(page.status, page.body.slice(0, 500)).to.equal(0);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(page.url), { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce });
  const claims = tokens.claims();
  if (!claims) throw new Error('no ID token');
  return claims;
}

const isCodePage = (page: Page): boolean => page.body.includes('name="code"') && page.body.includes('/second-factor');

for (const mode of MODES) {
  describe(`login page second factor with openid-client (${mode.name})`, function () {
    this.timeout(30_000);
    let env: OidcEnv;
    let spa: oidc.Configuration;

    before(async () => {
      env = await startOidcEnv({ database: mode.database, store: mode.store, env: { MFA_POLICY: 'roles:auditor' } });
      spa = await env.discover('spa');
    });
    after(async () => env?.close());

    async function withTotp(name: string): Promise<{ user: TestUser; secret: string }> {
      const user = await env.createUser(name);
      const { secret } = await env.server.deps.mfa.startTotp(user.id, user.email);
      await env.server.deps.mfa.confirmTotp(user.id, totpCode(secret), { door: 'cli' });
      return { user, secret };
    }

    it('advertises the two acr values', () => {
      expect(spa.serverMetadata().acr_values_supported).to.deep.equal(['urn:idp:acr:pwd', 'urn:idp:acr:mfa']);
    });

    it('a password-only login carries amr ["pwd"] and acr urn:idp:acr:pwd', async () => {
      const agent = new UserAgent();
      const flow = await start(agent, spa);
      const done = await agent.submit(flow.page, '/login', { login: env.user.username, password: env.user.password }, REDIRECT);
      const claims = await idToken(spa, flow, done);
      expect(claims.amr).to.deep.equal(['pwd']);
      expect(claims.acr).to.equal('urn:idp:acr:pwd');
    });

    it('asks a user with TOTP for a code after the password; a wrong one is shown on the page; the ID token says mfa', async () => {
      const { user, secret } = await withTotp('tina');
      const agent = new UserAgent();
      const flow = await start(agent, spa);
      const codePage = await agent.submit(flow.page, '/login', { login: user.username, password: user.password }, REDIRECT);
      expect(isCodePage(codePage), codePage.body.slice(0, 800)).to.equal(true);
      expect(codePage.body).to.not.include('<script');
      const wrong = await agent.submit(codePage, '/second-factor', { code: totpCode(secret, Date.now() + 10 * STEP_MS) }, REDIRECT);
      expect(wrong.status).to.equal(401);
      expect(wrong.body).to.include('That code is not valid');
      const done = await agent.submit(wrong, '/second-factor', { code: totpCode(secret, Date.now() + STEP_MS) }, REDIRECT);
      const claims = await idToken(spa, flow, done);
      expect(claims.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
      expect(claims.acr).to.equal('urn:idp:acr:mfa');
      expect(claims.sub).to.equal(user.id);
      // The shared session list records it too (CONTRACT §5).
      const [session] = await env.server.deps.sessions.list(user.id);
      expect(session?.kind).to.equal('oidc');
      expect(session?.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    });

    it('after five wrong codes the sign-in starts again from the password', async () => {
      const { user } = await withTotp('walt');
      const agent = new UserAgent();
      const flow = await start(agent, spa);
      let page = await agent.submit(flow.page, '/login', { login: user.username, password: user.password }, REDIRECT);
      for (let i = 0; i < 4; i += 1) page = await agent.submit(page, '/second-factor', { code: 'aaaaa-bbbbb' }, REDIRECT);
      expect(isCodePage(page)).to.equal(true);
      page = await agent.submit(page, '/second-factor', { code: 'aaaaa-bbbbb' }, REDIRECT);
      expect(page.body).to.include('name="password"');
      expect(page.body).to.include('Too many wrong codes');
    });

    it('steps up a password-only session for acr_values=urn:idp:acr:mfa and for an elapsed max_age, without the password', async () => {
      const user = await env.createUser('sam');
      const agent = new UserAgent();
      const first = await start(agent, spa);
      const signedIn = await agent.submit(first.page, '/login', { login: user.username, password: user.password }, REDIRECT);
      expect((await idToken(spa, first, signedIn)).acr).to.equal('urn:idp:acr:pwd');

      // The user turns TOTP on later; the SSO session still says "password only".
      const { secret } = await env.server.deps.mfa.startTotp(user.id, user.email);
      await env.server.deps.mfa.confirmTotp(user.id, totpCode(secret), { door: 'cli' });

      const plain = await start(agent, spa);
      expect((await idToken(spa, plain, plain.page)).acr).to.equal('urn:idp:acr:pwd');

      const stepUp = await start(agent, spa, { acr_values: 'urn:idp:acr:mfa' });
      expect(isCodePage(stepUp.page), stepUp.page.body.slice(0, 800)).to.equal(true);
      expect(stepUp.page.body).to.not.include('name="password"');
      const done = await agent.submit(stepUp.page, '/second-factor', { code: totpCode(secret, Date.now() + STEP_MS) }, REDIRECT);
      const claims = await idToken(spa, stepUp, done);
      expect(claims.acr).to.equal('urn:idp:acr:mfa');
      expect(claims.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
      const sessions = await env.server.deps.sessions.list(user.id);
      expect(sessions.map((item) => item.amr)).to.deep.equal([['pwd', 'otp', 'mfa']]);

      const recovery = await env.server.deps.mfa.regenerateRecoveryCodes(user.id, user.password, { door: 'cli' });
      // max_age=0 is prompt=login (a new sign-in); a max_age that has elapsed is the step-up case.
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const aged = await start(agent, spa, { max_age: '1' });
      expect(isCodePage(aged.page), aged.page.body.slice(0, 800)).to.equal(true);
      const again = await agent.submit(aged.page, '/second-factor', { code: recovery[0] as string }, REDIRECT);
      expect((await idToken(spa, aged, again)).acr).to.equal('urn:idp:acr:mfa');
    });

    it('sends a user MFA_POLICY names to enrol (QR code inline, recovery codes once), then signs them in with mfa', async () => {
      const user = await env.createUser('audrey', ['auditor']);
      const agent = new UserAgent();
      const flow = await start(agent, spa);
      const enrol = await agent.submit(flow.page, '/login', { login: user.username, password: user.password }, REDIRECT);
      expect(enrol.url).to.match(/\/enrol$/);
      expect(enrol.body).to.match(/<svg[^>]*>/);
      expect(enrol.body).to.not.match(/<img|https?:\/\/(?!www\.w3\.org)/);
      const secret = /id="totp-secret">([A-Z2-7 ]+)</.exec(enrol.body)?.[1]?.replace(/ /g, '');
      expect(secret).to.match(/^[A-Z2-7]{32}$/);
      const wrong = await agent.submit(enrol, '/enrol', { code: '000000' === totpCode(secret as string) ? '111111' : '000000' }, REDIRECT);
      expect(wrong.status).to.equal(400);
      expect(wrong.body).to.include(secret?.slice(0, 4));
      const codes = await agent.submit(wrong, '/enrol', { code: totpCode(secret as string) }, REDIRECT);
      expect(codes.body.match(/<li><code>[a-z0-9]{5}-[a-z0-9]{5}<\/code><\/li>/g)).to.have.length(10);
      const done = await agent.submit(codes, '/enrol/done', {}, REDIRECT);
      const claims = await idToken(spa, flow, done);
      expect(claims.acr).to.equal('urn:idp:acr:mfa');
      expect(claims.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
      expect((await env.server.deps.mfa.status(user.id)).totp).to.equal(true);
    });
  });
}
