import { createHash } from 'node:crypto';
import type { JsonObject, UserStatus } from '../../db/models/index.ts';
import { UserTakenError, type LoginCandidate, type UserChanges, type UserQueries, type UserRow } from '../../db/queries/users.ts';
import type { Logger } from '../../logger.ts';
import { RequestAbandonedError, ServerBusyError, ServiceUnavailableError } from '../../errors.ts';
import { PASSWORD_MAX_LENGTH, type PasswordService } from '../passwords.ts';
import type { SessionService } from '../sessions.ts';
import type { AuditService } from '../audit.ts';
import { auditFrom, type RequestContext } from '../request-context.ts';
import type { VerificationTokenService } from '../verification-tokens.ts';
import type { LoginRateLimiter } from '../rate-limits.ts';
import type { OpenRouteLimiter } from '../open-route-limits.ts';
import { passwordResetMessage, verificationMessage, type AccountLinks, type MailQueue } from './mail.ts';
import { toAccountView, type AccountView } from './view.ts';
import { identifierForms, normalizeUsername } from '../identifiers.ts';
import { passwordTooLong, type RegisterInput, type Registration } from './registration.ts';
import type { I18n, Translate } from '../i18n.ts';
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
export type { RegisterInput } from './registration.ts';

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
  /** The users table (db/queries/users.ts; a fake in unit tests). */
  users: UserQueries;
  /** New accounts (registration.ts); this service adds the verification mail. */
  registration: Registration;
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
  /** The mails' languages: each is written in the requester's (`RequestContext.locale`). */
  i18n: Pick<I18n, 'translator'>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ties a reset link to the password it replaces: once the password changes, older links stop working. */
function passwordFingerprint(passwordHash: string): string {
  return createHash('sha256').update(passwordHash).digest('base64url').slice(0, 22);
}

/**
 * Accounts: registration (with its verification mail), password login, profile, password change and
 * reset, e-mail verification, status. Every door (legacy profiles, interaction pages, admin) goes through this one service.
 */
export function createAccountService(options: AccountServiceOptions) {
  const { users, passwords, sessions, audit } = options;
  const log = options.logger.child({ component: 'accounts' });

  // With read replicas (DATABASE_READ_URLS) a replica may lag: this service reads the primary
  // (`fresh`), since its reads decide on credentials or precede a write; only the plain look-ups
  // getById/findByEmail may go to a replica.
  async function view(user: UserRow, fresh = true): Promise<AccountView> {
    return toAccountView(user, await users.rolesOf(user.id, fresh));
  }

  async function userById(id: string, fresh = true): Promise<UserRow | undefined> {
    return UUID.test(id) ? users.findById(id, fresh) : undefined;
  }

  function assertPasswordLength(field: string, password: string): void {
    if (password.length > PASSWORD_MAX_LENGTH) throw passwordTooLong(field);
  }

  /** Whether the address may get one more mail now; when not, the mail is skipped (the answer does not change). */
  async function mayMail(user: UserRow, kind: string): Promise<boolean> {
    if (await options.mailLimiter.allowMail(user.email)) return true;
    log.info({ userId: user.id, kind }, 'mail not sent: the address has had its share of mails this hour');
    return false;
  }

  /** Issues a verification link and mails it, unless the address has had its share of mails. */
  async function sendVerification(user: UserRow, links: AccountLinks, ctx: RequestContext): Promise<void> {
    if (!(await mayMail(user, 'verify-email'))) return;
    const token = await options.verificationTokens.issue('verify-email', user.id, user.email);
    const hours = Math.round(options.linkTtlSeconds.verifyEmail / 3600);
    options.mail.enqueue(verificationMessage(mailLanguage(ctx), toRecipient(user), links.verifyEmail(token), hours));
  }

  /** A mail is written in the language of the request that caused it (CONTRACT §4). */
  function mailLanguage(ctx: RequestContext): Translate {
    return options.i18n.translator(ctx.locale);
  }

  function toRecipient(user: UserRow) {
    return { email: user.email, full_name: user.fullName ?? null, username: user.username ?? null, email_verified: user.emailVerified };
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
        await users.replacePasswordHash(user.id, user.passwordHash, fresh);
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
      const created = await options.registration.register(input, ctx);
      if (links) {
        try {
          await sendVerification(created, links, ctx);
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
      // The hash queue is full: this login would be refused at its hash; refused before any other work.
      if (passwords.busy()) throw new ServerBusyError();
      const forms = identifierForms(login);
      const candidates = forms.username && password.length <= PASSWORD_MAX_LENGTH ? await users.loginCandidates(forms) : [];
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
        return users.idByNumber(Number(value));
      }
      return (await users.idByUsername(normalizeUsername(value))) ?? users.idByEmailWithoutUsername(value.trim().toLowerCase());
    },

    async findByEmail(email: string): Promise<AccountView | undefined> {
      const user = await users.findByEmail(email.trim().toLowerCase(), false);
      return user ? view(user, false) : undefined;
    },

    /** Applies the allowed profile fields only. A taken username → AccountExistsError. */
    async updateProfile(userId: string, patch: ProfilePatch, ctx: RequestContext): Promise<AccountView> {
      const user = await userById(userId);
      if (!user) throw new InvalidCredentialsError();
      const changes: UserChanges = {};
      if (patch.fullName !== undefined) changes.fullName = patch.fullName;
      if (patch.phone !== undefined) changes.phone = patch.phone;
      if (patch.username !== undefined) {
        await options.registration.assertNoCrossClash({ username: patch.username }, userId);
        changes.username = patch.username;
      }
      if (patch.onboardingCompleted !== undefined) changes.onboardingCompleted = patch.onboardingCompleted;
      if (patch.onboardingStep !== undefined) changes.onboardingStep = patch.onboardingStep;
      if (patch.onboardingData !== undefined) changes.onboardingData = patch.onboardingData;
      let updated = user;
      if (Object.keys(changes).length) {
        try {
          updated = await users.update(user, changes);
        } catch (err) {
          if (err instanceof UserTakenError && err.field === 'username') throw new AccountExistsError('username');
          throw err;
        }
        await audit.record({ type: 'profile_update', outcome: 'success', userId, ...auditFrom(ctx), detail: { fields: Object.keys(changes), door: ctx.door } });
      }
      return view(updated);
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
      if (!(await users.replacePasswordHash(userId, user.passwordHash, fresh))) throw new IncorrectPasswordError();
      const revoked = await sessions.revokeAll(userId, { exceptSessionId: input.keepSessionId, reason: 'password_change' });
      await audit.record({ type: 'password_change', outcome: 'success', userId, ...auditFrom(ctx), detail: { revoked_sessions: revoked, door: ctx.door } });
      return revoked;
    },

    /** Sends a fresh verification link (in the background), unless the address has had its share of mails. */
    async requestEmailVerification(userId: string, ctx: RequestContext, links: AccountLinks): Promise<void> {
      const user = await userById(userId);
      if (!user) throw new InvalidCredentialsError();
      if (user.emailVerified) throw new EmailAlreadyVerifiedError();
      await sendVerification(user, links, ctx);
    },

    /** Marks the e-mail verified if the token is valid, unused, and still for the user's current address. */
    async verifyEmail(token: unknown, ctx: RequestContext): Promise<AccountView> {
      const used = await options.verificationTokens.consume('verify-email', token);
      const user = used && (await userById(used.userId));
      if (!used || !user || user.email !== used.binding) {
        await audit.record({ type: 'email_verify', outcome: 'failure', ...auditFrom(ctx), detail: { door: ctx.door } });
        throw new InvalidVerificationTokenError('verify-email');
      }
      const verified = user.emailVerified ? user : await users.update(user, { emailVerified: true });
      await audit.record({ type: 'email_verify', outcome: 'success', userId: user.id, ...auditFrom(ctx), detail: { door: ctx.door } });
      return view(verified);
    },

    /** Sends a reset link if an active account has this e-mail and the address may get mail now; says nothing either way. */
    async requestPasswordReset(email: string, ctx: RequestContext, links: AccountLinks): Promise<void> {
      const user = await users.findByEmail(email.trim().toLowerCase(), true);
      await audit.record({ type: 'password_reset_request', outcome: 'success', userId: user?.id, ...auditFrom(ctx), detail: { known: Boolean(user), door: ctx.door } });
      if (!user || user.status !== 'active' || !(await mayMail(user, 'reset-password'))) return;
      const token = await options.verificationTokens.issue('reset-password', user.id, passwordFingerprint(user.passwordHash));
      const minutes = Math.round(options.linkTtlSeconds.resetPassword / 60);
      options.mail.enqueue(passwordResetMessage(mailLanguage(ctx), toRecipient(user), links.resetPassword(token), minutes));
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
      if (!(await users.replacePasswordHash(user.id, user.passwordHash, fresh, { emailVerified: true }))) {
        throw new InvalidVerificationTokenError('reset-password');
      }
      const revoked = await sessions.revokeAll(user.id, { reason: 'password_reset' });
      await audit.record({ type: 'password_reset', outcome: 'success', userId: user.id, ...auditFrom(ctx), detail: { revoked_sessions: revoked, door: ctx.door } });
    },

    /** Changes the status; leaving `active` ends every session (and, through the session listeners, every grant). */
    async setStatus(userId: string, status: UserStatus, ctx: RequestContext): Promise<AccountView | undefined> {
      const user = await userById(userId);
      if (!user) return undefined;
      const before = user.status;
      const updated = before === status ? user : await users.update(user, { status });
      if (status !== 'active') await sessions.revokeAll(userId, { reason: 'admin' });
      await audit.record({ type: 'status_change', outcome: 'success', userId, ...auditFrom(ctx), detail: { from: before, to: status, door: ctx.door } });
      return view(updated);
    },
  };
}

export type AccountService = ReturnType<typeof createAccountService>;
