/** /admin/api/users: search, create, detail, change, delete, and each user's sessions (CONTRACT §7). */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AdminUserService } from '../../services/admin/users.ts';
import { validate } from '../middleware/validate.ts';
import { adminContext } from './auth.ts';
import { createUserBody, sessionsQuery, updateUserBody, userSearchQuery } from './schemas.ts';

export function userRoutes(router: Router, auth: Middleware, users: AdminUserService): void {
  router.get('/users', auth, async (ctx) => {
    const query = validate(userSearchQuery, ctx.query, 'query');
    ctx.body = await users.search(query);
  });

  router.post('/users', auth, async (ctx) => {
    const body = validate(createUserBody, ctx.request.body, 'body');
    ctx.status = 201;
    ctx.body = await users.create(
      { email: body.email, password: body.password, username: body.username, fullName: body.full_name, roles: body.roles },
      adminContext(ctx),
    );
  });

  router.get('/users/:id', auth, async (ctx) => {
    ctx.body = await users.get(ctx.params.id ?? '');
  });

  router.patch('/users/:id', auth, async (ctx) => {
    const body = validate(updateUserBody, ctx.request.body, 'body');
    ctx.body = await users.update(
      ctx.params.id ?? '',
      {
        status: body.status,
        roles: body.roles,
        fullName: body.full_name,
        phone: body.phone,
        username: body.username,
        emailVerified: body.email_verified,
      },
      adminContext(ctx),
    );
  });

  router.delete('/users/:id', auth, async (ctx) => {
    await users.delete(ctx.params.id ?? '', adminContext(ctx));
    ctx.status = 204;
  });

  router.get('/users/:id/sessions', auth, async (ctx) => {
    const query = validate(sessionsQuery, ctx.query, 'query');
    ctx.body = await users.sessions(ctx.params.id ?? '', { includeExpired: query.include_expired });
  });

  router.delete('/users/:id/sessions/:sid', auth, async (ctx) => {
    await users.revokeSession(ctx.params.id ?? '', ctx.params.sid ?? '', adminContext(ctx));
    ctx.status = 204;
  });

  router.delete('/users/:id/sessions', auth, async (ctx) => {
    ctx.body = { revoked: await users.revokeAllSessions(ctx.params.id ?? '', adminContext(ctx)) };
  });
}
