/**
 * The admin console at /admin (CONTRACT §7): ejs pages over the admin services, signed in through this
 * provider's own OIDC login. Plain HTML forms (no JavaScript), each carrying the session's CSRF token;
 * every change answers 303 back to a page with a fixed notice; errors are shown as pages, never as stack
 * traces or JSON.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Router from '@koa/router';
import type { Middleware } from 'koa';
import { AppError, ServiceUnavailableError } from '../../../errors.ts';
import type { ErrorRenderer } from '../../context.ts';
import type { ErrorTranslator } from '../../middleware/errors.ts';
import { PUBLIC_DIR } from '../../interactions/assets.ts';
import type { AccountLinks } from '../../../services/accounts/mail.ts';
import type { AdminServices } from '../../../services/admin/index.ts';
import { issueMessages, type ConsolePages } from './pages.ts';
import type { createSignIn } from './sign-in.ts';
import { userPages } from './users.ts';
import { rolePages } from './roles.ts';
import { organizationPages } from './organizations.ts';
import { clientPages } from './clients.ts';
import { resourcePages } from './resources.ts';
import { auditPages } from './audit.ts';

export interface ConsoleRouterOptions {
  services: AdminServices;
  pages: ConsolePages;
  signIn: ReturnType<typeof createSignIn>;
  links?: AccountLinks;
  protectedClientIds: readonly string[];
  errorTranslators: readonly ErrorTranslator[];
}

const HEADINGS: Record<number, string> = {
  400: 'That did not work',
  403: 'Not allowed',
  404: 'Not found',
  409: 'That cannot be done',
  422: 'That did not work',
  429: 'Too many requests',
  503: 'Temporarily unavailable',
};

/** For errors that happen before a console page handler runs (body too large, malformed form). */
const plainPage: ErrorRenderer = (error) => ({
  status: error.status,
  headers: { 'Content-Type': 'text/html; charset=utf-8' },
  body: `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Error</title><link rel="stylesheet" href="/admin/assets/admin.css"></head><body><main id="main"><h1>${HEADINGS[error.status] ?? 'Error'}</h1><p><a href="/admin/users">Back to the console</a></p></main></body></html>`,
});

/** Our stylesheet from public/admin, from a list read at start (never a path from the request). */
function assets(router: Router): void {
  const dir = path.join(PUBLIC_DIR, 'admin');
  const files = new Map(readdirSync(dir).filter((name) => name.endsWith('.css')).map((name) => [name, readFileSync(path.join(dir, name))]));
  router.get('/admin/assets/:name', (ctx, next) => {
    const file = files.get(ctx.params.name ?? '');
    if (!file) return next();
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = 'text/css; charset=utf-8';
    ctx.body = file;
  });
}

export function createConsoleRouters(options: ConsoleRouterOptions): Router[] {
  const { pages, signIn } = options;
  const router = new Router();

  const errorPages: Middleware = async (ctx, next) => {
    ctx.state.renderError = plainPage;
    try {
      await next();
    } catch (caught) {
      let error = caught instanceof AppError ? caught : undefined;
      for (const translate of options.errorTranslators) error ??= translate(caught);
      if (!error || !error.expose) throw caught;
      if (error instanceof ServiceUnavailableError) ctx.set('Retry-After', error.headers['Retry-After'] ?? '5');
      const message = error.status === 422 && Array.isArray(error.detail) ? issueMessages(error.detail).join(' ') : error.message;
      await pages.message(ctx, error.status, {
        title: HEADINGS[error.status] ?? 'Error',
        heading: HEADINGS[error.status] ?? 'Something went wrong',
        message,
        tone: 'error',
        link: { href: ctx.get('Referer').startsWith(`${ctx.origin}/admin`) ? ctx.get('Referer') : '/admin/users', label: 'Go back' },
      });
    }
  };

  assets(router);
  router.use(errorPages);
  signIn.routes(router);

  // Everything else is for signed-in admins, and every POST carries the form token.
  const guarded = new Router();
  guarded.use(errorPages, signIn.requireConsoleAdmin, signIn.checkCsrf);
  guarded.get('/admin', (ctx) => {
    ctx.status = 303;
    ctx.redirect('/admin/users');
  });
  userPages(guarded, { services: options.services, pages, links: options.links });
  rolePages(guarded, options);
  organizationPages(guarded, options);
  clientPages(guarded, options);
  resourcePages(guarded, options);
  auditPages(guarded, options);
  return [router, guarded];
}
