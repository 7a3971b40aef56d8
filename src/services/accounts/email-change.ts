/**
 * Changing one's e-mail address (CONTRACT §10): a single-use link (24 h, only its hash stored) goes to the
 * NEW address, and the change happens only when it is followed; the OLD address is then told. The address
 * is checked like every other (identifiers.ts), must not be another user's (e-mail or username, §2), and
 * is taken from the address's mail allowance of the open routes (§6: 5 a hour), so no one can mail-bomb
 * an address through this form. The database's unique index has the last word on a race.
 *
 * The account cache needs nothing here: the update goes through the User model, whose hooks invalidate the
 * user's cached view after the commit (account-cache.ts).
 */
import { Op, UniqueConstraintError } from 'sequelize';
import type { Models, User } from '../../db/models/index.ts';
import { AppError, ConflictError, RateLimitedError } from '../../errors.ts';
import type { AuditService } from '../audit.ts';
import type { MailQueue } from './mail.ts';
import type { I18n, Translate } from '../i18n.ts';
import type { OpenRouteLimiter } from '../open-route-limits.ts';
import type { RequestContext } from '../request-context.ts';
import type { VerificationTokenService } from '../verification-tokens.ts';
import { AccountInactiveError, InvalidCredentialsError } from './errors.ts';
import { canonicalEmail, isUuid, normalizeUsername } from '../identifiers.ts';
import { emailChangeConfirmationMessage, emailChangedNoticeMessage } from './email-change-mail.ts';

export const EMAIL_CHANGE_TTL_SECONDS = 24 * 3600;
export const EMAIL_CHANGE_PURPOSE = 'change-email';
export type EmailChangePurpose = typeof EMAIL_CHANGE_PURPOSE;

/** Where the confirmation link points: the account pages know their own URL. */
export interface EmailChangeLinks {
  confirmEmailChange(token: string): string;
}

export class InvalidEmailError extends AppError {
  constructor() {
    super(422, 'AUTH_EMAIL_INVALID', 'This is not a valid e-mail address');
  }
}

export class EmailUnchangedError extends AppError {
  constructor() {
    super(400, 'AUTH_EMAIL_UNCHANGED', 'This is already the e-mail address of your account');
  }
}

/** Another account has this address (or a username equal to it), found at the request or, in a race, at the change. */
export class EmailTakenError extends ConflictError {
  constructor() {
    super('This e-mail address is already used by another account', 'AUTH_EMAIL_EXISTS');
  }
}

/** Unknown, expired or used link, or one made before the address changed otherwise. */
export class InvalidEmailChangeTokenError extends AppError {
  constructor() {
    super(400, 'AUTH_INVALID_EMAIL_CHANGE_TOKEN', 'Invalid or expired e-mail change link');
  }
}

interface Binding {
  /** The address when the link was asked for: the link works only while it is still the account's. */
  from: string;
  to: string;
}

function parseBinding(binding: string): Binding | undefined {
  try {
    const value = JSON.parse(binding) as Partial<Binding>;
    return typeof value.from === 'string' && typeof value.to === 'string' ? { from: value.from, to: value.to } : undefined;
  } catch {
    return undefined;
  }
}

export interface EmailChangeServiceOptions {
  models: Pick<Models, 'User'>;
  tokens: VerificationTokenService<EmailChangePurpose>;
  mail: Pick<MailQueue, 'enqueue'>;
  /** The open routes' limiter: its per-address allowance is what one address may receive. */
  mailLimiter: Pick<OpenRouteLimiter, 'allowMail' | 'limits'>;
  audit: Pick<AuditService, 'record'>;
  /** The link's lifetime, for the wording of the mail (the token service enforces it). */
  ttlSeconds?: number;
  /** The mails' languages: each is written in the language of the request that caused it. */
  i18n: Pick<I18n, 'translator'>;
}

export function createEmailChangeService(options: EmailChangeServiceOptions) {
  const { User } = options.models;
  const translate = (ctx: RequestContext): Translate => options.i18n.translator(ctx.locale);
  const { tokens, audit } = options;
  const ttlHours = Math.round((options.ttlSeconds ?? EMAIL_CHANGE_TTL_SECONDS) / 3600);
  const auditFrom = (ctx: RequestContext) => ({ ip: ctx.ip, userAgent: ctx.userAgent, clientId: ctx.clientId });

  async function activeUser(userId: string): Promise<User> {
    const user = isUuid(userId) ? await User.findByPk(userId, { useMaster: true }) : null;
    if (!user) throw new InvalidCredentialsError();
    if (user.status !== 'active') throw new AccountInactiveError();
    return user;
  }

  /** Whether another account has this address, or a username that reads as it (one identifier, two accounts). */
  async function takenByAnother(email: string, userId: string): Promise<boolean> {
    const other = await User.findOne({
      where: { [Op.or]: [{ email }, { usernameNormalized: normalizeUsername(email) }], id: { [Op.ne]: userId } },
      attributes: ['id'],
      useMaster: true,
    });
    return other !== null;
  }

  return {
    /**
     * Mails a confirmation link to `newEmail` (nothing changes yet). Returns the address as it will be
     * stored. InvalidEmailError (422), EmailUnchangedError (400), EmailTakenError (409), RateLimitedError
     * (429) when the address has had its share of mails this hour; AccountInactiveError (403).
     */
    async request(userId: string, newEmail: string, ctx: RequestContext, links: EmailChangeLinks): Promise<{ email: string }> {
      const user = await activeUser(userId);
      const email = canonicalEmail(newEmail);
      if (!email) throw new InvalidEmailError();
      if (email === user.email) throw new EmailUnchangedError();
      if (await takenByAnother(email, user.id)) {
        await audit.record({ type: 'email_change_request', outcome: 'failure', userId, ...auditFrom(ctx), detail: { reason: 'email_taken', door: ctx.door } });
        throw new EmailTakenError();
      }
      if (!(await options.mailLimiter.allowMail(email))) {
        await audit.record({ type: 'email_change_request', outcome: 'failure', userId, ...auditFrom(ctx), detail: { reason: 'mail_limit', door: ctx.door } });
        throw new RateLimitedError(options.mailLimiter.limits.windowSeconds, 'Too many messages to this address, try again later');
      }
      const token = await tokens.issue(EMAIL_CHANGE_PURPOSE, user.id, JSON.stringify({ from: user.email, to: email } satisfies Binding));
      options.mail.enqueue(emailChangeConfirmationMessage(translate(ctx), email, links.confirmEmailChange(token), ttlHours));
      await audit.record({ type: 'email_change_request', outcome: 'success', userId, ...auditFrom(ctx), detail: { new_email: email, door: ctx.door } });
      return { email };
    },

    /** The address a link would change to, without using it (for a "confirm?" page), or undefined. */
    async pending(token: unknown): Promise<{ userId: string; email: string } | undefined> {
      const found = await tokens.peek(EMAIL_CHANGE_PURPOSE, token);
      const binding = found && parseBinding(found.binding);
      return found && binding ? { userId: found.userId, email: binding.to } : undefined;
    },

    /**
     * Follows the link: the address changes (stored lower-case, verified: the link proves the mailbox),
     * the old address is told, `email_change` is audited. InvalidEmailChangeTokenError (400) for a bad,
     * used or outdated link; EmailTakenError (409) when another account took the address meanwhile.
     */
    async confirm(token: unknown, ctx: RequestContext): Promise<{ userId: string; email: string; previousEmail: string }> {
      const used = await tokens.consume(EMAIL_CHANGE_PURPOSE, token);
      const binding = used && parseBinding(used.binding);
      const user = used && binding && isUuid(used.userId) ? await User.findByPk(used.userId, { useMaster: true }) : null;
      const fail = async (reason: string, error: AppError): Promise<never> => {
        await audit.record({ type: 'email_change', outcome: 'failure', userId: user?.id ?? null, ...auditFrom(ctx), detail: { reason, door: ctx.door } });
        throw error;
      };
      if (!used || !binding || !user || user.email !== binding.from || user.status !== 'active') return fail('invalid_token', new InvalidEmailChangeTokenError());
      if (await takenByAnother(binding.to, user.id)) return fail('email_taken', new EmailTakenError());
      let changed: number;
      try {
        // Conditional on the old address: a change that landed meanwhile makes this link stale.
        [changed] = await User.update({ email: binding.to, emailVerified: true }, { where: { id: user.id, email: binding.from } });
      } catch (err) {
        if (err instanceof UniqueConstraintError) return fail('email_taken', new EmailTakenError());
        throw err;
      }
      if (changed !== 1) return fail('invalid_token', new InvalidEmailChangeTokenError());
      options.mail.enqueue(emailChangedNoticeMessage(translate(ctx), binding.from, binding.to));
      await audit.record({ type: 'email_change', outcome: 'success', userId: user.id, ...auditFrom(ctx), detail: { from: binding.from, to: binding.to, door: ctx.door } });
      return { userId: user.id, email: binding.to, previousEmail: binding.from };
    },
  };
}

export type EmailChangeService = ReturnType<typeof createEmailChangeService>;
