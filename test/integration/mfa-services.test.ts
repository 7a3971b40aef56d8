/**
 * The second-factor services on both databases (CONTRACT §9): secrets go through the injected sealer, a
 * TOTP code is accepted once even when sent twice at the same moment, older steps are refused after a newer
 * one, recovery codes are single-use under concurrency too, and MFA_POLICY is parsed as documented.
 */
import { expect } from 'chai';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { createMfaService, type MfaService } from '../../src/services/mfa/factors.ts';
import { InvalidMfaCodeError } from '../../src/services/mfa/errors.ts';
import { totpCode } from '../../src/services/mfa/totp.ts';
import { policyRequiresFactor } from '../../src/services/mfa/policy.ts';
import { createPasswordService } from '../../src/services/passwords.ts';
import { loadConfig, ConfigError } from '../../src/config.ts';
import { randomBytes } from 'node:crypto';
import { FactorSecretSealedError, boxedSecrets, unsealedSecrets, type SecretSealer } from '../../src/services/mfa/secrets.ts';
import { SEALED_PREFIX, SecretBoxError, createSecretBox } from '../../src/services/secret-box.ts';

const STEP = 30_000;
const ctx = { door: 'test' };

/** A sealer that visibly changes what is stored (and checks it gets back its own output, for the same row). */
const sealer: SecretSealer = {
  seal: (plain, context) => `sealed:${context}:${Buffer.from(plain).toString('base64url')}`,
  open: (sealed, context) => {
    if (!sealed.startsWith(`sealed:${context}:`)) throw new Error('not sealed for this row');
    return Buffer.from(sealed.slice(`sealed:${context}:`.length), 'base64url').toString();
  },
};

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return undefined;
}

for (const kind of DATABASE_KINDS) {
  describe(`second-factor services (${kind})`, function () {
    this.timeout(30_000);
    let db: TestDatabase;
    let mfa: MfaService;
    let clock = Date.now();
    const passwords = createPasswordService({ memoryCost: 1024, timeCost: 1, parallelism: 1 });

    before(async function () {
      db = await createTestDatabase(kind, { mocha: this });
      mfa = createMfaService({
        models: db.models,
        sequelize: db.sequelize,
        secrets: sealer,
        passwords,
        audit: { record: async () => undefined },
        issuerName: 'idp.test',
        now: () => clock,
      });
    });
    after(() => db?.drop());

    async function user(name: string): Promise<string> {
      const org = await db.models.Organization.create({ name, slug: `${name}-${Date.now()}` });
      const row = await db.models.User.create({ email: `${name}@example.test`, passwordHash: await passwords.hash('pw-correct-horse'), organizationId: org.id });
      return row.id;
    }

    it('stores the TOTP secret only sealed, and reads it back through the sealer', async () => {
      const id = await user('sealed');
      const { secret, otpauthUri } = await mfa.startTotp(id, 'sealed@example.test');
      expect(otpauthUri).to.include('issuer=idp.test');
      const row = await db.models.TotpFactor.findByPk(id);
      expect(row?.secretSealed).to.equal(sealer.seal(secret, `totp:${id}`));
      expect(row?.secretSealed).to.not.include(secret);
      expect(await mfa.confirmTotp(id, totpCode(secret, clock), ctx)).to.have.length(10);
      const codes = await db.models.RecoveryCode.findAll({ where: { userId: id } });
      expect(codes).to.have.length(10);
      for (const code of codes) expect(code.codeHash).to.match(/^[0-9a-f]{64}$/);
    });

    it('accepts a TOTP code once, even sent twice at the same moment, and never an older step after a newer one', async () => {
      const id = await user('replay');
      const { secret } = await mfa.startTotp(id, 'replay@example.test');
      await mfa.confirmTotp(id, totpCode(secret, clock), ctx);
      clock += STEP;
      const code = totpCode(secret, clock);
      const results = await Promise.allSettled([mfa.verifyCode(id, code, ctx), mfa.verifyCode(id, code, ctx)]);
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof InvalidMfaCodeError)).to.have.length(1);
      // One step back is within the window, but older than the step just used.
      expect(await rejected(mfa.verifyCode(id, totpCode(secret, clock - STEP), ctx))).to.be.instanceOf(InvalidMfaCodeError);
      expect(await mfa.verifyCode(id, totpCode(secret, clock + STEP), ctx)).to.equal('totp');
      // Two steps away is outside the window.
      expect(await rejected(mfa.verifyCode(id, totpCode(secret, clock + 3 * STEP), ctx))).to.be.instanceOf(InvalidMfaCodeError);
    });

    it('uses a recovery code once, also under concurrency', async () => {
      const id = await user('recovery');
      const { secret } = await mfa.startTotp(id, 'recovery@example.test');
      const [code] = (await mfa.confirmTotp(id, totpCode(secret, clock), ctx)) as [string];
      const results = await Promise.allSettled([mfa.verifyCode(id, code, ctx), mfa.verifyCode(id, ` ${code.toUpperCase()} `, ctx)]);
      expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<string>).value)).to.deep.equal(['recovery_code']);
      expect((await mfa.status(id)).recovery_codes_left).to.equal(9);
    });

    it('removes everything for the admin, and says whether there was anything', async () => {
      const id = await user('removed');
      const { secret } = await mfa.startTotp(id, 'removed@example.test');
      await mfa.confirmTotp(id, totpCode(secret, clock), ctx);
      expect(await mfa.removeAll(id, { ...ctx, actorId: id })).to.equal(true);
      expect(await mfa.status(id)).to.deep.equal({ totp: false, passkeys: [], recovery_codes_left: 0 });
      expect(await mfa.removeAll(id, ctx)).to.equal(false);
    });
  });
}

describe('MFA_POLICY (CONTRACT §1)', () => {
  it('parses optional, required and roles:a,b, and refuses anything else naming the key', () => {
    expect(loadConfig({ NODE_ENV: 'test' }).mfaPolicy).to.deep.equal({ kind: 'optional' });
    expect(loadConfig({ NODE_ENV: 'test', MFA_POLICY: 'required' }).mfaPolicy).to.deep.equal({ kind: 'required' });
    const roles = loadConfig({ NODE_ENV: 'test', MFA_POLICY: 'roles: admin , auditor' }).mfaPolicy;
    expect(roles).to.deep.equal({ kind: 'roles', roles: ['admin', 'auditor'] });
    expect(policyRequiresFactor(roles, ['auditor'])).to.equal(true);
    expect(policyRequiresFactor(roles, ['editor'])).to.equal(false);
    expect(policyRequiresFactor({ kind: 'optional' }, ['admin'])).to.equal(false);
    for (const bad of ['sometimes', 'roles:', 'roles: ,']) {
      let error: unknown;
      try {
        loadConfig({ NODE_ENV: 'test', MFA_POLICY: bad });
      } catch (err) {
        error = err;
      }
      expect(error, bad).to.be.instanceOf(ConfigError);
      expect((error as ConfigError).problems.join('\n')).to.match(/^MFA_POLICY: /m);
    }
  });
});

describe('factor secret sealers', () => {
  const box = createSecretBox(randomBytes(32));

  it('boxedSecrets seals with the secret box, bound to the row; a value stored in the clear before the key is read as it is', () => {
    const secrets = boxedSecrets(box);
    const sealed = secrets.seal('JBSWY3DPEHPK3PXP', 'totp:a');
    expect(sealed.startsWith(SEALED_PREFIX)).to.equal(true);
    expect(secrets.open(sealed, 'totp:a')).to.equal('JBSWY3DPEHPK3PXP');
    expect(() => secrets.open(sealed, 'totp:b')).to.throw(SecretBoxError);
    expect(secrets.open('JBSWY3DPEHPK3PXP', 'totp:a')).to.equal('JBSWY3DPEHPK3PXP');
  });

  it('unsealedSecrets stores as is, and refuses a value sealed under a key it does not have', () => {
    expect(unsealedSecrets.seal('JBSWY3DPEHPK3PXP', 'totp:a')).to.equal('JBSWY3DPEHPK3PXP');
    expect(unsealedSecrets.open('JBSWY3DPEHPK3PXP', 'totp:a')).to.equal('JBSWY3DPEHPK3PXP');
    expect(() => unsealedSecrets.open(box.seal('JBSWY3DPEHPK3PXP', 'totp:a'), 'totp:a')).to.throw(FactorSecretSealedError);
  });
});
