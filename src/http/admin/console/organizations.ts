/** Console pages for organizations: search, create, members (add, change role, remove). */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError, ValidationError } from '../../../errors.ts';
import type { AdminServices } from '../../../services/admin/index.ts';
import { validate } from '../../middleware/validate.ts';
import { adminContext } from '../auth.ts';
import { createOrganizationBody, memberBody, organizationsQuery } from '../schemas.ts';
import { field, formOf, issueMessages, pager, seeOther, type ConsolePages } from './pages.ts';

const PAGE_SIZE = 25;

export function organizationPages(router: Router, options: { services: AdminServices; pages: ConsolePages }): void {
  const { services, pages } = options;
  const { organizations } = services;
  const actor = (ctx: Context) => adminContext(ctx, ctx.state.console?.account.id);

  async function list(ctx: Context, status: number, values: Record<string, string> = {}, errors: string[] = []) {
    const given = Object.fromEntries(Object.entries(ctx.query).filter(([, value]) => value !== ''));
    const parsed = organizationsQuery.safeParse({ ...given, limit: String(PAGE_SIZE) });
    const query = parsed.success ? parsed.data : { limit: PAGE_SIZE, offset: 0, q: undefined };
    const page = await organizations.list(query);
    await pages.render(ctx, status, 'organizations', {
      title: 'Organizations',
      section: 'organizations',
      ...page,
      q: query.q ?? '',
      pages: pager('/admin/organizations', { q: query.q }, query.offset, query.limit, page.total),
      values: { name: '', slug: '', ...values },
      errors,
    });
  }

  router.get('/admin/organizations', (ctx) => list(ctx, 200));

  router.post('/admin/organizations', async (ctx) => {
    const form = formOf(ctx);
    const values = { name: field(form, 'name'), slug: field(form, 'slug').trim() };
    try {
      const body = validate(createOrganizationBody, { name: values.name, slug: values.slug || undefined }, 'body');
      const org = await organizations.create(body, actor(ctx));
      seeOther(ctx, `/admin/organizations/${org.id}`, 'organization-created');
    } catch (err) {
      if (err instanceof ValidationError) return list(ctx, 422, values, issueMessages(err.issues));
      if (err instanceof AppError && err.status === 409) return list(ctx, 409, values, [err.message]);
      throw err;
    }
  });

  async function detail(ctx: Context, status: number, values: Record<string, string> = {}, errors: string[] = []) {
    const org = await organizations.get(ctx.params.id ?? '');
    await pages.render(ctx, status, 'organization', {
      title: org.name,
      section: 'organizations',
      org,
      values: { user: '', role: 'member', ...values },
      errors,
    });
  }

  router.get('/admin/organizations/:id', (ctx) => detail(ctx, 200));

  router.post('/admin/organizations/:id/members', async (ctx) => {
    const form = formOf(ctx);
    const values = { user: field(form, 'user').trim(), role: field(form, 'role') };
    try {
      const userId = (await services.users.resolve(values.user)) ?? values.user;
      const body = validate(memberBody, { user_id: userId, role: values.role || undefined }, 'body');
      await organizations.setMember(ctx.params.id ?? '', { userId: body.user_id, role: body.role }, actor(ctx));
      seeOther(ctx, `/admin/organizations/${ctx.params.id}`, 'member-saved');
    } catch (err) {
      if (err instanceof ValidationError) return detail(ctx, 422, values, issueMessages(err.issues));
      throw err;
    }
  });

  router.post('/admin/organizations/:id/members/:userId/remove', async (ctx) => {
    await organizations.removeMember(ctx.params.id ?? '', ctx.params.userId ?? '', actor(ctx));
    seeOther(ctx, `/admin/organizations/${ctx.params.id}`, 'member-removed');
  });
}
