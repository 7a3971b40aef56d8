/**
 * The language of a request (CONTRACT §4): an explicit `ui_locales` (the interaction's, or the query's or
 * form's), then the browser's Accept-Language, then the first of UI_LOCALES. Once a door has put the
 * request's language on `ctx.state.lang`, that is the answer.
 */
import type { Context } from 'koa';
import type { I18n, Translate } from '../services/i18n.ts';
import type { RateLimitedError } from '../errors.ts';
import type { Locale } from '../config.ts';

export function localeOf(ctx: Context, i18n: I18n, uiLocales?: unknown): Locale {
  // A page door that has settled the request's language (the interaction's own ui_locales) keeps it.
  if (uiLocales === undefined && ctx.state.lang) return ctx.state.lang;
  const body = (ctx.request as { body?: unknown }).body;
  const fromForm = body && typeof body === 'object' ? (body as Record<string, unknown>).ui_locales : undefined;
  return i18n.negotiate(uiLocales ?? ctx.query.ui_locales ?? fromForm, ctx.get('Accept-Language') || undefined);
}

/** How long until a limit lets the user try again, in the page's words ("2 minutes", "2 Minuten"). */
export function waitText(t: Translate, err: RateLimitedError): string {
  const seconds = (err.detail as { retryAfter?: number } | undefined)?.retryAfter ?? 60;
  return seconds < 90 ? t('common:duration.seconds', { count: seconds }) : t('common:duration.minutes', { count: Math.ceil(seconds / 60) });
}
