import cors from '@koa/cors';
import type { Middleware } from 'koa';
import { isUnder } from '../path-prefix.ts';

export interface CorsOptions {
  /** Exact origins (scheme://host[:port]) allowed to call from a browser: CORS_ORIGINS. */
  origins: readonly string[];
  /** Path prefixes the policy covers (the legacy mounts, the admin API); other paths are left alone. */
  pathPrefixes: readonly string[];
  /** The methods a path serves, for a preflight's Access-Control-Allow-Methods; undefined: the API's usual set. */
  methodsOf?: (path: string) => readonly string[] | undefined;
}

const DEFAULT_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];


/**
 * CORS for the legacy and admin APIs (CONTRACT §6): only the configured origins get
 * `Access-Control-Allow-Origin`, always as themselves, never `*`, so allowing credentials is safe (the
 * retired services allowed them and browser dashboards may send them). Preflights are answered here,
 * granting every requested header and the methods the path serves (seed 000's CORSMiddleware);
 * any other origin gets no CORS headers at all and the browser blocks the response.
 */
export function corsFor(options: CorsOptions): Middleware {
  const allowed = new Set(options.origins);
  // One policy per distinct method list (a handful: the legacy routes serve one to three methods each).
  const policies = new Map<string, Middleware>();
  const policyFor = (methods: readonly string[]): Middleware => {
    const key = methods.join(',');
    let policy = policies.get(key);
    if (!policy) {
      policy = cors({
        origin: (ctx) => {
          const origin = ctx.get('Origin');
          return allowed.has(origin) ? origin : '';
        },
        credentials: true,
        allowMethods: key,
        // No allowHeaders: a preflight is granted every header it asks for, as Starlette's allow_headers=["*"].
        exposeHeaders: ['Retry-After', 'WWW-Authenticate', 'X-Request-Id'],
        maxAge: 600,
      }) as Middleware;
      policies.set(key, policy);
    }
    return policy;
  };
  return async (ctx, next) => {
    if (allowed.size === 0 || !options.pathPrefixes.some((prefix) => isUnder(ctx.path, prefix))) return next();
    return policyFor(options.methodsOf?.(ctx.path) ?? DEFAULT_METHODS)(ctx, next);
  };
}
