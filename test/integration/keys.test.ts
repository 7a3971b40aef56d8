import { expect } from 'chai';
import { SignJWT, createLocalJWKSet, jwtVerify, errors } from 'jose';
import Provider from 'oidc-provider';
import type { Adapter, Configuration } from 'oidc-provider';
import { randomBytes } from 'node:crypto';
import { createKeyService, type KeyService, type SigningAlg } from '../../src/services/keys.ts';
import { createSecretBox } from '../../src/services/secret-box.ts';
import { SigningKeySealError } from '../../src/db/signing-key-sealing.ts';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/database.ts';

const TTL = 1800;
const ISSUER = 'http://127.0.0.1/oidc';

async function sign(set: Awaited<ReturnType<KeyService['load']>>, alg: SigningAlg): Promise<string> {
  const { key, kid } = set.signing[alg];
  return new SignJWT({ sub: 'user-1' }).setProtectedHeader({ alg, kid }).setIssuer(ISSUER).setIssuedAt().setExpirationTime('10m').sign(key);
}

async function verify(token: string, publicJwks: { keys: object[] }): Promise<string | undefined> {
  const { protectedHeader } = await jwtVerify(token, createLocalJWKSet(publicJwks as Parameters<typeof createLocalJWKSet>[0]), { issuer: ISSUER });
  return protectedHeader.kid;
}

async function expectRejection(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(err).to.be.instanceOf(SigningKeySealError);
  expect((err as Error).message).to.match(message);
}

for (const kind of DATABASE_KINDS) {
  describe(`key service on ${kind}`, () => {
    let db: TestDatabase;
    let clock: Date;
    let keys: KeyService;
    const advance = (seconds: number) => (clock = new Date(clock.getTime() + seconds * 1000));

    beforeEach(async function () {
      db = await createTestDatabase(kind, { mocha: this });
      clock = new Date('2025-03-01T10:00:00Z');
      keys = createKeyService({ models: db.models, maxTokenTtlSeconds: TTL, now: () => clock });
    });
    afterEach(() => db?.drop());

    it('creates one ES256 and one RS256 key on an empty table, once', async () => {
      await keys.ensureKeys();
      await keys.ensureKeys();
      const rows = await db.models.SigningKey.findAll({ order: [['alg', 'ASC']] });
      expect(rows.map((r) => r.alg)).to.deep.equal(['ES256', 'RS256']);
      for (const row of rows) {
        const jwk = JSON.parse(row.privateJwk) as Record<string, unknown>;
        expect(jwk).to.include({ kid: row.kid, alg: row.alg, use: 'sig' });
        expect(jwk.d, 'stored as a private JWK').to.be.a('string');
      }
    });

    it('publishes public keys, current ES256 first, and gives oidc-provider private JWKs it accepts', async () => {
      await keys.ensureKeys();
      const set = await keys.load();
      expect(set.jwks.keys.map((k) => k.alg)).to.deep.equal(['ES256', 'RS256']);
      expect(set.jwks.keys[0]?.kid).to.equal(set.signing.ES256.kid);
      expect(set.publicJwks.keys.map((k) => k.kid)).to.deep.equal(set.jwks.keys.map((k) => k.kid));
      for (const jwk of set.publicJwks.keys) {
        expect(jwk).to.not.have.any.keys('d', 'p', 'q', 'dp', 'dq', 'qi');
        expect(jwk.use).to.equal('sig');
      }
      // The provider validates its keystore on construction (no adapter calls happen here).
      const adapter = class {} as unknown as new (name: string) => Adapter;
      const configuration: Configuration = { jwks: set.jwks as Configuration['jwks'], adapter, features: { devInteractions: { enabled: false } } };
      expect(() => new Provider(ISSUER, configuration)).to.not.throw();
      expect(() => new Provider(ISSUER, { ...configuration, jwks: { keys: [{ kty: 'EC' }] } as Configuration['jwks'] })).to.throw();
    });

    it('signs JWTs (ES256 and RS256) that verify against the published JWKS', async () => {
      await keys.ensureKeys();
      const set = await keys.load();
      for (const alg of ['ES256', 'RS256'] as const) {
        expect(await verify(await sign(set, alg), set.publicJwks)).to.equal(set.signing[alg].kid);
      }
    });

    it('signs with a rotated key from the next load and keeps the old key published until its tokens expired', async () => {
      await keys.ensureKeys();
      const before = await keys.load();
      const [newKid] = await keys.rotate('ES256');
      expect(newKid).to.be.a('string').and.not.equal(before.signing.ES256.kid);
      // A process that loaded before the rotation keeps signing with the old key.
      const oldToken = await sign(before, 'ES256');

      advance(60);
      const after = await keys.load();
      expect(after.signing.ES256.kid).to.equal(newKid);
      expect(after.signing.RS256.kid).to.equal(before.signing.RS256.kid);
      expect(after.jwks.keys.map((k) => k.kid)).to.deep.equal([newKid, before.signing.RS256.kid, before.signing.ES256.kid]);
      expect(await verify(oldToken, after.publicJwks)).to.equal(before.signing.ES256.kid);
      expect(await verify(await sign(after, 'ES256'), after.publicJwks)).to.equal(newKid);
      const old = await db.models.SigningKey.findByPk(before.signing.ES256.kid);
      expect(old?.supersededAt?.getTime()).to.equal(clock.getTime());

      advance(TTL - 1);
      const stillPublished = await keys.load();
      expect(stillPublished.publicJwks.keys.map((k) => k.kid)).to.include(before.signing.ES256.kid);
      expect((await db.models.SigningKey.findByPk(before.signing.ES256.kid))?.supersededAt?.getTime(), 'a later load keeps the first superseded_at').to.equal(
        old?.supersededAt?.getTime(),
      );

      advance(2);
      const expired = await keys.load();
      expect(expired.publicJwks.keys.map((k) => k.kid)).to.deep.equal([newKid, before.signing.RS256.kid]);
      let error: unknown;
      await verify(oldToken, expired.publicJwks).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(errors.JWKSNoMatchingKey);
    });

    it('rotates both algorithms by default, and the newest key signs even within the same millisecond', async () => {
      await keys.ensureKeys();
      const first = await keys.rotate();
      const second = await keys.rotate();
      expect(first).to.have.length(2);
      const set = await keys.load();
      expect([set.signing.ES256.kid, set.signing.RS256.kid]).to.deep.equal(second);
      expect(set.publicJwks.keys).to.have.length(6);
    });

    describe('with KEY_ENCRYPTION_KEY', () => {
      const box = createSecretBox(randomBytes(32));
      const sealedKeys = (secretBox = box) => createKeyService({ models: db.models, maxTokenTtlSeconds: TTL, now: () => clock, secretBox });
      const stored = async () => (await db.models.SigningKey.findAll({ order: [['kid', 'ASC']] })).map((row) => ({ kid: row.kid, privateJwk: row.privateJwk }));

      it('stores new private keys encrypted (no key material in the row) and signs with them', async () => {
        const encrypted = sealedKeys();
        await encrypted.ensureKeys();
        await encrypted.rotate('ES256');
        const rows = await stored();
        expect(rows).to.have.length(3);
        for (const row of rows) {
          expect(row.privateJwk).to.match(/^enc:v1:/);
          expect(row.privateJwk).not.to.match(/"d"|"kty"/);
        }
        const set = await encrypted.load();
        for (const jwk of set.jwks.keys) expect(jwk.d, 'opened to the private JWK').to.be.a('string');
        expect(await verify(await sign(set, 'RS256'), set.publicJwks)).to.equal(set.signing.RS256.kid);
        expect(await verify(await sign(set, 'ES256'), set.publicJwks)).to.equal(set.signing.ES256.kid);
      });

      it('encrypts the keys a start without the key left in plaintext, once, and keeps their kids', async () => {
        await keys.ensureKeys();
        const before = await keys.load();
        const plaintext = await stored();
        expect(plaintext.every((row) => row.privateJwk.startsWith('{'))).to.equal(true);

        const encrypted = sealedKeys();
        await encrypted.ensureKeys();
        const sealed = await stored();
        expect(sealed.map((row) => row.kid)).to.deep.equal(plaintext.map((row) => row.kid));
        expect(sealed.every((row) => row.privateJwk.startsWith('enc:v1:'))).to.equal(true);
        await encrypted.ensureKeys();
        expect(await stored(), 'idempotent: sealed rows are left as they are').to.deep.equal(sealed);
        expect((await encrypted.load()).jwks).to.deep.equal(before.jwks);
      });

      it('refuses to read encrypted keys with another key or with none, naming the key, and seals nothing then', async () => {
        await sealedKeys().ensureKeys();
        const sealed = await stored();
        const wrong = sealedKeys(createSecretBox(randomBytes(32)));
        await expectRejection(wrong.load(), /^KEY_ENCRYPTION_KEY: signing key \S+ was sealed with a different KEY_ENCRYPTION_KEY/);
        // A plaintext key added meanwhile (a process without the key) is not sealed under the wrong key.
        await keys.rotate('ES256');
        await expectRejection(wrong.ensureKeys(), /different KEY_ENCRYPTION_KEY/);
        expect((await stored()).filter((row) => row.privateJwk.startsWith('{'))).to.have.length(1);
        await expectRejection(keys.load(), /^KEY_ENCRYPTION_KEY: signing key \S+ is stored encrypted, but KEY_ENCRYPTION_KEY is not set$/);
        expect((await stored()).filter((row) => sealed.some((s) => s.privateJwk === row.privateJwk))).to.have.length(2);
      });
    });

  });
}

for (const kind of DATABASE_KINDS) {
  describe(`ensureKeys from several processes at once on ${kind}`, () => {
    let db: TestDatabase;
    before(async function () {
      db = await createTestDatabase(kind, { mocha: this });
    });
    after(() => db?.drop());

    it('creates exactly one key per algorithm', async () => {
      const { createSequelize } = await import('../../src/db/sequelize.ts');
      const { initModels } = await import('../../src/db/models/index.ts');
      const connections = [createSequelize({ url: db.url, poolMax: 2 }), createSequelize({ url: db.url, poolMax: 2 }), db.sequelize];
      try {
        await Promise.all(
          connections.map((sequelize) => createKeyService({ models: initModels(sequelize), maxTokenTtlSeconds: TTL }).ensureKeys()),
        );
        expect(await db.models.SigningKey.count()).to.equal(2);
      } finally {
        await Promise.all(connections.slice(0, 2).map((sequelize) => sequelize.close()));
      }
    });
  });
}
