/** /admin/api/users/:id/mfa: a user's second factors, and removing them all (CONTRACT §7, §9). */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AdminMfaService } from '../../services/admin/mfa.ts';
import { adminContext } from './auth.ts';

export function mfaRoutes(router: Router, auth: Middleware, mfa: AdminMfaService): void {
  router.get('/users/:id/mfa', auth, async (ctx) => {
    ctx.body = await mfa.status(ctx.params.id ?? '');
  });

  router.delete('/users/:id/mfa', auth, async (ctx) => {
    await mfa.removeAll(ctx.params.id ?? '', adminContext(ctx));
    ctx.status = 204;
  });
}
