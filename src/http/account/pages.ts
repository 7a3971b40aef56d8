/**
 * Rendering for the account pages: their own templates (views/account, a layout with the account nav),
 * every page in the request's language (ui_locales, then Accept-Language), the signed-in user and the form
 * token on every page, and fixed notices after a change (a key from the URL picks a catalogue message; no
 * text from the URL is ever shown).
 */
import path from 'node:path';
import type { Context } from 'koa';
import type { I18n } from '../../services/i18n.ts';
import type { Locale } from '../../config.ts';
import { VIEWS_DIR, createViews } from '../interactions/views.ts';
import { localeOf } from '../locale.ts';
import { setNoStore } from '../middleware/no-store.ts';

/** The account nav, in order; each page says which entry it belongs to. */
export const SECTIONS = ['profile', 'email', 'password', 'security', 'sessions', 'apps', 'delete'] as const;
export type Section = (typeof SECTIONS)[number];

/** Notices a change may leave for the next page (`?notice=`): keys of `account:notice.*`. */
const NOTICES = [
  'profile-saved',
  'email-sent',
  'email-changed',
  'password-changed',
  'totp-removed',
  'passkey-added',
  'passkey-renamed',
  'passkey-removed',
  'session-revoked',
  'sessions-revoked',
  'app-revoked',
] as const;
export type Notice = (typeof NOTICES)[number];
const isNotice = (value: unknown): value is Notice => typeof value === 'string' && (NOTICES as readonly string[]).includes(value);

export interface PageLocals extends Record<string, unknown> {
  /** The page's catalogue key under `account:` (its title is `account:<page>.title`). */
  page: string;
  section?: Section;
  /** Error messages for the page's alert (already translated). */
  errors?: string[];
}

export interface MessageLocals {
  heading: string;
  message: string;
  link?: { href: string; label: string };
  tone?: 'error';
}

/** Sends the browser on after a change (303, so a reload does not post again), with a fixed notice. */
export function seeOther(ctx: Context, location: string, notice?: Notice): void {
  ctx.status = 303;
  ctx.redirect(notice ? `${location}${location.includes('?') ? '&' : '?'}notice=${notice}` : location);
}

export function createAccountPages(options: { i18n: I18n; dir?: string }) {
  const { i18n } = options;
  const views = createViews({ dir: options.dir ?? path.join(VIEWS_DIR, 'account'), i18n });

  const langOf = (ctx: Context): Locale => localeOf(ctx, i18n);

  async function render(ctx: Context, status: number, name: string, locals: PageLocals): Promise<void> {
    const lang = langOf(ctx);
    const t = i18n.translator(lang);
    const state = ctx.state.account;
    const noticeKey = isNotice(ctx.query.notice) ? ctx.query.notice : undefined;
    ctx.status = status;
    setNoStore(ctx);
    ctx.type = 'html';
    ctx.body = await views.render(name, {
      lang,
      title: t(`account:${locals.page}.title`),
      account: state?.account,
      csrf: state?.session.csrf ?? '',
      sections: SECTIONS,
      notice: noticeKey ? t(`account:notice.${noticeKey}`) : undefined,
      errors: [],
      ...locals,
    });
  }

  return {
    render,
    langOf,
    /** The request's translator. */
    t: (ctx: Context) => i18n.translator(langOf(ctx)),
    /** A page with a heading, a message and maybe a link (errors, confirmations). */
    message: (ctx: Context, status: number, locals: MessageLocals) => render(ctx, status, 'message', { page: 'message', ...locals, title: locals.heading }),
  };
}

export type AccountPages = ReturnType<typeof createAccountPages>;
