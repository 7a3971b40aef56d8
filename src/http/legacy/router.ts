import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { AppError } from '../../errors.ts';
import type { AccountLinks } from '../../services/accounts/mail.ts';
import type { CompatMount } from '../../config.ts';
import type { TokenPolicy } from '../../services/tokens.ts';
import { bearerAuth, type BearerAuthServices } from '../middleware/bearer-auth.ts';
import { mountDocs } from '../openapi/docs.ts';
import { buildOpenApiDocument } from '../openapi/document.ts';
import { ROUTES, type OperationContext, type Operations, type Route } from './operations.ts';
import type { Profile, Reply, RequestSpec } from './profile.ts';
import { requestContext } from './request-context.ts';
import { resetPasswordDonePage, resetPasswordPage } from './pages.ts';
import type { I18n } from '../../services/i18n.ts';
import { localeOf } from '../locale.ts';
import { setNoStore } from '../middleware/no-store.ts';
import { MFA_ROUTES, mfaOpenApiPaths, mfaRoutes, type LegacyMfaServices } from './mfa-routes.ts';

/** Operations that wait for a password hash: a client that hangs up meanwhile has its work dropped. */
const HASHING: ReadonlySet<string> = new Set(['register', 'login', 'changePassword', 'resetPassword']);
/** Operations that may send a mail: it is written in the request's language (Accept-Language, CONTRACT §4). */
const MAILING: ReadonlySet<string> = new Set(['register', 'resendVerification', 'forgotPassword']);

export interface LegacyRouterOptions {
  prefix: string;
  profile: Profile;
  operations: Operations;
  /** The second-factor routes (CONTRACT §9); absent → not mounted. */
  mfa?: LegacyMfaServices;
  auth: BearerAuthServices;
  publicUrl: string;
  /** The languages of the mails and the reset page. */
  i18n: I18n;
  /** The mount's options (CONTRACT §3). */
  mount: Pick<CompatMount, 'requireEmailVerification' | 'missingBearer'>;
  /** REGISTRATION=closed: documented as sign-up's 403 (the operations refuse it). */
  registrationClosed?: boolean;
  /** How the mount issues and accepts tokens. */
  policy: TokenPolicy;
  /** Shown in the OpenAPI document. */
  version: string;
}

/** First value of a repeated query parameter is not what FastAPI takes: it takes the last. */
function flatQuery(query: Context['query']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) out[key] = last;
  }
  return out;
}

function body(ctx: Context, route: Route, profile: Profile): unknown {
  const raw: unknown = ctx.request.body ?? {};
  // An OAuth2 password form always names the identifier `username`, whatever the profile's JSON calls it.
  if (route.op === 'login' && ctx.is('urlencoded') && profile.loginField !== 'username' && raw && typeof raw === 'object') {
    const form = raw as Record<string, unknown>;
    if (form[profile.loginField] === undefined) return { ...form, [profile.loginField]: form.username };
  }
  return raw;
}

function rawInput(ctx: Context & { params?: Record<string, string> }, route: Route, profile: Profile): unknown {
  switch (route.input) {
    case 'body':
      return body(ctx, route, profile);
    case 'query':
      return flatQuery(ctx.query);
    case 'path':
      return { ...ctx.params };
    default:
      return {};
  }
}

/** The routes as this profile serves them (seed 002's logout needs the bearer token). */
export const routesOf = (profile: Profile): Route[] =>
  ROUTES.map((route) => (route.op === 'logout' && profile.logoutRequiresBearer ? { ...route, auth: 'bearer' as const } : route));

/** The methods a path under a mount serves (HEAD with GET), for a CORS preflight; undefined for an unknown path. */
export function legacyMethods(profile: Profile, path: string): string[] | undefined {
  const methods = new Set<string>();
  for (const route of [...routesOf(profile), ...MFA_ROUTES, { method: 'get', path: '/reset-password' }]) {
    const pattern = new RegExp(`^${route.path.replace(/:[A-Za-z_]+/g, '[^/]+')}/?$`);
    if (pattern.test(path)) methods.add(route.method.toUpperCase());
  }
  if (methods.has('GET')) methods.add('HEAD');
  return methods.size ? [...methods] : undefined;
}

const wantsHtmlPage = (ctx: Context): boolean => Boolean(ctx.is('urlencoded')) && ctx.accepts('json', 'html') === 'html';

/**
 * One legacy profile at one prefix: every route of operations.ts, parsed and rendered by the profile,
 * plus its OpenAPI document, docs page and the reset-password page the e-mailed link opens.
 */
export function createLegacyRouter(options: LegacyRouterOptions): Router {
  const { prefix, profile, operations } = options;
  const router = new Router({ prefix });
  const links: AccountLinks = {
    verifyEmail: (token) => `${options.publicUrl}${prefix}/verify-email?token=${encodeURIComponent(token)}`,
    resetPassword: (token) => `${options.publicUrl}${prefix}/reset-password?token=${encodeURIComponent(token)}`,
  };

  const pageLanguage = (ctx: Context) => {
    const lang = localeOf(ctx, options.i18n);
    ctx.vary('Accept-Language');
    return { lang, t: options.i18n.translator(lang) };
  };

  const setup: Middleware = async (ctx, next) => {
    ctx.state.renderError = profile.renderError;
    // Tokens and personal data: never cached by a browser or a proxy.
    setNoStore(ctx);
    ctx.set('Pragma', 'no-cache');
    await next();
  };

  function handler(route: Route): Middleware {
    const spec = (route.op === 'verifyEmail' && route.input === 'query' ? profile.requests.verifyEmailLink : profile.requests[route.op]) as RequestSpec<unknown>;
    const run = operations[route.op] as (input: unknown, oc: OperationContext) => Promise<unknown>;
    const reply = profile.replies[route.op] as Reply<unknown>;
    return async (ctx) => {
      const input = spec.parse(rawInput(ctx, route, profile));
      const request = requestContext(ctx, profile.name, { abandonable: HASHING.has(route.op), locale: MAILING.has(route.op) ? localeOf(ctx, options.i18n) : undefined });
      const result = await run(input, { request, auth: ctx.state.auth, links, policy: options.policy });
      if (route.op === 'resetPassword' && wantsHtmlPage(ctx)) {
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = resetPasswordDonePage(pageLanguage(ctx));
        return;
      }
      ctx.status = reply.status;
      ctx.body = reply.render(result);
    };
  }

  const { mount } = options;
  const missing = mount.missingBearer === 403 ? 'http-bearer-403' : profile.httpBearer ? 'http-bearer-401' : 'credentials-401';
  for (const route of routesOf(profile)) {
    const auth =
      route.auth === 'none'
        ? []
        : [
            bearerAuth(options.auth, {
              optional: route.auth === 'optional',
              requireEmailVerification: mount.requireEmailVerification,
              allowUnverified: route.allowUnverified || route.auth === 'optional',
              missing,
              hmac: options.policy.hmac,
            }),
          ];
    router[route.method](route.path, setup, ...auth, handler(route));
  }

  if (options.mfa) {
    // The mount's bearer rules (missing_bearer, e-mail verification, HS256) hold on /mfa too.
    const bearer = bearerAuth(options.auth, { requireEmailVerification: mount.requireEmailVerification, missing, hmac: options.policy.hmac });
    mfaRoutes(router, { profile, services: options.mfa, bearer, setup, links, policy: options.policy });
  }

  router.get('/reset-password', setup, (ctx) => {
    const token = flatQuery(ctx.query).token ?? '';
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = resetPasswordPage(pageLanguage(ctx), `${prefix}/reset-password`, token);
  });

  mountDocs(router, {
    prefix,
    title: profile.title,
    document: () => buildOpenApiDocument(profile, prefix, routesOf(profile), options.version, { ...options.mount, registrationClosed: options.registrationClosed }, options.mfa ? mfaOpenApiPaths(profile) : {}),
  });

  // FastAPI answers a known path with the wrong method with 405 and an Allow header.
  const methods = new Map<string, Set<string>>();
  for (const route of [...ROUTES, ...(options.mfa ? MFA_ROUTES : [])]) methods.set(route.path, (methods.get(route.path) ?? new Set()).add(route.method.toUpperCase()));
  methods.get('/reset-password')?.add('GET');
  for (const [path, allowed] of methods) {
    if (allowed.has('GET')) allowed.add('HEAD');
    const allow = [...allowed].join(', ');
    router.all(path, (ctx) => {
      if (ctx.method === 'OPTIONS') {
        // A plain OPTIONS (a CORS preflight of an allowed origin never gets here): say what the path serves.
        ctx.set('Allow', `${allow}, OPTIONS`);
        ctx.status = 204;
        return;
      }
      throw new AppError(405, 'METHOD_NOT_ALLOWED', 'Method Not Allowed', { headers: { Allow: allow } });
    });
  }
  return router;
}
