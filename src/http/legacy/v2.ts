/**
 * Profile `v2` (default mount /api/v2/auth): login by e-mail (syntax and password length checked: 422),
 * the user with its organization, onboarding state and role objects.
 */
import { z } from 'zod';
import type { AccountView } from '../../services/accounts/view.ts';
import { dataReply, request, type Profile } from './profile.ts';
import { DetailError, ValidationErrorBody, commonReplies, commonRequests, fields, messageReply, registerRequest } from './schemas.ts';
import { detailErrors } from './detail-errors.ts';
import { auroraLogout } from './aurora.ts';
import type { SignedIn } from './operations.ts';

const isoDate = z.iso.datetime({ offset: true });

export const V2User = z.object({
  id: z.uuid(),
  email: z.string(),
  full_name: z.string().nullable(),
  phone: z.string().nullable(),
  organization_id: z.uuid().nullable(),
  status: z.enum(['active', 'inactive', 'suspended']),
  onboarding_completed: z.boolean(),
  onboarding_step: z.int().nullable(),
  onboarding_data: z.record(z.string(), z.unknown()).nullable(),
  created_at: isoDate,
  updated_at: isoDate,
});

export const V2Me = z.object({
  user: V2User,
  roles: z.array(z.object({ id: z.uuid(), name: z.string(), description: z.string().nullable() })),
  organization_id: z.uuid().nullable(),
});

/** `refresh_token` and `expires_in` are extras the v2 clients ignore (CONTRACT §3 allows them). */
export const V2Tokens = z.object({
  access_token: z.string(),
  token_type: z.literal('bearer'),
  refresh_token: z.string(),
  expires_in: z.int(),
});

const v2User = (account: AccountView): z.input<typeof V2User> => ({
  id: account.id,
  email: account.email,
  full_name: account.full_name,
  phone: account.phone,
  organization_id: account.organization_id,
  status: account.status,
  onboarding_completed: account.onboarding_completed,
  onboarding_step: account.onboarding_step,
  onboarding_data: account.onboarding_data,
  created_at: account.created_at.toISOString(),
  updated_at: account.updated_at.toISOString(),
});

const v2Me = (account: AccountView): z.input<typeof V2Me> => ({
  user: v2User(account),
  roles: account.role_details.map((role) => ({ id: role.id, name: role.name, description: role.description })),
  organization_id: account.organization_id,
});

const v2Tokens = ({ tokens }: SignedIn): z.input<typeof V2Tokens> => ({
  access_token: tokens.accessToken,
  token_type: 'bearer',
  refresh_token: tokens.refreshToken,
  expires_in: tokens.expiresIn,
});

export const v2Profile: Profile = {
  name: 'v2',
  title: 'Auth API v2 compatible API',
  description: 'Password login API compatible with the retired auth API v2 (login by e-mail).',
  loginField: 'email',
  requests: {
    ...commonRequests,
    register: registerRequest,
    login: request('body', z.object({ email: fields.email, password: fields.newPassword }), (b) => ({ login: b.email, password: b.password })),
  },
  replies: {
    ...commonReplies,
    register: dataReply(201, V2User, v2User),
    login: dataReply(200, V2Tokens, v2Tokens),
    refresh: dataReply(200, V2Tokens, v2Tokens),
    logout: messageReply(200, auroraLogout),
    me: dataReply(200, V2Me, v2Me),
    updateMe: dataReply(200, V2Me, v2Me),
  },
  renderError: detailErrors({ AUTH_INVALID_CREDENTIALS: 'Incorrect email or password' }),
  // Seed 001: "Tokens include user ID, email, roles, and organization ID".
  tokenClaims: (account) => ({ organization_id: account.organization_id }),
  errorSchemas: { error: DetailError, validation: ValidationErrorBody },
};
