import http from 'node:http';
import type Koa from 'koa';
import type Router from '@koa/router';
import { createApp, requestListener } from './app.ts';
import type { Dependencies } from './dependencies.ts';
import { createInteractionRouter } from './http/interactions.ts';
import { assetsRouter } from './http/interactions/assets.ts';
import { firstMountLinks } from './http/account-links.ts';
import { createLegacyEarlyMiddleware, createLegacyRouters } from './http/legacy/mounts.ts';
import { createAdminRouters, prepareAdminDoor } from './http/admin/index.ts';
import { createInFlight, type InFlight } from './http/middleware/in-flight.ts';
import { countDependencyErrors, metricsRouter, requestMetrics } from './http/metrics.ts';
import { homeRouter } from './http/home.ts';
import { createAccountRouters, prepareAccountDoor } from './http/account/index.ts';

/** The doors of the product, each a router; the legacy profiles, OIDC interactions and admin add theirs here. */
function createDoors(deps: Dependencies): Router[] {
  const links = firstMountLinks(deps.config);
  const interactions = createInteractionRouter({
    provider: deps.oidc.provider,
    views: deps.views,
    i18n: deps.i18n,
    cookieKeys: deps.cookieKeys,
    authenticate: (login, password, ctx) => deps.accounts.authenticate(login, password, ctx),
    getAccount: (id) => deps.accounts.getById(id),
    requireEmailVerification: deps.config.requireEmailVerification,
    // Through the self-service limits, as the legacy doors' resend: per IP, and per address inside the service.
    resendVerification: links ? (id, ctx) => deps.selfService.requestEmailVerification(id, ctx, links) : undefined,
    errorTranslators: deps.errorTranslators,
    // REGISTRATION=open: "Create an account" on the login page, through the same limits as the legacy doors.
    register: deps.config.registration === 'open' ? (input, ctx) => deps.selfService.register(input, ctx, links) : undefined,
    secondFactor: { mfa: deps.mfa, mfaLogin: deps.mfaLogin, pending: deps.pendingLogins, passkeys: deps.passkeys },
  });
  return [
    homeRouter({ views: deps.views, i18n: deps.i18n, issuer: deps.config.issuer, mounts: deps.config.compatProfiles }),
    assetsRouter(),
    interactions,
    ...createLegacyRouters(deps),
    ...createAdminRouters(deps),
    ...createAccountRouters(deps),
    metricsRouter(deps.metrics, deps.config.metricsToken),
  ];
}

/** Builds the Koa app and an HTTP server for it (not listening yet): used by main.ts and by the tests. */
export async function createServerApp(deps: Dependencies): Promise<{ app: Koa; server: http.Server; inFlight: InFlight }> {
  await prepareAdminDoor(deps);
  await prepareAccountDoor(deps);
  const oidc = { prefix: '/oidc', app: deps.oidc.provider };
  const inFlight = createInFlight();
  const app = createApp({
    config: deps.config,
    logger: deps.logger,
    readiness: deps.readiness,
    errorTranslators: deps.errorTranslators,
    routers: createDoors(deps),
    views: deps.views,
    i18n: deps.i18n,
    early: [countDependencyErrors(deps.metrics, deps.errorTranslators), ...createLegacyEarlyMiddleware(deps)],
    observers: [requestMetrics(deps.metrics, { oidcPrefix: '/oidc' })],
    inFlight,
    oidc,
  });
  const server = http.createServer(requestListener(app, oidc));
  // Longer than a typical load balancer's idle timeout, so the proxy closes idle connections first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return { app, server, inFlight };
}
