import { expect } from 'chai';
import { UniqueConstraintError } from 'sequelize';
import { normalizeEmail } from '../../src/db/models/index.ts';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/database.ts';

for (const kind of DATABASE_KINDS) {
  describe(`models on ${kind}`, () => {
    let db: TestDatabase;
    before(async function () {
      db = await createTestDatabase(kind, { mocha: this });
    });
    after(() => db?.drop());

    let counter = 0;
    const unique = (prefix: string) => `${prefix}${(counter += 1)}`;
    const newUser = (fields: { email?: string; username?: string | null } = {}) =>
      db.models.User.create({ email: fields.email ?? `${unique('u')}@example.com`, username: fields.username ?? null, passwordHash: '$argon2id$x' });

    it('creates and reads back every model with its JSON, boolean and date fields', async () => {
      const { User, Role, Organization, Membership, SigningKey, OidcClient, AuditEvent, UserRole } = db.models;
      const org = await Organization.create({ name: 'Acme', slug: unique('acme-') });
      const user = await User.create({
        email: `${unique('full')}@example.com`,
        username: unique('Full'),
        passwordHash: '$argon2id$hash',
        fullName: 'Ada Lovelace',
        phone: '+44 20 0000',
        status: 'suspended',
        emailVerified: true,
        onboardingCompleted: true,
        onboardingStep: 3,
        onboardingData: { plan: 'pro', steps: [1, 2] },
        organizationId: org.id,
      });
      const role = await Role.create({ name: unique('role-'), description: 'does things' });
      await user.addRole(role);
      await Membership.create({ userId: user.id, organizationId: org.id, role: 'owner' });
      await SigningKey.create({ kid: unique('kid-'), alg: 'ES256', privateJwk: '{"kty":"EC"}' });
      await OidcClient.create({ clientId: unique('client-'), metadata: { redirect_uris: ['https://rp.example/cb'] }, firstParty: true });
      await AuditEvent.create({ type: 'login', outcome: 'success', userId: user.id, ip: '127.0.0.1', userAgent: 'test', clientId: 'c', detail: { method: 'password' } });

      const read = await User.findByPk(user.id, { include: ['roles', 'organization', 'memberships', 'organizations'] });
      expect(read).to.not.equal(null);
      const u = read!;
      expect(u.id).to.match(/^[0-9a-f-]{36}$/);
      expect(u.number).to.be.a('number');
      expect(u.status).to.equal('suspended');
      expect(u.emailVerified).to.equal(true);
      expect(u.onboardingCompleted).to.equal(true);
      expect(u.onboardingStep).to.equal(3);
      expect(u.onboardingData).to.deep.equal({ plan: 'pro', steps: [1, 2] });
      expect(u.createdAt).to.be.instanceOf(Date);
      expect(u.roles?.map((r) => r.name)).to.deep.equal([role.name]);
      expect(u.organization?.slug).to.equal(org.slug);
      expect(u.memberships?.map((m) => m.role)).to.deep.equal(['owner']);
      expect(u.organizations?.map((o) => o.id)).to.deep.equal([org.id]);
      expect(await UserRole.count({ where: { userId: user.id } })).to.equal(1);

      const client = await OidcClient.findOne({ where: { firstParty: true } });
      expect(client?.metadata).to.deep.equal({ redirect_uris: ['https://rp.example/cb'] });
      expect(client?.secretHash).to.equal(null);
      const event = await AuditEvent.findOne({ where: { userId: user.id } });
      expect(event?.detail).to.deep.equal({ method: 'password' });
      expect(event?.createdAt).to.be.instanceOf(Date);
      const signingKey = await SigningKey.findOne();
      expect(signingKey?.supersededAt).to.equal(null);
      expect(signingKey?.createdAt).to.be.instanceOf(Date);

      const defaults = await newUser();
      expect(defaults.status).to.equal('active');
      expect((await User.findByPk(defaults.id))?.emailVerified).to.equal(false);
    });

    it('numbers users sequentially', async () => {
      const a = await newUser();
      const b = await newUser();
      const c = await newUser();
      expect(b.number).to.equal(a.number + 1);
      expect(c.number).to.equal(b.number + 1);
      expect((await db.models.User.findByPk(c.id))?.number).to.equal(c.number);
    });

    it('stores e-mail lower-case and refuses the same address in another case', async () => {
      const email = `${unique('Mixed')}@Example.COM`;
      const user = await newUser({ email });
      expect(user.email).to.equal(email.toLowerCase());
      expect((await db.models.User.findOne({ where: { email: normalizeEmail(email) } }))?.id).to.equal(user.id);
      let error: unknown;
      await newUser({ email: email.toUpperCase() }).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(UniqueConstraintError);
    });

    it('keeps usernames unique case-insensitively and allows many users without one', async () => {
      const name = unique('CaseName');
      const user = await newUser({ username: name });
      expect(user.username).to.equal(name);
      expect(user.usernameNormalized).to.equal(name.toLowerCase());
      let error: unknown;
      await newUser({ username: name.toUpperCase() }).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(UniqueConstraintError);
      await newUser({ username: null });
      await newUser({ username: null });
    });

    it('keeps the normalized username in step through instance and bulk updates', async () => {
      const { User } = db.models;
      const user = await newUser({ username: unique('First') });
      const second = unique('Second');
      await user.update({ username: second });
      expect((await User.findByPk(user.id))?.usernameNormalized).to.equal(second.toLowerCase());
      const third = unique('THIRD');
      await User.update({ username: third, email: `${unique('BULK')}@X.ORG` }, { where: { id: user.id } });
      const read = await User.findByPk(user.id);
      expect(read?.usernameNormalized).to.equal(third.toLowerCase());
      expect(read?.email).to.equal(read?.email.toLowerCase());
      let error: unknown;
      await newUser({ username: third.toLowerCase() }).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(UniqueConstraintError);
    });

    it('refuses duplicate role names, organization slugs and memberships', async () => {
      const { Role, Organization, Membership } = db.models;
      const roleName = unique('dup-role-');
      await Role.create({ name: roleName });
      const slug = unique('dup-org-');
      const org = await Organization.create({ name: 'Org', slug });
      const user = await newUser();
      await Membership.create({ userId: user.id, organizationId: org.id, role: 'member' });
      for (const attempt of [
        () => Role.create({ name: roleName }),
        () => Organization.create({ name: 'Other', slug }),
        () => Membership.create({ userId: user.id, organizationId: org.id, role: 'admin' }),
      ]) {
        let error: unknown;
        await attempt().catch((err: unknown) => (error = err));
        expect(error).to.be.instanceOf(UniqueConstraintError);
      }
    });

    it('deletes a user\'s roles and memberships with the user, and unsets a deleted primary organization', async () => {
      const { Role, Organization, Membership, UserRole, User } = db.models;
      const org = await Organization.create({ name: 'Gone', slug: unique('gone-') });
      const user = await User.create({ email: `${unique('cascade')}@example.com`, passwordHash: 'x', organizationId: org.id });
      await user.addRole(await Role.create({ name: unique('cascade-role-') }));
      await Membership.create({ userId: user.id, organizationId: org.id, role: 'owner' });
      const other = await newUser();
      await Membership.create({ userId: other.id, organizationId: org.id, role: 'member' });

      await user.destroy();
      expect(await UserRole.count({ where: { userId: user.id } })).to.equal(0);
      expect(await Membership.count({ where: { userId: user.id } })).to.equal(0);

      const orphan = await User.create({ email: `${unique('orphan')}@example.com`, passwordHash: 'x', organizationId: org.id });
      await org.destroy();
      expect((await User.findByPk(orphan.id))?.organizationId).to.equal(null);
      expect(await Membership.count({ where: { organizationId: org.id } })).to.equal(0);
    });

    it('lets exactly one of two concurrent registrations of one e-mail succeed', async () => {
      const { User, Organization, Membership } = db.models;
      const email = `${unique('race')}@example.com`;
      const register = (n: number) =>
        db.sequelize.transaction(async (transaction) => {
          const org = await Organization.create({ name: 'Personal', slug: unique(`race-${n}-`) }, { transaction });
          const user = await User.create({ email, passwordHash: 'x', organizationId: org.id }, { transaction });
          await Membership.create({ userId: user.id, organizationId: org.id, role: 'owner' }, { transaction });
          return user;
        });
      const results = await Promise.allSettled([register(1), register(2), register(3)]);
      const fulfilled = results.filter((r) => r.status === 'fulfilled');
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(fulfilled).to.have.length(1);
      for (const failure of rejected) expect(failure.reason).to.be.instanceOf(UniqueConstraintError);
      expect(await User.count({ where: { email } })).to.equal(1);
    });

    it('refuses a status outside active, inactive, suspended', async () => {
      let error: unknown;
      await db.models.User.create({ email: `${unique('status')}@example.com`, passwordHash: 'x', status: 'banned' as 'active' }).catch(
        (err: unknown) => (error = err),
      );
      expect((error as Error)?.name).to.equal('SequelizeValidationError');
    });
  });
}

describe('isUuid', () => {
  it('accepts UUIDs and rejects what PostgreSQL would refuse to compare with a UUID column', async () => {
    const { isUuid } = await import('../../src/db/uuid.ts');
    expect(isUuid('0b7f1c9e-3a52-4c55-9a0e-8d4f7c1e2a3b')).to.equal(true);
    expect(isUuid('0B7F1C9E-3A52-4C55-9A0E-8D4F7C1E2A3B')).to.equal(true);
    for (const bad of ['', '42', 'not-a-uuid', '0b7f1c9e-3a52-4c55-9a0e-8d4f7c1e2a3b ', 42, null, undefined]) expect(isUuid(bad), String(bad)).to.equal(false);
  });
});
