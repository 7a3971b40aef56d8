/**
 * The account service against both databases: the one-transaction registration, login rules, password
 * change and reset, status changes ending sessions.
 */
import { expect } from 'chai';
import { createTestDatabase, type TestDatabase, DATABASE_KINDS } from '../helpers/database.ts';
import { createLogger } from '../../src/logger.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { createPasswordService } from '../../src/services/passwords.ts';
import { createAccountService, type AccountService } from '../../src/services/accounts/accounts.ts';
import { createRegistration } from '../../src/services/accounts/registration.ts';
import { createSessionService, type SessionService } from '../../src/services/sessions.ts';
import { createVerificationTokenService } from '../../src/services/verification-tokens.ts';
import { createLoginRateLimiter } from '../../src/services/rate-limits.ts';
import { createOpenRouteLimiter } from '../../src/services/open-route-limits.ts';
import type { MailMessage } from '../../src/services/mail.ts';
import { createI18n } from '../../src/services/i18n.ts';
import type { AuditEventInput } from '../../src/services/audit.ts';
import { AccountExistsError, AccountInactiveError, IncorrectPasswordError, InvalidCredentialsError, InvalidVerificationTokenError } from '../../src/services/accounts/errors.ts';
import type { Models } from '../../src/db/models/index.ts';
import { createUserQueries } from '../../src/db/queries/users.ts';

const ctx = { door: 'test', ip: '127.0.0.1' };
const links = { verifyEmail: (t: string) => `https://idp.test/verify?token=${t}`, resetPassword: (t: string) => `https://idp.test/reset?token=${t}` };

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

for (const kind of DATABASE_KINDS) {
  describe(`accounts (src/services/accounts/accounts.ts) on ${kind}`, function () {
    this.timeout(20_000);
    let db: TestDatabase;
    let sessions: SessionService;
    let accounts: AccountService;
    let mail: MailMessage[];
    let audit: AuditEventInput[];
    let dummyVerifies: number;

    function build(models: Models = db.models): AccountService {
      const passwords = createPasswordService({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
      const verifyDummy = passwords.verifyDummy;
      const users = createUserQueries({ sequelize: db.sequelize, models });
      const record = async (event: AuditEventInput) => void audit.push(event);
      return createAccountService({
        users,
        registration: createRegistration({ users, passwords, audit: { record } }),
        passwords: { ...passwords, verifyDummy: async (p: string) => ((dummyVerifies += 1), verifyDummy(p)) },
        sessions,
        audit: { record },
        verificationTokens: createVerificationTokenService({ store: createMemoryStore(), ttlSeconds: { 'verify-email': 3600, 'reset-password': 3600 } }),
        mail: { enqueue: (message) => void mail.push(message) },
        linkTtlSeconds: { verifyEmail: 3600, resetPassword: 3600 },
        logger: createLogger({ level: 'silent' }),
        loginLimiter: createLoginRateLimiter({ store: createMemoryStore() }),
        mailLimiter: createOpenRouteLimiter({ store: createMemoryStore() }),
        i18n: createI18n({ locales: ['en', 'de'] }),
      });
    }

    before(async function () {
      db = await createTestDatabase(kind, { mocha: this });
    });
    after(async () => db?.drop());
    beforeEach(() => {
      mail = [];
      audit = [];
      dummyVerifies = 0;
      sessions = createSessionService({ store: createMemoryStore(), defaultTtlSeconds: 3600 });
      accounts = build();
    });

    const tag = () => Math.random().toString(36).slice(2, 8);

    it('registers user, personal organization and owner membership in one transaction', async () => {
      const t = tag();
      const failing = {
        ...db.models,
        Membership: { create: async () => Promise.reject(new Error('membership insert failed')) },
      } as unknown as Models;
      const err = await rejection(build(failing).register({ email: `tx${t}@example.com`, password: 'password-1', username: `tx${t}` }, ctx));
      expect((err as Error).message).to.equal('membership insert failed');
      expect(await db.models.User.count({ where: { email: `tx${t}@example.com` } })).to.equal(0);
      expect(await db.models.Organization.count({ where: { name: `tx${t} (personal)` } })).to.equal(0);

      const account = await accounts.register({ email: `TX${t}@Example.com`, password: 'password-1', username: `tx${t}` }, ctx, links);
      expect(account.email).to.equal(`tx${t}@example.com`);
      const membership = await db.models.Membership.findOne({ where: { userId: account.id } });
      expect(membership?.role).to.equal('owner');
      expect(membership?.organizationId).to.equal(account.organization_id);
      expect(mail.map((m) => m.subject)).to.deep.equal(['Verify your e-mail address']);
      expect(mail[0]?.text).to.match(/https:\/\/idp\.test\/verify\?token=[A-Za-z0-9_-]{43}/);
    });

    it('detects a taken e-mail or username (any case) through the unique constraint', async () => {
      const t = tag();
      await accounts.register({ email: `dup${t}@example.com`, password: 'password-1', username: `Dup${t}` }, ctx);
      const byEmail = await rejection(accounts.register({ email: `DUP${t}@example.com`, password: 'password-1', username: `other${t}` }, ctx));
      expect(byEmail).to.be.instanceOf(AccountExistsError).and.include({ field: 'email' });
      const byName = await rejection(accounts.register({ email: `other${t}@example.com`, password: 'password-1', username: `dUP${t}` }, ctx));
      expect(byName).to.be.instanceOf(AccountExistsError).and.include({ field: 'username' });
    });

    it('logs in by username or e-mail, case-insensitively; unknown users cost a dummy verify and get the same error', async () => {
      const t = tag();
      await accounts.register({ email: `login${t}@example.com`, password: 'password-1', username: `Login${t}` }, ctx);
      expect((await accounts.authenticate(`LOGIN${t}`, 'password-1', ctx)).username).to.equal(`Login${t}`);
      expect((await accounts.authenticate(`Login${t}@EXAMPLE.com`, 'password-1', ctx)).email).to.equal(`login${t}@example.com`);
      const wrong = await rejection(accounts.authenticate(`login${t}`, 'password-2', ctx));
      const unknown = await rejection(accounts.authenticate(`nobody${t}`, 'password-1', ctx));
      expect(wrong).to.be.instanceOf(InvalidCredentialsError);
      expect(unknown).to.be.instanceOf(InvalidCredentialsError);
      expect((wrong as Error).message).to.equal((unknown as Error).message);
      expect(dummyVerifies).to.equal(1);
      expect(audit.filter((e) => e.type === 'login').map((e) => `${e.outcome}:${String(e.detail?.reason ?? '')}`)).to.deep.equal([
        'success:', 'success:', 'failure:bad_password', 'failure:unknown_user',
      ]);
    });

    it('returns from a login the same account view as getById: every field, roles in order', async () => {
      const t = tag();
      const account = await accounts.register({ email: `view${t}@example.com`, password: 'password-1', username: `View${t}`, fullName: 'Vi Ew', phone: '+1 555' }, ctx);
      await accounts.updateProfile(account.id, { onboardingCompleted: true, onboardingStep: 3, onboardingData: { plan: 'pro', seats: [1, 2] } }, ctx);
      const user = await db.models.User.findByPk(account.id);
      for (const name of [`zeta${t}`, `admin`, `beta${t}`]) {
        const [role] = await db.models.Role.findOrCreate({ where: { name }, defaults: { name, description: name === 'admin' ? null : `the ${name}` } });
        await user!.addRole(role);
      }
      const viaLogin = await accounts.authenticate(`view${t}`, 'password-1', ctx);
      expect(viaLogin.roles).to.deep.equal(['admin', `beta${t}`, `zeta${t}`]);
      expect(viaLogin.created_at).to.be.instanceOf(Date);
      expect(viaLogin.email_verified).to.equal(false);
      expect(viaLogin).to.deep.equal(await accounts.getById(account.id, { fresh: true }));

      const noRoles = await accounts.register({ email: `bare${t}@example.com`, password: 'password-1' }, ctx);
      expect(await accounts.authenticate(`bare${t}@example.com`, 'password-1', ctx)).to.deep.equal(await accounts.getById(noRoles.id, { fresh: true }));
    });

    it("prefers the account whose e-mail matches over one whose username is that e-mail", async () => {
      const t = tag();
      const owner = await accounts.register({ email: `owner${t}@example.com`, password: 'password-1' }, ctx);
      // Registration refuses a username equal to another user's e-mail (CONTRACT §2); one that existed before
      // that rule (an import, an older version) must still never win over the e-mail it imitates.
      expect(await rejection(accounts.register({ email: `squat${t}@example.com`, password: 'password-2', username: `Owner${t}@example.com` }, ctx))).to.be.instanceOf(AccountExistsError);
      const squatter = await accounts.register({ email: `squat${t}@example.com`, password: 'password-2', username: `squat${t}` }, ctx);
      await db.models.User.update({ username: `Owner${t}@example.com` }, { where: { id: squatter.id } });
      expect((await accounts.authenticate(`owner${t}@example.com`, 'password-1', ctx)).id).to.equal(owner.id);
      expect(await rejection(accounts.authenticate(`owner${t}@example.com`, 'password-2', ctx))).to.be.instanceOf(InvalidCredentialsError);
      expect((await accounts.authenticate(`squat${t}@example.com`, 'password-2', ctx)).id).to.equal(squatter.id);
    });

    it('tells an inactive user so only after the right password', async () => {
      const t = tag();
      const account = await accounts.register({ email: `off${t}@example.com`, password: 'password-1' }, ctx);
      await accounts.setStatus(account.id, 'inactive', ctx);
      expect(await rejection(accounts.authenticate(`off${t}@example.com`, 'wrong-pass', ctx))).to.be.instanceOf(InvalidCredentialsError);
      expect(await rejection(accounts.authenticate(`off${t}@example.com`, 'password-1', ctx))).to.be.instanceOf(AccountInactiveError);
    });

    it('ends every session (and tells the OIDC listeners) when the status leaves active', async () => {
      const account = await accounts.register({ email: `sus${tag()}@example.com`, password: 'password-1' }, ctx);
      const revoked: string[] = [];
      sessions.onRevoke(async (session) => void revoked.push(session.session_id));
      const a = await sessions.create({ userId: account.id, kind: 'password', context: ctx });
      const b = await sessions.create({ userId: account.id, kind: 'oidc', clientId: 'app', context: ctx });
      expect((await accounts.setStatus(account.id, 'suspended', ctx))?.status).to.equal('suspended');
      expect(revoked.sort()).to.deep.equal([a.session_id, b.session_id].sort());
      expect(await sessions.list(account.id)).to.deep.equal([]);
    });

    it('changes the password, keeping only the current session', async () => {
      const account = await accounts.register({ email: `chg${tag()}@example.com`, password: 'password-1' }, ctx);
      const keep = await sessions.create({ userId: account.id, kind: 'password', context: ctx });
      await sessions.create({ userId: account.id, kind: 'password', context: ctx });
      expect(await rejection(accounts.changePassword(account.id, { currentPassword: 'nope-nope', newPassword: 'password-2' }, ctx))).to.be.instanceOf(IncorrectPasswordError);
      expect(await accounts.changePassword(account.id, { currentPassword: 'password-1', newPassword: 'password-2', keepSessionId: keep.session_id }, ctx)).to.equal(1);
      expect((await sessions.list(account.id)).map((s) => s.session_id)).to.deep.equal([keep.session_id]);
      expect((await accounts.authenticate(account.email, 'password-2', ctx)).id).to.equal(account.id);
    });

    it('resets the password once per link, and a link dies when the password changes another way', async () => {
      const account = await accounts.register({ email: `rst${tag()}@example.com`, password: 'password-1' }, ctx);
      await accounts.requestPasswordReset(account.email.toUpperCase(), ctx, links);
      await accounts.requestPasswordReset(account.email, ctx, links);
      const [first, second] = mail.filter((m) => m.subject === 'Reset your password').map((m) => /token=([A-Za-z0-9_-]{43})/.exec(m.text)?.[1] ?? '');
      await sessions.create({ userId: account.id, kind: 'password', context: ctx });
      await accounts.resetPassword(first, 'password-3', ctx);
      expect(await sessions.list(account.id)).to.deep.equal([]);
      expect((await accounts.getById(account.id))?.email_verified).to.equal(true);
      expect(await rejection(accounts.resetPassword(first, 'password-4', ctx))).to.be.instanceOf(InvalidVerificationTokenError);
      expect(await rejection(accounts.resetPassword(second, 'password-4', ctx))).to.be.instanceOf(InvalidVerificationTokenError);
      await accounts.requestPasswordReset(`unknown-${tag()}@example.com`, ctx, links);
      expect(mail.filter((m) => m.subject === 'Reset your password')).to.have.length(2);
    });

    it('updates the profile fields it is given and rejects a taken username', async () => {
      const t = tag();
      await accounts.register({ email: `taken${t}@example.com`, password: 'password-1', username: `taken${t}` }, ctx);
      const account = await accounts.register({ email: `prof${t}@example.com`, password: 'password-1', username: `prof${t}` }, ctx);
      const updated = await accounts.updateProfile(account.id, { fullName: 'Pat', onboardingData: { step: 'x' }, onboardingStep: 1 }, ctx);
      expect(updated).to.include({ full_name: 'Pat', onboarding_step: 1, username: `prof${t}`, status: 'active' });
      expect(updated.onboarding_data).to.deep.equal({ step: 'x' });
      expect(await rejection(accounts.updateProfile(account.id, { username: `TAKEN${t}` }, ctx))).to.be.instanceOf(AccountExistsError);
    });
  });
}
