/**
 * The language of a request (CONTRACT §4): an explicit `ui_locales` (the interaction's, or the query's or
 * form's), then the browser's Accept-Language, then the first of UI_LOCALES.
 */
import type { Context } from 'koa';
import type { I18n } from '../services/i18n.ts';
import type { Locale } from '../config.ts';

export function localeOf(ctx: Context, i18n: I18n, uiLocales?: unknown): Locale {
  const body = (ctx.request as { body?: unknown }).body;
  const fromForm = body && typeof body === 'object' ? (body as Record<string, unknown>).ui_locales : undefined;
  return i18n.negotiate(uiLocales ?? ctx.query.ui_locales ?? fromForm, ctx.get('Accept-Language') || undefined);
}
