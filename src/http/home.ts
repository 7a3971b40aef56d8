/**
 * GET /: a small page for a person who opens the server's address in a browser, saying what is here and
 * where to go. Everything on it comes from the configuration, so it is rendered once per process and
 * language (Accept-Language picks it; `ui_locales` in the query too).
 */
import Router from '@koa/router';
import type { Views } from './interactions/views.ts';
import type { I18n } from '../services/i18n.ts';
import type { Locale } from '../config.ts';
import { localeOf } from './locale.ts';

export interface HomeOptions {
  views: Views;
  i18n: I18n;
  issuer: string;
  /** The legacy mounts, each with its API documentation at `<prefix>/docs`. */
  mounts: { prefix: string; profile: string }[];
}

export function homeRouter(options: HomeOptions): Router {
  const { i18n } = options;
  const pages = new Map<Locale, Promise<string>>();
  const render = (lang: Locale) =>
    options.views.render('home', {
      title: i18n.translator(lang)('home:title'),
      lang,
      issuer: options.issuer,
      discovery: `${options.issuer}/.well-known/openid-configuration`,
      mounts: options.mounts,
    });
  const router = new Router();
  router.get('/', async (ctx) => {
    const lang = localeOf(ctx, i18n);
    let page = pages.get(lang);
    if (!page) {
      page = render(lang);
      pages.set(lang, page);
      // A failed render is not kept: the next request tries again.
      page.catch(() => pages.delete(lang));
    }
    // The page differs by language: a shared cache must keep one per Accept-Language.
    ctx.vary('Accept-Language');
    ctx.type = 'html';
    ctx.body = await page;
  });
  return router;
}
