/** /admin/api/roles (CONTRACT §7). */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AdminRoleService } from '../../services/admin/roles.ts';
import { validate } from '../middleware/validate.ts';
import { adminContext } from './auth.ts';
import { createRoleBody } from './schemas.ts';

export function roleRoutes(router: Router, auth: Middleware, roles: AdminRoleService): void {
  router.get('/roles', auth, async (ctx) => {
    ctx.body = await roles.list();
  });

  router.post('/roles', auth, async (ctx) => {
    const body = validate(createRoleBody, ctx.request.body, 'body');
    ctx.status = 201;
    ctx.body = await roles.create({ name: body.name, description: body.description }, adminContext(ctx));
  });

  router.delete('/roles/:id', auth, async (ctx) => {
    await roles.delete(ctx.params.id ?? '', adminContext(ctx));
    ctx.status = 204;
  });
}
