import type { Middleware } from 'koa';
import type { AccessTokenClaims, TokenService } from '../../services/tokens.ts';
import type { SessionRecord, SessionService } from '../../services/sessions.ts';
import type { AccountService, AccountView } from '../../services/accounts.ts';
import { AccountInactiveError, EmailNotVerifiedError, InvalidAccessTokenError } from '../../services/account-errors.ts';

/** Who is calling, once a bearer token has been accepted. */
export interface BearerAuth {
  claims: AccessTokenClaims;
  session: SessionRecord;
  account: AccountView;
}

declare module 'koa' {
  interface DefaultState {
    auth?: BearerAuth;
  }
}

export interface BearerAuthServices {
  tokens: Pick<TokenService, 'verifyAccessToken'>;
  sessions: Pick<SessionService, 'get' | 'touch'>;
  accounts: Pick<AccountService, 'getById'>;
}

export interface BearerAuthOptions {
  /** A missing or unusable token lets the request through without `ctx.state.auth` (logout). */
  optional?: boolean;
  /** REQUIRE_EMAIL_VERIFICATION: unverified users get 403 "Email not verified"... */
  requireEmailVerification?: boolean;
  /** ...except on routes that exist for them (resend the link). */
  allowUnverified?: boolean;
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)$/i;

/**
 * Resolves the caller from `Authorization: Bearer <jwt>`: a valid signature and expiry, then a live
 * session (one store read, so a revoked session's tokens stop at once), then an active account.
 */
export function bearerAuth(services: BearerAuthServices, options: BearerAuthOptions = {}): Middleware {
  async function authenticate(header: string): Promise<BearerAuth> {
    const token = BEARER.exec(header)?.[1];
    if (!token) throw new InvalidAccessTokenError();
    const claims = await services.tokens.verifyAccessToken(token);
    const session = await services.sessions.get(claims.sub, claims.session_id);
    if (!session) throw new InvalidAccessTokenError();
    const account = await services.accounts.getById(claims.sub);
    if (!account) throw new InvalidAccessTokenError();
    return { claims, session, account };
  }

  return async (ctx, next) => {
    let auth: BearerAuth | undefined;
    try {
      auth = await authenticate(ctx.get('Authorization'));
    } catch (err) {
      if (!(options.optional && err instanceof InvalidAccessTokenError)) throw err;
    }
    if (auth) {
      if (auth.account.status !== 'active') throw new AccountInactiveError();
      if (options.requireEmailVerification && !options.allowUnverified && !auth.account.email_verified) throw new EmailNotVerifiedError();
      await services.sessions.touch(auth.account.id, auth.session.session_id, auth.session);
      ctx.state.auth = auth;
    }
    await next();
  };
}
