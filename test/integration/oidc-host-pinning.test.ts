/**
 * Host header injection (CONTRACT §4): every URL the provider builds uses PUBLIC_URL's origin, whatever
 * Host or X-Forwarded-Host the request carries, with and without TRUST_PROXY.
 */
import http from 'node:http';
import { expect } from 'chai';
import { CLIENTS, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with headers fetch() will not send as given (Host). */
function rawGet(url: string, headers: Record<string, string>): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('error', reject);
  });
}

/** Every absolute URL in a discovery document. */
function urlsIn(document: Record<string, unknown>): string[] {
  return Object.values(document).filter((value): value is string => typeof value === 'string' && /^https?:\/\//.test(value));
}

const FORGED: { name: string; headers: Record<string, string> }[] = [
  { name: 'a forged Host', headers: { host: 'evil.example' } },
  { name: 'a forged X-Forwarded-Host and X-Forwarded-Proto', headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' } },
];

for (const trustProxy of [false, true]) {
  describe(`OIDC URLs are pinned to PUBLIC_URL (TRUST_PROXY=${trustProxy})`, function () {
    this.timeout(30_000);
    let env: OidcEnv;

    before(async () => {
      env = await startOidcEnv({ database: 'sqlite', store: 'memory', env: { TRUST_PROXY: String(trustProxy) } });
    });
    after(async () => env?.close());

    for (const forged of FORGED) {
      it(`lists only PUBLIC_URL-based endpoints in discovery with ${forged.name}`, async () => {
        const response = await rawGet(`${env.issuer}/.well-known/openid-configuration`, forged.headers);
        expect(response.status).to.equal(200);
        const document = JSON.parse(response.body) as Record<string, unknown>;
        const urls = urlsIn(document);
        expect(urls).to.include.members([`${env.issuer}/jwks`, `${env.issuer}/token`, `${env.issuer}/auth`, `${env.issuer}/session/end`]);
        for (const url of urls) expect(url.startsWith(`${env.server.config.publicUrl}/`), url).to.equal(true);
        expect(response.body).not.to.include('evil.example');
      });

      it(`redirects the authorization request to a PUBLIC_URL interaction page with ${forged.name}`, async () => {
        const query = new URLSearchParams({
          client_id: CLIENTS.spa.client_id,
          redirect_uri: CLIENTS.spa.redirect_uris[0],
          response_type: 'code',
          scope: 'openid',
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        });
        const response = await rawGet(`${env.issuer}/auth?${query}`, forged.headers);
        expect(response.status).to.be.oneOf([302, 303]);
        const location = new URL(String(response.headers.location), env.server.url);
        expect(location.origin).to.equal(new URL(env.server.config.publicUrl).origin);
        expect(location.pathname).to.match(/^\/interaction\//);
        expect(JSON.stringify(response.headers)).not.to.include('evil.example');
      });
    }
  });
}
