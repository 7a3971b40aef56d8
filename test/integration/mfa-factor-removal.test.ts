/**
 * Managing one's factors (CONTRACT §9, §10): passkeys renamed (1–64 characters, trimmed, no control
 * characters) and removed one at a time, only one's own; and under MFA_POLICY the last TOTP or passkey of a
 * user it names is refused (409), also when two removals race, on both databases.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { createMfaService, type MfaService } from '../../src/services/mfa/factors.ts';
import { InvalidPasskeyNameError, LastFactorError, PasskeyNotFoundError, TotpNotEnabledError } from '../../src/services/mfa/errors.ts';
import { totpCode } from '../../src/services/mfa/totp.ts';
import { unsealedSecrets } from '../../src/services/mfa/secrets.ts';
import { createPasswordService } from '../../src/services/passwords.ts';
import type { AuditEventInput } from '../../src/services/audit.ts';

const ctx = { door: 'test' };
const PASSWORD = 'pw-correct-horse';

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return undefined;
}

for (const kind of DATABASE_KINDS) {
  describe(`removing and renaming factors (${kind})`, function () {
    this.timeout(30_000);
    let db: TestDatabase;
    let mfa: MfaService;
    const events: AuditEventInput[] = [];
    const passwords = createPasswordService({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
    let counter = 0;

    before(async function () {
      db = await createTestDatabase(kind, { mocha: this });
      mfa = createMfaService({
        models: db.models,
        sequelize: db.sequelize,
        secrets: unsealedSecrets,
        passwords,
        audit: { record: async (event) => void events.push(event) },
        issuerName: 'idp.test',
        policy: { kind: 'roles', roles: ['auditor'] },
      });
      await db.models.Role.create({ name: 'auditor' });
    });
    after(() => db?.drop());

    async function user(options: { auditor?: boolean } = {}): Promise<string> {
      counter += 1;
      const name = `factors${counter}`;
      const org = await db.models.Organization.create({ name, slug: `${name}-${randomBytes(4).toString('hex')}` });
      const row = await db.models.User.create({ email: `${name}@example.test`, passwordHash: await passwords.hash(PASSWORD), organizationId: org.id });
      if (options.auditor) await row.setRoles(await db.models.Role.findAll({ where: { name: 'auditor' } }));
      return row.id;
    }

    /** A stored passkey (the ceremony is tested with a browser; here only the row matters). */
    async function passkey(userId: string, name = 'Laptop'): Promise<string> {
      const row = await db.models.Passkey.create({ userId, name, credentialId: randomBytes(16).toString('base64url'), publicKeySealed: 'pk', signCount: 0, transports: null });
      return row.id;
    }

    async function totp(userId: string): Promise<void> {
      const { secret } = await mfa.startTotp(userId, 'someone');
      await mfa.confirmTotp(userId, totpCode(secret), ctx);
    }

    it('renames a passkey: trimmed, 1–64 characters, no control characters; only the user\'s own', async () => {
      const id = await user();
      const key = await passkey(id);
      expect(await mfa.renamePasskey(id, key, '  Work laptop  ', ctx)).to.deep.equal({ id: key, name: 'Work laptop' });
      expect((await mfa.status(id)).passkeys[0]?.name).to.equal('Work laptop');
      expect(await mfa.renamePasskey(id, key, 'ü'.repeat(64), ctx)).to.have.property('name', 'ü'.repeat(64));
      for (const bad of ['', '   ', 'x'.repeat(65), 'line\nbreak', 'tab\there', 'bidi\u202Eevil', 'nul\u0000']) {
        const err = await rejected(mfa.renamePasskey(id, key, bad, ctx));
        expect(err, JSON.stringify(bad)).to.be.instanceOf(InvalidPasskeyNameError);
        expect(err).to.have.property('status', 422);
      }
      const other = await user();
      expect(await rejected(mfa.renamePasskey(other, key, 'Mine now', ctx))).to.be.instanceOf(PasskeyNotFoundError);
      expect(await rejected(mfa.renamePasskey(id, 'not-a-uuid', 'Name', ctx))).to.be.instanceOf(PasskeyNotFoundError);
      expect((await mfa.status(id)).passkeys[0]?.name).to.equal('ü'.repeat(64));
      expect(events.some((event) => event.type === 'mfa_rename' && event.userId === id && event.detail?.passkey_id === key)).to.equal(true);
    });

    it('removes one passkey of the user only; the last factor gone takes the recovery codes with it (policy not naming the user)', async () => {
      const id = await user();
      const [first, second] = [await passkey(id, 'One'), await passkey(id, 'Two')];
      expect(await mfa.recoveryCodesIfNone(id)).to.have.length(10);
      const other = await user();
      expect(await rejected(mfa.removePasskey(other, first, ctx))).to.be.instanceOf(PasskeyNotFoundError);
      expect(await rejected(mfa.removePasskey(id, 'nope', ctx))).to.be.instanceOf(PasskeyNotFoundError);

      await mfa.removePasskey(id, first, ctx);
      expect((await mfa.status(id)).passkeys.map((item) => item.id)).to.deep.equal([second]);
      expect((await mfa.status(id)).recovery_codes_left).to.equal(10);
      await mfa.removePasskey(id, second, ctx);
      expect(await mfa.status(id)).to.deep.equal({ totp: false, passkeys: [], recovery_codes_left: 0 });
      expect(await rejected(mfa.removePasskey(id, second, ctx))).to.be.instanceOf(PasskeyNotFoundError);
      expect(events.filter((event) => event.type === 'mfa_remove' && event.userId === id && event.outcome === 'success')).to.have.length(2);
    });

    it('refuses to remove the last passkey or TOTP of a user MFA_POLICY names (409), and allows it once another factor exists', async () => {
      const id = await user({ auditor: true });
      const key = await passkey(id);
      const refused = await rejected(mfa.removePasskey(id, key, ctx));
      expect(refused).to.be.instanceOf(LastFactorError);
      expect(refused).to.have.property('status', 409);
      expect((await mfa.status(id)).passkeys).to.have.length(1);
      expect(events.some((event) => event.type === 'mfa_remove' && event.outcome === 'failure' && event.userId === id && event.detail?.reason === 'last_factor')).to.equal(true);

      // An enrolment in progress is no factor: removing it is fine, and does not count as the second one.
      await mfa.startTotp(id, 'someone');
      await mfa.removeTotp(id, PASSWORD, ctx);
      expect(await rejected(mfa.removePasskey(id, key, ctx))).to.be.instanceOf(LastFactorError);

      await totp(id);
      await mfa.removePasskey(id, key, ctx);
      expect(await rejected(mfa.removeTotp(id, PASSWORD, ctx))).to.be.instanceOf(LastFactorError);
      expect((await mfa.status(id)).totp).to.equal(true);
      // The admin's removal of everything is not refused (a user who lost their devices).
      expect(await mfa.removeAll(id, ctx)).to.equal(true);
      expect(await rejected(mfa.removeTotp(id, PASSWORD, ctx))).to.be.instanceOf(TotpNotEnabledError);
    });

    it('of two removals racing for the last two passkeys of a user the policy names, exactly one succeeds', async () => {
      for (let round = 0; round < 3; round += 1) {
        const id = await user({ auditor: true });
        const keys = [await passkey(id, 'A'), await passkey(id, 'B')];
        const results = await Promise.allSettled(keys.map((key) => mfa.removePasskey(id, key, ctx)));
        expect(results.filter((result) => result.status === 'fulfilled')).to.have.length(1);
        const failure = results.find((result) => result.status === 'rejected');
        expect(failure?.reason).to.be.instanceOf(LastFactorError);
        expect((await mfa.status(id)).passkeys).to.have.length(1);
      }
    });
  });
}
