/** /admin/api/users/:id/grants: a user's grants to applications, and revoking one (CONTRACT §7). */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AdminGrantService } from '../../services/admin/grants.ts';
import { adminContext } from './auth.ts';

export function grantRoutes(router: Router, auth: Middleware, grants: AdminGrantService): void {
  router.get('/users/:id/grants', auth, async (ctx) => {
    ctx.body = await grants.list(ctx.params.id ?? '');
  });

  router.delete('/users/:id/grants/:grantId', auth, async (ctx) => {
    await grants.revoke(ctx.params.id ?? '', ctx.params.grantId ?? '', adminContext(ctx));
    ctx.status = 204;
  });
}
