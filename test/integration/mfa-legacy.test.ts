/**
 * Second factors at the legacy door (CONTRACT §9): TOTP enrolment, the two-step login per profile with its
 * exact challenge shape, code replay, recovery codes used once, the mfa_token's five wrong codes, removal,
 * MFA_POLICY refusals; amr on the access token and the session.
 */
import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, field, legacyClient, newUser, type HttpResult, type LegacyClient, type ProfileAdapter, type TestUser } from '../helpers/legacy-client.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import { totpCode } from '../../src/services/mfa/totp.ts';
import { SEALED_PREFIX, SecretBoxError, type SecretBox } from '../../src/services/secret-box.ts';

const STEP_MS = 30_000;

function payload(profile: ProfileAdapter, res: HttpResult, status = 200): Record<string, unknown> {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  if (!profile.envelope) return res.body as Record<string, unknown>;
  expect(field(res.body, 'success')).to.equal(true);
  expect(field(res.body, 'message')).to.equal(null);
  return field(res.body, 'data') as Record<string, unknown>;
}

/** The 401 challenge of a login whose user has a factor; returns the mfa_token. */
function expectChallenge(profile: ProfileAdapter, res: HttpResult, methods: string[]): string {
  expect(res.status, JSON.stringify(res.body)).to.equal(401);
  const token = profile.envelope ? field(res.body, 'error.mfa_token') : field(res.body, 'mfa_token');
  expect(token).to.be.a('string').with.length.above(30);
  if (profile.envelope) {
    expect(res.body).to.deep.equal({ success: false, error: { code: 'AUTH_MFA_REQUIRED', message: 'MFA required', mfa_token: token, methods } });
  } else {
    expect(res.body).to.deep.equal({ detail: 'MFA required', mfa_required: true, mfa_token: token, methods });
  }
  return token as string;
}

describe('second factors at the legacy door (CONTRACT §9)', function () {
  this.timeout(30_000);

  for (const mode of MODES) {
    describe(mode.name, function () {
      let server: TestServer;

      before(async function () {
        this.timeout(60_000);
        server = await startTestServer({ database: mode.database, store: mode.store, mocha: this, env: { COMPAT_PROFILES: ALL_PROFILES } });
      });
      after(async () => {
        await server?.close();
      });

      for (const profile of PROFILE_ADAPTERS) {
        describe(`${profile.name} profile at ${profile.prefix}`, () => {
          let api: LegacyClient;
          before(() => {
            api = legacyClient(server.url, profile);
          });

          /** A signed-in user with TOTP confirmed at this moment's step; returns the secret and the recovery codes. */
          async function enrolled(): Promise<{ user: TestUser; token: string; secret: string; codes: string[] }> {
            const { user, tokens } = await api.signedIn('mfa');
            const started = payload(profile, await api.post('/mfa/totp', { token: tokens.access }));
            expect(Object.keys(started).sort()).to.deep.equal(['otpauth_uri', 'secret']);
            const secret = String(started.secret);
            expect(secret).to.match(/^[A-Z2-7]{32}$/);
            expect(String(started.otpauth_uri)).to.match(/^otpauth:\/\/totp\/.*secret=[A-Z2-7]+.*algorithm=SHA1&digits=6&period=30/);
            const confirmed = payload(profile, await api.post('/mfa/totp/confirm', { token: tokens.access, json: { code: totpCode(secret) } }));
            const codes = confirmed.recovery_codes as string[];
            expect(codes).to.have.length(10);
            expect(new Set(codes).size).to.equal(10);
            return { user, token: tokens.access, secret, codes };
          }

          it('enrols TOTP: GET /mfa shows it with 10 recovery codes left, and a wrong confirmation code is refused', async () => {
            const { tokens } = await api.signedIn('mfa');
            expect(payload(profile, await api.get('/mfa', { token: tokens.access }))).to.deep.equal({ totp: false, passkeys: [], recovery_codes_left: 0 });
            const started = payload(profile, await api.post('/mfa/totp', { token: tokens.access }));
            const wrong = totpCode(String(started.secret), Date.now() + 10 * STEP_MS);
            const refused = await api.post('/mfa/totp/confirm', { token: tokens.access, json: { code: wrong } });
            expect(refused.status).to.equal(400);
            expect(profile.error(refused.body)).to.equal('Invalid code');
            payload(profile, await api.post('/mfa/totp/confirm', { token: tokens.access, json: { code: totpCode(String(started.secret)) } }));
            expect(payload(profile, await api.get('/mfa', { token: tokens.access }))).to.deep.equal({ totp: true, passkeys: [], recovery_codes_left: 10 });
            const again = await api.post('/mfa/totp', { token: tokens.access });
            expect(again.status).to.equal(409);
            expect(profile.error(again.body)).to.equal('TOTP already enabled');
            expect((await api.get('/mfa')).status).to.be.oneOf([401, 403]);
          });

          it('logs in in two steps; a TOTP code is accepted once; tokens and the session carry amr', async () => {
            const { user, secret } = await enrolled();
            const first = await api.post('/login', { json: profile.loginBody(user) });
            const mfaToken = expectChallenge(profile, first, ['totp', 'recovery_code']);
            // The confirmation used this step's code: the next step's is still within the window.
            const code = totpCode(secret, Date.now() + STEP_MS);
            const done = await api.post('/login/mfa', { json: { mfa_token: mfaToken, code } });
            expect(done.status, JSON.stringify(done.body)).to.equal(200);
            const tokens = profile.tokens(done.body);
            expect(decodeJwt(tokens.access).amr).to.deep.equal(['pwd', 'otp', 'mfa']);
            const list = profile.data((await api.get('/sessions', { token: tokens.access })).body) as Record<string, unknown>[];
            expect(list.find((item) => item.is_current)?.amr).to.deep.equal(['pwd', 'otp', 'mfa']);
            // The mfa_token is single-use...
            const reused = await api.post('/login/mfa', { json: { mfa_token: mfaToken, code } });
            expect(reused.status).to.equal(401);
            // ...and so is the code, with a fresh mfa_token too.
            const second = expectChallenge(profile, await api.post('/login', { json: profile.loginBody(user) }), ['totp', 'recovery_code']);
            const replay = await api.post('/login/mfa', { json: { mfa_token: second, code } });
            expect(replay.status).to.equal(401);
            // A flat FastAPI error at every mount, the envelope's included (CONTRACT §3, §9).
            expect(replay.body).to.deep.equal({ detail: 'Invalid code' });
          });

          it('accepts a recovery code once; regenerating them (with the password) retires the old set', async () => {
            const { user, token, codes } = await enrolled();
            const [first, second] = codes as [string, string];
            const challenge = () => api.post('/login', { json: profile.loginBody(user) }).then((res) => expectChallenge(profile, res, ['totp', 'recovery_code']));
            const ok = await api.post('/login/mfa', { json: { mfa_token: await challenge(), code: first.toUpperCase() } });
            expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
            expect(decodeJwt(profile.tokens(ok.body).access).amr).to.deep.equal(['pwd', 'otp', 'mfa']);
            const again = await api.post('/login/mfa', { json: { mfa_token: await challenge(), code: first } });
            expect(again.status).to.equal(401);
            expect(profile.error(again.body)).to.equal('Invalid code');
            expect(field(payload(profile, await api.get('/mfa', { token })), 'recovery_codes_left')).to.equal(9);

            const wrongPassword = await api.post('/mfa/recovery-codes', { token, json: { password: 'not-the-password' } });
            expect(wrongPassword.status).to.equal(400);
            expect(profile.error(wrongPassword.body)).to.equal('Incorrect password');
            const fresh = payload(profile, await api.post('/mfa/recovery-codes', { token, json: { password: user.password } })).recovery_codes as string[];
            expect(fresh).to.have.length(10);
            const old = await api.post('/login/mfa', { json: { mfa_token: await challenge(), code: second } });
            expect(old.status).to.equal(401);
            const renewed = await api.post('/login/mfa', { json: { mfa_token: await challenge(), code: fresh[0] } });
            expect(renewed.status, JSON.stringify(renewed.body)).to.equal(200);
          });

          it('removes TOTP with the password: the next login is a single step again', async () => {
            const { user, token } = await enrolled();
            const wrong = await api.delete('/mfa/totp', { token, json: { password: 'not-the-password' } });
            expect(wrong.status).to.equal(400);
            const removed = await api.delete('/mfa/totp', { token, json: { password: user.password } });
            expect(payload(profile, removed)).to.deep.equal({ message: 'TOTP removed' });
            expect(payload(profile, await api.get('/mfa', { token }))).to.deep.equal({ totp: false, passkeys: [], recovery_codes_left: 0 });
            const login = await api.post('/login', { json: profile.loginBody(user) });
            expect(login.status).to.equal(200);
            expect(decodeJwt(profile.tokens(login.body).access).amr).to.deep.equal(['pwd']);
            expect((await api.delete('/mfa/totp', { token, json: { password: user.password } })).status).to.equal(404);
          });

          it('kills the mfa_token at the fifth wrong code: then even a right code is refused', async () => {
            const { user, codes } = await enrolled();
            const mfaToken = expectChallenge(profile, await api.post('/login', { json: profile.loginBody(user) }), ['totp', 'recovery_code']);
            for (let i = 1; i <= 5; i += 1) {
              const res = await api.post('/login/mfa', { json: { mfa_token: mfaToken, code: i % 2 ? '000000' : 'wrong-codes' } });
              expect(res.status, `attempt ${i}`).to.equal(401);
              expect(res.body).to.deep.equal({ detail: 'Invalid code' });
            }
            const dead = await api.post('/login/mfa', { json: { mfa_token: mfaToken, code: codes[0] } });
            expect(dead.status).to.equal(401);
            expect(dead.body).to.deep.equal({ detail: 'Invalid or expired MFA token' });
            // The wrong codes counted toward the account's limit (§6): the password step is blocked now.
            const blocked = await api.post('/login', { json: profile.loginBody(user) });
            expect(blocked.status).to.equal(429);
            expect(blocked.headers.get('retry-after')).to.match(/^\d+$/);
          });

          it('documents the second-factor routes in the mount\'s openapi.json', async () => {
            const doc = (await api.get('/openapi.json')).body as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
            expect(Object.keys(doc.paths)).to.include.members(['/login/mfa', '/mfa', '/mfa/totp', '/mfa/totp/confirm', '/mfa/recovery-codes']);
            expect(Object.keys(doc.paths['/mfa/totp'] ?? {}).sort()).to.deep.equal(['delete', 'post']);
            expect(Object.keys(doc.paths['/login/mfa']?.post?.responses ?? {})).to.include.members(['200', '401', '422', '429']);
            expect(Object.keys(doc.paths['/mfa/totp/confirm']?.post?.responses ?? {})).to.include.members(['200', '400', '401', '405', '409', '413', '422']);
            expect(Object.keys(doc.paths['/mfa']?.get?.responses ?? {})).to.include.members(['200', '401', '403', '405', '503']);
            // The password login's 401 is also the challenge: its schema names the mfa fields (inside `error` on the envelope).
            const challenge = JSON.stringify(doc.paths['/login']?.post?.responses['401']);
            for (const name of ['mfa_token', 'methods']) expect(challenge).to.include(`"${name}"`);
          });

          it('refuses a malformed second step with 422 and an unknown mfa_token with 401', async () => {
            expect((await api.post('/login/mfa', { json: { code: '123456' } })).status).to.equal(422);
            const unknown = await api.post('/login/mfa', { json: { mfa_token: 'A'.repeat(43), code: '123456' } });
            expect(unknown.status).to.equal(401);
            expect(profile.error(unknown.body)).to.equal('Invalid or expired MFA token');
            // A known path with another method: FastAPI's 405 with Allow, in the flat shape (CONTRACT §3).
            const wrongMethod = await api.put('/mfa/totp', { json: {} });
            expect(wrongMethod.status).to.equal(405);
            expect(wrongMethod.headers.get('allow')).to.equal('POST, DELETE');
            expect(wrongMethod.body).to.deep.equal({ detail: 'Method Not Allowed' });
          });
        });
      }
    });
  }

  describe('MFA_POLICY', () => {
    let server: TestServer;
    before(async function () {
      this.timeout(60_000);
      server = await startTestServer({ mocha: this, env: { COMPAT_PROFILES: ALL_PROFILES, MFA_POLICY: 'roles:auditor' } });
    });
    after(async () => {
      await server?.close();
    });

    it('answers 403 "MFA enrolment required" to a user the policy names who has no factor; others log in', async () => {
      for (const profile of PROFILE_ADAPTERS) {
        const api = legacyClient(server.url, profile);
        const user = newUser('pol');
        await api.register(user);
        expect((await api.post('/login', { json: profile.loginBody(user) })).status).to.equal(200);
        const created = await server.deps.models.User.findOne({ where: { email: user.email.toLowerCase() } });
        await server.deps.roles.grant(String(created?.id), 'auditor');
        const refused = await api.post('/login', { json: profile.loginBody(user) });
        expect(refused.status, profile.name).to.equal(403);
        // Flat at every mount, the envelope's included (CONTRACT §3: only three errors are enveloped).
        expect(refused.body, profile.name).to.deep.equal({ detail: 'MFA enrolment required' });
      }
    });

    it('refuses DELETE /mfa/totp with 409 when TOTP is the last factor of a user the policy names; allowed with a passkey beside it', async () => {
      for (const profile of PROFILE_ADAPTERS) {
        const api = legacyClient(server.url, profile);
        const { user, tokens } = await api.signedIn('last');
        const started = payload(profile, await api.post('/mfa/totp', { token: tokens.access }));
        payload(profile, await api.post('/mfa/totp/confirm', { token: tokens.access, json: { code: totpCode(String(started.secret)) } }));
        const created = await server.deps.models.User.findOne({ where: { email: user.email.toLowerCase() } });
        const id = String(created?.id);
        await server.deps.roles.grant(id, 'auditor');

        const refused = await api.delete('/mfa/totp', { token: tokens.access, json: { password: user.password } });
        expect(refused.status, profile.name).to.equal(409);
        expect(profile.error(refused.body), profile.name).to.equal('A second factor is required for this account: enrol another one before removing the last');
        expect(payload(profile, await api.get('/mfa', { token: tokens.access })).totp, profile.name).to.equal(true);

        // With a passkey beside it, TOTP is not the last factor.
        await server.deps.models.Passkey.create({ userId: id, name: 'Key', credentialId: randomBytes(16).toString('base64url'), publicKeySealed: 'pk', signCount: 0, transports: null });
        const removed = await api.delete('/mfa/totp', { token: tokens.access, json: { password: user.password } });
        expect(payload(profile, removed), profile.name).to.deep.equal({ message: 'TOTP removed' });
      }
    });
  });

  describe('factor secrets with KEY_ENCRYPTION_KEY (CONTRACT §6, §9)', () => {
    let server: TestServer;
    before(async function () {
      this.timeout(60_000);
      server = await startTestServer({ mocha: this, env: { COMPAT_PROFILES: ALL_PROFILES, KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64') } });
    });
    after(async () => {
      await server?.close();
    });

    it('stores the TOTP secret sealed by the secret box, bound to its user, and the two-step login still works', async () => {
      const profile = PROFILE_ADAPTERS[0] as ProfileAdapter;
      const api = legacyClient(server.url, profile);
      const { user, tokens } = await api.signedIn('sealed');
      const secret = String(payload(profile, await api.post('/mfa/totp', { token: tokens.access })).secret);
      payload(profile, await api.post('/mfa/totp/confirm', { token: tokens.access, json: { code: totpCode(secret) } }));

      const account = await server.deps.models.User.findOne({ where: { email: user.email.toLowerCase() } });
      const id = String(account?.id);
      const [rows] = (await server.deps.sequelize.query('SELECT secret_sealed FROM totp_factors WHERE user_id = :id', { replacements: { id } })) as [{ secret_sealed: string }[], unknown];
      const stored = String(rows[0]?.secret_sealed);
      expect(stored).to.not.equal(secret);
      expect(stored).to.not.include(secret);
      expect(stored.startsWith(SEALED_PREFIX), stored).to.equal(true);
      const box = server.deps.secretBox as SecretBox;
      expect(box.open(stored, `totp:${id}`)).to.equal(secret);
      // Bound to its row: the same value under another user does not open.
      expect(() => box.open(stored, `totp:${randomUUID()}`)).to.throw(SecretBoxError);

      const mfaToken = expectChallenge(profile, await api.post('/login', { json: profile.loginBody(user) }), ['totp', 'recovery_code']);
      const done = await api.post('/login/mfa', { json: { mfa_token: mfaToken, code: totpCode(secret, Date.now() + STEP_MS) } });
      expect(done.status, JSON.stringify(done.body)).to.equal(200);
      expect(decodeJwt(profile.tokens(done.body).access).amr).to.deep.equal(['pwd', 'otp', 'mfa']);
    });
  });
});
