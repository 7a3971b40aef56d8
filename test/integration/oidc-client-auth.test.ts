/**
 * Clients that authenticate with keys (CONTRACT §4): inline `jwks` accepted by the admin API, a `jwks_uri` on
 * a loopback, private or link-local address refused at registration, and the reason of every failed client
 * authentication logged (never the secret or the assertion).
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { startServerWith, type TestServer } from '../helpers/app.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { call, createUser, login } from '../helpers/admin-api.ts';
import { captureLogs, type LogCapture } from '../helpers/log-capture.ts';

const PASSWORD = 'correct horse battery';
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
type Issues = { detail: { loc: (string | number)[]; msg: string }[] };

describe('OIDC client keys and client authentication failures (embedded)', function () {
  this.timeout(60_000);
  let db: TestDatabase;
  let server: TestServer;
  let logs: LogCapture;
  let token: string;
  let key: CryptoKey;
  let publicJwk: Record<string, unknown>;

  const admin = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => call<T>(server, method, path, { token, body });

  before(async function () {
    db = await createTestDatabase('sqlite', { mocha: this });
    logs = captureLogs('info');
    server = await startServerWith({ databaseUrl: db.url, store: 'memory', logger: logs.logger });
    await createUser(server, { email: 'root@example.com', username: 'root', password: PASSWORD, roles: ['idp_admin'] });
    token = await login(server, 'root', PASSWORD);
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', use: 'sig', alg: 'ES256' };
  });
  after(async () => {
    await server?.close();
    await db?.drop();
  });

  async function assertion(clientId: string, signWith: CryptoKey, claims: { iat?: number; exp?: number; nbf?: number } = {}, kid = 'k1'): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ jti: randomUUID(), ...(claims.nbf ? { nbf: claims.nbf } : {}) })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(server.config.issuer)
      .setIssuedAt(claims.iat ?? now)
      .setExpirationTime(claims.exp ?? now + 60);
    return jwt.sign(signWith);
  }

  async function tokenRequest(form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${server.config.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ grant_type: 'client_credentials', ...form }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  function failureLines(): Record<string, unknown>[] {
    return logs.lines().filter((line) => line.msg === 'client authentication failed');
  }

  describe('registration through the admin API', () => {
    for (const uri of ['https://127.0.0.1/jwks', 'https://[::1]:8443/jwks', 'https://10.1.2.3/jwks', 'http://169.254.169.254/latest/meta-data', 'https://localhost/jwks']) {
      it(`refuses jwks_uri ${uri} with 422 naming jwks_uri`, async () => {
        const res = await admin<Issues>('POST', '/admin/api/clients', {
          client_name: 'Key client',
          token_endpoint_auth_method: 'private_key_jwt',
          grant_types: ['client_credentials'],
          response_types: [],
          redirect_uris: [],
          jwks_uri: uri,
        });
        expect(res.status).to.equal(422);
        expect(res.body.detail[0]?.loc).to.deep.equal(['body', 'jwks_uri']);
        expect(res.body.detail[0]?.msg).to.match(/^jwks_uri must not point at a loopback, private or link-local address: /);
      });
    }

    it('refuses an internal jwks_uri in a PATCH too', async () => {
      const created = await admin<{ client_id: string }>('POST', '/admin/api/clients', {
        client_name: 'Patched', token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], jwks: { keys: [publicJwk] },
      });
      expect(created.status).to.equal(201);
      const res = await admin<Issues>('PATCH', `/admin/api/clients/${created.body.client_id}`, { jwks: null, jwks_uri: 'https://127.0.0.1:9/jwks' });
      expect(res.status).to.equal(422);
      expect(res.body.detail[0]?.loc).to.deep.equal(['body', 'jwks_uri']);
    });

    it('refuses inline jwks holding a private key, and malformed ones', async () => {
      const pair = await generateKeyPair('ES256', { extractable: true });
      const priv = await admin<Issues>('POST', '/admin/api/clients', {
        client_name: 'Leaky', token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], jwks: { keys: [await exportJWK(pair.privateKey)] },
      });
      expect(priv.status).to.equal(422);
      expect(priv.body.detail[0]).to.deep.include({ loc: ['body', 'jwks'], msg: 'client JSON Web Key Set is invalid: jwks.keys[0].d must not be provided for EC keys' });
      const malformed = await admin<Issues>('POST', '/admin/api/clients', { client_name: 'Bad', redirect_uris: [], jwks: { keys: 'nope' } });
      expect(malformed.status).to.equal(422);
    });
  });

  describe('private_key_jwt with inline jwks', () => {
    let clientId: string;

    before(async () => {
      const created = await admin<{ client_id: string; has_secret: boolean; jwks: unknown }>('POST', '/admin/api/clients', {
        client_name: 'Key client',
        token_endpoint_auth_method: 'private_key_jwt',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        jwks: { keys: [publicJwk] },
      });
      expect(created.status).to.equal(201);
      expect(created.body.has_secret).to.equal(false);
      expect(created.body.jwks).to.deep.equal({ keys: [publicJwk] });
      clientId = created.body.client_id;
    });

    beforeEach(() => logs.clear());

    it('authenticates with an assertion signed by the registered key', async () => {
      const res = await tokenRequest({ client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(clientId, key) });
      expect(res.status).to.equal(200);
      expect(res.body.access_token).to.be.a('string');
      expect(failureLines()).to.deep.equal([]);
    });

    const cases: { name: string; reason: string; make: (id: string) => Promise<string> }[] = [
      { name: 'an expired assertion', reason: 'assertion_expired', make: (id) => assertion(id, key, { iat: Math.floor(Date.now() / 1000) - 600, exp: Math.floor(Date.now() / 1000) - 300 }) },
      { name: 'an assertion not valid yet (clock skew)', reason: 'clock_skew', make: (id) => assertion(id, key, { nbf: Math.floor(Date.now() / 1000) + 600, exp: Math.floor(Date.now() / 1000) + 900 }) },
      { name: 'an assertion signed with an unknown key id', reason: 'unknown_key', make: async (id) => assertion(id, (await generateKeyPair('ES256')).privateKey, {}, 'other-key') },
      { name: 'an assertion signed with another key under the registered kid', reason: 'bad_signature', make: async (id) => assertion(id, (await generateKeyPair('ES256')).privateKey) },
    ];
    for (const { name, reason, make } of cases) {
      it(`answers invalid_client to ${name} and logs the reason ${reason}, without the assertion`, async () => {
        const signed = await make(clientId);
        const res = await tokenRequest({ client_assertion_type: ASSERTION_TYPE, client_assertion: signed });
        expect(res.status).to.equal(401);
        expect(res.body.error).to.equal('invalid_client');
        const [line, ...more] = failureLines();
        expect(more).to.deep.equal([]);
        expect(line).to.include({ client_id: clientId, auth_method: 'private_key_jwt', reason, level: 'warn' });
        expect(logs.text()).not.to.include(signed.split('.')[2]);
        expect(logs.text()).not.to.include(signed.split('.')[1]);
      });
    }
  });

  it('logs a key set that cannot be fetched (a client saved before the jwks_uri rule) as jwks_unavailable', async () => {
    const clientId = 'legacy-key-client';
    await server.deps.models.OidcClient.create({
      clientId,
      metadata: { client_name: 'Old', token_endpoint_auth_method: 'private_key_jwt', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], jwks_uri: 'http://127.0.0.1:9/jwks' },
      secretHash: null,
      firstParty: false,
    });
    logs.clear();
    const res = await tokenRequest({ client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(clientId, key) });
    expect(res.status).to.be.within(400, 401);
    const [line] = failureLines();
    expect(line).to.include({ client_id: clientId, reason: 'jwks_unavailable' });
    expect(line?.detail).to.be.a('string').and.not.equal('');
  });

  describe('client secrets', () => {
    it('logs a bad secret as such, never the secret', async () => {
      const created = await admin<{ client_id: string; client_secret: string }>('POST', '/admin/api/clients', {
        client_name: 'Secret client', grant_types: ['client_credentials'], response_types: [], redirect_uris: [],
      });
      expect(created.status).to.equal(201);
      logs.clear();
      const wrong = `${created.body.client_secret.slice(0, -4)}WXYZ`;
      const basic = (secret: string) => `Basic ${Buffer.from(`${created.body.client_id}:${secret}`).toString('base64')}`;
      const res = await tokenRequest({}, { authorization: basic(wrong) });
      expect(res.status).to.equal(401);
      const [line] = failureLines();
      expect(line).to.include({ client_id: created.body.client_id, auth_method: 'client_secret_basic', reason: 'bad_secret' });
      expect(logs.text()).not.to.include(wrong);
      expect(logs.text()).not.to.include(created.body.client_secret);

      logs.clear();
      expect((await tokenRequest({}, { authorization: `Basic ${Buffer.from('no-such-client:x').toString('base64')}` })).status).to.equal(401);
      expect(failureLines()[0]).to.include({ client_id: 'no-such-client', reason: 'unknown_client' });
    });
  });
});
