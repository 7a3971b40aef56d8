import Koa from 'koa';
import type Router from '@koa/router';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import './http/context.ts';
import { requestId } from './http/middleware/request-id.ts';
import { errorHandler, type ErrorTranslator } from './http/middleware/errors.ts';
import { securityHeaders } from './http/middleware/security-headers.ts';
import { parseBody } from './http/middleware/body.ts';
import { httpsPublicUrl } from './http/middleware/https-public-url.ts';
import { rejectNulInput } from './http/middleware/reject-nul.ts';
import { healthRouter, type ReadinessCheck } from './http/health.ts';

export interface AppDependencies {
  config: Config;
  logger: Logger;
  readiness: ReadinessCheck[];
  errorTranslators: ErrorTranslator[];
  /** The doors (legacy profiles, admin, interactions…), each a router with its own prefix. */
  routers?: Router[];
  /** Middleware that must see every request before routing (CORS, metrics). */
  early?: Koa.Middleware[];
  /** oidc-provider's Koa app, mounted at /oidc; it parses its own bodies. */
  oidc?: { prefix: string; app: Koa };
}

function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

export function createApp(deps: AppDependencies): Koa {
  const app = new Koa();
  app.proxy = deps.config.trustProxy;
  // Behind our proxy only the last X-Forwarded-For entry (the address the proxy saw) is trustworthy;
  // the ones before it are whatever the client sent, and a rate limit keyed on them could be dodged.
  app.maxIpsCount = 1;
  app.silent = true; // errors are logged by our error handler, never printed by Koa

  const https = deps.config.publicUrl.startsWith('https:');
  if (https) app.use(httpsPublicUrl({ trustProxy: deps.config.trustProxy }));
  app.use(requestId(deps.logger));
  app.use(errorHandler(deps.errorTranslators));
  app.use(securityHeaders({ https }));
  for (const middleware of deps.early ?? []) app.use(middleware);

  const health = healthRouter(deps.readiness);
  app.use(health.routes());

  if (deps.oidc) {
    const { prefix, app: provider } = deps.oidc;
    const handle = provider.callback();
    app.use(async (ctx, next) => {
      if (!isUnder(ctx.path, prefix)) return next();
      // oidc-provider routes relative to its mount point and writes the response itself; it derives the
      // mount path of the URLs it builds (interaction returnTo, form actions) from req.originalUrl.
      const original = ctx.url;
      const req = ctx.req as typeof ctx.req & { originalUrl?: string };
      req.originalUrl = original;
      ctx.url = ctx.url.slice(prefix.length) || '/';
      try {
        ctx.respond = false;
        await handle(ctx.req, ctx.res);
      } finally {
        ctx.url = original;
        delete req.originalUrl;
      }
    });
  }

  const body = parseBody();
  app.use(body);
  app.use(rejectNulInput());
  for (const router of deps.routers ?? []) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}
