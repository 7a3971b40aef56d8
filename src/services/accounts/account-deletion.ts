/**
 * A user deleting their own account (CONTRACT §10): the password, and a second factor when they have one
 * (a TOTP or recovery code, or a passkey), both counted toward the account's login limits like every
 * other check of them (§6); then the one deletion every door shares (user-deletion.ts): sessions, grants
 * and their tokens, memberships, factors, and the personal organization when no one else is in it.
 * Audited as `account_deleted`. The last holder of ADMIN_ROLE cannot delete themself (nobody could
 * administer the provider afterwards).
 */
import { Op } from 'sequelize';
import type { Models } from '../../db/models/index.ts';
import { AppError, ConflictError } from '../../errors.ts';
import type { AuditService } from '../audit.ts';
import { PASSWORD_MAX_LENGTH, type PasswordService } from '../passwords.ts';
import type { LoginRateLimiter } from '../rate-limits.ts';
import type { RequestContext } from '../request-context.ts';
import type { MfaService } from '../mfa/factors.ts';
import type { PasskeyService } from '../mfa/passkeys.ts';
import { PasskeyRejectedError } from '../mfa/passkeys.ts';
import { InvalidMfaCodeError } from '../mfa/errors.ts';
import { IncorrectPasswordError, InvalidCredentialsError } from './errors.ts';
import { isUuid } from '../identifiers.ts';
import type { DeleteUser } from './user-deletion.ts';

/** The user has a second factor and gave none of it. */
export class SecondFactorRequiredError extends AppError {
  constructor() {
    super(400, 'AUTH_MFA_CODE_REQUIRED', 'A code from your authenticator app, a recovery code or your passkey is required');
  }
}

/** The only active holder of ADMIN_ROLE may not delete themself. */
export class LastAdminError extends ConflictError {
  constructor() {
    super('You are the only administrator: make someone else an administrator before deleting your account', 'ADMIN_LAST_ADMIN');
  }
}

export interface DeleteSelfInput {
  password: string;
  /** A TOTP or recovery code, when the user has a second factor. */
  code?: string;
  /** Or a passkey assertion (`passkeys.authenticationOptions()` made the challenge). */
  passkey?: { challengeId: unknown; response: unknown };
}

export interface AccountDeletionOptions {
  models: Pick<Models, 'User' | 'Role' | 'UserRole'>;
  passwords: Pick<PasswordService, 'verify'>;
  loginLimiter: Pick<LoginRateLimiter, 'guard'>;
  mfa: Pick<MfaService, 'counts' | 'verifyCode'>;
  passkeys: Pick<PasskeyService, 'authenticate'>;
  deleteUser: DeleteUser;
  audit: Pick<AuditService, 'record'>;
  /** ADMIN_ROLE. */
  adminRole: string;
}

export function createAccountDeletion(options: AccountDeletionOptions) {
  const { User, Role, UserRole } = options.models;
  const { audit, loginLimiter, mfa } = options;
  const auditFrom = (ctx: RequestContext) => ({ ip: ctx.ip, userAgent: ctx.userAgent, clientId: ctx.clientId });

  /** Whether this user is the only active holder of ADMIN_ROLE. */
  async function lastAdmin(userId: string): Promise<boolean> {
    const role = await Role.findOne({ where: { name: options.adminRole }, useMaster: true });
    if (!role) return false;
    const holders = await UserRole.findAll({ where: { roleId: role.id }, attributes: ['userId'], useMaster: true });
    if (!holders.some((holder) => holder.userId === userId)) return false;
    const others = holders.map((holder) => holder.userId).filter((id) => id !== userId);
    return others.length === 0 || (await User.count({ where: { id: { [Op.in]: others }, status: 'active' }, useMaster: true })) === 0;
  }

  return {
    /**
     * Deletes the signed-in user's account after checking the password and, if they have a second factor,
     * a code or passkey. IncorrectPasswordError (400), SecondFactorRequiredError (400), InvalidMfaCodeError
     * (400), PasskeyRejectedError (400), RateLimitedError (429, the login limits), LastAdminError (409).
     */
    async deleteSelf(userId: string, input: DeleteSelfInput, ctx: RequestContext): Promise<void> {
      const user = isUuid(userId) ? await User.findByPk(userId, { useMaster: true }) : null;
      if (!user) throw new InvalidCredentialsError();
      if (await lastAdmin(user.id)) throw new LastAdminError();
      const fail = async (reason: string, error: AppError): Promise<never> => {
        await audit.record({ type: 'account_deleted', outcome: 'failure', userId: user.id, ...auditFrom(ctx), detail: { reason, door: ctx.door } });
        throw error;
      };
      const attempt = { identifier: user.email, accountId: user.id, ip: ctx.ip };
      await loginLimiter.guard(attempt, async () => {
        const { ok } = input.password.length <= PASSWORD_MAX_LENGTH ? await options.passwords.verify(user.passwordHash, input.password) : { ok: false };
        if (!ok) await fail('bad_password', new IncorrectPasswordError());
      });
      const counts = await mfa.counts(user.id);
      if (counts.totp || counts.passkeys) {
        if (input.passkey) {
          const proven = await options.passkeys.authenticate(input.passkey.challengeId, input.passkey.response, ctx);
          if (proven.userId !== user.id) await fail('foreign_passkey', new PasskeyRejectedError());
        } else if (input.code?.trim()) {
          const code = input.code;
          try {
            await loginLimiter.guard(attempt, () => mfa.verifyCode(user.id, code, ctx));
          } catch (err) {
            // 400, not the login's 401: the user is signed in, only this code was wrong.
            if (err instanceof InvalidMfaCodeError) await fail('bad_code', new InvalidMfaCodeError(400));
            throw err;
          }
        } else {
          await fail('second_factor_missing', new SecondFactorRequiredError());
        }
      }
      await options.deleteUser(user, 'revoked');
      await audit.record({ type: 'account_deleted', outcome: 'success', userId: user.id, ...auditFrom(ctx), detail: { email: user.email, door: ctx.door } });
    },
  };
}

export type AccountDeletion = ReturnType<typeof createAccountDeletion>;
