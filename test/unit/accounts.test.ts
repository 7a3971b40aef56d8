import { expect } from 'chai';
import { ServerBusyError } from '../../src/errors.ts';
import { createI18n } from '../../src/services/i18n.ts';
import { compareRoleNames } from '../../src/services/accounts/view.ts';
import { createVerificationTokenService } from '../../src/services/verification-tokens.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { AccountExistsError, IncorrectPasswordError, InvalidCredentialsError } from '../../src/services/accounts/errors.ts';
import { createAccountService } from '../../src/services/accounts/accounts.ts';
import { createRegistration } from '../../src/services/accounts/registration.ts';
import { createAdminAccounts } from '../../src/services/admin/accounts.ts';
import { createPasswordService } from '../../src/services/passwords.ts';
import { createSessionService } from '../../src/services/sessions.ts';
import type { AuditEventInput } from '../../src/services/audit.ts';
import { createLogger } from '../../src/logger.ts';
import { UserTakenError, type RoleRow, type UserQueries, type UserRow } from '../../src/db/queries/users.ts';

describe('accounts: pure parts', () => {
  it('orders roles admin first, then by name', () => {
    expect(['pmc_admin', 'billing', 'admin', 'auditor'].sort(compareRoleNames)).to.deep.equal(['admin', 'auditor', 'billing', 'pmc_admin']);
  });

  it('uses the contract error codes and messages', () => {
    expect(new AccountExistsError('email')).to.include({ status: 400, code: 'AUTH_EMAIL_EXISTS', message: 'Email already registered' });
    expect(new AccountExistsError('username')).to.include({ status: 400, code: 'AUTH_USERNAME_EXISTS', message: 'Username already registered' });
    const invalid = new InvalidCredentialsError();
    expect(invalid).to.include({ status: 401, code: 'AUTH_INVALID_CREDENTIALS', message: 'Incorrect username or password' });
    expect(invalid.headers).to.deep.equal({ 'WWW-Authenticate': 'Bearer' });
  });
});

describe('verification tokens (src/services/verification-tokens.ts)', () => {
  let clock = 0;
  const store = createMemoryStore({ now: () => clock });
  const tokens = createVerificationTokenService({ store, ttlSeconds: { 'verify-email': 60, 'reset-password': 30 }, now: () => clock });

  beforeEach(() => {
    clock = Date.parse('2030-01-01T00:00:00Z');
  });

  it('gives out a token once: the first use returns its user and binding, any later use nothing', async () => {
    const token = await tokens.issue('verify-email', 'user-1', 'a@example.com');
    expect(token).to.match(/^[A-Za-z0-9_-]{43}$/);
    const results = await Promise.all([tokens.consume('verify-email', token), tokens.consume('verify-email', token)]);
    expect(results.filter(Boolean)).to.deep.equal([{ userId: 'user-1', binding: 'a@example.com' }]);
    expect(await tokens.consume('verify-email', token)).to.equal(undefined);
  });

  it('is bound to its purpose and expires', async () => {
    const token = await tokens.issue('reset-password', 'user-2', 'fp');
    expect(await tokens.consume('verify-email', token)).to.equal(undefined);
    clock += 31_000;
    expect(await tokens.consume('reset-password', token)).to.equal(undefined);
    expect(await tokens.consume('reset-password', 'not a token')).to.equal(undefined);
  });
});

/** The users table in memory, with the semantics of db/queries/users.ts that the account service relies on. */
function fakeUserQueries(rows: UserRow[] = [], roles = new Map<string, RoleRow[]>()) {
  const byId = (id: string) => rows.find((row) => row.id === id);
  const copy = (row: UserRow | undefined) => (row ? { ...row } : undefined);
  const users: UserQueries = {
    async loginCandidates(forms) {
      return rows
        .filter((row) => row.email === forms.email || row.usernameNormalized === forms.username)
        .map((row) => ({ user: { ...row }, roles: [...(roles.get(row.id) ?? [])] }));
    },
    findById: async (id) => copy(byId(id)),
    findByEmail: async (email) => copy(rows.find((row) => row.email === email)),
    findByUsername: async (name) => copy(rows.find((row) => row.usernameNormalized === name)),
    findHolders: async (email, name) => rows.filter((row) => row.email === email || (name !== undefined && row.usernameNormalized === name)),
    idByNumber: async (number) => rows.find((row) => row.number === number)?.id,
    idByUsername: async (name) => rows.find((row) => row.usernameNormalized === name)?.id,
    idByEmailWithoutUsername: async (email) => rows.find((row) => row.email === email && row.username === null)?.id,
    rolesOf: async (id) => [...(roles.get(id) ?? [])],
    async createWithOrganization(user) {
      if (rows.some((row) => row.email === user.email)) throw new UserTakenError('email');
      const name = user.username?.toLowerCase() ?? null;
      if (name !== null && rows.some((row) => row.usernameNormalized === name)) throw new UserTakenError('username');
      const now = new Date();
      const row: UserRow = {
        ...user,
        id: `00000000-0000-4000-8000-${String(rows.length + 1).padStart(12, '0')}`,
        number: rows.length + 1,
        usernameNormalized: name,
        status: 'active',
        emailVerified: false,
        onboardingCompleted: false,
        onboardingStep: null,
        onboardingData: null,
        organizationId: null,
        createdAt: now,
        updatedAt: now,
      };
      rows.push(row);
      return { ...row };
    },
    async update(row, changes) {
      const stored = byId(row.id);
      if (!stored) throw new Error('no such row');
      Object.assign(stored, changes, { updatedAt: new Date() });
      return { ...stored };
    },
    async markEmailVerified(id) {
      const stored = byId(id);
      if (stored) stored.emailVerified = true;
    },
    async replacePasswordHash(id, expected, next, also = {}) {
      const stored = byId(id);
      if (!stored || stored.passwordHash !== expected) return false;
      Object.assign(stored, { passwordHash: next }, also);
      return true;
    },
  };
  return { users, rows };
}

describe('accounts (src/services/accounts/accounts.ts) over an injected users table', () => {
  const passwords = createPasswordService({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
  const ctx = { door: 'test', ip: '192.0.2.1' };
  let audit: AuditEventInput[];

  function build(users: UserQueries, revoked: string[] = []) {
    const sessions = createSessionService({ store: createMemoryStore(), defaultTtlSeconds: 3600 });
    const record = async (event: AuditEventInput) => void audit.push(event);
    return createAccountService({
      users,
      registration: createRegistration({ users, passwords, audit: { record } }),
      passwords,
      sessions: { revokeAll: async (userId, options) => (revoked.push(userId), sessions.revokeAll(userId, options)) },
      audit: { record },
      verificationTokens: createVerificationTokenService({ store: createMemoryStore(), ttlSeconds: { 'verify-email': 60, 'reset-password': 60 } }),
      mail: { enqueue: () => undefined },
      i18n: createI18n({ locales: ['en'] }),
      linkTtlSeconds: { verifyEmail: 60, resetPassword: 60 },
      logger: createLogger({ level: 'silent' }),
      loginLimiter: { guard: (_attempt, check) => check() },
      mailLimiter: { allowMail: async () => true },
    });
  }

  beforeEach(() => {
    audit = [];
  });

  it('registers, then logs in by e-mail and by username with the roles admin first; a wrong password is the unknown-user error', async () => {
    const roles = new Map<string, RoleRow[]>();
    const { users, rows } = fakeUserQueries([], roles);
    const accounts = build(users);
    const created = await accounts.register({ email: 'Ada@Example.com', password: 'password-1', username: 'Ada' }, ctx);
    expect(created).to.include({ email: 'ada@example.com', username: 'Ada', status: 'active' });
    expect(rows[0]?.passwordHash).to.match(/^\$argon2id\$/);
    roles.set(created.id, [{ id: 'r2', name: 'billing', description: null }, { id: 'r1', name: 'admin', description: null }]);

    expect((await accounts.authenticate('ADA@example.com', 'password-1', ctx)).roles).to.deep.equal(['admin', 'billing']);
    expect((await accounts.authenticate('ada', 'password-1', ctx)).id).to.equal(created.id);
    const wrong = await accounts.authenticate('ada', 'password-2', ctx).catch((err: unknown) => err);
    const unknown = await accounts.authenticate('nobody', 'password-1', ctx).catch((err: unknown) => err);
    expect(wrong).to.be.instanceOf(InvalidCredentialsError);
    expect(unknown).to.be.instanceOf(InvalidCredentialsError);
    expect(audit.filter((event) => event.type === 'login').map((event) => event.detail?.reason ?? event.outcome)).to.deep.equal([
      'success', 'success', 'bad_password', 'unknown_user',
    ]);
  });

  it('sheds a login at once while the hash queue is full: no look-up, no limiter, no audit row', async () => {
    const { users } = fakeUserQueries();
    let lookups = 0;
    const counted: UserQueries = { ...users, loginCandidates: async (forms) => ((lookups += 1), users.loginCandidates(forms)) };
    const accounts = build(counted);
    await accounts.register({ email: 'shed@example.com', password: 'password-1' }, ctx);
    passwords.busy = () => true;
    try {
      const err = await accounts.authenticate('shed@example.com', 'password-1', ctx).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ServerBusyError);
      expect(lookups).to.equal(0);
      expect(audit.filter((event) => event.type === 'login')).to.deep.equal([]);
    } finally {
      passwords.busy = () => false;
    }
    expect((await accounts.authenticate('shed@example.com', 'password-1', ctx)).email).to.equal('shed@example.com');
    expect(lookups).to.equal(1);
  });

  it('answers a username the table reports taken with AccountExistsError, and audits it', async () => {
    const { users } = fakeUserQueries();
    const accounts = build(users);
    await accounts.register({ email: 'one@example.com', password: 'password-1', username: 'same' }, ctx);
    // The look-up before hashing finds nothing (the other registration is not visible yet): the table's
    // unique index is the final word.
    const racing: UserQueries = { ...users, findHolders: async () => [] };
    const err = await build(racing).register({ email: 'two@example.com', password: 'password-1', username: 'SAME' }, ctx).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(AccountExistsError).and.include({ field: 'username' });
    expect(audit.at(-1)).to.deep.include({ type: 'register', outcome: 'failure' });
    expect(audit.at(-1)?.detail).to.deep.include({ reason: 'username_taken' });
  });

  it('does not change a password that changed meanwhile, and then ends no session', async () => {
    const { users, rows } = fakeUserQueries();
    const revoked: string[] = [];
    const accounts = build(users, revoked);
    const created = await accounts.register({ email: 'race@example.com', password: 'password-1' }, ctx);
    // Another request replaces the hash between this change's check and its write.
    const racing: UserQueries = {
      ...users,
      async replacePasswordHash(id, expected, next, also) {
        rows[0]!.passwordHash = await passwords.hash('password-other');
        return users.replacePasswordHash(id, expected, next, also);
      },
    };
    const err = await build(racing, revoked)
      .changePassword(created.id, { currentPassword: 'password-1', newPassword: 'password-new' }, ctx)
      .catch((e: unknown) => e);
    expect(err).to.be.instanceOf(IncorrectPasswordError);
    expect(revoked).to.deep.equal([]);
    expect((await passwords.verify(rows[0]!.passwordHash, 'password-other')).ok).to.equal(true);
  });
});

describe('admin accounts of create-admin (src/services/admin/accounts.ts) over an injected users table', () => {
  const passwords = createPasswordService({ memoryCost: 1024, timeCost: 1, parallelism: 1 });

  it('registers a verified admin with the admin role, then promotes that account instead of creating another', async () => {
    const { users, rows } = fakeUserQueries();
    const audit: AuditEventInput[] = [];
    const granted: [string, string][] = [];
    const record = async (event: AuditEventInput) => void audit.push(event);
    const admins = createAdminAccounts({
      registration: createRegistration({ users, passwords, audit: { record } }),
      users,
      roles: { adminRole: 'idp_admin', grant: async (userId: string, role: string) => void granted.push([userId, role]) },
      audit: { record },
    });
    const ctx = { door: 'cli' };
    expect(await admins.promote('ops@example.com', ctx)).to.equal(undefined);
    const created = await admins.create({ email: 'ops@example.com', password: 'operator password', username: null }, ctx);
    expect(created).to.include({ email: 'ops@example.com', status: 'active' });
    expect(rows[0]).to.include({ id: created.userId, emailVerified: true });
    const promoted = await admins.promote('ops@example.com', ctx);
    expect(promoted?.userId).to.equal(created.userId);
    expect(rows).to.have.length(1);
    expect(granted).to.deep.equal([[created.userId, 'idp_admin'], [created.userId, 'idp_admin']]);
    expect(audit.map((event) => event.type)).to.deep.equal(['register', 'cli.admin_create', 'cli.admin_promote']);
  });
});
