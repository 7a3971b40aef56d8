/**
 * Errors as HTML pages, for the doors a browser reads (interaction pages, admin console, account pages).
 * A router that serves pages marks itself with `servesPages`; the one error handler (errors.ts) then
 * draws views/error.ejs for any error of a request to it, also one thrown before routing (a body too
 * large, JSON too deep, a malformed form), as Koa's own onerror answers HTML or JSON. Never a stack.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AppError } from '../../errors.ts';
import { isUnder } from '../path-prefix.ts';
import { setNoStore } from './no-store.ts';

/** What the error handler draws pages with (the shared views of src/http/interactions/views.ts). */
export interface ErrorPageViews {
  render(name: string, locals: Record<string, unknown> & { title: string }): Promise<string>;
}

export interface PageDoor {
  /** A link back into the door (the console's home); without it the page sends the user back to the application. */
  back?: { href: string; label: string };
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
    const prefix = router.opts.prefix;
    if (prefix ? isUnder(ctx.path, prefix) : router.match(ctx.path, ctx.method).path.some((layer) => layer.methods.length > 0)) return door;
  }
  return undefined;
}

const HEADINGS: Record<number, string> = {
  400: 'This request could not be completed',
  401: 'Not signed in',
  403: 'Not allowed',
  404: 'Not found',
  405: 'Not allowed',
  409: 'That cannot be done',
  413: 'Too much data',
  415: 'This request could not be completed',
  422: 'That did not work',
  429: 'Too many requests',
  503: 'Temporarily unavailable',
};

const MESSAGES: Record<number, string> = {
  500: 'Something went wrong on our side. Please try again in a moment.',
  503: 'The service is temporarily unavailable. Please try again in a moment.',
};

/** A validation error's issues in words ("email: value is not a valid email address"), else the message. */
function describe(error: AppError): string {
  if (MESSAGES[error.status]) return MESSAGES[error.status] as string;
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

/** Draws `error` (already exposed or replaced by the generic 500) as views/error.ejs into ctx. */
export async function renderErrorPage(ctx: Context, error: AppError, views: ErrorPageViews, door: PageDoor): Promise<void> {
  const heading = HEADINGS[error.status] ?? 'Something went wrong';
  const locals = { title: heading, heading, message: describe(error), code: error.code, status: error.status, requestId: ctx.requestId, back: door.back };
  let html: string;
  try {
    html = await views.render('error', locals);
  } catch (err) {
    // The templates could not be read: still a page, with the status and the reference.
    ctx.log.error({ err }, 'error page could not be drawn');
    html = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escape(heading)}</title></head><body><h1>${escape(heading)}</h1><p>${escape(locals.message)}</p><p>Reference: ${escape(String(ctx.requestId ?? ''))}</p></body></html>`;
  }
  ctx.status = error.status;
  setNoStore(ctx);
  ctx.type = 'html';
  ctx.body = html;
}
