/**
 * Profile `auth-service` (seed 003, default mount /auth): the smallest of the retired services. Users are
 * shown with their sequential integer number as `id` and a username that is never null (the e-mail of a
 * user created at another door); signup answers 200.
 */
import { z } from 'zod';
import type { AccountView } from '../../services/accounts/view.ts';
import { dataReply, request, type Profile } from './profile.ts';
import { DetailError, ValidationErrorBody, commonReplies, commonRequests, fields, messageReply } from './schemas.ts';
import { detailErrors } from './detail-errors.ts';
import type { SignedIn } from './operations.ts';

/** Seed 003's `Token` model: exactly these three members (no `expires_in`), the refresh token unchanged under `reuse`. */
export const AuthServiceTokens = z.object({ access_token: z.string(), refresh_token: z.string(), token_type: z.literal('bearer') });

const tokens = ({ tokens: pair }: SignedIn): z.input<typeof AuthServiceTokens> => ({
  access_token: pair.accessToken,
  refresh_token: pair.refreshToken,
  token_type: 'bearer',
});

export const AuthServiceUser = z.object({
  id: z.int(),
  username: z.string(),
  email: z.string(),
  is_active: z.boolean(),
});

const user = (account: AccountView): z.input<typeof AuthServiceUser> => ({
  id: account.number,
  username: account.username ?? account.email,
  email: account.email,
  is_active: account.status === 'active',
});

export const authServiceProfile: Profile = {
  name: 'auth-service',
  title: 'auth-service compatible API',
  description: 'Password login API compatible with the retired auth-service.',
  loginField: 'username',
  requests: {
    ...commonRequests,
    register: request(
      'body',
      z.object({ username: fields.username, email: fields.email, password: fields.newPassword }),
      (b) => ({ username: b.username, email: b.email, password: b.password }),
    ),
    login: request('body', z.object({ username: fields.login, password: fields.password }), (b) => ({ login: b.username, password: b.password })),
  },
  replies: {
    ...commonReplies,
    register: dataReply(200, AuthServiceUser, user),
    login: dataReply(200, AuthServiceTokens, tokens),
    refresh: dataReply(200, AuthServiceTokens, tokens),
    logout: messageReply(200, 'Logout successful'),
    me: dataReply(200, AuthServiceUser, user),
    updateMe: dataReply(200, AuthServiceUser, user),
  },
  renderError: detailErrors(),
  errorSchemas: { error: DetailError, validation: ValidationErrorBody },
};
