/**
 * Where a password login meets the second factor (CONTRACT §9), for every door: after a right password,
 * either the login is complete (`amr: ["pwd"]`), or a factor must follow (an mfa_token for the legacy
 * door), or MFA_POLICY refuses a user who has none yet. The code step counts toward the same login
 * limits as the password (§6) and kills its mfa_token on the fifth wrong code.
 */
import type { RequestContext } from '../request-context.ts';
import type { AttemptGuard, MfaService } from './factors.ts';
import type { MfaTokenService } from './mfa-tokens.ts';
import { policyRequiresFactor, type MfaPolicy } from './policy.ts';
import { InvalidMfaCodeError, InvalidMfaTokenError, MfaEnrolmentRequiredError, MfaRequiredError, type MfaMethod } from './errors.ts';

/** RFC 8176 values: a password, a one-time code (TOTP or recovery code), a passkey (hardware key + user verification). */
export type Amr = 'pwd' | 'otp' | 'hwk' | 'user' | 'mfa';

export const PASSWORD_AMR: Amr[] = ['pwd'];
export const PASSWORD_AND_CODE_AMR: Amr[] = ['pwd', 'otp', 'mfa'];
export const PASSKEY_AMR: Amr[] = ['hwk', 'user'];

/** The acr of a login: `mfa` as soon as two kinds of proof (or a user-verified passkey) were given. */
export const ACR_PWD = 'urn:idp:acr:pwd';
export const ACR_MFA = 'urn:idp:acr:mfa';
export function acrOf(amr: readonly string[]): string {
  return amr.includes('mfa') || (amr.includes('hwk') && amr.includes('user')) ? ACR_MFA : ACR_PWD;
}

export interface MfaLoginOptions {
  mfa: Pick<MfaService, 'methods' | 'verifyCode'>;
  mfaTokens: MfaTokenService;
  policy: MfaPolicy;
  guard?: AttemptGuard;
}

export function createMfaLogin(options: MfaLoginOptions) {
  const { mfa, mfaTokens, policy } = options;
  const guard: AttemptGuard = options.guard ?? ((_attempt, check) => check());

  return {
    policy,

    /** Whether MFA_POLICY demands a factor of a user with these roles. */
    requiresFactor: (roles: readonly string[]): boolean => policyRequiresFactor(policy, roles),

    /** The factors a user can present now (empty: none enrolled). */
    methods: (userId: string): Promise<MfaMethod[]> => mfa.methods(userId),

    /**
     * After a right password at the legacy door: the amr of a finished login, or MfaRequiredError with a
     * fresh mfa_token, or MfaEnrolmentRequiredError (403) when the policy wants a factor the user lacks.
     */
    async afterPassword(account: { id: string; roles: readonly string[] }, identifier: string): Promise<Amr[]> {
      const methods = await mfa.methods(account.id);
      if (methods.length) {
        const token = await mfaTokens.issue({ userId: account.id, identifier, methods });
        throw new MfaRequiredError(token, methods);
      }
      if (policyRequiresFactor(policy, account.roles)) throw new MfaEnrolmentRequiredError();
      return PASSWORD_AMR;
    },

    /**
     * The second step: a TOTP or recovery code for an mfa_token. Returns the user and the login's amr; the
     * token is used up. Wrong code → InvalidMfaCodeError (401), counted; the fifth kills the token.
     */
    async completeWithCode(mfaToken: string, code: string, ctx: RequestContext): Promise<{ userId: string; amr: Amr[] }> {
      const record = await mfaTokens.read(mfaToken);
      if (!record) throw new InvalidMfaTokenError();
      try {
        await guard({ identifier: record.identifier, accountId: record.user_id, ip: ctx.ip }, () => mfa.verifyCode(record.user_id, code, ctx));
      } catch (err) {
        if (err instanceof InvalidMfaCodeError) await mfaTokens.fail(mfaToken);
        throw err;
      }
      if (!(await mfaTokens.consume(mfaToken, record))) throw new InvalidMfaTokenError();
      return { userId: record.user_id, amr: PASSWORD_AND_CODE_AMR };
    },

    /**
     * A code for a user already known to have given the password (the login page keeps that in its
     * interaction, not in an mfa_token). Counted toward the limits like every other attempt.
     */
    async checkCode(userId: string, identifier: string, code: string, ctx: RequestContext): Promise<Amr[]> {
      await guard({ identifier, accountId: userId, ip: ctx.ip }, () => mfa.verifyCode(userId, code, ctx));
      return PASSWORD_AND_CODE_AMR;
    },
  };
}

export type MfaLogin = ReturnType<typeof createMfaLogin>;
