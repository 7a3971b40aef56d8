/** Console page for roles: list, create, delete. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError, ValidationError } from '../../../errors.ts';
import type { AdminServices } from '../../../services/admin/index.ts';
import { validate } from '../../middleware/validate.ts';
import { adminContext } from '../auth.ts';
import { createRoleBody } from '../schemas.ts';
import { field, formOf, issueMessages, seeOther, type ConsolePages } from './pages.ts';

export function rolePages(router: Router, options: { services: AdminServices; pages: ConsolePages }): void {
  const { services, pages } = options;

  async function list(ctx: Context, status: number, values: Record<string, string> = {}, errors: string[] = []) {
    const { items } = await services.roles.list();
    await pages.render(ctx, status, 'roles', { title: 'Roles', section: 'roles', items, adminRole: services.roles.adminRole, values: { name: '', description: '', ...values }, errors });
  }

  router.get('/admin/roles', (ctx) => list(ctx, 200));

  router.post('/admin/roles', async (ctx) => {
    const form = formOf(ctx);
    const values = { name: field(form, 'name').trim(), description: field(form, 'description').trim() };
    try {
      const body = validate(createRoleBody, { name: values.name, description: values.description || null }, 'body');
      await services.roles.create(body, adminContext(ctx, ctx.state.console?.account.id));
      seeOther(ctx, '/admin/roles', 'role-created');
    } catch (err) {
      if (err instanceof ValidationError) return list(ctx, 422, values, issueMessages(err.issues));
      if (err instanceof AppError && err.status === 409) return list(ctx, 409, values, [err.message]);
      throw err;
    }
  });

  router.post('/admin/roles/:id/delete', async (ctx) => {
    await services.roles.delete(ctx.params.id ?? '', adminContext(ctx, ctx.state.console?.account.id));
    seeOther(ctx, '/admin/roles', 'role-deleted');
  });
}
