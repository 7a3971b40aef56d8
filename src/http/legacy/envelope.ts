/**
 * Profile `envelope` (seed 002): successes inside `{"success": true, "data": …, "message": …}` with one
 * `user` shape everywhere; exactly the two errors the original enveloped (a taken e-mail or username: 409,
 * bad credentials: 401) as `{"success": false, "error": {"code", "message"}}`, plus the second-factor
 * challenge (`AUTH_MFA_REQUIRED`, 401, with `mfa_token` and `methods`, CONTRACT §9); every other error
 * FastAPI's plain `{"detail": …}` as on the flat profiles (CONTRACT §3).
 */
import { z } from 'zod';
import type { AccountView } from '../../services/accounts/view.ts';
import type { ErrorRenderer } from '../context.ts';
import { dataReply, request, type Profile, type Reply } from './profile.ts';
import { DetailError, MessageBody, ValidationErrorBody, commonReplies, fields } from './schemas.ts';
import { auroraLogout, auroraProfile } from './aurora.ts';
import { detailErrors } from './detail-errors.ts';
import type { OperationResults, SignedIn } from './operations.ts';
import { MfaRequiredError } from '../../services/mfa/errors.ts';

/**
 * The codes seed 002's exception handlers enveloped, with the status they answered, and the two-step
 * login's challenge (CONTRACT §9), enveloped like the bad credentials it follows.
 */
const ENVELOPED: Partial<Record<string, number>> = {
  AUTH_EMAIL_EXISTS: 409,
  AUTH_USERNAME_EXISTS: 409,
  AUTH_INVALID_CREDENTIALS: 401,
  AUTH_MFA_REQUIRED: 401,
};
export const isEnveloped = (code: string): boolean => ENVELOPED[code] !== undefined;
export const envelopeStatus = (code: string, status: number): number => ENVELOPED[code] ?? status;

const success = <S extends z.ZodType>(data: S) => z.object({ success: z.literal(true), data, message: z.string().nullable() });

export const EnvelopeUser = z.object({
  id: z.uuid(),
  username: z.string().nullable(),
  email: z.string(),
  full_name: z.string().nullable(),
  role: z.string().nullable(),
  status: z.enum(['active', 'inactive', 'suspended']),
  is_active: z.boolean(),
  email_verified: z.boolean(),
  created_at: z.iso.datetime({ offset: true }),
});

export const envelopeUser = (account: AccountView): z.input<typeof EnvelopeUser> => ({
  id: account.id,
  username: account.username,
  email: account.email,
  full_name: account.full_name,
  // account.roles is already ordered: admin first, then by name.
  role: account.roles[0] ?? null,
  status: account.status,
  is_active: account.status === 'active',
  email_verified: account.email_verified,
  created_at: account.created_at.toISOString(),
});

const Token = z.object({ access_token: z.string(), refresh_token: z.string(), token_type: z.literal('bearer') });
const token = ({ tokens }: SignedIn): z.input<typeof Token> => ({ access_token: tokens.accessToken, refresh_token: tokens.refreshToken, token_type: 'bearer' });

/** `data` is the user, with the operation's message. */
const userReply = (status: number, message: string): Reply<AccountView> =>
  dataReply(status, success(EnvelopeUser), (account: AccountView) => ({ success: true as const, data: envelopeUser(account), message }));

/** `data` is `{"message": …}` (what the flat profiles answer), `message` as the original set it (mostly null). */
function messageInData<R>(reply: Reply<R>, message: string | null = null): Reply<R> {
  const text = reply.message;
  if (!text) throw new Error('messageInData needs a message reply');
  return dataReply(reply.status, success(MessageBody), (result: R) => ({ success: true as const, data: { message: text(result) }, message }));
}

const renderDetail = detailErrors();
const renderError: ErrorRenderer = (error) =>
  isEnveloped(error.code)
    ? {
        status: envelopeStatus(error.code, error.status),
        body: {
          success: false,
          error: {
            code: error.code,
            message: error.message,
            // The challenge of a two-step login (CONTRACT §9).
            ...(error instanceof MfaRequiredError ? { mfa_token: error.mfaToken, methods: error.methods } : {}),
          },
        },
      }
    : renderDetail(error);

export const EnvelopeError = z.object({
  success: z.literal(false),
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** Only on `AUTH_MFA_REQUIRED` (CONTRACT §9). */
    mfa_token: z.string().optional(),
    methods: z.array(z.enum(['totp', 'recovery_code', 'passkey'])).optional(),
  }),
});

type EnvelopeReplies = { [K in keyof OperationResults]: Reply<OperationResults[K]> };

const replies: EnvelopeReplies = {
  register: userReply(201, 'User registered successfully. Please check your email to verify your account.'),
  login: dataReply(200, success(z.object({ token: Token, user: EnvelopeUser })), (result: SignedIn) => ({
    success: true as const,
    data: { token: token(result), user: envelopeUser(result.account) },
    message: 'Login successful',
  })),
  refresh: dataReply(200, success(Token), (result: SignedIn) => ({ success: true as const, data: token(result), message: 'Token refreshed successfully' })),
  logout: dataReply(200, success(MessageBody), (result: OperationResults['logout']) => ({ success: true as const, data: { message: auroraLogout(result) }, message: null })),
  me: userReply(200, 'User profile retrieved successfully'),
  updateMe: userReply(200, 'User profile updated successfully'),
  changePassword: dataReply(200, success(MessageBody), () => ({ success: true as const, data: { message: 'Password changed successfully' }, message: 'Password updated successfully' })),
  listSessions: dataReply(200, success(commonReplies.listSessions.schema), (items: OperationResults['listSessions']) => ({
    success: true as const,
    data: commonReplies.listSessions.render(items) as z.input<typeof commonReplies.listSessions.schema>,
    message: null,
  })),
  deleteSession: messageInData(commonReplies.deleteSession),
  verifyEmail: messageInData(commonReplies.verifyEmail),
  resendVerification: messageInData(commonReplies.resendVerification),
  forgotPassword: messageInData(commonReplies.forgotPassword),
  resetPassword: messageInData(commonReplies.resetPassword),
};

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
  replies,
  renderError,
  errorSchemas: { error: DetailError, validation: ValidationErrorBody, enveloped: EnvelopeError },
  errorStatus: envelopeStatus,
  isEnveloped,
  logoutRequiresBearer: true,
  httpBearer: true,
  wrapData: (data) => ({ success: true, data, message: null }),
};
