import type { IncomingMessage, RequestListener } from 'node:http';
import Koa from 'koa';
import type Router from '@koa/router';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import type { I18n } from './services/i18n.ts';
import './http/context.ts';
import { assignRequestId, defineRequestLogger } from './http/middleware/request-id.ts';
import { accessLog, type RequestObserver } from './http/middleware/access-log.ts';
import type { InFlight } from './http/middleware/in-flight.ts';
import { errorHandler, type ErrorTranslator } from './http/middleware/errors.ts';
import type { ErrorPageViews } from './http/middleware/error-pages.ts';
import { securityHeaders } from './http/middleware/security-headers.ts';
import { parseBody } from './http/middleware/body.ts';
import { publicOrigin } from './http/middleware/public-origin.ts';
import { rejectNulInput } from './http/middleware/reject-nul.ts';
import { settleUnreadBody } from './http/middleware/unread-body.ts';
import { healthRouter, type ReadinessCheck } from './http/health.ts';
import { isUnder } from './http/path-prefix.ts';

export interface AppDependencies {
  config: Config;
  logger: Logger;
  readiness: ReadinessCheck[];
  errorTranslators: ErrorTranslator[];
  /** The doors (legacy profiles, admin, interactions…), each a router with its own prefix. */
  routers?: Router[];
  /** The templates error pages are drawn with, for the routers marked with servesPages (error-pages.ts). */
  views?: ErrorPageViews;
  /** The error pages' languages (with `views`). */
  i18n?: I18n;
  /** Middleware that must see every request to the routers, after the error handler (CORS, error renderers). */
  early?: Koa.Middleware[];
  /** Told about every request, oidc-provider's included, once its response is done (metrics). */
  observers?: RequestObserver[];
  /** Counts the requests being handled, oidc-provider's included (graceful shutdown waits for them). */
  inFlight?: InFlight;
  /** oidc-provider's Koa app, mounted at /oidc (see requestListener); it parses its own bodies. */
  oidc?: { prefix: string; app: Koa };
}

/**
 * What every request gets, whichever app serves it, in front of everything else and cheap: oidc-provider's
 * token endpoints answer in a few hundred microseconds, and all that runs before them is paid on each
 * request (bench/README.md). So it is one middleware running each concern's step in turn, not one
 * middleware per concern: each layer of Koa's chain costs a closure and a promise or two per request.
 * In order: counted in flight, the public origin, the request id, the access line (on close); once the
 * rest has answered (or thrown), the unread body settled and the request counted out.
 * `mountPath`: where the app is mounted, for the logged path.
 */
function front(deps: AppDependencies, mountPath = ''): Koa.Middleware {
  const { inFlight } = deps;
  const origin = publicOrigin({ publicUrl: deps.config.publicUrl, trustProxy: deps.config.trustProxy });
  const logAccess = accessLog(deps.logger, deps.observers, { mountPath, mode: deps.config.accessLog });
  return (ctx, next) => {
    inFlight?.enter();
    let answered: Promise<void>;
    try {
      origin(ctx);
      assignRequestId(ctx);
      logAccess(ctx);
      answered = next();
    } catch (err) {
      answered = Promise.reject(err);
    }
    return answered.finally(() => {
      try {
        settleUnreadBody(ctx);
      } finally {
        inFlight?.leave();
      }
    });
  };
}

const fronted = new WeakSet<Koa>();

export function createApp(deps: AppDependencies): Koa {
  const app = new Koa();
  app.proxy = deps.config.trustProxy;
  // Behind our proxy only the last X-Forwarded-For entry (the address the proxy saw) is trustworthy;
  // the ones before it are whatever the client sent, and a rate limit keyed on them could be dodged.
  app.maxIpsCount = 1;
  app.silent = true; // errors are logged by our error handler, never printed by Koa
  defineRequestLogger(app, deps.logger);

  app.use(front(deps));
  app.use(securityHeaders({ https: deps.config.publicUrl.startsWith('https:') }));
  app.use(errorHandler(deps.errorTranslators, deps.views && deps.i18n ? { routers: deps.routers ?? [], views: deps.views, i18n: deps.i18n } : undefined));
  for (const middleware of deps.early ?? []) app.use(middleware);
  app.use(healthRouter(deps.readiness).routes());

  const body = parseBody();
  app.use(body);
  app.use(rejectNulInput());
  for (const router of deps.routers ?? []) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }

  if (deps.oidc) {
    // The provider answers its requests itself (its own context, errors, security headers and CORS by
    // client); it gets the same front, ahead of its own middleware (Koa composes app.middleware when
    // callback() is called).
    const { app: provider, prefix } = deps.oidc;
    if (!fronted.has(provider)) {
      fronted.add(provider);
      provider.maxIpsCount = 1;
      defineRequestLogger(provider, deps.logger);
      provider.middleware.unshift(front(deps, prefix));
    }
  }
  return app;
}

/**
 * The server's request listener: oidc-provider's Koa app under its prefix, ours for everything else.
 * The provider routes relative to its mount point and derives the mount path of the URLs it builds
 * (interaction returnTo, form actions) from req.originalUrl.
 */
export function requestListener(app: Koa, oidc?: AppDependencies['oidc']): RequestListener {
  const handleApp = app.callback();
  if (!oidc) return handleApp;
  const { prefix } = oidc;
  const handleOidc = oidc.app.callback();
  // For an issuer with a path, RFC 8414 §3.1 puts the metadata at /.well-known/oauth-authorization-server/oidc
  // (and MCP clients also try /.well-known/openid-configuration/oidc) before the OIDC place under the issuer:
  // both are the provider's discovery document.
  const discovery = `${prefix}/.well-known/openid-configuration`;
  const rootMetadata = new Set([`/.well-known/oauth-authorization-server${prefix}`, `/.well-known/openid-configuration${prefix}`]);
  return (req, res) => {
    let url = req.url ?? '/';
    // The absolute form (`POST http://host/oidc/token`), which servers must accept too: its path and query.
    if (!url.startsWith('/') && URL.canParse(url)) {
      const { pathname, search } = new URL(url);
      url = pathname + search;
    }
    const end = url.indexOf('?');
    const path = end === -1 ? url : url.slice(0, end);
    if (rootMetadata.has(path)) url = discovery;
    else if (!isUnder(path, prefix)) return handleApp(req, res);
    const rest = url.slice(prefix.length);
    (req as IncomingMessage & { originalUrl?: string }).originalUrl = url;
    req.url = rest.startsWith('/') ? rest : `/${rest}`;
    return handleOidc(req, res);
  };
}
