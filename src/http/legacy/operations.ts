/**
 * The operations every legacy profile serves (CONTRACT §3), one handler each, written once: a profile
 * only parses requests into these inputs and renders these results. Handlers call services and never
 * see Koa.
 */
import type { AccountService, AccountView, ProfilePatch, RegisterInput } from '../../services/accounts/accounts.ts';
import type { SessionListItem, SessionRecord, SessionService } from '../../services/sessions.ts';
import type { TokenPair, TokenPolicy, TokenService } from '../../services/tokens.ts';
import type { AuditService } from '../../services/audit.ts';
import type { RequestContext } from '../../services/request-context.ts';
import type { AccountLinks } from '../../services/accounts/mail.ts';
import type { BearerAuth } from '../middleware/bearer-auth.ts';
import { InvalidAccessTokenError, InvalidRefreshTokenError, SessionNotFoundError } from '../../services/accounts/errors.ts';
import type { MfaLogin } from '../../services/mfa/mfa-login.ts';

export interface LoginInput {
  login: string;
  password: string;
}

export interface LogoutInput {
  revokeAll: boolean;
  sessionId?: string;
  refreshToken?: string;
}

export interface OperationInputs {
  register: RegisterInput;
  login: LoginInput;
  refresh: { refreshToken: string };
  logout: LogoutInput;
  me: Record<string, never>;
  updateMe: ProfilePatch;
  changePassword: { currentPassword: string; newPassword: string };
  listSessions: { includeExpired: boolean };
  deleteSession: { sessionId: string };
  verifyEmail: { token: string };
  resendVerification: Record<string, never>;
  forgotPassword: { email: string };
  resetPassword: { token: string; newPassword: string };
}

export interface SignedIn {
  account: AccountView;
  session: SessionRecord;
  tokens: TokenPair;
}

export interface OperationResults {
  register: AccountView;
  login: SignedIn;
  refresh: SignedIn;
  logout: { all: boolean; revoked: number };
  me: AccountView;
  updateMe: AccountView;
  changePassword: { revoked: number };
  listSessions: SessionListItem[];
  deleteSession: { sessionId: string };
  verifyEmail: AccountView;
  resendVerification: Record<string, never>;
  forgotPassword: Record<string, never>;
  resetPassword: Record<string, never>;
}

export type OperationName = keyof OperationInputs;

export interface OperationContext {
  request: RequestContext;
  /** Set on bearer routes (and on logout when a usable token came with it). */
  auth?: BearerAuth;
  links: AccountLinks;
  /** The mount's token options (CONTRACT §3): lifetime, signing, refresh format and mode. */
  policy?: TokenPolicy;
}

export type Operations = {
  [K in OperationName]: (input: OperationInputs[K], oc: OperationContext) => Promise<OperationResults[K]>;
};

export type Auth = 'none' | 'bearer' | 'optional';

export interface Route {
  op: OperationName;
  method: 'get' | 'post' | 'put' | 'delete';
  /** Relative to the mount; `:name` is a path parameter. */
  path: string;
  auth: Auth;
  /** Where the input comes from. */
  input: 'body' | 'query' | 'path' | 'none';
  summary: string;
  /** Verified users only when REQUIRE_EMAIL_VERIFICATION is on (not for the route that re-sends the link). */
  allowUnverified?: boolean;
}

/** Every route of every profile (CONTRACT §3), plus the GET targets of the links we e-mail. */
export const ROUTES: readonly Route[] = [
  { op: 'register', method: 'post', path: '/signup', auth: 'none', input: 'body', summary: 'Create an account (user, personal organization, owner membership)' },
  { op: 'register', method: 'post', path: '/register', auth: 'none', input: 'body', summary: 'Create an account (same as /signup)' },
  { op: 'login', method: 'post', path: '/login', auth: 'none', input: 'body', summary: 'Password login (JSON, or form-encoded username + password); starts a session' },
  { op: 'refresh', method: 'post', path: '/refresh', auth: 'none', input: 'body', summary: 'Exchange a refresh token for a new pair; the old refresh token stops working' },
  { op: 'logout', method: 'post', path: '/logout', auth: 'optional', input: 'body', summary: 'End the current session, a given one, or all of them' },
  { op: 'me', method: 'get', path: '/me', auth: 'bearer', input: 'none', summary: 'The current user' },
  { op: 'me', method: 'get', path: '/users/me', auth: 'bearer', input: 'none', summary: 'The current user (same as /me)' },
  { op: 'updateMe', method: 'put', path: '/users/me', auth: 'bearer', input: 'body', summary: 'Update full_name, phone, username and onboarding fields; anything else is ignored' },
  { op: 'changePassword', method: 'put', path: '/users/me/password', auth: 'bearer', input: 'body', summary: 'Change the password; ends every other session' },
  { op: 'listSessions', method: 'get', path: '/sessions', auth: 'bearer', input: 'query', summary: "The user's sessions, password and OIDC alike" },
  { op: 'deleteSession', method: 'delete', path: '/sessions/:session_id', auth: 'bearer', input: 'path', summary: "End one of the user's sessions" },
  { op: 'verifyEmail', method: 'post', path: '/verify-email', auth: 'none', input: 'body', summary: 'Mark the e-mail address verified' },
  { op: 'verifyEmail', method: 'get', path: '/verify-email', auth: 'none', input: 'query', summary: 'The link in the verification e-mail: marks the address verified' },
  { op: 'resendVerification', method: 'post', path: '/resend-verification', auth: 'bearer', input: 'none', summary: 'Send a new verification link', allowUnverified: true },
  { op: 'forgotPassword', method: 'post', path: '/forgot-password', auth: 'none', input: 'body', summary: 'Send a reset link if the account exists (always 202)' },
  { op: 'resetPassword', method: 'post', path: '/reset-password', auth: 'none', input: 'body', summary: 'Set a new password from a reset link; ends every session' },
];

export interface OperationServices {
  accounts: AccountService;
  sessions: SessionService;
  tokens: TokenService;
  audit: Pick<AuditService, 'record'>;
  /** The second-factor step after the password (CONTRACT §9); without it every password login is complete. */
  mfaLogin?: Pick<MfaLogin, 'afterPassword'>;
}

/** A finished login: a password session proven by `amr`, its tokens written in one round trip. */
export async function startSignedIn(
  services: Pick<OperationServices, 'sessions' | 'tokens'>,
  account: AccountView,
  amr: readonly string[],
  oc: OperationContext,
): Promise<SignedIn> {
  // The session, its index entry and the refresh token's record go to the store in one round trip.
  const { record: session, writes } = services.sessions.draft({ userId: account.id, kind: 'password', context: oc.request, amr });
  return { account, session, tokens: await services.tokens.issueTokens(account, session, { storeWith: writes, policy: oc.policy }) };
}

function requireAuth(oc: OperationContext): BearerAuth {
  if (!oc.auth) throw new InvalidAccessTokenError();
  return oc.auth;
}

export function createOperations(services: OperationServices): Operations {
  const { accounts, sessions, tokens, audit } = services;

  async function logoutAudit(userId: string, oc: OperationContext, detail: Record<string, unknown>): Promise<void> {
    await audit.record({ type: 'logout', outcome: 'success', userId, ip: oc.request.ip, userAgent: oc.request.userAgent, detail: { ...detail, door: oc.request.door } });
  }

  return {
    register: (input, oc) => accounts.register(input, oc.request, oc.links),

    async login(input, oc) {
      const account = await accounts.authenticate(input.login, input.password, oc.request);
      // A user with a second factor gets an mfa_token instead (MfaRequiredError), one the policy wants enrolled a 403.
      const amr = services.mfaLogin ? await services.mfaLogin.afterPassword(account, input.login) : ['pwd'];
      return startSignedIn(services, account, amr, oc);
    },

    async refresh(input, oc) {
      const rotation = await tokens.rotateRefreshToken(input.refreshToken, oc.request, oc.policy, (id) => accounts.getById(id));
      const { session, refreshToken } = rotation;
      const account = await accounts.getById(session.user_id);
      if (!account || account.status !== 'active') {
        // Normally impossible (leaving `active` ends every session); never hand out tokens if it happens.
        await sessions.revoke(session.user_id, session.session_id, 'admin');
        throw new InvalidRefreshTokenError();
      }
      // A retry inside REFRESH_REUSE_INTERVAL gets the pair the rotation answered, access token included.
      const access = rotation.retried ?? (await tokens.issueAccessToken(account, session, oc.policy));
      await rotation.remember?.(access);
      return { account, session, tokens: { accessToken: access.token, refreshToken, expiresIn: access.expiresIn } };
    },

    /**
     * Identity comes from the bearer token or, without one, from the refresh token in the body. With
     * neither it is the client-side logout of the originals: 200, nothing to end.
     */
    async logout(input, oc) {
      const owner = input.refreshToken ? await tokens.sessionOfRefreshToken(input.refreshToken, oc.policy) : undefined;
      const fromRefresh = owner && (!oc.auth || owner.userId === oc.auth.account.id) ? owner : undefined;
      const userId = oc.auth?.account.id ?? fromRefresh?.userId;
      if (input.revokeAll) {
        if (!userId) throw new InvalidAccessTokenError();
        const revoked = await sessions.revokeAll(userId, { reason: 'logout_all' });
        await logoutAudit(userId, oc, { all: true, revoked_sessions: revoked });
        return { all: true, revoked };
      }
      if (input.sessionId) {
        if (!userId) throw new InvalidAccessTokenError();
        if (!(await sessions.revoke(userId, input.sessionId, 'logout'))) throw new SessionNotFoundError();
        await logoutAudit(userId, oc, { session_id: input.sessionId });
        return { all: false, revoked: 1 };
      }
      if (!userId) return { all: false, revoked: 0 };
      const ids = new Set([oc.auth?.session.session_id, fromRefresh?.sessionId].filter((id): id is string => Boolean(id)));
      let revoked = 0;
      for (const id of ids) if (await sessions.revoke(userId, id, 'logout')) revoked += 1;
      await logoutAudit(userId, oc, { session_ids: [...ids] });
      return { all: false, revoked };
    },

    me: async (_input, oc) => requireAuth(oc).account,

    updateMe: (input, oc) => accounts.updateProfile(requireAuth(oc).account.id, input, oc.request),

    async changePassword(input, oc) {
      const auth = requireAuth(oc);
      const revoked = await accounts.changePassword(auth.account.id, { ...input, keepSessionId: auth.session.session_id }, oc.request);
      return { revoked };
    },

    async listSessions(input, oc) {
      const auth = requireAuth(oc);
      return sessions.list(auth.account.id, { includeExpired: input.includeExpired, currentSessionId: auth.session.session_id });
    },

    async deleteSession(input, oc) {
      const auth = requireAuth(oc);
      // Sessions are looked up under the caller's own user key: another user's id is simply not found.
      if (!(await sessions.revoke(auth.account.id, input.sessionId, 'revoked'))) throw new SessionNotFoundError();
      await logoutAudit(auth.account.id, oc, { session_id: input.sessionId });
      return { sessionId: input.sessionId };
    },

    verifyEmail: (input, oc) => accounts.verifyEmail(input.token, oc.request),

    async resendVerification(_input, oc) {
      await accounts.requestEmailVerification(requireAuth(oc).account.id, oc.request, oc.links);
      return {};
    },

    async forgotPassword(input, oc) {
      await accounts.requestPasswordReset(input.email, oc.request, oc.links);
      return {};
    },

    async resetPassword(input, oc) {
      await accounts.resetPassword(input.token, input.newPassword, oc.request);
      return {};
    },
  };
}
