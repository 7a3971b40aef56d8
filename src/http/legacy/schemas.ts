/**
 * Request fields, requests and replies that the profiles share. Limits follow CONTRACT §2: passwords
 * 8–256 characters (longer is a 422 before any hashing), e-mail addresses as pydantic's `EmailStr`,
 * usernames 1–150 characters of letters, digits, spaces and `@ . + - _ '` (identifier-fields.ts).
 */
import { z } from 'zod';
import { emailField, usernameField } from '../identifier-fields.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../services/passwords.ts';
import { END_REASONS, toSessionView, type SessionListItem } from '../../services/sessions.ts';
import { dataReply, request, type Replies, type Reply, type Requests } from './profile.ts';
import { depthOver } from '../middleware/json-depth.ts';

/** CONTRACT §6: `onboarding_data` at most 16 kB (as JSON) and 8 levels deep (the value itself is level 1). */
export const ONBOARDING_DATA_LIMITS = { bytes: 16 * 1024, depth: 8 };

/** Free-form onboarding state: bounded, so it can be stored, serialized and read back without a deep walk. */
const onboardingData = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  if (depthOver(value, ONBOARDING_DATA_LIMITS.depth)) {
    ctx.addIssue({ code: 'custom', message: `onboarding_data must not nest deeper than ${ONBOARDING_DATA_LIMITS.depth} levels` });
  } else if (Buffer.byteLength(JSON.stringify(value)) > ONBOARDING_DATA_LIMITS.bytes) {
    ctx.addIssue({ code: 'custom', message: `onboarding_data must be at most ${ONBOARDING_DATA_LIMITS.bytes} bytes as JSON` });
  }
});

export const fields = {
  email: emailField,
  /** A new password: registration, change, reset. */
  newPassword: z.string().min(PASSWORD_MIN_LENGTH).max(PASSWORD_MAX_LENGTH),
  /** A password being checked: any length up to the maximum (a short one simply fails to match). */
  password: z.string().min(1).max(PASSWORD_MAX_LENGTH),
  username: usernameField,
  /** Username or e-mail. */
  login: z.string().min(1).max(320),
  fullName: z.string().max(255).nullable().optional(),
  phone: z.string().max(64).nullable().optional(),
  /** Opaque tokens are 43 characters; a JWT refresh token (auth-service) carries a username of up to 150 characters. */
  token: z.string().min(1).max(2048),
};

const optional = <T>(value: T | null | undefined): T | undefined => value ?? undefined;

const registerBody = z.object({
  username: fields.username.nullable().optional(),
  email: fields.email,
  password: fields.newPassword,
  full_name: fields.fullName,
  phone: fields.phone,
});

/** Registration with an optional username, full name and phone (aurora, v2, envelope). */
export const registerRequest = request('body', registerBody, (b) => ({
  username: b.username ?? null,
  email: b.email,
  password: b.password,
  fullName: b.full_name ?? null,
  phone: b.phone ?? null,
}));

/** The requests all profiles share; a profile overrides `register` and `login`. */
export const commonRequests: Omit<Requests, 'register' | 'login'> = {
  refresh: request('body', z.object({ refresh_token: fields.token }), (b) => ({ refreshToken: b.refresh_token })),
  logout: request(
    'body',
    z.object({
      revoke_all_sessions: z.boolean().nullable().optional(),
      session_id: z.string().min(1).max(128).nullable().optional(),
      refresh_token: fields.token.nullable().optional(),
    }),
    (b) => ({ revokeAll: b.revoke_all_sessions === true, sessionId: optional(b.session_id), refreshToken: optional(b.refresh_token) }),
  ),
  me: request('none', z.object({}), () => ({})),
  updateMe: request(
    'body',
    // Not strict: other members (roles, status, email, …) are accepted and ignored, as the originals did.
    z.object({
      full_name: fields.fullName,
      phone: fields.phone,
      username: fields.username.nullable().optional(),
      onboarding_completed: z.boolean().optional(),
      onboarding_step: z.int().min(0).max(10_000).nullable().optional(),
      onboarding_data: onboardingData.nullable().optional(),
    }),
    (b) => ({
      fullName: b.full_name,
      phone: b.phone,
      // A username can be changed, not removed (it may be how the user logs in).
      username: optional(b.username),
      onboardingCompleted: b.onboarding_completed,
      onboardingStep: b.onboarding_step,
      onboardingData: b.onboarding_data,
    }),
  ),
  changePassword: request(
    'body',
    z.object({ current_password: fields.password, new_password: fields.newPassword }),
    (b) => ({ currentPassword: b.current_password, newPassword: b.new_password }),
  ),
  listSessions: request(
    'query',
    z.object({ include_expired: z.stringbool().optional() }),
    (q) => ({ includeExpired: q.include_expired ?? false }),
  ),
  deleteSession: request('path', z.object({ session_id: z.string().min(1).max(128) }), (p) => ({ sessionId: p.session_id })),
  verifyEmail: request('body', z.object({ token: fields.token }), (b) => ({ token: b.token })),
  verifyEmailLink: request('query', z.object({ token: fields.token }), (q) => ({ token: q.token })),
  resendVerification: request('none', z.object({}), () => ({})),
  forgotPassword: request('body', z.object({ email: fields.email }), (b) => ({ email: b.email })),
  resetPassword: request(
    'body',
    z.object({ token: fields.token, new_password: fields.newPassword }),
    (b) => ({ token: b.token, newPassword: b.new_password }),
  ),
};

// ---- replies ----

const isoDate = z.iso.datetime({ offset: true });

export const MessageBody = z.object({ message: z.string() });

/** `{"message": "…"}`; the envelope profile turns it into `{success, data: null, message}`. */
export function messageReply<R>(status: number, text: string | ((result: R) => string)): Reply<R> {
  const message = typeof text === 'string' ? () => text : text;
  return { status, schema: MessageBody, render: (result: R) => ({ message: message(result) }), message };
}

export const TokenBody = z.object({
  access_token: z.string(),
  refresh_token: z.string(),
  token_type: z.literal('bearer'),
  expires_in: z.int(),
});

export const SessionBody = z.object({
  session_id: z.string(),
  kind: z.enum(['password', 'oidc']),
  client_id: z.string().nullable(),
  device_id: z.string().nullable(),
  device_name: z.string().nullable(),
  device_type: z.string(),
  user_agent: z.string().nullable(),
  ip_address: z.string().nullable(),
  created_at: isoDate,
  last_active_at: isoDate,
  expires_at: isoDate,
  is_current: z.boolean(),
  is_active: z.boolean(),
  amr: z.array(z.string()),
  ended_at: isoDate.nullable(),
  end_reason: z.enum(END_REASONS).nullable(),
});

export const sessionBody = (item: SessionListItem): z.input<typeof SessionBody> => toSessionView(item);

/** The replies that read the same in every flat profile; a profile spreads these and adds its own. */
export const commonReplies: Omit<Replies, 'register' | 'login' | 'refresh' | 'me' | 'updateMe' | 'logout'> = {
  changePassword: messageReply(200, 'Password updated successfully'),
  listSessions: dataReply(200, z.array(SessionBody), (items: SessionListItem[]) => items.map(sessionBody)),
  deleteSession: messageReply(200, 'Session revoked successfully'),
  verifyEmail: messageReply(200, 'Email verified successfully'),
  resendVerification: messageReply(202, 'Verification email sent'),
  forgotPassword: messageReply(202, 'If an account with that email exists, a password reset link has been sent'),
  resetPassword: messageReply(200, 'Password has been reset successfully'),
};

// ---- errors (FastAPI) ----

export const DetailError = z.object({ detail: z.string() });

/** The flat profiles' second-factor challenge: a failed-login 401 with the mfa fields (CONTRACT §9). */
export const MfaChallengeDetail = DetailError.extend({
  mfa_required: z.literal(true).optional(),
  mfa_token: z.string().optional(),
  methods: z.array(z.enum(['totp', 'recovery_code', 'passkey'])).optional(),
});
export const ValidationErrorBody = z.object({
  detail: z.array(z.object({ loc: z.array(z.union([z.string(), z.int()])), msg: z.string(), type: z.string() })),
});
