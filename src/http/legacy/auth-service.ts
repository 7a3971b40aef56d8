/**
 * Profile `auth-service` (default mount /auth): the smallest of the retired services. Users are shown
 * with their sequential integer number as `id`; signup answers 200.
 */
import { z } from 'zod';
import type { AccountView } from '../../services/account-view.ts';
import { dataReply, request, type Profile } from './profile.ts';
import { DetailError, TokenBody, ValidationErrorBody, commonReplies, commonRequests, fields, messageReply, tokenBody } from './schemas.ts';
import { detailErrors } from './detail-errors.ts';

export const AuthServiceUser = z.object({
  id: z.int(),
  username: z.string().nullable(),
  email: z.string(),
  is_active: z.boolean(),
});

const user = (account: AccountView): z.input<typeof AuthServiceUser> => ({
  id: account.number,
  username: account.username,
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
    login: dataReply(200, TokenBody, tokenBody),
    refresh: dataReply(200, TokenBody, tokenBody),
    logout: messageReply(200, 'Logout successful'),
    me: dataReply(200, AuthServiceUser, user),
    updateMe: dataReply(200, AuthServiceUser, user),
  },
  renderError: detailErrors(),
  errorSchemas: { error: DetailError, validation: ValidationErrorBody },
};
