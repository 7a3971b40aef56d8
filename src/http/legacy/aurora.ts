/**
 * Profile `aurora` (default mount /api/v1/auth): users by UUID with one `role` (admin first, else the
 * first by name, else null); registration answers 201; logout says how many sessions it ended.
 */
import { z } from 'zod';
import type { AccountView } from '../../services/accounts/view.ts';
import { dataReply, request, type Profile } from './profile.ts';
import {
  DetailError,
  TokenBody,
  ValidationErrorBody,
  commonReplies,
  commonRequests,
  fields,
  messageReply,
  registerRequest,
} from './schemas.ts';
import type { SignedIn } from './operations.ts';
import { detailErrors } from './detail-errors.ts';

const status = z.enum(['active', 'inactive', 'suspended']);

export const AuroraUser = z.object({
  id: z.uuid(),
  username: z.string().nullable(),
  email: z.string(),
  full_name: z.string().nullable(),
  role: z.string().nullable(),
  status,
  is_active: z.boolean(),
});

export const AuroraRegistered = z.object({
  id: z.uuid(),
  username: z.string().nullable(),
  email: z.string(),
  full_name: z.string().nullable(),
  status,
  is_active: z.boolean(),
  email_verified: z.boolean(),
  created_at: z.iso.datetime({ offset: true }),
});

export const auroraUser = (account: AccountView): z.input<typeof AuroraUser> => ({
  id: account.id,
  username: account.username,
  email: account.email,
  full_name: account.full_name,
  // account.roles is already ordered: admin first, then by name.
  role: account.roles[0] ?? null,
  status: account.status,
  is_active: account.status === 'active',
});

export const auroraRegistered = (account: AccountView): z.input<typeof AuroraRegistered> => ({
  id: account.id,
  username: account.username,
  email: account.email,
  full_name: account.full_name,
  status: account.status,
  is_active: account.status === 'active',
  email_verified: account.email_verified,
  created_at: account.created_at.toISOString(),
});

export const AuroraTokens = TokenBody;

/** Same members as everywhere, in the order the Aurora service wrote them. */
const auroraTokens = ({ tokens }: SignedIn): z.input<typeof AuroraTokens> => ({
  access_token: tokens.accessToken,
  token_type: 'bearer',
  refresh_token: tokens.refreshToken,
  expires_in: tokens.expiresIn,
});

export const auroraLogout = (result: { all: boolean; revoked: number }): string =>
  result.all ? `Logged out from all ${result.revoked} sessions` : 'Logged out successfully';

export const auroraProfile: Profile = {
  name: 'aurora',
  title: 'Aurora auth compatible API',
  description: 'Password login API compatible with the retired Aurora auth service (v1).',
  loginField: 'username',
  requests: {
    ...commonRequests,
    register: registerRequest,
    login: request('body', z.object({ username: fields.login, password: fields.password }), (b) => ({ login: b.username, password: b.password })),
  },
  replies: {
    ...commonReplies,
    register: dataReply(201, AuroraRegistered, auroraRegistered),
    login: dataReply(200, AuroraTokens, auroraTokens),
    refresh: dataReply(200, AuroraTokens, auroraTokens),
    logout: messageReply(200, auroraLogout),
    me: dataReply(200, AuroraUser, auroraUser),
    updateMe: dataReply(200, AuroraUser, auroraUser),
  },
  renderError: detailErrors(),
  errorSchemas: { error: DetailError, validation: ValidationErrorBody },
  httpBearer: true,
};
