import { expect } from 'chai';
import { SignJWT, createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type CryptoKey, type JWK } from 'jose';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import type { Store, StoreWrite } from '../../src/store/store.ts';
import { createSessionService, type SessionService } from '../../src/services/sessions.ts';
import { createTokenService, type TokenService } from '../../src/services/tokens.ts';
import type { KeySet } from '../../src/services/keys.ts';
import type { AccountView } from '../../src/services/accounts/view.ts';
import type { AuditEventInput } from '../../src/services/audit.ts';
import { InvalidAccessTokenError, InvalidRefreshTokenError } from '../../src/services/accounts/errors.ts';

const ISSUER = 'https://idp.example.com/oidc';
const ctx = { door: 'test', ip: '127.0.0.1' };

interface Signer {
  kid: string;
  key: CryptoKey;
  privateJwk: JWK;
  publicJwk: JWK;
}

async function signer(alg: 'ES256' | 'RS256', kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, key: privateKey, privateJwk: { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' }, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** Shaped like keys.load()'s: private JWKs in `jwks` (oidc-provider's), their public halves in `publicJwks`. */
function keySet(es: Signer, rs: Signer, extra: Signer[] = []): KeySet {
  const all = [es, rs, ...extra];
  return {
    signing: { ES256: { kid: es.kid, alg: 'ES256', key: es.key }, RS256: { kid: rs.kid, alg: 'RS256', key: rs.key } },
    jwks: { keys: all.map((s) => s.privateJwk) },
    publicJwks: { keys: all.map((s) => s.publicJwk) },
  };
}

const account: AccountView = {
  id: '6f1f1d5c-8c1e-4c38-9a53-0c1f0c1f0c1f',
  number: 7,
  username: 'alice',
  email: 'alice@example.com',
  full_name: null,
  phone: null,
  status: 'active',
  email_verified: true,
  onboarding_completed: false,
  onboarding_step: null,
  onboarding_data: null,
  organization_id: '0b5c3d2e-1f00-4a00-8000-000000000001',
  created_at: new Date(),
  updated_at: new Date(),
  roles: ['admin', 'billing'],
  role_details: [],
};

/** A store that remembers every key and value written, to prove no plain token is ever stored. */
function recordingStore(inner: Store): Store & { written: string[]; batches: string[][] } {
  const written: string[] = [];
  const batches: string[][] = [];
  return Object.assign(Object.create(inner) as Store, {
    written,
    batches,
    set: async <T>(key: string, value: T, ttl: number) => {
      written.push(key, JSON.stringify(value));
      return inner.set(key, value, ttl);
    },
    compareAndSet: async <T>(key: string, expected: T | undefined, next: T, ttl: number) => {
      written.push(key, JSON.stringify(next));
      return inner.compareAndSet(key, expected, next, ttl);
    },
    writeMany: async (writes: readonly StoreWrite[]) => {
      batches.push(writes.map((write) => (write.op === 'set' ? `set ${write.key}` : `indexAdd ${write.index}`)));
      for (const write of writes) written.push(write.op === 'set' ? write.key : write.index, JSON.stringify(write.op === 'set' ? write.value : write.member));
      return inner.writeMany(writes);
    },
  });
}

describe('tokens (src/services/tokens.ts)', () => {
  let clock: number;
  let es: Signer;
  let rs: Signer;
  let store: ReturnType<typeof recordingStore>;
  let sessions: SessionService;
  let tokens: TokenService;
  let audit: AuditEventInput[];
  let loads: number;
  let currentKeys: KeySet;

  beforeEach(async () => {
    clock = Date.parse('2030-01-01T00:00:00Z');
    es = await signer('ES256', 'es-1');
    rs = await signer('RS256', 'rs-1');
    currentKeys = keySet(es, rs);
    loads = 0;
    audit = [];
    store = recordingStore(createMemoryStore({ now: () => clock }));
    sessions = createSessionService({ store, defaultTtlSeconds: 3600, now: () => clock });
    tokens = createTokenService({
      loadKeys: async () => {
        loads += 1;
        return currentKeys;
      },
      store,
      sessions,
      audit: { record: async (event) => void audit.push(event) },
      issuer: ISSUER,
      accessTokenTtlSeconds: 1800,
      refreshTokenTtlSeconds: 3600,
      now: () => clock,
    });
  });

  async function session() {
    return sessions.create({ userId: account.id, kind: 'password', context: ctx });
  }

  async function expectRejected(token: string): Promise<void> {
    let error: unknown;
    try {
      await tokens.verifyAccessToken(token);
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(InvalidAccessTokenError);
  }

  it('signs access tokens with the current ES256 key, its kid in the header, and the §5 claims', async () => {
    const s = await session();
    const { token, expiresIn } = await tokens.issueAccessToken(account, s);
    expect(expiresIn).to.equal(1800);
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as Record<string, unknown>;
    expect(header).to.deep.equal({ alg: 'ES256', kid: 'es-1', typ: 'JWT' });
    const claims = await tokens.verifyAccessToken(token);
    expect(claims).to.include({ iss: ISSUER, sub: account.id, sid: s.session_id, session_id: s.session_id, email: account.email, preferred_username: 'alice', org_id: account.organization_id });
    expect(claims.roles).to.deep.equal(['admin', 'billing']);
    expect(claims.exp - claims.iat).to.equal(1800);
    expect(claims.jti).to.match(/^[0-9a-f-]{36}$/);
  });

  it('signs a JWS any JOSE library verifies against the published JWKS alone', async () => {
    const s = await session();
    const { token } = await tokens.issueAccessToken(account, s);
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(currentKeys.publicJwks), { issuer: ISSUER, algorithms: ['ES256'], typ: 'JWT', currentDate: new Date(clock) });
    expect(protectedHeader).to.deep.equal({ alg: 'ES256', kid: 'es-1', typ: 'JWT' });
    expect(payload).to.include({ sub: account.id, sid: s.session_id, iat: Math.floor(clock / 1000), exp: Math.floor(clock / 1000) + 1800 });
    const signature = Buffer.from(token.split('.')[2] ?? '', 'base64url');
    expect(signature, 'r‖s, 64 bytes (not DER)').to.have.length(64);
  });

  it('accepts RS256 tokens signed with a published key', async () => {
    const s = await session();
    const token = await new SignJWT({ sid: s.session_id, session_id: s.session_id })
      .setProtectedHeader({ alg: 'RS256', kid: 'rs-1', typ: 'JWT' })
      .setIssuer(ISSUER).setSubject(account.id).setIssuedAt(clock / 1000).setExpirationTime(clock / 1000 + 60).setJti('j-1')
      .sign(rs.key);
    expect((await tokens.verifyAccessToken(token)).sub).to.equal(account.id);
  });

  it('rejects alg none, HS256, an unknown kid, another issuer, expiry, an audience and tampering', async () => {
    const s = await session();
    const claims = { sid: s.session_id, session_id: s.session_id };
    const now = Math.floor(clock / 1000);
    const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const payload = { ...claims, iss: ISSUER, sub: account.id, iat: now, exp: now + 60, jti: 'x' };
    await expectRejected(`${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`);
    const hs = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: 'es-1', typ: 'JWT' }).sign(new TextEncoder().encode(JSON.stringify(es.publicJwk)));
    await expectRejected(hs);
    const stranger = await signer('ES256', 'not-ours');
    await expectRejected(await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: 'not-ours', typ: 'JWT' }).sign(stranger.key));
    await expectRejected(await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: 'es-1', typ: 'JWT' }).sign(stranger.key));
    await expectRejected(await new SignJWT({ ...payload, iss: 'https://evil.example.com' }).setProtectedHeader({ alg: 'ES256', kid: 'es-1', typ: 'JWT' }).sign(es.key));
    await expectRejected(await new SignJWT({ ...payload, aud: 'some-client' }).setProtectedHeader({ alg: 'ES256', kid: 'es-1', typ: 'JWT' }).sign(es.key));
    await expectRejected(await new SignJWT({ ...payload, sid: 'other' }).setProtectedHeader({ alg: 'ES256', kid: 'es-1', typ: 'JWT' }).sign(es.key));
    await expectRejected(await new SignJWT(payload).setProtectedHeader({ alg: 'ES256', kid: 'es-1', typ: 'at+jwt' }).sign(es.key));

    const { token } = await tokens.issueAccessToken(account, s);
    const [h, p, sig] = token.split('.');
    const forged = b64({ ...(JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as object), sub: 'someone-else' });
    await expectRejected(`${h}.${forged}.${sig}`);
    clock += 1801 * 1000;
    await expectRejected(token);
  });

  it('signs with the key set it was given at start (the one oidc-provider got), even when the database has rotated since', async () => {
    const startSet = currentKeys;
    currentKeys = keySet(await signer('ES256', 'es-2'), await signer('RS256', 'rs-2'));
    const pinned = createTokenService({
      loadKeys: async () => currentKeys,
      signingKeys: startSet,
      store,
      sessions,
      audit: { record: async () => undefined },
      issuer: ISSUER,
      accessTokenTtlSeconds: 1800,
      refreshTokenTtlSeconds: 3600,
      now: () => clock,
    });
    const { token } = await pinned.issueAccessToken(account, await session());
    expect(JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString())).to.include({ kid: 'es-1' });
    expect((await pinned.verifyAccessToken(token)).sub).to.equal(account.id);
  });

  it('reloads the key set (at most every 30 s) when a token names a kid it has not seen: another process rotated', async () => {
    const s = await session();
    await tokens.issueAccessToken(account, s);
    expect(loads).to.equal(1);
    const next = await signer('ES256', 'es-2');
    currentKeys = keySet(next, rs, [es]);
    const token = await new SignJWT({ sid: s.session_id, session_id: s.session_id })
      .setProtectedHeader({ alg: 'ES256', kid: 'es-2', typ: 'JWT' })
      .setIssuer(ISSUER).setSubject(account.id).setIssuedAt(clock / 1000).setExpirationTime(clock / 1000 + 60).setJti('j')
      .sign(next.key);
    clock += 31_000;
    expect((await tokens.verifyAccessToken(token)).sub).to.equal(account.id);
    expect(loads).to.equal(2);
    // Signing stays on the key loaded at start (the one oidc-provider publishes).
    const mine = await tokens.issueAccessToken(account, s);
    expect(JSON.parse(Buffer.from(mine.token.split('.')[0] ?? '', 'base64url').toString())).to.include({ kid: 'es-1' });
    await expectRejected(await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: 'es-3', typ: 'JWT' }).sign(next.key));
    expect(loads).to.equal(2);
  });

  it('hands out opaque 256-bit refresh tokens and stores only their hash', async () => {
    const s = await session();
    const pair = await tokens.issueTokens(account, s);
    expect(pair.refreshToken).to.match(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(pair.refreshToken, 'base64url')).to.have.length(32);
    const rotated = await tokens.rotateRefreshToken(pair.refreshToken, ctx);
    for (const written of store.written) {
      expect(written).to.not.include(pair.refreshToken);
      expect(written).to.not.include(rotated.refreshToken);
    }
  });

  it("writes a new session, its index entry and its first refresh token's record in one store round trip", async () => {
    const draft = sessions.draft({ userId: account.id, kind: 'password', context: ctx });
    expect(await sessions.get(account.id, draft.record.session_id), 'a draft is not written yet').to.equal(undefined);
    store.batches.length = 0;
    const pair = await tokens.issueTokens(account, draft.record, { storeWith: draft.writes });
    expect(store.batches).to.have.length(1);
    expect(store.batches[0]!.map((write) => write.replace(/[0-9a-f-]{36}|rt:.*$/g, (m) => (m.startsWith('rt:') ? 'rt:…' : '…')))).to.deep.equal([
      'set sess:{u:…}:…',
      'indexAdd sessions:{u:…}',
      'set rt:…',
    ]);
    expect(await sessions.get(account.id, draft.record.session_id)).to.deep.equal(draft.record);
    expect((await sessions.list(account.id)).map((item) => item.session_id)).to.include(draft.record.session_id);
    expect((await tokens.rotateRefreshToken(pair.refreshToken, ctx)).session.session_id).to.equal(draft.record.session_id);
    expect((await tokens.verifyAccessToken(pair.accessToken)).sid).to.equal(draft.record.session_id);
  });

  it('rotates: the new token works, the old one does not, and a replay ends the session', async () => {
    const s = await session();
    const first = await tokens.issueRefreshToken(account.id, s.session_id);
    const second = await tokens.rotateRefreshToken(first, ctx);
    expect(second.session.session_id).to.equal(s.session_id);
    const third = await tokens.rotateRefreshToken(second.refreshToken, ctx);
    expect(await sessions.get(account.id, s.session_id)).to.not.equal(undefined);

    let error: unknown;
    await tokens.rotateRefreshToken(first, ctx).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(InvalidRefreshTokenError);
    expect(await sessions.get(account.id, s.session_id)).to.equal(undefined);
    expect(audit.map((e) => `${e.type}:${e.outcome}`)).to.deep.equal(['refresh_reuse:failure']);
    error = undefined;
    await tokens.rotateRefreshToken(third.refreshToken, ctx).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(InvalidRefreshTokenError);
  });

  it('lets at most one of ten concurrent rotations of one token win', async () => {
    const s = await session();
    const token = await tokens.issueRefreshToken(account.id, s.session_id);
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => tokens.rotateRefreshToken(token, ctx)));
    expect(results.filter((r) => r.status === 'fulfilled').length).to.be.at.most(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).to.be.instanceOf(InvalidRefreshTokenError);
  });

  it('refuses expired refresh tokens, tokens of a revoked session, and junk', async () => {
    const s = await session();
    const token = await tokens.issueRefreshToken(account.id, s.session_id);
    const other = await tokens.issueRefreshToken(account.id, s.session_id);
    await sessions.revoke(account.id, s.session_id, 'revoked');
    for (const candidate of [token, 'junk', '', 42, null]) {
      let error: unknown;
      await tokens.rotateRefreshToken(candidate, ctx).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(InvalidRefreshTokenError);
    }
    const live = await session();
    const expiring = await tokens.issueRefreshToken(account.id, live.session_id);
    clock += 3601 * 1000;
    let error: unknown;
    await tokens.rotateRefreshToken(expiring, ctx).catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(InvalidRefreshTokenError);
    expect(await tokens.sessionOfRefreshToken(other)).to.equal(undefined);
  });
  describe('per-mount policies (CONTRACT §3 mount options)', () => {
    const secret = new TextEncoder().encode('s'.repeat(40));
    const hmac = (sub: 'id' | 'username' | 'number', issuer = 'http://idp.test/api/v1/auth') => ({ key: secret, sub, issuer });

    it('signs an HS256 mount with its secret and sub layout, and verifies only with that mount', async () => {
      const s = await session();
      const policy = { mount: '/api/v1/auth', accessTokenTtl: 600, hmac: hmac('username') };
      const { token, expiresIn } = await tokens.issueAccessToken(account, s, policy);
      expect(expiresIn).to.equal(600);
      const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as Record<string, unknown>;
      expect(header).to.deep.equal({ alg: 'HS256', typ: 'JWT' });
      expect((await tokens.verifyAccessToken(token, policy.hmac)).sub).to.equal(account.username);
      // Not with the key set, not at another mount with the same secret, not with another layout's key.
      await expectRejected(token);
      let error: unknown;
      await tokens.verifyAccessToken(token, hmac('username', 'http://idp.test/other')).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(InvalidAccessTokenError);
      // And a key-set token is not an HS256 mount's.
      const jwks = await tokens.issueAccessToken(account, s);
      error = undefined;
      await tokens.verifyAccessToken(jwks.token, policy.hmac).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(InvalidAccessTokenError);
      expect((await tokens.issueAccessToken(account, s, { hmac: hmac('number') })).token.split('.')[1]).to.satisfy(
        (payload: string) => (JSON.parse(Buffer.from(payload, 'base64url').toString()) as { sub: string }).sub === String(account.number),
      );
    });

    it('reuse: refresh hands back the same token until the session ends; rotate never lets a token work at another mount', async () => {
      const s = await session();
      const reuse = { mount: '/auth', refresh: 'reuse' as const };
      const pair = await tokens.issueTokens(account, s, { policy: reuse });
      for (let i = 0; i < 3; i += 1) expect((await tokens.rotateRefreshToken(pair.refreshToken, ctx, reuse)).refreshToken).to.equal(pair.refreshToken);
      let error: unknown;
      await tokens.rotateRefreshToken(pair.refreshToken, ctx, { mount: '/elsewhere' }).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(InvalidRefreshTokenError);
      expect(await tokens.sessionOfRefreshToken(pair.refreshToken, { mount: '/elsewhere' })).to.equal(undefined);
      await sessions.revoke(account.id, s.session_id, 'logout');
      error = undefined;
      await tokens.rotateRefreshToken(pair.refreshToken, ctx, reuse).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(InvalidRefreshTokenError);
    });

    it('jwt refresh tokens: typ refresh+jwt with sub, sid, jti, iat, exp; stored only as a hash', async () => {
      const s = await session();
      const policy = { mount: '/auth', refreshTokenFormat: 'jwt' as const, hmac: hmac('username', 'http://idp.test/auth') };
      const pair = await tokens.issueTokens(account, s, { policy });
      const { payload, protectedHeader } = await jwtVerify(pair.refreshToken, secret, { typ: 'refresh+jwt' });
      expect(protectedHeader.alg).to.equal('HS256');
      expect(Object.keys(payload).sort()).to.deep.equal(['exp', 'iat', 'jti', 'sid', 'sub']);
      expect(payload).to.include({ sub: account.username, sid: s.session_id, exp: Number(payload.iat) + 3600 });
      for (const written of store.written) expect(written).to.not.include(pair.refreshToken);
      const next = await tokens.rotateRefreshToken(pair.refreshToken, ctx, policy, async () => account);
      expect((await jwtVerify(next.refreshToken, secret, { typ: 'refresh+jwt' })).payload.sub).to.equal(account.username);
    });

    it('jwt refresh tokens naming a 150-character username still fit the refresh shape check', async () => {
      const long = { ...account, username: 'é'.repeat(150) };
      const s = await session();
      const policy = { mount: '/auth', refresh: 'reuse' as const, refreshTokenFormat: 'jwt' as const, hmac: hmac('username', 'http://idp.test/auth') };
      const pair = await tokens.issueTokens(long, s, { policy });
      expect(pair.refreshToken.length).to.be.below(2048);
      expect((await tokens.rotateRefreshToken(pair.refreshToken, ctx, policy)).refreshToken).to.equal(pair.refreshToken);
    });
  });
});
