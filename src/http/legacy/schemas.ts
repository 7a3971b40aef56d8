/**
 * Request fields, requests and replies that the profiles share. Limits follow CONTRACT §2: passwords
 * 8–256 characters (longer is a 422 before any hashing), e-mail syntax checked, usernames without `@`
 * so a login identifier is never both someone's username and someone else's e-mail.
 */
import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../services/passwords.ts';
import type { SessionListItem } from '../../services/sessions.ts';
import type { SignedIn } from './operations.ts';
import { dataReply, request, type Replies, type Reply, type Requests } from './profile.ts';

export const fields = {
  email: z.email().max(320),
  /** A new password: registration, change, reset. */
  newPassword: z.string().min(PASSWORD_MIN_LENGTH).max(PASSWORD_MAX_LENGTH),
  /** A password being checked: any length up to the maximum (a short one simply fails to match). */
  password: z.string().min(1).max(PASSWORD_MAX_LENGTH),
  username: z
    .string()
    .min(3)
    .max(64)
    .regex(/^[^\s@]+$/, "String should match pattern '^[^\\s@]+$' (no spaces, no @)"),
  /** Username or e-mail. */
  login: z.string().min(1).max(320),
  fullName: z.string().max(255).nullable().optional(),
  phone: z.string().max(64).nullable().optional(),
  token: z.string().min(1).max(512),
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
      onboarding_data: z.record(z.string(), z.unknown()).nullable().optional(),
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

export const tokenBody = ({ tokens }: SignedIn): z.input<typeof TokenBody> => ({
  access_token: tokens.accessToken,
  refresh_token: tokens.refreshToken,
  token_type: 'bearer',
  expires_in: tokens.expiresIn,
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
  /** How the login was proven (RFC 8176, CONTRACT §5). */
  amr: z.array(z.string()),
});

export function sessionBody(item: SessionListItem): z.input<typeof SessionBody> {
  return {
    session_id: item.session_id,
    kind: item.kind,
    client_id: item.client_id,
    device_id: item.device_id,
    device_name: item.device_name,
    device_type: item.device_type,
    user_agent: item.user_agent,
    ip_address: item.ip_address,
    created_at: item.created_at,
    last_active_at: item.last_active_at,
    expires_at: item.expires_at,
    is_current: item.is_current,
    amr: item.amr ?? ['pwd'],
  };
}

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
export const ValidationErrorBody = z.object({
  detail: z.array(z.object({ loc: z.array(z.union([z.string(), z.int()])), msg: z.string(), type: z.string() })),
});
