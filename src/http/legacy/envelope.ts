/**
 * Profile `envelope`: Aurora's shapes inside `{"success": true, "data": …, "message": "…"}`, errors as
 * `{"success": false, "error": {"code": "…", "message": "…"}}` with the codes of CONTRACT §3.
 */
import { z } from 'zod';
import type { ValidationIssue } from '../../errors.ts';
import type { ErrorRenderer } from '../context.ts';
import { dataReply, request, type Profile, type Replies, type Reply } from './profile.ts';
import { fields } from './schemas.ts';
import { AuroraUser, auroraProfile, auroraUser } from './aurora.ts';
import type { OperationName, SignedIn } from './operations.ts';
import { MfaRequiredError } from '../../services/mfa/errors.ts';

/** The one place the envelope differs in status: a taken e-mail or username is a conflict. */
const STATUS_BY_CODE: Partial<Record<string, number>> = { AUTH_EMAIL_EXISTS: 409, AUTH_USERNAME_EXISTS: 409 };
export const envelopeStatus = (code: string, status: number): number => STATUS_BY_CODE[code] ?? status;

const MESSAGES: Record<OperationName, string> = {
  register: 'User registered successfully',
  login: 'Login successful',
  refresh: 'Token refreshed successfully',
  logout: 'Logged out successfully',
  me: 'User retrieved successfully',
  updateMe: 'Profile updated successfully',
  changePassword: 'Password updated successfully',
  listSessions: 'Sessions retrieved successfully',
  deleteSession: 'Session revoked successfully',
  verifyEmail: 'Email verified successfully',
  resendVerification: 'Verification email sent',
  forgotPassword: 'If an account with that email exists, a password reset link has been sent',
  resetPassword: 'Password has been reset successfully',
};

const success = <S extends z.ZodType>(data: S) => z.object({ success: z.literal(true), data, message: z.string() });

function wrap<R>(op: OperationName, reply: Reply<R>): Reply<R> {
  const { message } = reply;
  if (message) {
    return { status: reply.status, schema: success(z.null()), render: (result) => ({ success: true, data: null, message: message(result) }) };
  }
  return { status: reply.status, schema: success(reply.schema), render: (result) => ({ success: true, data: reply.render(result), message: MESSAGES[op] }) };
}

function wrapAll(replies: Replies): Replies {
  const out = {} as Record<OperationName, Reply<never>>;
  for (const op of Object.keys(replies) as OperationName[]) out[op] = wrap(op, replies[op] as Reply<never>);
  return out as Replies;
}

const LoginData = success(
  z.object({
    token: z.object({ access_token: z.string(), refresh_token: z.string(), token_type: z.literal('bearer') }),
    user: AuroraUser,
  }),
);
const RefreshData = success(z.object({ access_token: z.string(), refresh_token: z.string(), token_type: z.literal('bearer') }));

const token = ({ tokens }: SignedIn) => ({ access_token: tokens.accessToken, refresh_token: tokens.refreshToken, token_type: 'bearer' as const });

export const EnvelopeError = z.object({ success: z.literal(false), error: z.object({ code: z.string(), message: z.string() }) });

function summarize(issues: ValidationIssue[]): string {
  const first = issues[0];
  if (!first) return 'Request validation failed';
  return `Request validation failed: ${first.loc.slice(1).join('.') || first.loc[0]}: ${first.msg}`;
}

const renderError: ErrorRenderer = (error) => ({
  status: envelopeStatus(error.code, error.status),
  body: {
    success: false,
    error: {
      code: error.code,
      message: error.status === 422 && Array.isArray(error.detail) ? summarize(error.detail as ValidationIssue[]) : error.message,
      // The challenge of a two-step login (CONTRACT §9).
      ...(error instanceof MfaRequiredError ? { mfa_token: error.mfaToken, methods: error.methods } : {}),
    },
  },
});

export const envelopeProfile: Profile = {
  name: 'envelope',
  title: 'Envelope auth compatible API',
  description: 'Password login API compatible with the retired envelope-style auth service ({success, data, message}).',
  loginField: 'username',
  requests: {
    ...auroraProfile.requests,
    login: request(
      'body',
      z
        .object({ username: fields.login.optional(), email: fields.login.optional(), password: fields.password })
        .refine((b) => b.username !== undefined || b.email !== undefined, { message: 'Field required', path: ['username'] }),
      (b) => ({ login: b.username ?? b.email ?? '', password: b.password }),
    ),
  },
  replies: {
    ...wrapAll(auroraProfile.replies),
    login: dataReply(200, LoginData, (result: SignedIn) => ({
      success: true as const,
      data: { token: token(result), user: auroraUser(result.account) },
      message: MESSAGES.login,
    })),
    refresh: dataReply(200, RefreshData, (result: SignedIn) => ({ success: true as const, data: token(result), message: MESSAGES.refresh })),
  },
  renderError,
  errorSchemas: { error: EnvelopeError, validation: EnvelopeError },
  errorStatus: envelopeStatus,
  wrapData: (data) => ({ success: true, data, message: null }),
};
