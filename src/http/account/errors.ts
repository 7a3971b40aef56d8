/**
 * The account pages answer errors as pages, never JSON or a stack (CONTRACT §6): a service error that
 * escapes a page handler becomes a message page in the reader's language, with the right status; errors
 * raised before the router runs (a body over the limit, a malformed form) get a plain page too.
 */
import type { Context, Middleware } from 'koa';
import { AppError, RateLimitedError, ServiceUnavailableError } from '../../errors.ts';
import type { ErrorRenderer } from '../context.ts';
import type { ErrorTranslator } from '../middleware/errors.ts';
import type { I18n } from '../../services/i18n.ts';
import { isUnder } from '../path-prefix.ts';
import { localeOf } from '../locale.ts';
import type { AccountPages } from './pages.ts';

const KNOWN = new Set([400, 401, 403, 404, 409, 413, 415, 422, 429, 503]);
const statusKey = (status: number): string => (KNOWN.has(status) ? String(status) : 'other');

const escape = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Seconds → "3 minutes" / "45 seconds", in words of the catalogue. */
export function retryWords(t: (key: string, vars?: Record<string, unknown>) => string, err: AppError): string {
  const seconds = (err.detail as { retryAfter?: number } | undefined)?.retryAfter ?? Number(err.headers['Retry-After'] ?? 60);
  return seconds < 90 ? t('account:errors.seconds', { count: seconds }) : t('account:errors.minutes', { count: Math.ceil(seconds / 60) });
}

/** What the reader is told about an error (the heading and the text, translated). */
export function errorWords(t: (key: string, vars?: Record<string, unknown>) => string, error: AppError): { heading: string; message: string } {
  const key = statusKey(error.status);
  const heading = t(`account:errors.status.${key}`);
  if (error instanceof RateLimitedError || error.status === 429) return { heading, message: t('account:errors.text.429', { wait: retryWords(t, error) }) };
  return { heading, message: t(`account:errors.text.${key}`) };
}

/** For the account routers: exposed AppErrors (and translated lower-layer errors) become message pages. */
export function accountErrorPages(pages: AccountPages, translators: readonly ErrorTranslator[]): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (caught) {
      let error = caught instanceof AppError ? caught : undefined;
      for (const translate of translators) error ??= translate(caught);
      if (!error || !error.expose) throw caught;
      if (error instanceof ServiceUnavailableError) ctx.set('Retry-After', error.headers['Retry-After'] ?? '5');
      for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
      const t = pages.t(ctx);
      await pages.message(ctx, error.status, { ...errorWords(t, error), link: { href: backHref(ctx), label: t('account:errors.back') }, tone: 'error' });
    }
  };
}

function backHref(ctx: Context): string {
  const referer = ctx.get('Referer');
  return referer.startsWith(`${ctx.origin}/account/`) && !referer.includes('"') ? referer : '/account/profile';
}

/**
 * For errors thrown before the account router runs (the body parser's 413 or 400): a small page in the
 * reader's language instead of the API's JSON. Runs ahead of the body parser (app `early`).
 */
export function accountEarlyErrors(i18n: I18n): Middleware {
  return async (ctx, next) => {
    if (isUnder(ctx.path, '/account')) {
      const render: ErrorRenderer = (error) => {
        const lang = localeOf(ctx, i18n);
        const t = i18n.translator(lang);
        const { heading, message } = errorWords(t, error);
        return {
          status: error.status,
          headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' },
          body: `<!DOCTYPE html><html lang="${escape(lang)}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escape(heading)}</title><link rel="stylesheet" href="/assets/idp.css"></head><body><main id="main" class="card"><h1>${escape(heading)}</h1><div class="alert" role="alert"><p>${escape(message)}</p></div><p><a href="/account/profile">${escape(t('account:errors.back'))}</a></p></main></body></html>`,
        };
      };
      ctx.state.renderError = render;
    }
    await next();
  };
}
