/** /admin/api/organizations and their members (CONTRACT §7). */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AdminOrganizationService } from '../../services/admin/organizations.ts';
import { validate } from '../middleware/validate.ts';
import { adminContext } from './auth.ts';
import { createOrganizationBody, memberBody, organizationsQuery } from './schemas.ts';

export function organizationRoutes(router: Router, auth: Middleware, organizations: AdminOrganizationService): void {
  router.get('/organizations', auth, async (ctx) => {
    ctx.body = await organizations.list(validate(organizationsQuery, ctx.query, 'query'));
  });

  router.post('/organizations', auth, async (ctx) => {
    const body = validate(createOrganizationBody, ctx.request.body, 'body');
    ctx.status = 201;
    ctx.body = await organizations.create(body, adminContext(ctx));
  });

  router.get('/organizations/:id', auth, async (ctx) => {
    ctx.body = await organizations.get(ctx.params.id ?? '');
  });

  router.post('/organizations/:id/members', auth, async (ctx) => {
    const body = validate(memberBody, ctx.request.body, 'body');
    const { membership, created } = await organizations.setMember(ctx.params.id ?? '', { userId: body.user_id, role: body.role }, adminContext(ctx));
    ctx.status = created ? 201 : 200;
    ctx.body = membership;
  });

  router.delete('/organizations/:id/members/:userId', auth, async (ctx) => {
    await organizations.removeMember(ctx.params.id ?? '', ctx.params.userId ?? '', adminContext(ctx));
    ctx.status = 204;
  });
}
