import cors from '@koa/cors';
import type { Middleware } from 'koa';

export interface CorsOptions {
  /** Exact origins (scheme://host[:port]) allowed to call from a browser: CORS_ORIGINS. */
  origins: readonly string[];
  /** Path prefixes the policy covers (the legacy mounts, the admin API); other paths are left alone. */
  pathPrefixes: readonly string[];
}

const under = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);

/**
 * CORS for the legacy and admin APIs (CONTRACT §6): only the configured origins get
 * `Access-Control-Allow-Origin`, always as themselves, never `*`, so allowing credentials is safe (the
 * retired services allowed them and browser dashboards may send them). Preflights are answered here;
 * any other origin gets no CORS headers at all and the browser blocks the response.
 */
export function corsFor(options: CorsOptions): Middleware {
  const allowed = new Set(options.origins);
  const policy = cors({
    origin: (ctx) => {
      const origin = ctx.get('Origin');
      return allowed.has(origin) ? origin : '';
    },
    credentials: true,
    allowMethods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowHeaders: ['Authorization', 'Content-Type', 'X-Device-ID', 'X-Device-Name', 'X-Device-Type', 'X-Request-Id'],
    exposeHeaders: ['Retry-After', 'WWW-Authenticate', 'X-Request-Id'],
    maxAge: 600,
  }) as Middleware;
  return async (ctx, next) => {
    if (allowed.size === 0 || !options.pathPrefixes.some((prefix) => under(ctx.path, prefix))) return next();
    return policy(ctx, next);
  };
}
