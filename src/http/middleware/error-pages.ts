/**
 * Errors as HTML pages, for the doors a browser reads (interaction pages, admin console, account pages).
 * A router that serves pages marks itself with `servesPages`; the one error handler (errors.ts) then
 * draws views/error.ejs for any error of a request to it, also one thrown before routing (a body too
 * large, JSON too deep, a malformed form), as Koa's own onerror answers HTML or JSON. Never a stack.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../errors.ts';
import type { I18n, Translate } from '../../services/i18n.ts';
import type { Locale } from '../../config.ts';
import { isUnder } from '../path-prefix.ts';
import { localeOf } from '../locale.ts';
import { setNoStore } from './no-store.ts';

/**
 * A page door's own refusal, in the words of the catalogue (`key`, translated when the page is drawn in the
 * reader's language) or already in them (`text`); `code` is the OAuth-style code the page shows.
 */
export class PageError extends AppError {
  readonly words: { key: string; vars?: Record<string, unknown> } | { text: string };
  constructor(status: number, code: string, words: PageError['words']) {
    super(status, code, 'key' in words ? words.key : words.text);
    this.words = words;
  }
}

/** What the error handler draws pages with (the shared views of src/http/interactions/views.ts). */
export interface ErrorPageViews {
  render(name: string, locals: Record<string, unknown> & { title: string; lang?: Locale }): Promise<string>;
}

export interface PageDoor {
  /**
   * A link back into the door (the console's home), its label a catalogue key; without it the page sends
   * the user back to the application.
   */
  back?: { href: string; label: string };
  /** Every path under this prefix belongs to the door, routed or not (a router without a prefix of its own). */
  under?: string;
}

const PAGE_DOOR = Symbol('page door');
type MarkedRouter = Router & { [PAGE_DOOR]?: PageDoor };

/**
 * Marks `router` as serving HTML pages: an error of a request under its prefix, or for one of its routes,
 * is answered with an error page instead of JSON. Returns the router, so marking is one wrap:
 * `const router = servesPages(new Router({ prefix: '/account' }))`.
 */
export function servesPages<R extends Router>(router: R, door: PageDoor = {}): R {
  (router as MarkedRouter)[PAGE_DOOR] = door;
  return router;
}

/**
 * The page door a request belongs to: a marked router whose prefix it is under, or one of whose routes
 * matches its path (any method, so a wrong method also gets a page). Asked only once an error happened.
 */
export function pageDoorOf(ctx: Pick<Context, 'path' | 'method'>, routers: readonly Router[]): PageDoor | undefined {
  for (const router of routers) {
    const door = (router as MarkedRouter)[PAGE_DOOR];
    if (!door) continue;
    if (door.under) {
      if (isUnder(ctx.path, door.under)) return door;
      continue;
    }
    const prefix = router.opts.prefix;
    if (prefix ? isUnder(ctx.path, prefix) : router.match(ctx.path, ctx.method).path.some((layer) => layer.methods.length > 0)) return door;
  }
  return undefined;
}

/** Statuses with words of their own in the catalogue (`errors:page.*`); any other is `other`. */
const KNOWN = new Set([400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 503]);

/** A validation error's issues in words ("email: value is not a valid email address"), else the message. */
function describe(error: AppError): string {
  if (error.status !== 422 || !Array.isArray(error.detail)) return error.message;
  return (error.detail as { loc?: unknown[]; msg?: unknown }[])
    .map((issue) => {
      const field = issue.loc?.slice(1).findLast((part) => typeof part === 'string');
      return field ? `${String(field)}: ${String(issue.msg)}` : String(issue.msg);
    })
    .join(' ');
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * What the page says, in the reader's language: a page's own refusal in its catalogue words; a server-side
 * failure in general words; anything else (a lower layer's English, e.g. the body parser's) inside a
 * sentence of the reader's language.
 */
function messageOf(t: Translate, error: AppError, status: string): string {
  if (error instanceof PageError) return 'key' in error.words ? t(error.words.key, error.words.vars) : error.words.text;
  if (error.status >= 500) return t(`errors:page.text.${status}`);
  return t('errors:detail', { detail: describe(error) });
}

/** Draws `error` (already exposed or replaced by the generic 500) as views/error.ejs into ctx, in the reader's language. */
export async function renderErrorPage(ctx: Context, error: AppError, pages: { views: ErrorPageViews; i18n: I18n }, door: PageDoor): Promise<void> {
  const lang = localeOf(ctx, pages.i18n);
  const t = pages.i18n.translator(lang);
  const status = KNOWN.has(error.status) ? String(error.status) : 'other';
  const heading = t(`errors:page.status.${status}`);
  const back = door.back ? { href: door.back.href, label: t(door.back.label) } : undefined;
  const locals = { lang, title: heading, heading, message: messageOf(t, error, status), code: error.code, status: error.status, requestId: ctx.requestId, back };
  const views = pages.views;
  let html: string;
  try {
    html = await views.render('error', locals);
  } catch (err) {
    // The templates could not be read: still a page, with the status and the reference.
    ctx.log.error({ err }, 'error page could not be drawn');
    html = `<!DOCTYPE html><html lang="${lang}"><head><meta charset="utf-8"><title>${escape(heading)}</title></head><body><h1>${escape(heading)}</h1><p>${escape(locals.message)}</p><p>Reference: ${escape(String(ctx.requestId ?? ''))}</p></body></html>`;
  }
  ctx.status = error.status;
  setNoStore(ctx);
  ctx.type = 'html';
  ctx.body = html;
}
