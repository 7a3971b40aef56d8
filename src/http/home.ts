/**
 * GET /: a small page for a person who opens the server's address in a browser, saying what is here and
 * where to go. Everything on it comes from the configuration, so it is rendered once per process.
 */
import Router from '@koa/router';
import type { Views } from './interactions/views.ts';

export interface HomeOptions {
  views: Views;
  issuer: string;
  /** The legacy mounts, each with its API documentation at `<prefix>/docs`. */
  mounts: { prefix: string; profile: string }[];
}

export function homeRouter(options: HomeOptions): Router {
  let page: Promise<string> | undefined;
  const render = () =>
    options.views.render('home', {
      title: 'Welcome',
      issuer: options.issuer,
      discovery: `${options.issuer}/.well-known/openid-configuration`,
      mounts: options.mounts,
    });
  const router = new Router();
  router.get('/', async (ctx) => {
    page ??= render();
    // A failed render is not kept: the next request tries again.
    page.catch(() => (page = undefined));
    ctx.type = 'html';
    ctx.body = await page;
  });
  return router;
}
