import { randomUUID } from 'node:crypto';
import { SignJWT, createLocalJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import type { Store, StoreWrite } from '../store/store.ts';
import type { KeySet } from './keys.ts';
import type { AccountView } from './account-view.ts';
import type { SessionRecord, SessionService } from './sessions.ts';
import type { AuditService } from './audit.ts';
import type { RequestContext } from './request-context.ts';
import { InvalidAccessTokenError, InvalidRefreshTokenError } from './account-errors.ts';
import { hashToken, isOpaqueToken, newOpaqueToken } from './secret-tokens.ts';

/** The claims of a legacy access token (CONTRACT §5). */
export interface AccessTokenClaims {
  iss: string;
  sub: string;
  sid: string;
  session_id: string;
  email: string;
  preferred_username: string;
  roles: string[];
  org_id: string | null;
  amr: string[];
  iat: number;
  exp: number;
  jti: string;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** Seconds the access token lives. */
  expiresIn: number;
}

interface RefreshRecord {
  user_id: string;
  session_id: string;
  state: 'active' | 'rotated';
  created_at: string;
  expires_at: string;
  rotated_at: string | null;
}

export interface TokenServiceOptions {
  /** Loads the database key set: for verification when a token names a key not loaded yet. */
  loadKeys: () => Promise<KeySet>;
  /** The key set loaded at start, which oidc-provider got too: it signs for the life of the process. */
  signingKeys?: KeySet;
  store: Store;
  sessions: SessionService;
  audit: Pick<AuditService, 'record'>;
  issuer: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  now?: () => number;
}

const SIGNING_ALG = 'ES256';
const VERIFY_ALGS = ['ES256', 'RS256'];
// A token signed by another process with a key we have not loaded yet: reload, but not more often than this.
const RELOAD_INTERVAL_MS = 30_000;
// Verified access tokens kept per process (~1.5 kB each).
const VERIFIED_CACHE_SIZE = 10_000;

const refreshKey = (token: string): string => `rt:${hashToken(token)}`;

/**
 * Legacy access tokens (ES256 JWTs from the database key set, verified locally against the same public
 * JWKS that /oidc/jwks publishes) and opaque refresh tokens, stored only as their SHA-256 and rotated with
 * one compare-and-set: of concurrent uses of one refresh token at most one wins, and a token presented
 * after it was rotated is a replay that ends the whole session.
 */
export function createTokenService(options: TokenServiceOptions) {
  const { store, sessions } = options;
  const now = options.now ?? Date.now;
  let keySet: Promise<KeySet> | undefined = options.signingKeys && Promise.resolve(options.signingKeys);
  let verifier: ReturnType<typeof createLocalJWKSet> | undefined;
  let lastReload = 0;

  async function keys(): Promise<KeySet> {
    keySet ??= options.loadKeys().catch((err: unknown) => {
      keySet = undefined;
      throw err;
    });
    return keySet;
  }

  async function verificationKeys(reload: boolean): Promise<ReturnType<typeof createLocalJWKSet>> {
    if (reload && now() - lastReload > RELOAD_INTERVAL_MS) {
      lastReload = now();
      // Only the verification set is refreshed: signing stays on the key the provider also uses.
      const fresh = await options.loadKeys();
      const signing = await keys();
      const kids = new Set(fresh.publicJwks.keys.map((jwk) => jwk.kid));
      verifier = createLocalJWKSet({ keys: [...fresh.publicJwks.keys, ...signing.publicJwks.keys.filter((jwk) => !kids.has(jwk.kid))] });
    }
    verifier ??= createLocalJWKSet((await keys()).publicJwks);
    return verifier;
  }

  async function issueAccessToken(account: AccountView, session: SessionRecord): Promise<{ token: string; expiresIn: number }> {
    const { signing } = await keys();
    const key = signing[SIGNING_ALG];
    const iat = Math.floor(now() / 1000);
    const ttl = options.accessTokenTtlSeconds;
    const token = await new SignJWT({
      sid: session.session_id,
      session_id: session.session_id,
      email: account.email,
      preferred_username: account.username ?? account.email,
      roles: account.roles,
      org_id: account.organization_id,
      amr: session.amr ?? ['pwd'],
    })
      .setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(options.issuer)
      .setSubject(account.id)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttl)
      .setJti(randomUUID())
      .sign(key.key);
    return { token, expiresIn: ttl };
  }

  function toClaims(payload: JWTPayload): AccessTokenClaims {
    const { sub, sid, session_id: sessionId, jti } = payload as Record<string, unknown>;
    // An ID token or an RFC 9068 access token from the OIDC side carries `aud`; ours never does.
    if (payload.aud !== undefined || typeof sub !== 'string' || typeof sessionId !== 'string' || sid !== sessionId || typeof jti !== 'string') {
      throw new InvalidAccessTokenError();
    }
    return payload as unknown as AccessTokenClaims;
  }

  // Tokens whose signature, issuer and type already checked out, by their exact text. ECDSA verification
  // is the largest CPU cost of a bearer request (bench/README.md), and a client presents one token many
  // times in its life. Expiry is still checked on every use, and the session by the caller.
  const verified = new Map<string, AccessTokenClaims>();

  function remember(token: string, claims: AccessTokenClaims): AccessTokenClaims {
    // Oldest first out (Map keeps insertion order): bounded memory whatever the traffic.
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
    // Frozen: every request holding this token shares the object.
    const shared = Object.freeze({ ...claims, roles: Array.isArray(claims.roles) ? (Object.freeze([...claims.roles]) as string[]) : claims.roles });
    verified.set(token, shared);
    return shared;
  }

  /** Checks signature (ES256/RS256 only, known kid), issuer and expiry; does not look at the session. */
  async function verifyAccessToken(token: string): Promise<AccessTokenClaims> {
    const known = verified.get(token);
    if (known) {
      if (known.exp > Math.floor(now() / 1000)) return known;
      verified.delete(token);
    }
    return remember(token, await verifyUncached(token));
  }

  async function verifyUncached(token: string): Promise<AccessTokenClaims> {
    const attempt = async (reload: boolean) =>
      jwtVerify(token, await verificationKeys(reload), {
        issuer: options.issuer,
        algorithms: VERIFY_ALGS,
        typ: 'JWT',
        requiredClaims: ['sub', 'iat', 'exp', 'jti'],
        currentDate: new Date(now()),
      });
    try {
      try {
        return toClaims((await attempt(false)).payload);
      } catch (err) {
        if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
        return toClaims((await attempt(true)).payload);
      }
    } catch (err) {
      if (err instanceof InvalidAccessTokenError || err instanceof joseErrors.JOSEError) throw new InvalidAccessTokenError();
      throw err;
    }
  }

  /** A new refresh token and the write that stores its record (only its SHA-256 is kept). */
  function newRefreshToken(userId: string, sessionId: string): { token: string; write: StoreWrite } {
    const token = newOpaqueToken();
    const at = now();
    const ttl = options.refreshTokenTtlSeconds;
    const record: RefreshRecord = {
      user_id: userId,
      session_id: sessionId,
      state: 'active',
      created_at: new Date(at).toISOString(),
      expires_at: new Date(at + ttl * 1000).toISOString(),
      rotated_at: null,
    };
    return { token, write: { op: 'set', key: refreshKey(token), value: record, ttlSeconds: ttl } };
  }

  async function issueRefreshToken(userId: string, sessionId: string): Promise<string> {
    const { token, write } = newRefreshToken(userId, sessionId);
    await store.writeMany([write]);
    return token;
  }

  return {
    verifyAccessToken,
    issueAccessToken,
    issueRefreshToken,

    /**
     * A new session's first pair. `storeWith`: writes to make in the same store round trip as the
     * refresh token's record, such as the new session's own (sessions.draft), so a login costs one.
     */
    async issueTokens(account: AccountView, session: SessionRecord, opts: { storeWith?: readonly StoreWrite[] } = {}): Promise<TokenPair> {
      const refresh = newRefreshToken(account.id, session.session_id);
      const [access] = await Promise.all([issueAccessToken(account, session), store.writeMany([...(opts.storeWith ?? []), refresh.write])]);
      return { accessToken: access.token, refreshToken: refresh.token, expiresIn: access.expiresIn };
    },

    /**
     * Spends a refresh token and returns its replacement with the session it belongs to (renewed).
     * Unknown, expired or of a dead session → InvalidRefreshTokenError. Already rotated → the session is
     * revoked (someone holds a copy of an old token), then InvalidRefreshTokenError.
     */
    async rotateRefreshToken(token: unknown, context: RequestContext): Promise<{ session: SessionRecord; refreshToken: string }> {
      if (!isOpaqueToken(token)) throw new InvalidRefreshTokenError();
      const key = refreshKey(token);
      const record = await store.get<RefreshRecord>(key);
      if (!record) throw new InvalidRefreshTokenError();
      const at = now();
      if (record.state === 'rotated') {
        const revoked = await sessions.revoke(record.user_id, record.session_id, 'refresh_reuse');
        await options.audit.record({
          type: 'refresh_reuse',
          outcome: 'failure',
          userId: record.user_id,
          ip: context.ip,
          userAgent: context.userAgent,
          detail: { session_id: record.session_id, session_revoked: revoked, door: context.door },
        });
        throw new InvalidRefreshTokenError();
      }
      if (Date.parse(record.expires_at) <= at) throw new InvalidRefreshTokenError();
      const session = await sessions.get(record.user_id, record.session_id);
      if (!session) throw new InvalidRefreshTokenError();

      const rotated: RefreshRecord = { ...record, state: 'rotated', rotated_at: new Date(at).toISOString() };
      const remaining = Math.max(1, (Date.parse(record.expires_at) - at) / 1000);
      // The one atomic step: of concurrent refreshes only one turns this record from active to rotated.
      // A loser raced the winner rather than replaying later, so it is refused without ending the session.
      if (!(await store.compareAndSet(key, record, rotated, remaining))) throw new InvalidRefreshTokenError();

      const refreshToken = await issueRefreshToken(record.user_id, record.session_id);
      const renewed = await sessions.renew(record.user_id, record.session_id, options.refreshTokenTtlSeconds);
      if (!renewed) throw new InvalidRefreshTokenError();
      return { session: renewed, refreshToken };
    },

    /** The session a refresh token belongs to, if the token is still usable (logout by refresh token). */
    async sessionOfRefreshToken(token: unknown): Promise<{ userId: string; sessionId: string } | undefined> {
      if (!isOpaqueToken(token)) return undefined;
      const record = await store.get<RefreshRecord>(refreshKey(token));
      if (!record || record.state !== 'active' || Date.parse(record.expires_at) <= now()) return undefined;
      return { userId: record.user_id, sessionId: record.session_id };
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
