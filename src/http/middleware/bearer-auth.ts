import type { Middleware } from 'koa';
import { createBoundedMap } from '../../services/bounded-map.ts';
import type { AccessTokenClaims, HmacSigning, TokenService } from '../../services/tokens.ts';
import type { SessionRecord, SessionService } from '../../services/sessions.ts';
import type { AccountService, AccountView } from '../../services/accounts/accounts.ts';
import { AccountInactiveError, BearerMissingError, EmailNotVerifiedError, InvalidAccessTokenError } from '../../services/accounts/errors.ts';

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
  accounts: Pick<AccountService, 'getById' | 'userIdBySubject'>;
}

export interface BearerAuthOptions {
  /** A missing or unusable token lets the request through without `ctx.state.auth` (logout). */
  optional?: boolean;
  /** REQUIRE_EMAIL_VERIFICATION: unverified users get 403 "Email not verified"... */
  requireEmailVerification?: boolean;
  /** ...except on routes that exist for them (resend the link). */
  allowUnverified?: boolean;
  /**
   * A missing header or another scheme (CONTRACT §3 `missing_bearer`): `http-bearer-403` as FastAPI's
   * HTTPBearer before 0.122, `http-bearer-401` as from 0.122 (401 "Not authenticated"); by default the
   * 401 "Could not validate credentials" of any bad token (OAuth2PasswordBearer-style services).
   */
  missing?: 'http-bearer-403' | 'http-bearer-401' | 'credentials-401';
  /** An HS256 mount: its secret and `sub` layout; tokens signed with the key set do not pass here. */
  hmac?: HmacSigning;
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/-]+=*)$/i;

/** Tokens of an HS256 mount whose `sub` (a username or number) has been resolved to a user id. */
const RESOLVED_SUBJECTS_MAX = 10_000;

/** FastAPI's get_authorization_scheme_param: the scheme, and everything after the first space. */
function schemeOf(header: string): { scheme: string; credentials: string } {
  const space = header.indexOf(' ');
  return space < 0 ? { scheme: header, credentials: '' } : { scheme: header.slice(0, space), credentials: header.slice(space + 1) };
}

function missingError(header: string, missing: BearerAuthOptions['missing']): Error | undefined {
  if (!missing || missing === 'credentials-401') return undefined;
  const { scheme, credentials } = schemeOf(header);
  const status = missing === 'http-bearer-403' ? 403 : 401;
  if (!scheme || !credentials) return new BearerMissingError(status);
  if (scheme.toLowerCase() !== 'bearer') return new BearerMissingError(status, true);
  return undefined;
}

/**
 * Resolves the caller from `Authorization: Bearer <jwt>`: a valid signature and expiry, then a live
 * session (one store read, so a revoked session's tokens stop at once), then an active account.
 */
export function bearerAuth(services: BearerAuthServices, options: BearerAuthOptions = {}): Middleware {
  const { hmac } = options;
  // A token's `sub` names its user for the token's whole life (it was issued for one session of one user):
  // the look-up by username or number is made once per token, not on every request (it was the larger part
  // of a `/me` on such a mount, bench/README.md). Keyed by the token's exact text, which has passed its
  // signature check; the session is still checked on every request.
  const subjects = hmac && hmac.sub !== 'id' ? createBoundedMap<string>(RESOLVED_SUBJECTS_MAX) : undefined;
  async function authenticate(header: string): Promise<BearerAuth> {
    const missing = missingError(header, options.missing);
    if (missing) throw missing;
    const token = BEARER.exec(header)?.[1];
    if (!token) throw new InvalidAccessTokenError();
    const claims = await services.tokens.verifyAccessToken(token, hmac);
    // A `sub` that is a username or number names the user; the session is still looked up under its id.
    let userId: string | undefined = claims.sub;
    if (subjects && hmac && hmac.sub !== 'id') {
      userId = subjects.get(token) ?? (await services.accounts.userIdBySubject(hmac.sub, claims.sub));
      if (userId) subjects.set(token, userId);
    }
    if (!userId) throw new InvalidAccessTokenError();
    const session = await services.sessions.get(userId, claims.session_id);
    if (!session) throw new InvalidAccessTokenError();
    const account = await services.accounts.getById(userId);
    if (!account) throw new InvalidAccessTokenError();
    return { claims, session, account };
  }

  return async (ctx, next) => {
    let auth: BearerAuth | undefined;
    try {
      auth = await authenticate(ctx.get('Authorization'));
    } catch (err) {
      if (!(options.optional && (err instanceof InvalidAccessTokenError || err instanceof BearerMissingError))) throw err;
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
