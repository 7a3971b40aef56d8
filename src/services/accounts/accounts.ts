import { createHash, randomBytes } from 'node:crypto';
import { Op, QueryTypes, UniqueConstraintError } from 'sequelize';
import type { Sequelize } from 'sequelize';
import type { JsonObject, Models, User, UserStatus } from '../../db/models/index.ts';
import type { Logger } from '../../logger.ts';
import { RequestAbandonedError, ServiceUnavailableError, ValidationError } from '../../errors.ts';
import { PASSWORD_MAX_LENGTH, type PasswordService } from '../passwords.ts';
import type { SessionService } from '../sessions.ts';
import type { AuditService } from '../audit.ts';
import type { RequestContext } from '../request-context.ts';
import type { VerificationTokenService } from '../verification-tokens.ts';
import type { LoginRateLimiter } from '../rate-limits.ts';
import type { OpenRouteLimiter } from '../open-route-limits.ts';
import { passwordResetMessage, verificationMessage, type AccountLinks, type MailQueue } from './mail.ts';
import { toAccountView, type AccountFields, type AccountView } from './view.ts';
import { primaryQuery } from '../primary-sql.ts';
import { canonicalEmail, identifierForms, normalizeUsername } from '../identifiers.ts';
import {
  AccountExistsError,
  AccountInactiveError,
  EmailAlreadyVerifiedError,
  IncorrectPasswordError,
  InvalidCredentialsError,
  InvalidVerificationTokenError,
} from './errors.ts';

export type { AccountView, RoleView } from './view.ts';
export type { RequestContext } from '../request-context.ts';

export interface RegisterInput {
  email: string;
  password: string;
  username?: string | null;
  fullName?: string | null;
  phone?: string | null;
}

/** The fields a user may change about themselves; anything else (roles, status, e-mail) is not here on purpose. */
export interface ProfilePatch {
  fullName?: string | null;
  phone?: string | null;
  username?: string;
  onboardingCompleted?: boolean;
  onboardingStep?: number | null;
  onboardingData?: JsonObject | null;
}

export interface AccountServiceOptions {
  models: Pick<Models, 'User' | 'Organization' | 'Membership'>;
  sequelize: Sequelize;
  passwords: PasswordService;
  sessions: Pick<SessionService, 'revokeAll'>;
  audit: Pick<AuditService, 'record'>;
  verificationTokens: VerificationTokenService;
  mail: Pick<MailQueue, 'enqueue'>;
  /** Link lifetimes, for the wording of the e-mails (the token service enforces them). */
  linkTtlSeconds: { verifyEmail: number; resetPassword: number };
  logger: Logger;
  /** The brute-force limits every password check goes through (logins, the current password of a change). */
  loginLimiter: Pick<LoginRateLimiter, 'guard'>;
  /** The mails one address may receive (CONTRACT §6): asked before every account mail. */
  mailLimiter: Pick<OpenRouteLimiter, 'allowMail'>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REGISTER_ATTEMPTS = 3;

/** Ties a reset link to the password it replaces: once the password changes, older links stop working. */
function passwordFingerprint(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url').slice(0, 22);
}

function slugBase(input: RegisterInput): string {
  const source = input.username ?? input.email.split('@')[0] ?? 'user';
  const slug = source.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return slug || 'user';
}

/** Which unique index a violation hit, on PostgreSQL and SQLite alike; undefined for any other constraint. */
function takenField(error: UniqueConstraintError): 'email' | 'username' | undefined {
  const parent = error.parent as { constraint?: string; message?: string } | undefined;
  const text = [
    ...Object.keys(error.fields ?? {}),
    ...(Array.isArray(error.fields) ? (error.fields as string[]) : []),
    parent?.constraint,
    parent?.message,
    error.message,
  ].join(' ');
  if (/username/i.test(text)) return 'username';
  if (/email/i.test(text)) return 'email';
  return undefined;
}

/**
 * A login's user and roles in one statement, read as plain rows (no model instances): the hottest
 * query of a login, at a third of the CPU of a model query plus getRoles (less again on PostgreSQL,
 * where it skips Sequelize's query layer: primary-sql.ts). At most two users match: e-mail and
 * normalized username are each unique. $1 is the identifier as an address, $2 as a username
 * (identifiers.ts). Plain SQL that PostgreSQL and SQLite both run.
 */
const LOGIN_QUERY = `
SELECT u.id, u.number, u.username, u.email, u.password_hash, u.full_name, u.phone, u.status, u.email_verified,
       u.onboarding_completed, u.onboarding_step, u.onboarding_data, u.organization_id, u.created_at, u.updated_at,
       r.id AS role_id, r.name AS role_name, r.description AS role_description
FROM users u
LEFT JOIN user_roles ur ON ur.user_id = u.id
LEFT JOIN roles r ON r.id = ur.role_id
WHERE u.email = $1 OR u.username_normalized = $2`;

interface LoginRow {
  id: string;
  number: number;
  username: string | null;
  email: string;
  password_hash: string;
  full_name: string | null;
  phone: string | null;
  status: UserStatus;
  email_verified: boolean | number;
  onboarding_completed: boolean | number;
  onboarding_step: number | null;
  onboarding_data: JsonObject | string | null;
  organization_id: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  role_id: string | null;
  role_name: string | null;
  role_description: string | null;
}

export interface LoginCandidate {
  user: AccountFields & { passwordHash: string };
  roles: { id: string; name: string; description: string | null }[];
}

// SQLite hands back dates as text, booleans as 0/1 and JSON as text; PostgreSQL (pg) parses all three.
const toDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));
const toJson = (value: JsonObject | string | null): JsonObject | null => (typeof value === 'string' ? (JSON.parse(value) as JsonObject) : value);

/** Groups the joined rows by user, in the order the users first appear. */
function loginCandidates(rows: readonly LoginRow[]): LoginCandidate[] {
  const byId = new Map<string, LoginCandidate>();
  for (const row of rows) {
    let candidate = byId.get(row.id);
    if (!candidate) {
      candidate = {
        user: {
          id: row.id,
          number: Number(row.number),
          username: row.username,
          email: row.email,
          passwordHash: row.password_hash,
          fullName: row.full_name,
          phone: row.phone,
          status: row.status,
          emailVerified: Boolean(row.email_verified),
          onboardingCompleted: Boolean(row.onboarding_completed),
          onboardingStep: row.onboarding_step,
          onboardingData: toJson(row.onboarding_data),
          organizationId: row.organization_id,
          createdAt: toDate(row.created_at),
          updatedAt: toDate(row.updated_at),
        },
        roles: [],
      };
      byId.set(row.id, candidate);
    }
    if (row.role_id !== null && row.role_name !== null) {
      candidate.roles.push({ id: row.role_id, name: row.role_name, description: row.role_description });
    }
  }
  return [...byId.values()];
}

function tooLong(field: string): ValidationError {
  return new ValidationError([
    { loc: ['body', field], msg: `String should have at most ${PASSWORD_MAX_LENGTH} characters`, type: 'string_too_long' },
  ]);
}

/**
 * Accounts: registration, password login, profile, password change and reset, e-mail verification,
 * status. Every door (legacy profiles, interaction pages, admin) goes through this one service.
 */
export function createAccountService(options: AccountServiceOptions) {
  const { User, Organization, Membership } = options.models;
  const { passwords, sessions, audit } = options;
  const log = options.logger.child({ component: 'accounts' });
  const direct = primaryQuery(options.sequelize);

  /** From the primary: the password a login checks must be the current one. */
  async function loginRows(forms: { email: string; username: string }): Promise<LoginRow[]> {
    if (direct) return direct<LoginRow>(LOGIN_QUERY, [forms.email, forms.username]);
    return options.sequelize.query<LoginRow>(LOGIN_QUERY, { bind: [forms.email, forms.username], type: QueryTypes.SELECT, useMaster: true });
  }

  /**
   * A username equal to another user's e-mail (or an e-mail equal to another user's username) would make
   * one login identifier name two accounts: refused as taken. Each column's own uniqueness is the
   * database's; this cross-check is a look-up before the write.
   */
  async function assertNoCrossClash(input: { email?: string; username?: string | null }, exceptUserId?: string): Promise<void> {
    const other = (user: User | null): boolean => user !== null && user.id !== exceptUserId;
    if (input.username && other(await load({ email: normalizeUsername(input.username) }))) throw new AccountExistsError('username');
    if (input.email && other(await load({ usernameNormalized: normalizeUsername(input.email) }))) throw new AccountExistsError('email');
  }

  // With read replicas (DATABASE_READ_URLS) a replica may lag: this service reads the primary
  // (`fresh`), since its reads decide on credentials or precede a write; only the plain look-ups
  // getById/findByEmail may go to a replica.
  async function load(where: Record<string, unknown>, fresh = true): Promise<User | null> {
    return User.findOne({ where, useMaster: fresh });
  }

  async function view(user: User, fresh = true): Promise<AccountView> {
    return toAccountView(user, await user.getRoles({ joinTableAttributes: [], useMaster: fresh }));
  }

  async function userById(id: string, fresh = true): Promise<User | null> {
    return UUID.test(id) ? load({ id }, fresh) : null;
  }

  function auditFrom(ctx: RequestContext) {
    return { ip: ctx.ip, userAgent: ctx.userAgent, clientId: ctx.clientId };
  }

  function assertPasswordLength(field: string, password: string): void {
    if (password.length > PASSWORD_MAX_LENGTH) throw tooLong(field);
  }

  async function createRows(input: RegisterInput, passwordHash: string): Promise<User> {
    const display = input.fullName || input.username || input.email.split('@')[0] || input.email;
    // On SQLite the write queue of db/sqlite-writes.ts runs this after any write already in progress.
    return options.sequelize.transaction(async (transaction) => {
      const organization = await Organization.create(
        { name: `${display} (personal)`.slice(0, 255), slug: `${slugBase(input)}-${randomBytes(4).toString('hex')}` },
        { transaction },
      );
      const user = await User.create(
        {
          email: input.email,
          username: input.username ?? null,
          passwordHash,
          fullName: input.fullName ?? null,
          phone: input.phone ?? null,
          organizationId: organization.id,
        },
        { transaction },
      );
      await Membership.create({ userId: user.id, organizationId: organization.id, role: 'owner' }, { transaction });
      return user;
    });
  }

  /** Whether the address may get one more mail now; when not, the mail is skipped (the answer does not change). */
  async function mayMail(user: User, kind: string): Promise<boolean> {
    if (await options.mailLimiter.allowMail(user.email)) return true;
    log.info({ userId: user.id, kind }, 'mail not sent: the address has had its share of mails this hour');
    return false;
  }

  /** Issues a verification link and mails it, unless the address has had its share of mails. */
  async function sendVerification(user: User, links: AccountLinks): Promise<void> {
    if (!(await mayMail(user, 'verify-email'))) return;
    const token = await options.verificationTokens.issue('verify-email', user.id, user.email);
    const hours = Math.round(options.linkTtlSeconds.verifyEmail / 3600);
    options.mail.enqueue(verificationMessage(toRecipient(user), links.verifyEmail(token), hours));
  }

  function toRecipient(user: User) {
    return { email: user.email, full_name: user.fullName ?? null, username: user.username ?? null, email_verified: user.emailVerified };
  }

  /**
   * A taken e-mail or username, found before any hashing: a registration of a taken address must not
   * cost a hash (CONTRACT §6). The unique indexes stay the final word for concurrent registrations.
   */
  async function assertFree(input: RegisterInput, ctx: RequestContext): Promise<void> {
    const username = input.username ? normalizeUsername(input.username) : undefined;
    const taken = await User.findAll({
      where: username ? { [Op.or]: [{ email: input.email }, { usernameNormalized: username }] } : { email: input.email },
      attributes: ['email', 'usernameNormalized'],
      limit: 2,
      useMaster: true,
    });
    let field: 'email' | 'username' | undefined;
    if (taken.length) field = taken.some((user) => user.email === input.email) ? 'email' : 'username';
    else {
      try {
        await assertNoCrossClash(input);
        return;
      } catch (err) {
        if (!(err instanceof AccountExistsError)) throw err;
        field = err.field;
      }
    }
    await audit.record({ type: 'register', outcome: 'failure', ...auditFrom(ctx), detail: { reason: `${field}_taken`, door: ctx.door } });
    throw new AccountExistsError(field);
  }

  /** The password check of a login, for the account found (or none: the same work on a dummy hash). */
  async function checkLogin(found: LoginCandidate | undefined, password: string, ctx: RequestContext): Promise<AccountView> {
    if (password.length > PASSWORD_MAX_LENGTH) {
      // No account has a password this long (CONTRACT §2): refused before any hashing, whoever is named.
      await audit.record({ type: 'login', outcome: 'failure', ...auditFrom(ctx), detail: { reason: 'password_too_long', door: ctx.door } });
      throw new InvalidCredentialsError();
    }
    if (!found) {
      await passwords.verifyDummy(password, ctx.abandoned);
      await audit.record({ type: 'login', outcome: 'failure', ...auditFrom(ctx), detail: { reason: 'unknown_user', door: ctx.door } });
      throw new InvalidCredentialsError();
    }
    const { user, roles } = found;
    const { ok, needsRehash } = await passwords.verify(user.passwordHash, password, ctx.abandoned);
    if (!ok) {
      await audit.record({ type: 'login', outcome: 'failure', userId: user.id, ...auditFrom(ctx), detail: { reason: 'bad_password', door: ctx.door } });
      throw new InvalidCredentialsError();
    }
    if (ctx.abandoned?.aborted) {
      // The client went away while its password was checked: no session, and no row saying it signed in.
      await audit.record({ type: 'login', outcome: 'failure', userId: user.id, ...auditFrom(ctx), detail: { reason: 'abandoned', door: ctx.door } });
      throw new RequestAbandonedError();
    }
    if (user.status !== 'active') {
      await audit.record({ type: 'login', outcome: 'failure', userId: user.id, ...auditFrom(ctx), detail: { reason: user.status, door: ctx.door } });
      throw new AccountInactiveError();
    }
    if (needsRehash) {
      try {
        const fresh = await passwords.hash(password);
        // Conditional on the old hash, so a password changed meanwhile is never overwritten.
        await User.update({ passwordHash: fresh }, { where: { id: user.id, passwordHash: user.passwordHash } });
      } catch (err) {
        log.warn({ err, userId: user.id }, 'password re-hash failed; the old hash stays valid');
      }
    }
    await audit.record({ type: 'login', outcome: 'success', userId: user.id, ...auditFrom(ctx), detail: { door: ctx.door } });
    return toAccountView(user, roles);
  }

  return {
    /**
     * Creates the user, a personal organization and the owner membership in one transaction. A taken
     * e-mail or username is refused before the password is hashed; one taken meanwhile surfaces as the
     * database's unique violation, so of concurrent registrations of one address exactly one succeeds.
     */
    async register(input: RegisterInput, ctx: RequestContext, links?: AccountLinks): Promise<AccountView> {
      assertPasswordLength('password', input.password);
      const normalized: RegisterInput = { ...input, email: canonicalEmail(input.email) ?? input.email.trim().toLowerCase() };
      await assertFree(normalized, ctx);
      const passwordHash = await passwords.hash(input.password, ctx.abandoned);
      let user: User | undefined;
      for (let attempt = 1; !user; attempt += 1) {
        try {
          user = await createRows(normalized, passwordHash);
        } catch (err) {
          if (!(err instanceof UniqueConstraintError)) throw err;
          const field = takenField(err);
          if (field) {
            await audit.record({ type: 'register', outcome: 'failure', ...auditFrom(ctx), detail: { reason: `${field}_taken`, door: ctx.door } });
            throw new AccountExistsError(field);
          }
          // The random organization slug collided: try again with another.
          if (attempt >= REGISTER_ATTEMPTS) throw err;
        }
      }
      const created = (await load({ id: user.id })) ?? user;
      await audit.record({ type: 'register', outcome: 'success', userId: created.id, ...auditFrom(ctx), detail: { door: ctx.door } });
      if (links) {
        try {
          await sendVerification(created, links);
        } catch (err) {
          // The account exists: answering 503 now would tell the client it does not. Without the store
          // no link can be issued; the user asks for one later (resend-verification).
          if (!(err instanceof ServiceUnavailableError)) throw err;
          log.warn({ userId: created.id }, 'verification link not sent: the store is unavailable');
        }
      }
      return view(created);
    },

    /**
     * Password login by username or e-mail (case-insensitive). An unknown identifier costs the same
     * hashing work as a wrong password, and both give the same error. Imported bcrypt hashes and hashes
     * below the current argon2 parameters are replaced on success.
     */
    async authenticate(login: string, password: string, ctx: RequestContext): Promise<AccountView> {
      const forms = identifierForms(login);
      const candidates = forms.username && password.length <= PASSWORD_MAX_LENGTH ? loginCandidates(await loginRows(forms)) : [];
      // E-mails first, then usernames (CONTRACT §2).
      const found = candidates.find((candidate) => candidate.user.email === forms.email) ?? candidates[0];
      // Counted for the account the identifier names (whichever identifier), before the password is checked.
      return options.loginLimiter.guard({ identifier: forms.email, accountId: found?.user.id, ip: ctx.ip }, () => checkLogin(found, password, ctx));
    },

    /** `fresh`: from the primary, not a replica (the account cache fills this way). */
    async getById(id: string, options: { fresh?: boolean } = {}): Promise<AccountView | undefined> {
      const fresh = options.fresh ?? false;
      const user = await userById(id, fresh);
      return user ? view(user, fresh) : undefined;
    },

    /**
     * The user id a legacy HS256 token's `sub` names (CONTRACT §3 `token.sub`): by username (a user
     * without one is named by its e-mail) or by number. One indexed query; the caller still checks the session.
     */
    async userIdBySubject(layout: 'username' | 'number', value: string): Promise<string | undefined> {
      if (layout === 'number') {
        if (!/^[1-9][0-9]{0,14}$/.test(value)) return undefined;
        return (await User.findOne({ where: { number: Number(value) }, attributes: ['id'] }))?.id;
      }
      const byName = await User.findOne({ where: { usernameNormalized: normalizeUsername(value) }, attributes: ['id'] });
      if (byName) return byName.id;
      return (await User.findOne({ where: { email: value.trim().toLowerCase(), username: null }, attributes: ['id'] }))?.id;
    },

    async findByEmail(email: string): Promise<AccountView | undefined> {
      const user = await load({ email: email.trim().toLowerCase() }, false);
      return user ? view(user, false) : undefined;
    },

    /** Applies the allowed profile fields only. A taken username → AccountExistsError. */
    async updateProfile(userId: string, patch: ProfilePatch, ctx: RequestContext): Promise<AccountView> {
      const user = await userById(userId);
      if (!user) throw new InvalidCredentialsError();
      const changes: Partial<Pick<User, 'fullName' | 'phone' | 'username' | 'onboardingCompleted' | 'onboardingStep' | 'onboardingData'>> = {};
      if (patch.fullName !== undefined) changes.fullName = patch.fullName;
      if (patch.phone !== undefined) changes.phone = patch.phone;
      if (patch.username !== undefined) {
        await assertNoCrossClash({ username: patch.username }, userId);
        changes.username = patch.username;
      }
      if (patch.onboardingCompleted !== undefined) changes.onboardingCompleted = patch.onboardingCompleted;
      if (patch.onboardingStep !== undefined) changes.onboardingStep = patch.onboardingStep;
      if (patch.onboardingData !== undefined) changes.onboardingData = patch.onboardingData;
      if (Object.keys(changes).length) {
        try {
          await user.update(changes);
        } catch (err) {
          if (err instanceof UniqueConstraintError && takenField(err) === 'username') throw new AccountExistsError('username');
          throw err;
        }
        await audit.record({ type: 'profile_update', outcome: 'success', userId, ...auditFrom(ctx), detail: { fields: Object.keys(changes), door: ctx.door } });
      }
      return view(user);
    },

    /**
     * Checks the current password, sets the new one and ends every other session of the user (returns how
     * many). A wrong current password counts toward the account's login limits, and a locked account is
     * refused (429) before the password is checked: a stolen access token cannot guess without limit.
     */
    async changePassword(
      userId: string,
      input: { currentPassword: string; newPassword: string; keepSessionId?: string },
      ctx: RequestContext,
    ): Promise<number> {
      assertPasswordLength('new_password', input.newPassword);
      const user = await userById(userId);
      if (!user) throw new InvalidCredentialsError();
      await options.loginLimiter.guard({ identifier: user.email, accountId: user.id, ip: ctx.ip }, async () => {
        const { ok } = input.currentPassword.length <= PASSWORD_MAX_LENGTH
          ? await passwords.verify(user.passwordHash, input.currentPassword)
          : { ok: false };
        if (!ok) {
          await audit.record({ type: 'password_change', outcome: 'failure', userId, ...auditFrom(ctx), detail: { reason: 'bad_password', door: ctx.door } });
          throw new IncorrectPasswordError();
        }
      });
      const fresh = await passwords.hash(input.newPassword);
      const [changed] = await User.update({ passwordHash: fresh }, { where: { id: userId, passwordHash: user.passwordHash } });
      if (changed === 0) throw new IncorrectPasswordError();
      const revoked = await sessions.revokeAll(userId, { exceptSessionId: input.keepSessionId, reason: 'password_change' });
      await audit.record({ type: 'password_change', outcome: 'success', userId, ...auditFrom(ctx), detail: { revoked_sessions: revoked, door: ctx.door } });
      return revoked;
    },

    /** Sends a fresh verification link (in the background), unless the address has had its share of mails. */
    async requestEmailVerification(userId: string, _ctx: RequestContext, links: AccountLinks): Promise<void> {
      const user = await userById(userId);
      if (!user) throw new InvalidCredentialsError();
      if (user.emailVerified) throw new EmailAlreadyVerifiedError();
      await sendVerification(user, links);
    },

    /** Marks the e-mail verified if the token is valid, unused, and still for the user's current address. */
    async verifyEmail(token: unknown, ctx: RequestContext): Promise<AccountView> {
      const used = await options.verificationTokens.consume('verify-email', token);
      const user = used && (await userById(used.userId));
      if (!used || !user || user.email !== used.binding) {
        await audit.record({ type: 'email_verify', outcome: 'failure', ...auditFrom(ctx), detail: { door: ctx.door } });
        throw new InvalidVerificationTokenError('verify-email');
      }
      if (!user.emailVerified) await user.update({ emailVerified: true });
      await audit.record({ type: 'email_verify', outcome: 'success', userId: user.id, ...auditFrom(ctx), detail: { door: ctx.door } });
      return view(user);
    },

    /** Sends a reset link if an active account has this e-mail and the address may get mail now; says nothing either way. */
    async requestPasswordReset(email: string, ctx: RequestContext, links: AccountLinks): Promise<void> {
      const user = await load({ email: email.trim().toLowerCase() });
      await audit.record({ type: 'password_reset_request', outcome: 'success', userId: user?.id, ...auditFrom(ctx), detail: { known: Boolean(user), door: ctx.door } });
      if (!user || user.status !== 'active' || !(await mayMail(user, 'reset-password'))) return;
      const token = await options.verificationTokens.issue('reset-password', user.id, passwordFingerprint(user.passwordHash));
      const minutes = Math.round(options.linkTtlSeconds.resetPassword / 60);
      options.mail.enqueue(passwordResetMessage(toRecipient(user), links.resetPassword(token), minutes));
    },

    /**
     * Sets a new password from a reset link and ends every session. The link proves the user reads the
     * mailbox, so the address counts as verified from then on.
     */
    async resetPassword(token: unknown, newPassword: string, ctx: RequestContext): Promise<void> {
      assertPasswordLength('new_password', newPassword);
      // Hashed before the link is used up, so a full hash queue (503) leaves the link working; and only
      // for a link that exists, so made-up tokens cost no hash.
      const fresh = (await options.verificationTokens.usable('reset-password', token)) ? await passwords.hash(newPassword) : undefined;
      const used = fresh === undefined ? undefined : await options.verificationTokens.consume('reset-password', token);
      const user = used && (await userById(used.userId));
      if (fresh === undefined || !used || !user || user.status !== 'active' || passwordFingerprint(user.passwordHash) !== used.binding) {
        await audit.record({ type: 'password_reset', outcome: 'failure', userId: user ? user.id : null, ...auditFrom(ctx), detail: { door: ctx.door } });
        throw new InvalidVerificationTokenError('reset-password');
      }
      const [changed] = await User.update(
        { passwordHash: fresh, emailVerified: true },
        { where: { id: user.id, passwordHash: user.passwordHash } },
      );
      if (changed === 0) throw new InvalidVerificationTokenError('reset-password');
      const revoked = await sessions.revokeAll(user.id, { reason: 'password_reset' });
      await audit.record({ type: 'password_reset', outcome: 'success', userId: user.id, ...auditFrom(ctx), detail: { revoked_sessions: revoked, door: ctx.door } });
    },

    /** Changes the status; leaving `active` ends every session (and, through the session listeners, every grant). */
    async setStatus(userId: string, status: UserStatus, ctx: RequestContext): Promise<AccountView | undefined> {
      const user = await userById(userId);
      if (!user) return undefined;
      const before = user.status;
      if (before !== status) await user.update({ status });
      if (status !== 'active') await sessions.revokeAll(userId, { reason: 'admin' });
      await audit.record({ type: 'status_change', outcome: 'success', userId, ...auditFrom(ctx), detail: { from: before, to: status, door: ctx.door } });
      return view(user);
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
