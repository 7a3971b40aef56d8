/**
 * HTTP side of the metrics: a middleware that times every request and labels it by route template
 * (never the raw path: ids would make one series per user), and GET /metrics for Prometheus.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { ServiceUnavailableError, UnauthorizedError } from '../errors.ts';
import type { Dependency, Metrics } from '../services/metrics.ts';
import type { ErrorTranslator } from './middleware/errors.ts';

export interface HttpMetricsOptions {
  /** The app's error translators: they tell a lost database connection from any other error. */
  translators?: readonly ErrorTranslator[];
  /** Where oidc-provider is mounted; its routes are labelled from a fixed list. */
  oidcPrefix?: string;
}

// oidc-provider's fixed path segments; any other segment is an id (interaction uid, client id, user code).
const OIDC_SEGMENTS = new Set([
  '.well-known', 'openid-configuration', 'oauth-authorization-server', 'auth', 'token', 'introspection', 'revocation',
  'me', 'jwks', 'session', 'end', 'confirm', 'success', 'device', 'request', 'reg', 'backchannel', 'challenge',
]);

function oidcRoute(prefix: string, path: string): string {
  const segments = path.slice(prefix.length).split('/').filter(Boolean).slice(0, 4);
  return [prefix, ...segments.map((segment) => (OIDC_SEGMENTS.has(segment) ? segment : ':id'))].join('/');
}

const under = (path: string, prefix: string): boolean => path === prefix || path.startsWith(`${prefix}/`);

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
export function routeLabel(ctx: Context, oidcPrefix?: string): string {
  const matched = ctx.state.routeName ?? matchedTemplate(ctx);
  if (matched) return matched;
  if (oidcPrefix && under(ctx.path, oidcPrefix)) return oidcRoute(oidcPrefix, ctx.path);
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

/**
 * Times the request until the response is written (also when oidc-provider writes it itself), and counts
 * failures caused by an unreachable database or store. Put it early, before any router.
 */
export function httpMetrics(metrics: Pick<Metrics, 'observeRequest' | 'dependencyError'>, options: HttpMetricsOptions = {}): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      const seconds = (performance.now() - started) / 1000;
      metrics.observeRequest({ method: ctx.method, route: routeLabel(ctx, options.oidcPrefix), status: ctx.res.statusCode }, seconds);
    };
    ctx.res.once('finish', record);
    ctx.res.once('close', record);
    try {
      await next();
    } catch (err) {
      const dependency = dependencyOf(err, options.translators);
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
    ctx.set('Cache-Control', 'no-store');
    ctx.type = metrics.contentType;
    ctx.body = await metrics.scrape();
  });
  return router;
}
