/** /admin/api/resources: RFC 8707 resource servers besides OIDC_RESOURCES (CONTRACT §7). */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AdminResourceService } from '../../services/admin/resources.ts';
import { validate } from '../middleware/validate.ts';
import { adminContext } from './auth.ts';
import { createResourceBody } from './schemas.ts';

export function resourceRoutes(router: Router, auth: Middleware, resources: AdminResourceService): void {
  router.get('/resources', auth, async (ctx) => {
    ctx.body = await resources.list();
  });

  router.post('/resources', auth, async (ctx) => {
    const body = validate(createResourceBody, ctx.request.body, 'body');
    ctx.status = 201;
    ctx.body = await resources.create(
      { indicator: body.indicator, scope: body.scope, accessTokenTtl: body.access_token_ttl, serverClientId: body.server_client_id },
      adminContext(ctx),
    );
  });

  router.delete('/resources/:id', auth, async (ctx) => {
    await resources.delete(ctx.params.id ?? '', adminContext(ctx));
    ctx.status = 204;
  });
}
