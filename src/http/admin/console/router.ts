/**
 * The admin console at /admin (CONTRACT §7): ejs pages over the admin services, signed in through this
 * provider's own OIDC login. Plain HTML forms (no JavaScript), each carrying the session's CSRF token;
 * every change answers 303 back to a page with a fixed notice. Both routers are page doors: any error is
 * an HTML page (middleware/error-pages.ts), never a stack trace or JSON.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Router from '@koa/router';
import type { ErrorTranslator } from '../../middleware/errors.ts';
import { servesPages } from '../../middleware/error-pages.ts';
import { PUBLIC_DIR } from '../../interactions/assets.ts';
import type { AccountLinks } from '../../../services/accounts/mail.ts';
import type { AdminServices } from '../../../services/admin/index.ts';
import type { ConsolePages } from './pages.ts';
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

/** Where a console error page leads back to. */
const CONSOLE_HOME = { back: { href: '/admin/users', label: 'errors:backToConsole' } };

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
  const router = servesPages(new Router(), CONSOLE_HOME);

  assets(router);
  signIn.routes(router);

  // Everything else is for signed-in admins, and every POST carries the form token.
  const guarded = servesPages(new Router(), CONSOLE_HOME);
  guarded.use(signIn.requireConsoleAdmin, signIn.checkCsrf);
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
