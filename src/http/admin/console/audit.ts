/** Console page for the audit log, filtered by user, type and date range. */
import type Router from '@koa/router';
import type { AdminServices } from '../../../services/admin/index.ts';
import { auditQuery } from '../schemas.ts';
import { issueMessages, pager, type ConsolePages } from './pages.ts';

const PAGE_SIZE = 50;

export function auditPages(router: Router, options: { services: AdminServices; pages: ConsolePages }): void {
  const { services, pages } = options;

  router.get('/admin/audit', async (ctx) => {
    const text = (name: string) => (typeof ctx.query[name] === 'string' ? (ctx.query[name] as string).trim() : '');
    const filters = { user_id: text('user_id'), type: text('type'), since: text('since'), until: text('until') };
    const parsed = auditQuery.safeParse({
      ...Object.fromEntries(Object.entries(filters).filter(([, value]) => value)),
      offset: text('offset') || undefined,
      limit: String(PAGE_SIZE),
    });
    const errors = parsed.success ? [] : issueMessages(parsed.error.issues.map((issue) => ({ loc: ['query', ...issue.path.map(String)], msg: issue.message, type: issue.code })));
    const query = parsed.success ? parsed.data : { limit: PAGE_SIZE, offset: 0 };
    const page = parsed.success
      ? await services.audit.search({ userId: parsed.data.user_id, type: parsed.data.type, since: parsed.data.since, until: parsed.data.until, limit: query.limit, offset: query.offset })
      : { items: [], total: 0 };
    await pages.render(ctx, parsed.success ? 200 : 422, 'audit', {
      title: 'Audit log',
      section: 'audit',
      ...page,
      filters,
      types: await services.audit.types(),
      errors,
      pages: pager('/admin/audit', filters, query.offset, query.limit, page.total),
    });
  });
}
