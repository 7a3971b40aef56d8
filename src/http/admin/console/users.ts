/** Console pages for users: search, create, detail (roles, organizations, sessions, connected apps), status, reset link, delete. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { ValidationError } from '../../../errors.ts';
import type { AccountLinks } from '../../../services/accounts/mail.ts';
import type { AdminServices } from '../../../services/admin/index.ts';
import { validate } from '../../middleware/validate.ts';
import { adminContext } from '../auth.ts';
import { createUserBody, updateUserBody, userSearchQuery } from '../schemas.ts';
import { field, fieldList, formOf, issueMessages, pager, seeOther, type ConsolePages } from './pages.ts';

const PAGE_SIZE = 25;
const STATUS_NOTICES = { inactive: 'user-deactivated', suspended: 'user-suspended', active: 'user-activated' } as const;

export interface UserPagesOptions {
  services: AdminServices;
  pages: ConsolePages;
  /** Where reset links point (a legacy mount's reset page); none when no legacy profile is mounted. */
  links?: AccountLinks;
}

function actor(ctx: Context) {
  return adminContext(ctx, ctx.state.console?.account.id);
}

export function userPages(router: Router, options: UserPagesOptions): void {
  const { services, pages } = options;
  const { users, roles } = services;

  router.get('/admin/users', async (ctx) => {
    // An empty form field ("Any" status) means no filter.
    const given = Object.fromEntries(Object.entries(ctx.query).filter(([, value]) => value !== ''));
    const parsed = userSearchQuery.safeParse({ ...given, limit: String(PAGE_SIZE) });
    const query = parsed.success ? parsed.data : { limit: PAGE_SIZE, offset: 0, q: undefined, status: undefined };
    const page = await users.search(query);
    await pages.render(ctx, 200, 'users', {
      title: 'Users',
      section: 'users',
      ...page,
      q: query.q ?? '',
      status: query.status ?? '',
      pages: pager('/admin/users', { q: query.q, status: query.status }, query.offset, query.limit, page.total),
    });
  });

  async function newUserForm(ctx: Context, status: number, values: Record<string, unknown>, errors: string[] = []) {
    await pages.render(ctx, status, 'user-new', {
      title: 'Create a user',
      section: 'users',
      roles: (await roles.list()).items,
      values: { email: '', username: '', full_name: '', roles: [], ...values },
      errors,
    });
  }

  router.get('/admin/users/new', (ctx) => newUserForm(ctx, 200, {}));

  router.post('/admin/users', async (ctx) => {
    const form = formOf(ctx);
    const values = { email: field(form, 'email'), username: field(form, 'username'), full_name: field(form, 'full_name'), roles: fieldList(form, 'roles') };
    try {
      const body = validate(
        createUserBody,
        { ...values, username: values.username || null, full_name: values.full_name || null, password: field(form, 'password') },
        'body',
      );
      const user = await users.create(
        { email: body.email, password: body.password, username: body.username, fullName: body.full_name, roles: body.roles },
        actor(ctx),
      );
      seeOther(ctx, `/admin/users/${user.id}`, 'user-created');
    } catch (err) {
      if (err instanceof ValidationError) return newUserForm(ctx, 422, values, issueMessages(err.issues));
      if (err instanceof Error && (err as { status?: number }).status === 409) return newUserForm(ctx, 409, values, [err.message]);
      throw err;
    }
  });

  router.get('/admin/users/:id', async (ctx) => {
    const user = await users.get(ctx.params.id ?? '');
    const sessions = (await users.sessions(user.id)).items;
    const mfa = await services.mfa.status(user.id);
    const grants = (await services.grants.list(user.id)).items;
    await pages.render(ctx, 200, 'user', {
      mfa,
      grants,
      title: user.email,
      section: 'users',
      user,
      sessions,
      roles: (await roles.list()).items,
      self: user.id === ctx.state.console?.account.id,
      canReset: Boolean(options.links),
    });
  });

  router.post('/admin/users/:id/status', async (ctx) => {
    const { status } = validate(updateUserBody.pick({ status: true }).required(), { status: field(formOf(ctx), 'status') }, 'body');
    const user = await users.update(ctx.params.id ?? '', { status }, actor(ctx));
    seeOther(ctx, `/admin/users/${user.id}`, STATUS_NOTICES[status]);
  });

  router.post('/admin/users/:id/roles', async (ctx) => {
    const body = validate(updateUserBody.pick({ roles: true }), { roles: fieldList(formOf(ctx), 'roles') }, 'body');
    const user = await users.update(ctx.params.id ?? '', { roles: body.roles }, actor(ctx));
    seeOther(ctx, `/admin/users/${user.id}`, 'roles-saved');
  });

  router.post('/admin/users/:id/reset-link', async (ctx) => {
    if (!options.links) return;
    const id = ctx.params.id ?? '';
    await users.sendPasswordReset(id, actor(ctx), options.links);
    seeOther(ctx, `/admin/users/${id}`, 'reset-sent');
  });

  router.post('/admin/users/:id/mfa/remove', async (ctx) => {
    const id = ctx.params.id ?? '';
    await services.mfa.removeAll(id, actor(ctx));
    seeOther(ctx, `/admin/users/${id}`, 'mfa-removed');
  });

  router.post('/admin/users/:id/grants/:grantId/revoke', async (ctx) => {
    const id = ctx.params.id ?? '';
    await services.grants.revoke(id, ctx.params.grantId ?? '', actor(ctx));
    seeOther(ctx, `/admin/users/${id}`, 'grant-revoked');
  });

  router.post('/admin/users/:id/sessions/revoke-all', async (ctx) => {
    const id = ctx.params.id ?? '';
    await users.revokeAllSessions(id, actor(ctx));
    seeOther(ctx, `/admin/users/${id}`, 'sessions-revoked');
  });

  router.post('/admin/users/:id/sessions/:sid/revoke', async (ctx) => {
    const id = ctx.params.id ?? '';
    await users.revokeSession(id, ctx.params.sid ?? '', actor(ctx));
    seeOther(ctx, `/admin/users/${id}`, 'session-revoked');
  });

  router.get('/admin/users/:id/delete', async (ctx) => {
    const user = await users.get(ctx.params.id ?? '');
    await pages.render(ctx, 200, 'user-delete', { title: `Delete ${user.email}`, section: 'users', user });
  });

  router.post('/admin/users/:id/delete', async (ctx) => {
    await users.delete(ctx.params.id ?? '', actor(ctx));
    seeOther(ctx, '/admin/users', 'user-deleted');
  });
}
