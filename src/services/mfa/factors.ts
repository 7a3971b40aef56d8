/**
 * A user's second factors (CONTRACT §9): TOTP enrolment and removal, recovery codes, checking a code at
 * login, the summary `GET /mfa` shows, and the admin's removal. Secrets are sealed before they are
 * written (secrets.ts); every enrolment, use, failure and removal is an audit event.
 */
import { Op, QueryTypes, type Sequelize } from 'sequelize';
import type { Models } from '../../db/models/index.ts';
import type { AuditService } from '../audit.ts';
import type { PasswordService } from '../passwords.ts';
import { PASSWORD_MAX_LENGTH } from '../passwords.ts';
import type { RequestContext } from '../request-context.ts';
import { primaryQuery } from '../../db/primary-sql.ts';
import { factorContext, type SecretSealer } from './secrets.ts';
import { matchTotp, newTotpSecret, totpUri } from './totp.ts';
import { hashRecoveryCode, looksLikeRecoveryCode, newRecoveryCodes } from './recovery-codes.ts';
import { isUuid } from '../identifiers.ts';
import { passkeyName } from './passkeys.ts';
import { policyRequiresFactor, type MfaPolicy } from './policy.ts';
import {
  IncorrectMfaPasswordError,
  InvalidMfaCodeError,
  LastFactorError,
  NoSecondFactorError,
  PasskeyNotFoundError,
  TotpAlreadyEnabledError,
  TotpNotEnabledError,
  TotpNotStartedError,
  type MfaMethod,
} from './errors.ts';

export interface PasskeySummary {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

/** The body of `GET /mfa` (and the admin's `GET /users/:id/mfa`). */
export interface MfaStatus {
  totp: boolean;
  passkeys: PasskeySummary[];
  recovery_codes_left: number;
}

/** Which kinds a user has, from one statement (it runs on every password login). */
export interface FactorCounts {
  totp: number;
  passkeys: number;
  recoveryCodes: number;
}

const COUNTS_QUERY = `
SELECT (SELECT COUNT(*) FROM totp_factors WHERE user_id = $1 AND confirmed_at IS NOT NULL) AS totp,
       (SELECT COUNT(*) FROM passkeys WHERE user_id = $1) AS passkeys,
       (SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL) AS recovery_codes`;

const TOTP_QUERY = 'SELECT secret_sealed, confirmed_at FROM totp_factors WHERE user_id = $1';
/** Only a step newer than the last one used: a replayed or older code changes no row. */
const TOTP_USE = `
UPDATE totp_factors SET last_used_step = $2, last_used_at = $3, updated_at = $3
WHERE user_id = $1 AND confirmed_at IS NOT NULL AND (last_used_step IS NULL OR last_used_step < $2)
RETURNING user_id`;

interface CountsRow {
  totp: number | string;
  passkeys: number | string;
  recovery_codes: number | string;
}

/** How a check of a secret is counted toward the login limits (§6): the composition root passes the limiter. */
/** The login limits' guard (§6): `accountId` makes a code or password here share the account's budget with its logins. */
export type AttemptGuard = <T>(attempt: { identifier: string; accountId?: string; ip?: string }, check: () => Promise<T>) => Promise<T>;

export interface MfaServiceOptions {
  models: Pick<Models, 'User' | 'TotpFactor' | 'RecoveryCode' | 'Passkey'>;
  sequelize: Sequelize;
  secrets: SecretSealer;
  passwords: Pick<PasswordService, 'verify'>;
  audit: Pick<AuditService, 'record'>;
  /** The name authenticator apps show above the code. */
  issuerName: string;
  guard?: AttemptGuard;
  /** MFA_POLICY: a user it names may not remove their last TOTP or passkey. Default `optional`. */
  policy?: MfaPolicy;
  now?: () => number;
}

export function methodsOf(counts: FactorCounts): MfaMethod[] {
  const methods: MfaMethod[] = [];
  if (counts.totp) methods.push('totp');
  if (counts.recoveryCodes && (counts.totp || counts.passkeys)) methods.push('recovery_code');
  if (counts.passkeys) methods.push('passkey');
  return methods;
}

export function createMfaService(options: MfaServiceOptions) {
  const { TotpFactor, RecoveryCode, Passkey, User } = options.models;
  const { secrets, audit } = options;
  const now = options.now ?? Date.now;
  const guard: AttemptGuard = options.guard ?? ((_attempt, check) => check());
  const direct = primaryQuery(options.sequelize);

  const auditFrom = (ctx: RequestContext) => ({ ip: ctx.ip, userAgent: ctx.userAgent, clientId: ctx.clientId });
  const policy: MfaPolicy = options.policy ?? { kind: 'optional' };

  /**
   * Removes TOTP (confirmed or an enrolment in progress) or one passkey, unless it is the user's last
   * factor and the policy requires one of them; with no factor left the recovery codes go too. One
   * transaction that first locks the user's row (PostgreSQL; SQLite runs write transactions one at a
   * time), so two removals at once cannot both pass the check and leave nothing. Answers how many rows
   * went (0: there was nothing to remove).
   */
  async function removeFactor(userId: string, target: 'totp' | { passkeyId: string }): Promise<number> {
    return options.sequelize.transaction(async (transaction) => {
      const user = await User.findByPk(userId, { transaction, lock: transaction.LOCK.UPDATE });
      const [totp, passkeys] = await Promise.all([
        TotpFactor.count({ where: { userId, confirmedAt: { [Op.ne]: null } }, transaction }),
        Passkey.count({ where: { userId }, transaction }),
      ]);
      const passkeyWhere = target === 'totp' ? undefined : { id: target.passkeyId, userId };
      // An unconfirmed TOTP enrolment is no factor: removing it never touches the policy or the codes.
      const isFactor = passkeyWhere ? (await Passkey.count({ where: passkeyWhere, transaction })) === 1 : totp === 1;
      const left = totp + passkeys - (isFactor ? 1 : 0);
      if (user && isFactor && left === 0 && policy.kind !== 'optional') {
        const roles = await user.getRoles({ joinTableAttributes: [], transaction });
        if (policyRequiresFactor(policy, roles.map((role) => role.name))) throw new LastFactorError();
      }
      const removed = passkeyWhere
        ? await Passkey.destroy({ where: passkeyWhere, transaction })
        : await TotpFactor.destroy({ where: { userId }, transaction });
      if (removed && left === 0) await RecoveryCode.destroy({ where: { userId }, transaction });
      return removed;
    });
  }

  async function counts(userId: string): Promise<FactorCounts> {
    const rows = direct
      ? await direct<CountsRow>(COUNTS_QUERY, [userId])
      : await options.sequelize.query<CountsRow>(COUNTS_QUERY, { bind: [userId], type: QueryTypes.SELECT, useMaster: true });
    const row = rows[0];
    return { totp: Number(row?.totp ?? 0), passkeys: Number(row?.passkeys ?? 0), recoveryCodes: Number(row?.recovery_codes ?? 0) };
  }

  async function replaceRecoveryCodes(userId: string): Promise<string[]> {
    const codes = newRecoveryCodes();
    await options.sequelize.transaction(async (transaction) => {
      await RecoveryCode.destroy({ where: { userId }, transaction });
      await RecoveryCode.bulkCreate(codes.map((code) => ({ userId, codeHash: hashRecoveryCode(code) })), { transaction });
    });
    return codes;
  }

  /** Checks the account password before a removal or a new set of codes; wrong ones count toward §6's limits. */
  async function checkPassword(userId: string, password: string, ctx: RequestContext, action: string): Promise<void> {
    const user = await User.findByPk(userId, { useMaster: true });
    if (!user) throw new IncorrectMfaPasswordError();
    await guard({ identifier: user.email, accountId: userId, ip: ctx.ip }, async () => {
      const { ok } = password.length <= PASSWORD_MAX_LENGTH ? await options.passwords.verify(user.passwordHash, password) : { ok: false };
      if (!ok) {
        await audit.record({ type: action, outcome: 'failure', userId, ...auditFrom(ctx), detail: { reason: 'bad_password', door: ctx.door } });
        throw new IncorrectMfaPasswordError();
      }
    });
  }

  /** Accepts a TOTP code once: the step is recorded with a conditional update, so a replay (or a race) loses. */
  async function useTotp(userId: string, code: string): Promise<boolean> {
    // On PostgreSQL straight on a primary connection: these two statements are most of a code step's
    // work, and Sequelize's query layer cost more CPU than the rest of the step (bench: --only totp).
    const factor = direct
      ? (await direct<{ secret_sealed: string; confirmed_at: Date | null }>(TOTP_QUERY, [userId]))[0]
      : await TotpFactor.findByPk(userId, { useMaster: true }).then((row) => row && { secret_sealed: row.secretSealed, confirmed_at: row.confirmedAt });
    if (!factor?.confirmed_at) return false;
    const step = matchTotp(secrets.open(factor.secret_sealed, factorContext.totp(userId)), code, now());
    if (step === undefined) return false;
    const at = new Date(now());
    if (direct) return (await direct(TOTP_USE, [userId, step, at])).length === 1;
    const [updated] = await TotpFactor.update(
      { lastUsedStep: step, lastUsedAt: at },
      { where: { userId, confirmedAt: { [Op.ne]: null }, [Op.or]: [{ lastUsedStep: null }, { lastUsedStep: { [Op.lt]: step } }] } },
    );
    return updated === 1;
  }

  async function useRecoveryCode(userId: string, code: string): Promise<boolean> {
    if (!looksLikeRecoveryCode(code)) return false;
    const [updated] = await RecoveryCode.update(
      { usedAt: new Date(now()) },
      { where: { userId, codeHash: hashRecoveryCode(code), usedAt: null } },
    );
    return updated === 1;
  }

  return {
    counts,

    async methods(userId: string): Promise<MfaMethod[]> {
      return methodsOf(await counts(userId));
    },

    async status(userId: string): Promise<MfaStatus> {
      const [factor, passkeys, left] = await Promise.all([
        TotpFactor.findByPk(userId, { useMaster: true }),
        Passkey.findAll({ where: { userId }, order: [['createdAt', 'ASC']], useMaster: true }),
        RecoveryCode.count({ where: { userId, usedAt: null }, useMaster: true }),
      ]);
      return {
        totp: Boolean(factor?.confirmedAt),
        passkeys: passkeys.map((passkey) => ({
          id: passkey.id,
          name: passkey.name,
          created_at: passkey.createdAt.toISOString(),
          last_used_at: passkey.lastUsedAt ? passkey.lastUsedAt.toISOString() : null,
        })),
        recovery_codes_left: left,
      };
    },

    /** Starts (or restarts) TOTP enrolment: a new secret, unconfirmed until a code from the app proves it. */
    async startTotp(userId: string, accountName: string): Promise<{ secret: string; otpauthUri: string }> {
      const existing = await TotpFactor.findByPk(userId, { useMaster: true });
      if (existing?.confirmedAt) throw new TotpAlreadyEnabledError();
      const secret = newTotpSecret();
      const sealed = secrets.seal(secret, factorContext.totp(userId));
      if (existing) await existing.update({ secretSealed: sealed, lastUsedStep: null });
      else await TotpFactor.create({ userId, secretSealed: sealed });
      return { secret, otpauthUri: totpUri(secret, accountName, options.issuerName) };
    },

    /** The TOTP enrolment in progress (its secret again, so a page can be shown twice), or a new one. */
    async totpEnrolment(userId: string, accountName: string): Promise<{ secret: string; otpauthUri: string }> {
      const existing = await TotpFactor.findByPk(userId, { useMaster: true });
      if (existing?.confirmedAt) throw new TotpAlreadyEnabledError();
      if (!existing) return this.startTotp(userId, accountName);
      const secret = secrets.open(existing.secretSealed, factorContext.totp(userId));
      return { secret, otpauthUri: totpUri(secret, accountName, options.issuerName) };
    },

    /** Confirms enrolment with a first code; answers a fresh set of recovery codes (shown once). */
    async confirmTotp(userId: string, code: string, ctx: RequestContext): Promise<string[]> {
      const factor = await TotpFactor.findByPk(userId, { useMaster: true });
      if (!factor) throw new TotpNotStartedError();
      if (factor.confirmedAt) throw new TotpAlreadyEnabledError();
      const step = matchTotp(secrets.open(factor.secretSealed, factorContext.totp(userId)), code, now());
      if (step === undefined) {
        await audit.record({ type: 'mfa_enrol', outcome: 'failure', userId, ...auditFrom(ctx), detail: { method: 'totp', reason: 'bad_code', door: ctx.door } });
        throw new InvalidMfaCodeError(400);
      }
      const [confirmed] = await TotpFactor.update(
        { confirmedAt: new Date(now()), lastUsedStep: step, lastUsedAt: new Date(now()) },
        { where: { userId, confirmedAt: null, secretSealed: factor.secretSealed } },
      );
      if (confirmed !== 1) throw new TotpNotStartedError();
      const codes = await replaceRecoveryCodes(userId);
      await audit.record({ type: 'mfa_enrol', outcome: 'success', userId, ...auditFrom(ctx), detail: { method: 'totp', door: ctx.door } });
      return codes;
    },

    /** A first set of recovery codes after a first factor is enrolled; none (empty) when the user has some left. */
    async recoveryCodesIfNone(userId: string): Promise<string[]> {
      return (await counts(userId)).recoveryCodes ? [] : replaceRecoveryCodes(userId);
    },

    /**
     * Removes TOTP after the password; with no factor left, the recovery codes go too. LastFactorError
     * (409) when MFA_POLICY requires a factor of the user and TOTP is their only one.
     */
    async removeTotp(userId: string, password: string, ctx: RequestContext): Promise<void> {
      await checkPassword(userId, password, ctx, 'mfa_remove');
      let removed: number;
      try {
        removed = await removeFactor(userId, 'totp');
      } catch (err) {
        if (err instanceof LastFactorError) {
          await audit.record({ type: 'mfa_remove', outcome: 'failure', userId, ...auditFrom(ctx), detail: { method: 'totp', reason: 'last_factor', door: ctx.door } });
        }
        throw err;
      }
      if (!removed) throw new TotpNotEnabledError();
      await audit.record({ type: 'mfa_remove', outcome: 'success', userId, ...auditFrom(ctx), detail: { method: 'totp', door: ctx.door } });
    },

    /** Renames one of the user's passkeys (1–64 characters, trimmed, no control characters). */
    async renamePasskey(userId: string, passkeyId: string, name: string, ctx: RequestContext): Promise<{ id: string; name: string }> {
      const label = passkeyName(name);
      const [updated] = isUuid(passkeyId) ? await Passkey.update({ name: label }, { where: { id: passkeyId, userId } }) : [0];
      if (updated !== 1) throw new PasskeyNotFoundError();
      await audit.record({ type: 'mfa_rename', outcome: 'success', userId, ...auditFrom(ctx), detail: { method: 'passkey', passkey_id: passkeyId, door: ctx.door } });
      return { id: passkeyId, name: label };
    },

    /**
     * Removes one of the user's passkeys; with no factor left, the recovery codes go too. PasskeyNotFoundError
     * (404) for an id that is not one of theirs; LastFactorError (409) as for TOTP.
     */
    async removePasskey(userId: string, passkeyId: string, ctx: RequestContext): Promise<void> {
      if (!isUuid(passkeyId)) throw new PasskeyNotFoundError();
      let removed: number;
      try {
        removed = await removeFactor(userId, { passkeyId });
      } catch (err) {
        if (err instanceof LastFactorError) {
          await audit.record({ type: 'mfa_remove', outcome: 'failure', userId, ...auditFrom(ctx), detail: { method: 'passkey', passkey_id: passkeyId, reason: 'last_factor', door: ctx.door } });
        }
        throw err;
      }
      if (!removed) throw new PasskeyNotFoundError();
      await audit.record({ type: 'mfa_remove', outcome: 'success', userId, ...auditFrom(ctx), detail: { method: 'passkey', passkey_id: passkeyId, door: ctx.door } });
    },

    /** A new set of recovery codes (the old ones stop working), after the password. */
    async regenerateRecoveryCodes(userId: string, password: string, ctx: RequestContext): Promise<string[]> {
      await checkPassword(userId, password, ctx, 'mfa_enrol');
      const current = await counts(userId);
      if (!current.totp && !current.passkeys) throw new NoSecondFactorError();
      const codes = await replaceRecoveryCodes(userId);
      await audit.record({ type: 'mfa_enrol', outcome: 'success', userId, ...auditFrom(ctx), detail: { method: 'recovery_code', door: ctx.door } });
      return codes;
    },

    /**
     * Checks a TOTP or recovery code of a login and uses it up. Returns the method; a wrong or replayed
     * code → InvalidMfaCodeError (401). The caller counts it toward the login limits.
     */
    async verifyCode(userId: string, code: string, ctx: RequestContext): Promise<'totp' | 'recovery_code'> {
      const text = code.trim();
      const method = /^\d{6}$/.test(text)
        ? (await useTotp(userId, text)) && ('totp' as const)
        : (await useRecoveryCode(userId, text)) && ('recovery_code' as const);
      if (!method) {
        await audit.record({ type: 'mfa_use', outcome: 'failure', userId, ...auditFrom(ctx), detail: { reason: 'bad_code', door: ctx.door } });
        throw new InvalidMfaCodeError();
      }
      await audit.record({ type: 'mfa_use', outcome: 'success', userId, ...auditFrom(ctx), detail: { method, door: ctx.door } });
      return method;
    },

    /** The admin's removal of every factor and recovery code of a user. Returns whether there was any. */
    async removeAll(userId: string, ctx: RequestContext & { actorId?: string }): Promise<boolean> {
      const removed = await options.sequelize.transaction(async (transaction) => {
        const totp = await TotpFactor.destroy({ where: { userId }, transaction });
        const passkeys = await Passkey.destroy({ where: { userId }, transaction });
        const codes = await RecoveryCode.destroy({ where: { userId }, transaction });
        return totp + passkeys + codes;
      });
      await audit.record({
        type: 'mfa_remove',
        outcome: 'success',
        userId,
        ...auditFrom(ctx),
        detail: { method: 'all', removed, door: ctx.door, ...(ctx.actorId ? { actor_id: ctx.actorId } : {}) },
      });
      return removed > 0;
    },
  };
}

export type MfaService = ReturnType<typeof createMfaService>;
