import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { createViews } from '../../src/http/interactions/views.ts';
import { createCsrf } from '../../src/http/interactions/csrf.ts';
import { describeScopes } from '../../src/http/interactions/scope-text.ts';
import { errorMessage } from '../../src/oidc/pages.ts';
import { createI18n } from '../../src/services/i18n.ts';
import { postAsGet } from '../../src/oidc/post-as-get.ts';

const i18n = createI18n({ locales: ['en', 'de'] });
const english = i18n.translator('en');

describe('interaction pages (ejs views)', () => {
  const views = createViews({ i18n });

  it('renders the login form: fields login and password, one submit button, labels, the error as an alert', async () => {
    const html = await views.render('login', { title: 'Sign in', clientName: 'App', action: '/interaction/u1/login', csrf: 'tok', login: 'bob', error: 'Incorrect username or password.' });
    expect(html).to.match(/<html lang="en">/);
    expect(html).to.include('<label for="login">').and.include('<label for="password">');
    expect(html).to.match(/<input id="login" name="login" type="text" value="bob"/);
    expect(html).to.match(/<input id="password" name="password" type="password"/);
    expect(html.match(/type="submit"/g)).to.have.length(1);
    expect(html).to.match(/role="alert" id="form-error"/).and.include('aria-describedby="form-error"');
    expect(html).to.include('name="csrf" value="tok"');
    expect(html).not.to.include('<script');
  });

  it('escapes everything a client or user controls', async () => {
    const evil = '"><script>alert(1)</script>';
    const html = await views.render('consent', {
      title: 'Allow access',
      clientName: evil,
      clientUri: undefined,
      accountName: evil,
      scopes: describeScopes(english, ['openid', evil]),
      claims: [evil],
      action: '/interaction/u1/confirm',
      csrf: 'tok',
    });
    expect(html).not.to.include('<script>');
    expect(html).to.include('&lt;script&gt;');
    expect(html).to.include('name="decision" value="approve"').and.include('name="decision" value="deny"');
  });

  it('describes scopes in words, resource scopes with their API, each once', () => {
    expect(describeScopes(english, ['openid', 'email', 'email', 'notes:read', 'custom'], { 'https://api.example': ['notes:read'] })).to.deep.equal([
      { name: 'openid', text: 'Know who you are (your user ID)' },
      { name: 'email', text: 'See your e-mail address' },
      { name: 'notes:read', text: 'Use https://api.example with permission “notes:read”' },
      { name: 'custom', text: 'Permission “custom”' },
    ]);
  });

  it('words protocol errors for people and never passes on a server error\'s details', () => {
    expect(errorMessage(english, { error: 'server_error', error_description: 'TypeError: x is undefined' })).to.not.include('TypeError');
    expect(errorMessage(english, { error: 'invalid_request', error_description: 'missing required parameter' })).to.equal('missing required parameter');
    expect(errorMessage(english, { error: 'invalid_client', error_description: 'client is invalid' })).to.match(/not known/);
  });
});

describe('interaction CSRF tokens', () => {
  it('accepts the token of the same interaction under any current cookie key, nothing else', () => {
    const csrf = createCsrf(['key-new', 'key-old']);
    const old = createCsrf(['key-old']);
    const token = csrf.token('uid-1');
    expect(csrf.verify('uid-1', token)).to.equal(true);
    expect(csrf.verify('uid-1', old.token('uid-1')), 'a form rendered before a key rotation').to.equal(true);
    expect(csrf.verify('uid-2', token)).to.equal(false);
    expect(csrf.verify('uid-1', undefined)).to.equal(false);
    expect(csrf.verify('uid-1', createCsrf(['other']).token('uid-1'))).to.equal(false);
  });
});

describe('POST to the authorization and end-session endpoints', () => {
  let server: http.Server;
  let base: string;

  before(async () => {
    const app = new Koa();
    app.use(postAsGet(['/auth'], 'https://idp.example/oidc', async (ctx, status, message) => {
      ctx.status = status;
      ctx.body = message;
    }));
    app.use((ctx) => {
      ctx.body = `passed ${ctx.method} ${ctx.path}`;
    });
    server = http.createServer(app.callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const post = (path: string, body: string, type = 'application/x-www-form-urlencoded') =>
    fetch(`${base}${path}`, { method: 'POST', body, headers: { 'content-type': type }, redirect: 'manual' });

  it('answers with a 303 to the same request as a GET (query and form parameters, duplicates kept)', async () => {
    const response = await post('/auth?ui_locales=en', 'client_id=a&scope=openid+email&state=x%26y&client_id=b');
    expect(response.status).to.equal(303);
    expect(response.headers.get('location')).to.equal('https://idp.example/oidc/auth?ui_locales=en&client_id=a&scope=openid+email&state=x%26y&client_id=b');
    expect(response.headers.get('cache-control')).to.equal('no-store');
  });

  it('refuses other content types and bodies over 100 kB, and leaves other routes alone', async () => {
    expect((await post('/auth', '{"client_id":"a"}', 'application/json')).status).to.equal(400);
    expect((await post('/auth', `state=${'x'.repeat(101 * 1024)}`)).status).to.equal(413);
    const other = await post('/token', 'grant_type=x');
    expect(await other.text()).to.equal('passed POST /token');
    expect(await (await fetch(`${base}/auth`)).text()).to.equal('passed GET /auth');
  });
});
