/**
 * The OpenID Connect door, assembled: storage over the Store, clients from the file and the database,
 * the configured provider, the POST→GET redirects, 503s for outages, and the link between SSO sessions
 * and the shared session list. Built by dependencies.ts (the CLI needs the session link too: revoking a
 * user's sessions there must revoke their grants), mounted at /oidc by app.ts.
 */
import type { EventEmitter } from 'node:events';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Context } from 'koa';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { I18n, Translate } from '../services/i18n.ts';
import type { Models } from '../db/models/index.ts';
import type { Store } from '../store/store.ts';
import type { KeySet } from '../services/keys.ts';
import type { PasswordService } from '../services/passwords.ts';
import type { AuditService } from '../services/audit.ts';
import type { ResourceRegistry } from '../services/resources.ts';
import type { SessionLinkOptions } from './session-link.ts';
import { createOidcStorage, StoreUnavailableError, type OidcStorage } from './adapter.ts';
import { createDatabaseClientSource, loadClientsFile } from './clients.ts';
import { logClientAuthFailures, useHashedClientSecrets } from './client-auth.ts';
import { createProvider, maxAccessTokenTtl, ROUTES } from './provider.ts';
import { createSessionLink, type SessionLink } from './session-link.ts';
import { postAsGet } from './post-as-get.ts';
import { errorMessage, errorPage, pageLocale, type PageRenderer } from './pages.ts';
import type { AccountLookup } from './find-account.ts';
import { auditProviderEvents } from './audit-events.ts';
import { useRefreshRetryWindow } from './refresh-retry.ts';
import { createTokenExchange } from './token-exchange.ts';
import { createRegistrationPolicy, type RegistrationPolicy } from './registration-policy.ts';
import { trackDynamicClientUse } from './dynamic-clients.ts';
import { withLoopbackDocuments } from './cimd-policy.ts';
import { createBackchannelLogout, useBackchannelLogout, type BackchannelLogout, type BackchannelLogoutOptions } from './backchannel-logout.ts';
import { applySecurityHeaders, securityHeaderSets } from '../http/middleware/security-headers.ts';

/**
 * oidc-provider's endpoints that only ever answer JSON (paths relative to the mount): they get the API
 * security headers. Every other route (authorization, end-session, the device pages) may render a page,
 * and gets the page set before the provider runs: its form_post response adds its inline script's hash
 * to the CSP it finds.
 */
const JSON_ROUTES = new Set(['/token', '/token/introspection', '/token/revocation', '/me', '/jwks', '/request', '/device/auth', '/reg', '/backchannel', '/challenge']);
const isJsonRoute = (path: string): boolean => JSON_ROUTES.has(path) || path.startsWith('/.well-known/') || path.startsWith('/reg/');

export interface OidcOptions {
  config: Config;
  logger: Logger;
  store: Store;
  models: Pick<Models, 'OidcClient'>;
  /** The key set loaded at start: the legacy token service signs with the same one. */
  keySet: KeySet;
  passwords: Pick<PasswordService, 'verify'>;
  accounts: AccountLookup;
  sessions: SessionLinkOptions['sessions'] & NonNullable<BackchannelLogoutOptions['sessions']>;
  audit: Pick<AuditService, 'record'>;
  /** Back-channel logout delivery: its schedule (tests shorten it) and the registry its counter joins. */
  backchannel?: Pick<BackchannelLogoutOptions, 'schedule' | 'registry' | 'resolve'>;
  resources: ResourceRegistry;
  cookieKeys: string[];
  pages: PageRenderer;
  /** The pages' languages (CONTRACT §4). */
  i18n: I18n;
  /** True for errors that mean "a dependency is down" (rendered as 503 with Retry-After). */
  isUnavailable: (error: unknown) => boolean;
}

export interface Oidc {
  provider: Provider;
  storage: OidcStorage;
  sessionLink: SessionLink;
  /** Logout tokens to the clients of ended sessions (dependencies.ts wires its session listeners). */
  backchannel: BackchannelLogout;
  /** Dynamic client registration (CLIENT_REGISTRATION): the admin API issues initial access tokens through it. */
  registration: RegistrationPolicy;
}

export class OidcClientError extends Error {
  constructor(clientId: string, cause: unknown) {
    const detail = (cause as { error_description?: string; message?: string }).error_description ?? (cause as Error).message;
    super(`OIDC_CLIENTS_FILE: client ${clientId}: ${detail}`, { cause });
    this.name = 'OidcClientError';
  }
}

const RETRY_AFTER_SECONDS = '5';

export async function createOidc(options: OidcOptions): Promise<Oidc> {
  const { config, logger, pages, i18n } = options;
  const log = logger.child({ component: 'oidc' });
  const sessionTtlSeconds = config.tokens.refreshTokenTtl;
  const storage = createOidcStorage({
    store: options.store,
    clients: withLoopbackDocuments(createDatabaseClientSource(options.models), config.agents.metadataDocuments),
    maxAccessTokenTtlSeconds: maxAccessTokenTtl(config),
  });
  const staticClients = config.oidc.clientsFile ? loadClientsFile(config.oidc.clientsFile) : [];
  const { keySet } = options;
  const tokenExchange = createTokenExchange({
    store: options.store,
    resources: options.resources,
    publicJwks: keySet.publicJwks,
    defaultAccessTokenTtl: config.tokens.accessTokenTtl,
    audit: options.audit,
  });
  const registration = createRegistrationPolicy({ mode: config.agents.clientRegistration, store: options.store, resources: options.resources, audit: options.audit });

  const provider = createProvider({
    config,
    jwks: keySet.jwks,
    cookieKeys: options.cookieKeys,
    storage,
    staticClients,
    resources: options.resources,
    registration,
    tokenClaims: tokenExchange.tokenClaims,
    accounts: options.accounts,
    pages,
    i18n,
    logger,
    sessionTtlSeconds,
  });
  useHashedClientSecrets(provider, options.passwords);
  logClientAuthFailures(provider, logger);
  auditProviderEvents(provider, options.audit);
  tokenExchange.register(provider);
  trackDynamicClientUse(provider, options.models, log);
  useRefreshRetryWindow(provider, { store: options.store, intervalSeconds: config.refreshReuseInterval, audit: options.audit });

  // Invalid metadata in the clients file stops the start, naming the client, instead of failing its first request.
  for (const metadata of staticClients) {
    try {
      await provider.Client.find(metadata.client_id);
    } catch (err) {
      throw new OidcClientError(metadata.client_id, err);
    }
  }

  const sessionLink = createSessionLink({ store: options.store, storage, sessions: options.sessions, sessionTtlSeconds, logger });
  const backchannel = createBackchannelLogout({
    provider,
    storage,
    sessions: options.sessions,
    audit: options.audit,
    logger,
    allowPrivate: config.backchannelAllowPrivate,
    ...options.backchannel,
  });
  useBackchannelLogout(provider, backchannel);

  const outages = new WeakSet<object>();
  provider.on('server_error', (ctx: KoaContextWithOIDC, err: unknown) => {
    if (err instanceof StoreUnavailableError || options.isUnavailable(err)) outages.add(ctx);
    else log.error({ err, route: ctx.oidc?.route }, 'oidc-provider server error');
  });
  // Errors that escape even the middleware below (renderEscaped); Koa answers them with a bare 500.
  (provider as unknown as EventEmitter).on('error', (err: unknown) => log.error({ err }, 'oidc-provider unhandled error'));

  /** `message` is the provider's or the POST handling's own words (English): other languages say so around them. */
  async function renderPlainError(ctx: Context, status: number, message: string | ((t: Translate) => string)): Promise<void> {
    const lang = pageLocale(ctx, i18n);
    const t = i18n.translator(lang);
    ctx.status = status;
    ctx.type = 'html';
    const text = typeof message === 'function' ? message(t) : t('errors:detail', { detail: message });
    const requestId = (ctx as { requestId?: string }).requestId;
    ctx.body = await pages.render('error', { title: t('errors:title'), heading: t('errors:heading'), message: text, code: undefined, requestId, lang });
  }

  /**
   * An error that escaped oidc-provider's own handlers: Koa would answer a bare text 500 and drop every
   * header set so far. It gets the provider's error page or JSON instead, with our headers and request id.
   * One is known and caused by the client: a device form posted without a stored session (no cookie, or
   * an expired one). The provider's error handler then puts a new form secret in a session that was never
   * stored, and saving it at the end of the request fails (oidc-provider 9.13); that is the client's
   * stale form, a 400.
   */
  async function renderEscaped(ctx: Context, err: unknown): Promise<void> {
    const oidcCtx = ctx as unknown as KoaContextWithOIDC;
    const session = oidcCtx.oidc?.session;
    const staleForm = session !== undefined && (session as { touched?: boolean }).touched === true && typeof session.exp !== 'number';
    let out: { error: string; error_description: string };
    if (staleForm) {
      ctx.status = 400;
      out = { error: 'invalid_request', error_description: 'This form has expired. Open the device page again and enter the code shown on your device.' };
    } else {
      log.error({ err, route: oidcCtx.oidc?.route }, 'oidc-provider unhandled error');
      ctx.status = 500;
      out = { error: 'server_error', error_description: 'Something went wrong on our side. Please try again in a moment.' };
    }
    ctx.remove('Content-Length');
    if (ctx.accepts('json', 'html') !== 'html') ctx.body = out;
    else await errorPage(pages, i18n, oidcCtx, out, staleForm ? (t) => t('errors:deviceFormExpired') : undefined);
  }

  const headerSets = securityHeaderSets({ https: config.publicUrl.startsWith('https:') });
  // Registered first, so it wraps everything below: it sees the final response of every request.
  provider.use(async (ctx, next) => {
    applySecurityHeaders(ctx.res, isJsonRoute(ctx.path) ? headerSets.api : headerSets.page);
    try {
      await next();
    } catch (err) {
      await renderEscaped(ctx, err);
      return;
    }
    const oidcCtx = ctx as unknown as KoaContextWithOIDC;
    if (outages.has(ctx) && ctx.status >= 500) {
      const out = { error: 'temporarily_unavailable', error_description: 'Service temporarily unavailable' };
      const html = ctx.response.is('html') !== false;
      ctx.status = 503;
      ctx.set('Retry-After', RETRY_AFTER_SECONDS);
      if (html) await renderPlainError(ctx, 503, (t) => errorMessage(t, out));
      else ctx.body = out;
      return;
    }
    await sessionLink.afterRequest(oidcCtx);
  });
  provider.use(registration.middleware);
  provider.use(postAsGet([ROUTES.authorization, ROUTES.end_session], config.issuer, renderPlainError));

  return { provider, storage, sessionLink, backchannel, registration };
}
