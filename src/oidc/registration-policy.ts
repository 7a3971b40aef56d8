/**
 * Dynamic client registration (RFC 7591 / 7592, CONTRACT §11) as policy over oidc-provider's own
 * endpoint, set by CLIENT_REGISTRATION:
 *  - `token`: a registration needs an initial access token from the admin API, good for one registration
 *    (the `one-time` policy consumes it atomically: of two concurrent uses one wins);
 *  - `open`: anyone may register, but only public (`none`) or `private_key_jwt` clients, with the
 *    `authorization_code` and `refresh_token` grants, https or loopback redirect URIs, and scopes within
 *    `openid profile email offline_access` plus the registered resources' scopes (a client that names
 *    none gets exactly those);
 *  - both: at most 10 registrations per client IP per hour, and the clients are third-party (never
 *    first_party or token_exchange: client-metadata.ts) and stored as `dynamic` (clients.ts).
 */
import { errors } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { ClientMetadata, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Middleware } from 'koa';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Store } from '../store/store.ts';
import type { ResourceRegistry } from '../services/resources.ts';
import type { AuditService } from '../services/audit.ts';

export type RegistrationMode = 'off' | 'token' | 'open';

export const REGISTRATION_PATH = '/reg';
const OPEN_SCOPES = ['openid', 'profile', 'email', 'offline_access'];
const OPEN_AUTH_METHODS = new Set(['none', 'private_key_jwt']);
const OPEN_GRANTS = new Set(['authorization_code', 'refresh_token']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
export const REGISTRATIONS_PER_IP_PER_HOUR = 10;
const ONE_TIME = 'one-time';

/** The scopes an open registration may ask for, computed per request (resources change) and read by the validator. */
const allowedScopes = new WeakMap<object, Set<string>>();

function isAllowedRedirect(uri: string): boolean {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/** The `open` rules, applied to the metadata a registrant sent (after oidc-provider's own checks). */
export function checkOpenRegistration(metadata: ClientMetadata, scopes: Set<string>): void {
  const method = metadata.token_endpoint_auth_method ?? 'client_secret_basic';
  if (!OPEN_AUTH_METHODS.has(method)) {
    throw new errors.InvalidClientMetadata('open registration accepts only public clients (token_endpoint_auth_method none) or private_key_jwt');
  }
  const grants = metadata.grant_types ?? [];
  const extra = grants.filter((grant) => !OPEN_GRANTS.has(grant));
  if (extra.length) throw new errors.InvalidClientMetadata(`grant_types may only contain authorization_code and refresh_token, not ${extra.join(', ')}`);
  const redirects = metadata.redirect_uris ?? [];
  const bad = redirects.find((uri) => !isAllowedRedirect(uri));
  if (bad !== undefined) throw new errors.InvalidRedirectUri('redirect_uris must be https, or http on a loopback host (127.0.0.1, [::1], localhost)');
  // A client's `scope` limits the OpenID scopes it may request (oidc-provider checks only those against
  // it); resource scopes are bounded by the resources themselves, so they are checked and then left out.
  if (typeof metadata.scope === 'string') {
    const asked = metadata.scope.split(' ').filter(Boolean);
    const beyond = asked.filter((scope) => !scopes.has(scope));
    if (beyond.length) throw new errors.InvalidClientMetadata(`scope may not contain ${beyond.join(' ')}`);
    const openId = asked.filter((scope) => OPEN_SCOPES.includes(scope));
    metadata.scope = openId.length ? openId.join(' ') : 'openid';
  } else {
    metadata.scope = OPEN_SCOPES.join(' ');
  }
}

export interface RegistrationPolicyOptions {
  mode: RegistrationMode;
  store: Pick<Store, 'redis'>;
  resources: Pick<ResourceRegistry, 'all'>;
  audit: Pick<AuditService, 'record'>;
  /** Registrations per IP per hour (CONTRACT §11: 10). */
  perIpPerHour?: number;
}

export function createRegistrationPolicy(options: RegistrationPolicyOptions) {
  const { mode } = options;
  const points = options.perIpPerHour ?? REGISTRATIONS_PER_IP_PER_HOUR;
  const limiter = options.store.redis
    ? new RateLimiterRedis({ storeClient: options.store.redis, keyPrefix: 'rl:client-registration', points, duration: 3600, rejectIfRedisNotReady: true })
    : new RateLimiterMemory({ keyPrefix: 'rl:client-registration', points, duration: 3600 });

  /** oidc-provider's `features.registration` and `registrationManagement` for the mode. */
  function features(): Pick<NonNullable<Configuration['features']>, 'registration' | 'registrationManagement'> {
    if (mode === 'off') return { registration: { enabled: false }, registrationManagement: { enabled: false } };
    return {
      registration: {
        enabled: true,
        initialAccessToken: mode === 'token',
        issueRegistrationAccessToken: true,
        // Policies exist only with adapter-backed initial access tokens.
        policies: mode !== 'token' ? undefined : {
          async [ONE_TIME](ctx: KoaContextWithOIDC) {
            const token = ctx.oidc.entities.InitialAccessToken;
            if (!token) return;
            // The adapter's consume is atomic (compare-and-set) and fails for a token already used.
            const adapter = (token.constructor as unknown as { adapter: { consume(id: string): Promise<void> } }).adapter;
            try {
              await adapter.consume(token.jti);
            } catch {
              throw new errors.InvalidToken('initial access token already used');
            }
          },
        },
      },
      registrationManagement: { enabled: true, rotateRegistrationAccessToken: true },
    };
  }

  /** Part of extraClientMetadata.validator: the `open` rules on metadata a registrant sent. */
  function validate(ctx: KoaContextWithOIDC | undefined, key: string, metadata: ClientMetadata): void {
    if (mode !== 'open' || key !== 'first_party' || !ctx) return;
    const route = ctx.oidc?.route;
    if (route !== 'registration' && route !== 'client_update') return;
    const scopes = allowedScopes.get(ctx);
    if (!scopes) throw new errors.InvalidClientMetadata('registration scopes are not known');
    checkOpenRegistration(metadata, scopes);
  }

  async function registrationScopes(): Promise<Set<string>> {
    const resources = await options.resources.all();
    return new Set([...OPEN_SCOPES, ...resources.flatMap((resource) => resource.scopes)]);
  }

  /**
   * provider.use middleware: the per-IP limit, and the scopes an open registration may ask for. Every
   * other request passes straight through (no async frame of its own: it sits in front of the token endpoints).
   */
  const middleware: Middleware = (ctx, next) => {
    if (mode === 'off') return next();
    if (ctx.method === 'PUT' && ctx.path.startsWith(`${REGISTRATION_PATH}/`)) return update(ctx, next);
    if (ctx.method !== 'POST' || ctx.path !== REGISTRATION_PATH) return next();
    return register(ctx, next);
  };

  // An RFC 7592 update is held to the same rules as the registration (not counted against the limit).
  async function update(ctx: Parameters<Middleware>[0], next: () => Promise<unknown>): Promise<void> {
    allowedScopes.set(ctx, await registrationScopes());
    await next();
  }

  async function register(ctx: Parameters<Middleware>[0], next: () => Promise<unknown>): Promise<void> {
    try {
      await limiter.consume(ctx.ip);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      ctx.status = 429;
      ctx.set('Retry-After', String(seconds));
      ctx.body = { error: 'too_many_requests', error_description: `at most ${points} client registrations per address per hour` };
      void options.audit.record({ type: 'client_registration', outcome: 'failure', ip: ctx.ip, userAgent: ctx.get('user-agent') || null, detail: { door: 'oidc', error: 'rate_limited' } });
      return;
    }
    allowedScopes.set(ctx, await registrationScopes());
    await next();
    const clientId = ctx.status === 201 ? (ctx.body as { client_id?: string } | undefined)?.client_id : undefined;
    // Only registrations count: a refused request gives its point back.
    if (!clientId) await limiter.reward(ctx.ip, 1).catch(() => undefined);
    void options.audit.record({
      type: 'client_registration',
      outcome: clientId ? 'success' : 'failure',
      clientId: clientId ?? null,
      ip: ctx.ip,
      userAgent: ctx.get('user-agent') || null,
      detail: { door: 'oidc', mode, ...(clientId ? {} : { error: (ctx.body as { error?: string } | undefined)?.error ?? String(ctx.status) }) },
    });
  }

  /** A one-time initial access token for CLIENT_REGISTRATION=token (admin API). */
  async function issueInitialAccessToken(provider: Provider, expiresIn: number): Promise<{ value: string; expiresAt: Date }> {
    const token = new provider.InitialAccessToken({ expiresIn, policies: [ONE_TIME] });
    const value = await token.save();
    return { value, expiresAt: new Date((Math.floor(Date.now() / 1000) + expiresIn) * 1000) };
  }

  return { mode, features, validate, middleware, issueInitialAccessToken };
}

export type RegistrationPolicy = ReturnType<typeof createRegistrationPolicy>;
