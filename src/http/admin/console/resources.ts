/** Console page for RFC 8707 resources (besides OIDC_RESOURCES): list, create, delete. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError, ValidationError } from '../../../errors.ts';
import type { AdminServices } from '../../../services/admin/index.ts';
import { validate } from '../../middleware/validate.ts';
import { adminContext } from '../auth.ts';
import { createResourceBody } from '../schemas.ts';
import { field, formOf, issueMessages, seeOther, type ConsolePages } from './pages.ts';

export function resourcePages(router: Router, options: { services: AdminServices; pages: ConsolePages }): void {
  const { services, pages } = options;
  const empty = { indicator: '', scope: '', access_token_ttl: '', server_client_id: '' };

  async function list(ctx: Context, status: number, values: Record<string, string> = {}, errors: string[] = []) {
    const { items } = await services.resources.list();
    await pages.render(ctx, status, 'resources', { title: 'Resources', section: 'resources', items, values: { ...empty, ...values }, errors });
  }

  router.get('/admin/resources', (ctx) => list(ctx, 200));

  router.post('/admin/resources', async (ctx) => {
    const form = formOf(ctx);
    const values = Object.fromEntries(Object.keys(empty).map((key) => [key, field(form, key).trim()])) as typeof empty;
    try {
      const ttl = values.access_token_ttl === '' ? null : Number(values.access_token_ttl);
      const body = validate(
        createResourceBody,
        { indicator: values.indicator, scope: values.scope, access_token_ttl: ttl, server_client_id: values.server_client_id || null },
        'body',
      );
      await services.resources.create(
        { indicator: body.indicator, scope: body.scope, accessTokenTtl: body.access_token_ttl, serverClientId: body.server_client_id },
        adminContext(ctx, ctx.state.console?.account.id),
      );
      seeOther(ctx, '/admin/resources', 'resource-created');
    } catch (err) {
      if (err instanceof ValidationError) return list(ctx, 422, values, issueMessages(err.issues));
      if (err instanceof AppError && err.status === 409) return list(ctx, 409, values, [err.message]);
      throw err;
    }
  });

  router.post('/admin/resources/:id/delete', async (ctx) => {
    await services.resources.delete(ctx.params.id ?? '', adminContext(ctx, ctx.state.console?.account.id));
    seeOther(ctx, '/admin/resources', 'resource-deleted');
  });
}
