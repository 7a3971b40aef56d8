import { randomUUID } from 'node:crypto';
import { SignJWT, createLocalJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import type { JWTPayload } from 'jose';
import type { Store, StoreWrite } from '../store/store.ts';
import type { KeySet } from './keys.ts';
import type { AccountView } from './accounts/view.ts';
import type { SessionRecord, SessionService } from './sessions.ts';
import type { AuditService } from './audit.ts';
import type { RequestContext } from './request-context.ts';
import { InvalidAccessTokenError, InvalidRefreshTokenError } from './accounts/errors.ts';
import { hashToken, isOpaqueToken, newOpaqueToken } from './secret-tokens.ts';
import { openUnderToken, sealUnderToken } from './token-sealed.ts';
import { createBoundedMap } from './bounded-map.ts';

const REFRESH_JWT = /^[A-Za-z0-9_-]{10,300}\.[A-Za-z0-9_-]{20,1500}\.[A-Za-z0-9_-]{20,400}$/;

/** Cheap shape check (opaque, or a refresh JWT) before any store look-up, so junk input never reaches the store. */
const isRefreshToken = (value: unknown): value is string => isOpaqueToken(value) || (typeof value === 'string' && REFRESH_JWT.test(value));

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
  /** The mount that issued it: accepted only at that mount's /refresh (absent on records of older releases). */
  mount?: string;
}

/** An HS256 mount's signing: the retired service's SECRET_KEY and its `sub` layout (CONTRACT §3 `token`). */
export interface HmacSigning {
  key: Uint8Array;
  sub: 'id' | 'username' | 'number';
  /** `iss` of its tokens: the mount's own URL, so a token of one HS256 mount never passes at another with the same secret. */
  issuer: string;
}

/**
 * How one legacy mount issues and accepts tokens (CONTRACT §3 "Mounts and their options"). Every member
 * is optional: without them tokens are signed with the key set, live the service's default lifetimes,
 * and refresh tokens are opaque and rotated.
 */
export interface TokenPolicy {
  /** The mount's prefix, recorded with each refresh token. */
  mount?: string;
  accessTokenTtl?: number;
  refresh?: 'rotate' | 'reuse';
  refreshTokenFormat?: 'jwt' | 'opaque';
  /** Absent: the key set (jwks). */
  hmac?: HmacSigning;
  /** Extra claims of this mount's access tokens (v2: `organization_id`). */
  extraClaims?: (account: AccountView) => Record<string, unknown>;
}

/** The `sub` of a token of an HS256 mount: the user id, the username (e-mail when it has none) or the number. */
export function subjectOf(account: AccountView, layout: HmacSigning['sub']): string {
  if (layout === 'username') return account.username ?? account.email;
  if (layout === 'number') return String(account.number);
  return account.id;
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
  /** REFRESH_REUSE_INTERVAL (§5): seconds after a rotation during which the rotated token gets the same answer. */
  refreshReuseIntervalSeconds?: number;
  now?: () => number;
}

/** What a refresh answered, kept (sealed under the presented token) for retries inside the reuse interval. */
interface RetryAnswer {
  refreshToken: string;
  accessToken: string;
  expiresIn: number;
}

/** The outcome of spending a refresh token (see rotateRefreshToken). */
export interface Rotation {
  session: SessionRecord;
  refreshToken: string;
  /** A retry inside the reuse interval: the access token the first answer carried, to hand back as it was. */
  retried?: { token: string; expiresIn: number };
  /** After a rotation with a reuse interval: keeps the answer for retries of the same token. */
  remember?: (access: { token: string; expiresIn: number }) => Promise<void>;
}

const RETRY_BOX = 'legacy-refresh-retry';
/** How long a concurrent retry waits for the rotation it raced to record its answer. */
const RETRY_WAIT_MS = 2000;

const SIGNING_ALG = 'ES256';
const HMAC_ALG = 'HS256';
const REFRESH_JWT_TYPE = 'refresh+jwt';
const VERIFY_ALGS = ['ES256', 'RS256'];
// A token signed by another process with a key we have not loaded yet: reload, but not more often than this.
const RELOAD_INTERVAL_MS = 30_000;
// Verified access tokens kept per process (~1.5 kB each).
const VERIFIED_CACHE_SIZE = 10_000;

const refreshKey = (token: string): string => `rt:${hashToken(token)}`;
const retryKey = (key: string): string => `${key}:retry`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

  /** Signs `claims` with the key set (ES256, `kid`) or the mount's HMAC secret; `typ` as given. */
  async function sign(claims: JWTPayload, typ: string, policy: TokenPolicy): Promise<string> {
    if (policy.hmac) return new SignJWT(claims).setProtectedHeader({ alg: HMAC_ALG, typ }).sign(policy.hmac.key);
    const key = (await keys()).signing[SIGNING_ALG];
    return new SignJWT(claims).setProtectedHeader({ alg: SIGNING_ALG, kid: key.kid, typ }).sign(key.key);
  }

  async function issueAccessToken(account: AccountView, session: SessionRecord, policy: TokenPolicy = {}): Promise<{ token: string; expiresIn: number }> {
    const iat = Math.floor(now() / 1000);
    const ttl = policy.accessTokenTtl ?? options.accessTokenTtlSeconds;
    const token = await sign(
      {
        iss: policy.hmac?.issuer ?? options.issuer,
        sub: policy.hmac ? subjectOf(account, policy.hmac.sub) : account.id,
        sid: session.session_id,
        session_id: session.session_id,
        email: account.email,
        preferred_username: account.username ?? account.email,
        roles: account.roles,
        org_id: account.organization_id,
        amr: session.amr ?? ['pwd'],
        ...policy.extraClaims?.(account),
        iat,
        exp: iat + ttl,
        jti: randomUUID(),
      },
      'JWT',
      policy,
    );
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
  const verified = createBoundedMap<AccessTokenClaims>(VERIFIED_CACHE_SIZE);

  function remember(token: string, claims: AccessTokenClaims): AccessTokenClaims {
    // Frozen: every request holding this token shares the object.
    return verified.set(token, Object.freeze({ ...claims, roles: Array.isArray(claims.roles) ? (Object.freeze([...claims.roles]) as string[]) : claims.roles }));
  }

  /**
   * Checks signature, issuer and expiry; does not look at the session. Without `hmac`: the key set only
   * (ES256/RS256, known kid). With it: HS256 with that mount's secret only, whatever the token's header
   * says, and the mount's issuer (so no token passes at a mount other than its own).
   */
  async function verifyAccessToken(token: string, hmac?: HmacSigning): Promise<AccessTokenClaims> {
    const cacheKey = hmac ? `${hmac.issuer} ${token}` : token;
    const known = verified.get(cacheKey);
    if (known) {
      if (known.exp > Math.floor(now() / 1000)) return known;
      verified.delete(cacheKey);
    }
    return remember(cacheKey, await (hmac ? verifyHmac(token, hmac) : verifyUncached(token)));
  }

  async function verifyHmac(token: string, hmac: HmacSigning): Promise<AccessTokenClaims> {
    try {
      const { payload } = await jwtVerify(token, hmac.key, {
        issuer: hmac.issuer,
        algorithms: [HMAC_ALG],
        typ: 'JWT',
        requiredClaims: ['sub', 'iat', 'exp', 'jti'],
        currentDate: new Date(now()),
      });
      return toClaims(payload);
    } catch (err) {
      if (err instanceof InvalidAccessTokenError || err instanceof joseErrors.JOSEError) throw new InvalidAccessTokenError();
      throw err;
    }
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

  /**
   * A new refresh token and the write that stores its record (only its SHA-256 is kept). `jwt` format:
   * a JWT (`typ: refresh+jwt`) signed like the mount's access tokens, its `jti` carrying the 256 random
   * bits; it is still only ever looked up by its hash, never trusted for its claims.
   */
  async function newRefreshToken(account: Pick<AccountView, 'id'> & Partial<AccountView>, sessionId: string, policy: TokenPolicy = {}): Promise<{ token: string; write: StoreWrite }> {
    const at = now();
    const ttl = options.refreshTokenTtlSeconds;
    let token = newOpaqueToken();
    if (policy.refreshTokenFormat === 'jwt') {
      const iat = Math.floor(at / 1000);
      const sub = policy.hmac && account.email !== undefined ? subjectOf(account as AccountView, policy.hmac.sub) : account.id;
      token = await sign({ sub, sid: sessionId, jti: token, iat, exp: iat + ttl }, REFRESH_JWT_TYPE, policy);
    }
    const record: RefreshRecord = {
      user_id: account.id,
      session_id: sessionId,
      state: 'active',
      created_at: new Date(at).toISOString(),
      expires_at: new Date(at + ttl * 1000).toISOString(),
      rotated_at: null,
      ...(policy.mount ? { mount: policy.mount } : {}),
    };
    return { token, write: { op: 'set', key: refreshKey(token), value: record, ttlSeconds: ttl } };
  }

  async function issueRefreshToken(userId: string, sessionId: string, policy: TokenPolicy = {}, account?: AccountView): Promise<string> {
    const { token, write } = await newRefreshToken(account ?? { id: userId }, sessionId, policy);
    await store.writeMany([write]);
    return token;
  }

  /** A live refresh record of this mount, or undefined (unknown, expired, or issued at another mount). */
  const reuseIntervalMs = (options.refreshReuseIntervalSeconds ?? 0) * 1000;

  /**
   * A rotated token presented again within the reuse interval (a client's retry, or a parallel refresh that
   * lost the race): the answer its rotation gave, once that is recorded; else refused, the session left alone.
   */
  async function retry(key: string, token: string, record: RefreshRecord, rotatedAt: number, context: RequestContext): Promise<Rotation> {
    const deadline = Math.min(rotatedAt + reuseIntervalMs, now() + RETRY_WAIT_MS);
    let answer: RetryAnswer | undefined;
    for (;;) {
      answer = openUnderToken<RetryAnswer>(RETRY_BOX, token, await store.get<string>(retryKey(key)));
      if (answer || now() >= deadline) break;
      await sleep(25);
    }
    const session = answer && (await sessions.get(record.user_id, record.session_id));
    if (!answer || !session) throw new InvalidRefreshTokenError();
    const elapsed = Math.floor((now() - rotatedAt) / 1000);
    await options.audit.record({
      type: 'refresh_retry',
      outcome: 'success',
      userId: record.user_id,
      ip: context.ip,
      userAgent: context.userAgent,
      detail: { session_id: record.session_id, door: context.door, elapsed_s: elapsed },
    });
    return { session, refreshToken: answer.refreshToken, retried: { token: answer.accessToken, expiresIn: Math.max(1, answer.expiresIn - elapsed) } };
  }

  async function readRefresh(token: unknown, policy: TokenPolicy): Promise<{ key: string; record: RefreshRecord } | undefined> {
    if (!isRefreshToken(token)) return undefined;
    const key = refreshKey(token);
    const record = await store.get<RefreshRecord>(key);
    if (!record || (record.mount !== undefined && policy.mount !== undefined && record.mount !== policy.mount)) return undefined;
    return { key, record };
  }

  return {
    verifyAccessToken,
    issueAccessToken,
    issueRefreshToken,

    /**
     * A new session's first pair. `storeWith`: writes to make in the same store round trip as the
     * refresh token's record, such as the new session's own (sessions.draft), so a login costs one.
     */
    async issueTokens(account: AccountView, session: SessionRecord, opts: { storeWith?: readonly StoreWrite[]; policy?: TokenPolicy } = {}): Promise<TokenPair> {
      const policy = opts.policy ?? {};
      // The refresh token first (an opaque one costs nothing), so signing overlaps the store round trip.
      const refresh = await newRefreshToken(account, session.session_id, policy);
      const [access] = await Promise.all([issueAccessToken(account, session, policy), store.writeMany([...(opts.storeWith ?? []), refresh.write])]);
      return { accessToken: access.token, refreshToken: refresh.token, expiresIn: access.expiresIn };
    },

    /**
     * Spends a refresh token and returns the refresh token to hand back with the session it belongs to.
     * `rotate` (default): a replacement, the session renewed; already rotated → the session is revoked
     * (someone holds a copy of an old token). `reuse`: the same token, valid until its session ends or it
     * expires (REFRESH_TOKEN_TTL after login). Unknown, expired, of a dead session or of another mount →
     * InvalidRefreshTokenError.
     */
    async rotateRefreshToken(
      token: unknown,
      context: RequestContext,
      policy: TokenPolicy = {},
      /** For a JWT successor whose `sub` is the username or number (an HS256 mount). */
      accountOf?: (userId: string) => Promise<AccountView | undefined>,
    ): Promise<Rotation> {
      const found = await readRefresh(token, policy);
      if (!found) throw new InvalidRefreshTokenError();
      const { key, record } = found;
      const at = now();
      const rotatedAt = record.rotated_at ? Date.parse(record.rotated_at) : NaN;
      if (record.state === 'rotated' && reuseIntervalMs > 0 && at - rotatedAt <= reuseIntervalMs) return retry(key, token as string, record, rotatedAt, context);
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

      if (policy.refresh === 'reuse') {
        // The token keeps its own expiry; the session only records the activity.
        await sessions.touch(record.user_id, record.session_id, session);
        return { session, refreshToken: token as string };
      }

      const rotated: RefreshRecord = { ...record, state: 'rotated', rotated_at: new Date(at).toISOString() };
      const remaining = Math.max(1, (Date.parse(record.expires_at) - at) / 1000);
      // The one atomic step: of concurrent refreshes only one turns this record from active to rotated.
      // A loser raced the winner rather than replaying later, so it is refused without ending the session.
      // Inside a reuse interval the loser waits for the winner's answer instead.
      if (!(await store.compareAndSet(key, record, rotated, remaining))) {
        if (reuseIntervalMs > 0) return retry(key, token as string, record, at, context);
        throw new InvalidRefreshTokenError();
      }

      const renewed = await sessions.renew(record.user_id, record.session_id, options.refreshTokenTtlSeconds);
      if (!renewed) throw new InvalidRefreshTokenError();
      const account = policy.refreshTokenFormat === 'jwt' && policy.hmac && policy.hmac.sub !== 'id' ? await accountOf?.(record.user_id) : undefined;
      const refreshToken = await issueRefreshToken(record.user_id, record.session_id, policy, account);
      if (reuseIntervalMs === 0) return { session: renewed, refreshToken };
      // Kept only as long as the interval, and sealed under the presented token: the store holds nothing usable.
      const remember = async (access: { token: string; expiresIn: number }) => {
        const answer: RetryAnswer = { refreshToken, accessToken: access.token, expiresIn: access.expiresIn };
        await store.set(retryKey(key), sealUnderToken(RETRY_BOX, token as string, answer), Math.ceil(reuseIntervalMs / 1000) + 1);
      };
      return { session: renewed, refreshToken, remember };
    },

    /** The session a refresh token belongs to, if the token is still usable (logout by refresh token). */
    async sessionOfRefreshToken(token: unknown, policy: TokenPolicy = {}): Promise<{ userId: string; sessionId: string } | undefined> {
      const found = await readRefresh(token, policy);
      if (!found || found.record.state !== 'active' || Date.parse(found.record.expires_at) <= now()) return undefined;
      return { userId: found.record.user_id, sessionId: found.record.session_id };
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
