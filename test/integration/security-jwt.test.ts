/**
 * JWT attacks on every bearer route (legacy mounts, admin API, OIDC userinfo): `alg: none`, HS256 signed
 * with the public key, an edited payload, unknown and injected `kid`s, `jku`/`x5u`/`jwk` headers (a
 * listening server proves they are never fetched), expired, wrong issuer, an ID-token-shaped JWT with
 * `aud`, a real OIDC ID token, and refresh tokens — every one refused with 401, and none of them ends
 * the session of the token it was made from.
 */
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, importJWK, decodeJwt } from 'jose';
import type { CryptoKey, JWK, JWTHeaderParameters } from 'jose';
import * as oidc from 'openid-client';
import { ROUTES } from '../../src/http/legacy/operations.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, UNIFORM_OPTIONS, legacyClient } from '../helpers/legacy-client.ts';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { CLIENTS, authorize, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

const LISTENER_PORT = 7703;
/** A mount signing with the retired service's SECRET_KEY (CONTRACT §3 `token.signing: HS256`). */
const HS_PREFIX = '/hs/aurora';
const HS_SECRET = 'the-retired-services-SECRET_KEY-0123456789';
const HS_MOUNT = { prefix: HS_PREFIX, profile: 'aurora', ...UNIFORM_OPTIONS, token: { signing: 'HS256', secret_env: 'JWT_TEST_HS_SECRET' } };
const ADMIN_SOURCES = path.resolve(import.meta.dirname, '../../src/http/admin');

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

interface BearerRoute {
  method: string;
  url: string;
  body?: unknown;
  kind: 'legacy' | 'envelope' | 'admin' | 'userinfo';
  /** Logout with revoke_all_sessions: with the genuine token it would end every session. */
  destructive?: boolean;
  /** At the HS256 mount: its genuine token is the HS256 one. */
  hs?: boolean;
}

function adminRoutes(base: string): BearerRoute[] {
  const routes: BearerRoute[] = [];
  for (const file of readdirSync(ADMIN_SOURCES).filter((name) => name.endsWith('.ts'))) {
    const text = readFileSync(path.join(ADMIN_SOURCES, file), 'utf8');
    for (const match of text.matchAll(/router\.(get|post|put|patch|delete)\('([^']+)'/g)) {
      const route = match[2]!.replace(/:[A-Za-z]+/g, '00000000-0000-4000-8000-000000000000');
      const method = match[1]!.toUpperCase();
      routes.push({ method, url: `${base}/admin/api${route}`, body: method === 'GET' ? undefined : {}, kind: 'admin' });
    }
  }
  return routes;
}

function legacyRoutes(base: string): BearerRoute[] {
  const bodies: Record<string, unknown> = {
    updateMe: { full_name: 'Attacked Name' },
    changePassword: { current_password: 'not-the-password', new_password: 'attacker-password' },
    logout: { revoke_all_sessions: true },
  };
  return [...PROFILE_ADAPTERS, { prefix: HS_PREFIX, envelope: false }].flatMap((profile) =>
    ROUTES.filter((route) => route.auth !== 'none').map((route) => ({
      method: route.method.toUpperCase(),
      url: `${base}${profile.prefix}${route.path.replace(':session_id', 'no-such-session')}`,
      body: bodies[route.op],
      kind: profile.envelope ? ('envelope' as const) : ('legacy' as const),
      destructive: route.op === 'logout',
      hs: profile.prefix === HS_PREFIX,
    })),
  );
}

async function call(route: BearerRoute, token: string): Promise<{ status: number; body: unknown; headers: Headers }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (route.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(route.url, { method: route.method, headers, body: route.body === undefined ? undefined : JSON.stringify(route.body) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

function expectRefused(route: BearerRoute, attack: string, res: { status: number; body: unknown; headers: Headers }): void {
  const what = `${attack} at ${route.method} ${route.url}`;
  // Logout asks to end every session: without a usable token there is no one to end them for (401).
  switch (route.kind) {
    case 'userinfo':
      expect(res.status, what).to.equal(401);
      expect((res.body as { error?: string }).error, what).to.equal('invalid_token');
      return;
    default:
      expect(res.status, what).to.equal(401);
      expect(res.body, what).to.deep.equal({ detail: 'Could not validate credentials' });
  }
  expect(res.headers.get('www-authenticate'), what).to.equal('Bearer');
}

describe('JWT attacks on every bearer route', function () {
  this.timeout(60_000);
  let env: OidcEnv;
  let listener: http.Server;
  const fetched: string[] = [];
  let routes: BearerRoute[];
  let valid: string;
  let oidcTokens: { id: string; access: string; refresh: string };
  let legacyRefresh: string;
  let hsValid: string;

  before(async function () {
    this.timeout(60_000);
    listener = http.createServer((req, res) => {
      fetched.push(`${req.method} ${req.url}`);
      res.setHeader('content-type', 'application/json');
      res.end('{"keys":[]}');
    });
    await new Promise<void>((resolve) => listener.listen(LISTENER_PORT, '127.0.0.1', resolve));
    const mounts = [...(JSON.parse(ALL_PROFILES) as object[]), HS_MOUNT];
    env = await startOidcEnv({ database: 'postgres', store: 'redis', mocha: this, env: { COMPAT_PROFILES: JSON.stringify(mounts), JWT_TEST_HS_SECRET: HS_SECRET } });
    const base = env.server.url;
    routes = [...legacyRoutes(base), ...adminRoutes(base), { method: 'GET', url: `${base}/oidc/me`, kind: 'userinfo' }];

    // alice (an admin) signs in at the legacy door and through OIDC.
    const api = legacyClient(base, PROFILE_ADAPTERS[0]!);
    const pair = await api.login({ username: env.user.username, email: env.user.email, password: env.user.password });
    valid = pair.access;
    legacyRefresh = pair.refresh;
    hsValid = (await legacyClient(base, { ...PROFILE_ADAPTERS[1]!, prefix: HS_PREFIX }).login({ username: env.user.username, email: env.user.email, password: env.user.password })).access;
    const spa = await env.discover('spa');
    const run = await authorize(new UserAgent(), spa, {
      redirectUri: CLIENTS.spa.redirect_uris[0],
      scope: 'openid profile offline_access',
      user: { login: env.user.username, password: env.user.password },
    });
    const tokens = await oidc.authorizationCodeGrant(spa, run.callback, { pkceCodeVerifier: run.verifier, expectedState: run.state, expectedNonce: run.nonce });
    oidcTokens = { id: tokens.id_token!, access: tokens.access_token, refresh: tokens.refresh_token! };
  });
  after(async () => {
    await env?.close();
    await new Promise<void>((resolve) => (listener ? listener.close(() => resolve()) : resolve()));
  });

  it('accepts the genuine tokens (the control)', async () => {
    // Not logout: with the genuine token it would end every session (the attacks below ask for exactly that).
    for (const route of routes.filter((r) => !r.destructive)) {
      const token = route.kind === 'userinfo' ? oidcTokens.access : route.hs ? hsValid : valid;
      const res = await call(route, token);
      expect(res.status, `${route.method} ${route.url}`).to.not.equal(401);
      expect(res.status, `${route.method} ${route.url}`).to.be.below(500);
    }
  });

  it('refuses every forged, altered, expired, foreign or misused token', async () => {
    await env.server.deps.accounts.updateProfile(env.user.id, { fullName: 'Before The Attacks' }, { door: 'test' });
    const keySet = await env.server.deps.keys.load();
    const es256 = keySet.signing.ES256;
    const rs256 = keySet.signing.RS256;
    const publicJwk = keySet.publicJwks.keys.find((jwk) => jwk.kid === es256.kid) as JWK;
    const rsaPublicJwk = keySet.publicJwks.keys.find((jwk) => jwk.kid === rs256.kid) as JWK;
    const publicPem = await exportSPKI((await importJWK(publicJwk, 'ES256', { extractable: true })) as CryptoKey);
    const rsaPem = await exportSPKI((await importJWK(rsaPublicJwk, 'RS256', { extractable: true })) as CryptoKey);
    const attacker = await generateKeyPair('ES256', { extractable: true });
    const attackerJwk = { ...(await exportJWK(attacker.publicKey)), kid: 'attacker', alg: 'ES256', use: 'sig' };

    const claims = decodeJwt(valid);
    const hsClaims = decodeJwt(hsValid);
    const secret = new TextEncoder().encode(HS_SECRET);
    const hsAttacks = async (): Promise<Record<string, string>> => {
      const [, hsPayload] = hsValid.split('.');
      const mac = (header: object, payload: string) => {
        const input = `${b64(header)}.${payload}`;
        return `${input}.${createHmac('sha256', HS_SECRET).update(input).digest('base64url')}`;
      };
      return {
        'secret-signed, header says ES256 with the real kid': mac({ alg: 'ES256', kid: es256.kid, typ: 'JWT' }, hsPayload!),
        'secret-signed, header says none': mac({ alg: 'none', typ: 'JWT' }, hsPayload!),
        'HS384 with the secret': await new SignJWT(hsClaims).setProtectedHeader({ alg: 'HS384', typ: 'JWT' }).sign(secret),
        'HS256 with the secret, the key-set issuer': await signWith(secret, { alg: 'HS256' }, { ...hsClaims, iss: env.server.config.issuer }),
        'HS256 with the secret, the claims of a key-set token': await signWith(secret, { alg: 'HS256' }, claims),
        'HS256 with the secret, expired': await signWith(secret, { alg: 'HS256' }, { ...hsClaims, iat: now - 7200, exp: now - 3600 }),
        'HS256 with the secret, a session that does not exist': await signWith(secret, { alg: 'HS256' }, { ...hsClaims, sid: 'nope', session_id: 'nope' }),
        'HS256 keyed with the public JWK, the mount claims': await signWith(new TextEncoder().encode(JSON.stringify(publicJwk)), { alg: 'HS256' }, hsClaims),
        'alg none with the mount claims': `${b64({ alg: 'none', typ: 'JWT' })}.${hsPayload}.`,
      };
    };
    const now = Math.floor(Date.now() / 1000);
    const [validHeader, , validSignature] = valid.split('.');
    const url = `http://127.0.0.1:${LISTENER_PORT}`;

    const signWith = (key: CryptoKey | Uint8Array, header: Record<string, unknown>, payload: Record<string, unknown> = claims) =>
      new SignJWT(payload).setProtectedHeader({ typ: 'JWT', ...header } as JWTHeaderParameters).sign(key);
    const hmac = (secret: string, kid: string) => signWith(new TextEncoder().encode(secret), { alg: 'HS256', kid });
    const otherUser = await env.createUser('jwtvictim', []);

    const attacks: Record<string, string> = {
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
      'alg None with the real kid': `${b64({ alg: 'None', kid: es256.kid, typ: 'JWT' })}.${b64(claims)}.`,
      'alg none keeping the signature': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.${validSignature}`,
      'HS256 keyed with the public JWK': await hmac(JSON.stringify(publicJwk), es256.kid),
      'HS256 keyed with the public PEM': await hmac(publicPem, es256.kid),
      'HS256 keyed with the RSA public PEM': await hmac(rsaPem, rs256.kid),
      'payload edited to another user': `${validHeader}.${b64({ ...claims, sub: otherUser.id })}.${validSignature}`,
      'payload edited to more roles': `${validHeader}.${b64({ ...claims, roles: ['admin', 'superuser'] })}.${validSignature}`,
      'signature removed': `${validHeader}.${b64(claims)}`,
      'unknown kid': await signWith(attacker.privateKey, { alg: 'ES256', kid: 'attacker' }),
      'real kid, attacker key': await signWith(attacker.privateKey, { alg: 'ES256', kid: es256.kid }),
      'path traversal kid': await signWith(attacker.privateKey, { alg: 'ES256', kid: '../../../../../../dev/null' }),
      'SQL kid': await signWith(attacker.privateKey, { alg: 'ES256', kid: "' UNION SELECT 'attacker' --" }),
      'jku header': await signWith(attacker.privateKey, { alg: 'ES256', kid: 'attacker', jku: `${url}/jwks.json` }),
      'x5u header': await signWith(attacker.privateKey, { alg: 'ES256', kid: 'attacker', x5u: `${url}/cert.pem` }),
      'embedded jwk header': await signWith(attacker.privateKey, { alg: 'ES256', jwk: attackerJwk }),
      'embedded jwk with the real kid': await signWith(attacker.privateKey, { alg: 'ES256', kid: es256.kid, jwk: attackerJwk }),
      expired: await signWith(es256.key, { alg: 'ES256', kid: es256.kid }, { ...claims, iat: now - 7200, exp: now - 3600 }),
      'wrong issuer': await signWith(es256.key, { alg: 'ES256', kid: es256.kid }, { ...claims, iss: 'https://evil.example/oidc' }),
      'not yet valid': await signWith(es256.key, { alg: 'ES256', kid: es256.kid }, { ...claims, nbf: now + 3600 }),
      'ID-token-shaped (aud) with the same key': await signWith(es256.key, { alg: 'ES256', kid: es256.kid }, { ...claims, aud: CLIENTS.spa.client_id, nonce: 'n', auth_time: now }),
      'ID-token-shaped with the RS256 key': await signWith(rs256.key, { alg: 'RS256', kid: rs256.kid }, { ...claims, aud: CLIENTS.spa.client_id }),
      'a real OIDC ID token': oidcTokens.id,
      'an OIDC refresh token': oidcTokens.refresh,
      'a legacy refresh token': legacyRefresh,
      'garbage': 'x'.repeat(4000),
      // The HS256 mount's own secret, misused: the mount picks HS256 and its issuer, never the header.
      ...(await hsAttacks()),
    };
    // The OIDC access token is opaque and belongs to userinfo, not to the legacy or admin routes.
    const elsewhere: Record<string, string> = { 'an OIDC access token': oidcTokens.access };

    for (const [attack, token] of Object.entries(attacks)) {
      for (const route of routes) expectRefused(route, attack, await call(route, token));
    }
    for (const [attack, token] of Object.entries(elsewhere)) {
      for (const route of routes.filter((r) => r.kind !== 'userinfo')) expectRefused(route, attack, await call(route, token));
    }

    expect(fetched, 'requests to the jku/x5u server').to.deep.equal([]);
    // None of it ended alice's session or changed her.
    const me = await call(routes.find((r) => r.url.endsWith('/auth/me'))!, valid);
    expect(me.status).to.equal(200);
    const account = await env.server.deps.accounts.getById(env.user.id);
    expect(account?.full_name).to.equal('Before The Attacks');
    expect(account?.roles).to.deep.equal(['admin', 'editor']);
  });
  it("lets an HS256 mount's token pass at that mount only, and no legacy token at /oidc", async () => {
    for (const route of routes.filter((r) => !r.destructive)) {
      const res = await call(route, hsValid);
      if (route.hs) expect(res.status, `${route.method} ${route.url}`).to.not.equal(401);
      else expectRefused(route, 'the HS256 mount token elsewhere', res);
    }
    // The key-set token is refused at the HS256 mount and at userinfo.
    for (const route of routes.filter((r) => r.hs || r.kind === 'userinfo')) expectRefused(route, 'a key-set token', await call(route, valid));
    // Introspection knows only the provider's own tokens: a legacy JWT (either signing) is refused as a structured
    // token oidc-provider does not introspect, an opaque legacy refresh token is simply not active.
    const { client_id: id, client_secret: secret } = CLIENTS.confidential;
    for (const token of [valid, hsValid, legacyRefresh]) {
      const res = await fetch(`${env.server.url}/oidc/token/introspection`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }).toString(),
      });
      const body = (await res.json()) as Record<string, unknown>;
      if (token.includes('.')) expect([res.status, body.error]).to.deep.equal([400, 'unsupported_token_type']);
      else expect([res.status, body]).to.deep.equal([200, { active: false }]);
    }
  });
});
