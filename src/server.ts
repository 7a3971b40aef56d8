import http from 'node:http';
import type Koa from 'koa';
import type Router from '@koa/router';
import { createApp } from './app.ts';
import type { Dependencies } from './dependencies.ts';

/** The doors of the product, each a router; the legacy profiles, OIDC interactions and admin add theirs here. */
function createDoors(_deps: Dependencies): Router[] {
  return [];
}

/** Builds the Koa app and an HTTP server for it (not listening yet): used by main.ts and by the tests. */
export async function createServerApp(deps: Dependencies): Promise<{ app: Koa; server: http.Server }> {
  const app = createApp({
    config: deps.config,
    logger: deps.logger,
    readiness: deps.readiness,
    errorTranslators: deps.errorTranslators,
    routers: createDoors(deps),
  });
  const server = http.createServer(app.callback());
  // Longer than a typical load balancer's idle timeout, so the proxy closes idle connections first.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return { app, server };
}
