/**
 * HTTP side of the metrics: every request counted and timed by route template (never the raw path: ids
 * would make one series per user), failures of the database or store counted, and GET /metrics.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { ServiceUnavailableError, UnauthorizedError } from '../errors.ts';
import type { Dependency, Metrics } from '../services/metrics.ts';
import type { ErrorTranslator } from './middleware/errors.ts';
import type { RequestObserver } from './middleware/access-log.ts';
import { isUnder } from './path-prefix.ts';
import { setNoStore } from './middleware/no-store.ts';

// oidc-provider's fixed path segments; any other segment is an id (interaction uid, client id, user code).
const OIDC_SEGMENTS = new Set([
  '.well-known', 'openid-configuration', 'oauth-authorization-server', 'auth', 'token', 'introspection', 'revocation',
  'me', 'jwks', 'session', 'end', 'confirm', 'success', 'device', 'request', 'reg', 'backchannel', 'challenge',
]);

// Paths made of fixed segments only (the token endpoints) are remembered: a bounded set, asked on every request.
const fixedOidcRoutes = new Map<string, string>();
const MAX_REMEMBERED = 256;

function oidcRoute(prefix: string, path: string): string {
  const remembered = fixedOidcRoutes.get(path);
  if (remembered) return remembered;
  const segments = path.slice(prefix.length).split('/').filter(Boolean).slice(0, 4);
  const label = [prefix, ...segments.map((segment) => (OIDC_SEGMENTS.has(segment) ? segment : ':id'))].join('/');
  if (!label.includes(':id') && fixedOidcRoutes.size < MAX_REMEMBERED) fixedOidcRoutes.set(path, label);
  return label;
}


interface MatchedLayer {
  path: unknown;
  methods: string[];
}

/**
 * The template of the route the routers matched for this method. Read from the matched layers, not from
 * `_matchedRoute`, which a router-level middleware that answers early (a sign-in redirect) leaves at its
 * own path pattern.
 */
function matchedTemplate(ctx: Context): string | undefined {
  const layers = (ctx as Context & { matched?: MatchedLayer[] }).matched ?? [];
  const method = ctx.method === 'HEAD' ? 'GET' : ctx.method;
  for (let i = layers.length - 1; i >= 0; i -= 1) {
    const layer = layers[i];
    if (layer && typeof layer.path === 'string' && layer.methods.includes(method)) return layer.path;
  }
  return undefined;
}

/** The route template that served the request: the router's (`/admin/api/users/:id`), else a fixed label. */
export function routeLabel(ctx: Context, path: string, oidcPrefix?: string): string {
  const matched = ctx.state.routeName ?? matchedTemplate(ctx);
  if (matched) return matched;
  if (oidcPrefix && isUnder(path, oidcPrefix)) return oidcRoute(oidcPrefix, path);
  return ctx.res.statusCode === 404 ? 'unmatched' : 'other';
}

export function dependencyOf(err: unknown, translators: readonly ErrorTranslator[] = []): Dependency | undefined {
  if (err instanceof ServiceUnavailableError) return err.dependency;
  for (const translate of translators) {
    const translated = translate(err);
    if (translated instanceof ServiceUnavailableError) return translated.dependency;
  }
  return undefined;
}

/** Counts and times every request by route template (for accessLog, which sees every response, oidc-provider's too). */
export function requestMetrics(metrics: Pick<Metrics, 'observeRequest'>, options: { oidcPrefix?: string } = {}): RequestObserver {
  return (ctx, { path, seconds, status }) => metrics.observeRequest({ method: ctx.method, route: routeLabel(ctx, path, options.oidcPrefix), status }, seconds);
}

/** Counts the requests that failed because the database or the store could not be reached. Put it before any router. */
export function countDependencyErrors(metrics: Pick<Metrics, 'dependencyError'>, translators: readonly ErrorTranslator[] = []): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const dependency = dependencyOf(err, translators);
      if (dependency) metrics.dependencyError(dependency);
      throw err;
    }
  };
}

function sameSecret(presented: string, expected: string): boolean {
  // Digests have one length, so the comparison takes the same time whatever was presented.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** GET /metrics; with METRICS_TOKEN set, only for `Authorization: Bearer <METRICS_TOKEN>`. */
export function metricsRouter(metrics: Pick<Metrics, 'scrape' | 'contentType'>, token?: string): Router {
  const router = new Router();
  router.get('/metrics', async (ctx) => {
    if (token) {
      const presented = /^Bearer[ ]+(\S+)$/i.exec(ctx.get('Authorization'))?.[1];
      if (!presented || !sameSecret(presented, token)) throw new UnauthorizedError('Not authenticated', 'METRICS_UNAUTHORIZED');
    }
    setNoStore(ctx);
    ctx.type = metrics.contentType;
    ctx.body = await metrics.scrape();
  });
  return router;
}
