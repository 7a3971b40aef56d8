/**
 * Headers and cookies (CONTRACT §6): nosniff on every response; on every page frame-ancestors 'none'
 * and a strict CSP (no inline or remote script); no-store on token responses (legacy and /oidc/token);
 * HSTS when PUBLIC_URL is https; every cookie HttpOnly and SameSite, and Secure on https. Every
 * response of an OIDC sign-in, an admin console sign-in and the legacy logins is recorded and checked.
 */
import { expect } from 'chai';
import * as oidc from 'openid-client';
import { ALL_PROFILES, PROFILE_ADAPTERS, legacyClient } from '../helpers/legacy-client.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { CLIENTS, authorize, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

const HTTPS_URL = 'https://idp.example.test';

interface Seen {
  method: string;
  url: string;
  status: number;
  headers: Headers;
}

/**
 * Wraps the global fetch for the duration of a test: records every response to the server and, for
 * the https case, plays the TLS-terminating proxy (X-Forwarded-Proto, and PUBLIC_URL links sent to
 * the test server).
 */
function recordFetch(serverUrl: string, httpsProxy: boolean, forwardedHeaders: boolean): { seen: Seen[]; restore(): void } {
  const original = globalThis.fetch;
  const seen: Seen[] = [];
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    let url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    if (httpsProxy && url.startsWith(HTTPS_URL)) url = serverUrl + url.slice(HTTPS_URL.length);
    // Without forwarded headers the server builds https URLs on the Host it was sent: the proxy's job to serve.
    const tlsTwin = serverUrl.replace(/^http:/, 'https:');
    if (httpsProxy && url.startsWith(tlsTwin)) url = serverUrl + url.slice(tlsTwin.length);
    if (httpsProxy && forwardedHeaders && url.startsWith(serverUrl)) {
      headers.set('x-forwarded-proto', 'https');
      headers.set('x-forwarded-host', new URL(HTTPS_URL).host);
    }
    const request = input instanceof Request ? new Request(url, input) : url;
    const response = await original(request, { ...init, headers });
    if (url.startsWith(serverUrl)) seen.push({ method: init?.method ?? 'GET', url: url.slice(serverUrl.length), status: response.status, headers: response.headers });
    return response;
  };
  return {
    seen,
    restore() {
      globalThis.fetch = original;
    },
  };
}

function directives(csp: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const part of csp.split(';').map((p) => p.trim()).filter(Boolean)) {
    const [name = '', ...values] = part.split(/\s+/);
    map.set(name.toLowerCase(), values);
  }
  return map;
}

/** Swagger UI (the legacy API docs) sets inline styles; its scripts are still 'self' only. */
const INLINE_STYLES_ALLOWED = /\/docs$/;

function expectStrictPage(response: Seen): void {
  const what = `${response.method} ${response.url} (${response.status})`;
  const csp = response.headers.get('content-security-policy');
  expect(csp, `${what}: CSP`).to.be.a('string');
  const policy = directives(csp!);
  expect(policy.get('frame-ancestors'), what).to.deep.equal(["'none'"]);
  expect(policy.get('default-src'), what).to.deep.equal(["'self'"]);
  expect(policy.get('object-src'), what).to.deep.equal(["'none'"]);
  expect(policy.get('base-uri'), `${what}: base-uri`).to.satisfy((v: string[] | undefined) => v !== undefined && v.every((s) => s === "'none'" || s === "'self'"));
  const scripts = policy.get('script-src') ?? policy.get('default-src')!;
  for (const source of scripts) expect(source, `${what}: script-src`).to.match(/^('self'|'sha256-[A-Za-z0-9+/=]+'|'nonce-[A-Za-z0-9+/=_-]+')$/);
  if (!INLINE_STYLES_ALLOWED.test(response.url)) expect(policy.get('style-src') ?? [], `${what}: style-src`).to.not.include("'unsafe-inline'");
  expect(response.headers.get('x-frame-options'), what).to.equal('DENY');
}

function cookiesOf(seen: Seen[]): { url: string; cookie: string }[] {
  return seen.flatMap((response) => response.headers.getSetCookie().map((cookie) => ({ url: response.url, cookie })));
}

function attributes(cookie: string): Set<string> {
  return new Set(cookie.split(';').slice(1).map((part) => part.trim().split('=')[0]!.toLowerCase()));
}

const MODES = [
  { name: 'http', https: false, trustProxy: false },
  { name: 'https (behind a trusted TLS proxy sending X-Forwarded-Proto)', https: true, trustProxy: true },
  { name: 'https (TLS ended before us, TRUST_PROXY unset, no forwarded headers)', https: true, trustProxy: false },
];

for (const { name, https, trustProxy } of MODES) {
  describe(`security headers and cookies, PUBLIC_URL ${name}`, function () {
    this.timeout(40_000);
    let env: OidcEnv;
    let recording: ReturnType<typeof recordFetch>;

    before(async function () {
      this.timeout(60_000);
      env = await startOidcEnv({
        database: 'sqlite',
        store: 'memory',
        mocha: this,
        env: { COMPAT_PROFILES: ALL_PROFILES, ...(https ? { PUBLIC_URL: HTTPS_URL, TRUST_PROXY: String(trustProxy) } : {}) },
      });
      recording = recordFetch(env.server.url, https, trustProxy);

      // Everything a browser and a legacy client would do, recorded.
      const base = https ? HTTPS_URL : env.server.url;
      const spa = await env.discover('spa');
      const user = { login: env.user.username, password: env.user.password };
      const run = await authorize(new UserAgent(), spa, { redirectUri: CLIENTS.spa.redirect_uris[0], scope: 'openid offline_access', user });
      const tokens = await oidc.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
      await oidc.refreshTokenGrant(spa, tokens.refresh_token!);
      await oidc.clientCredentialsGrant(await env.discover('service'));

      const console_ = new UserAgent();
      const signIn = await console_.open(`${base}/admin/login`);
      const root = await env.createUser('root', ['idp_admin']);
      const home = await console_.submit(signIn, '/login', { login: root.username, password: root.password });
      expect(home.status, home.body.slice(0, 300)).to.equal(200);
      await console_.open(`${base}/oidc/session/end`);

      for (const profile of PROFILE_ADAPTERS) {
        const api = legacyClient(env.server.url, profile);
        const signedIn = await api.signedIn('headers');
        await api.post('/refresh', { json: { refresh_token: signedIn.tokens.refresh } });
        await api.post('/login', { json: profile.loginBody(signedIn.user, 'wrong-password') });
        await api.get('/me', { token: signedIn.tokens.access });
        await api.get('/reset-password?token=x');
        await api.get('/docs');
      }
      await fetch(`${env.server.url}/no-such-page`);
      await fetch(`${env.server.url}/healthz`);
    });
    after(async () => {
      recording?.restore();
      await env?.close();
    });

    it('sends nosniff on every response', () => {
      expect(recording.seen.length).to.be.above(40);
      for (const response of recording.seen) expect(response.headers.get('x-content-type-options'), `${response.method} ${response.url}`).to.equal('nosniff');
    });

    it("forbids framing on every response, pages or JSON, and lets no JSON response load anything", () => {
      for (const response of recording.seen) {
        const where = `${response.method} ${response.url}`;
        expect(response.headers.get('x-frame-options'), where).to.equal('DENY');
        const csp = directives(response.headers.get('content-security-policy') ?? '');
        expect(csp.get('frame-ancestors'), where).to.deep.equal(["'none'"]);
        if ((response.headers.get('content-type') ?? '').includes('json')) expect(csp.get('default-src'), where).to.deep.equal(["'none'"]);
      }
    });

    it("sends frame-ancestors 'none' and a strict CSP with every page", () => {
      const pages = recording.seen.filter((r) => (r.headers.get('content-type') ?? '').startsWith('text/html'));
      const paths = pages.map((p) => p.url.split('?')[0]);
      expect(paths.some((p) => p?.startsWith('/interaction/')), 'the login page').to.equal(true);
      expect(paths.some((p) => p?.startsWith('/admin')), 'an admin console page').to.equal(true);
      expect(paths.some((p) => p?.endsWith('/reset-password')), 'the legacy reset page').to.equal(true);
      expect(paths.some((p) => p?.startsWith('/oidc/session/end')), "the provider's own page").to.equal(true);
      for (const page of pages) expectStrictPage(page);
    });

    it('marks every token response no-store, legacy and /oidc/token alike', () => {
      const tokenResponses = recording.seen.filter((r) => /\/(login|refresh)$/.test(r.url) || r.url === '/oidc/token');
      // The relying party's code and refresh grants, client credentials, and the admin console's own code grant.
      expect(tokenResponses.filter((r) => r.url === '/oidc/token').length).to.be.at.least(4);
      expect(tokenResponses.length).to.be.at.least(3 + PROFILE_ADAPTERS.length * 3);
      for (const response of tokenResponses) expect(response.headers.get('cache-control'), `${response.method} ${response.url} ${response.status}`).to.include('no-store');
    });

    it(`${https ? 'sends' : 'does not send'} HSTS`, () => {
      for (const response of recording.seen) {
        const hsts = response.headers.get('strict-transport-security');
        if (https) expect(hsts, response.url).to.match(/^max-age=(\d+)/).and.satisfy((v: string) => Number(/max-age=(\d+)/.exec(v)![1]) >= 15_552_000);
        else expect(hsts, response.url).to.equal(null);
      }
    });

    it(`sets every cookie HttpOnly and SameSite${https ? ', and Secure' : ''}`, () => {
      const cookies = cookiesOf(recording.seen);
      const names = new Set(cookies.map((c) => c.cookie.split('=')[0]));
      for (const expected of ['_interaction', '_interaction_resume', '_session', 'idp_admin_login', 'idp_admin']) expect([...names], expected).to.include(expected);
      for (const { url, cookie } of cookies) {
        const attrs = attributes(cookie);
        expect(attrs.has('httponly'), `${cookie} from ${url}`).to.equal(true);
        expect(/;\s*samesite=(lax|strict)/i.test(cookie), `${cookie} from ${url}`).to.equal(true);
        expect(attrs.has('secure'), `${cookie} from ${url}`).to.equal(https);
      }
    });
  });
}
