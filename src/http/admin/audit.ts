/** /admin/api/audit-events (CONTRACT §7). */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AdminAuditService } from '../../services/admin/audit.ts';
import { validate } from '../middleware/validate.ts';
import { auditQuery } from './schemas.ts';

export function auditRoutes(router: Router, auth: Middleware, audit: AdminAuditService): void {
  router.get('/audit-events', auth, async (ctx) => {
    const query = validate(auditQuery, ctx.query, 'query');
    ctx.body = await audit.search({
      userId: query.user_id,
      type: query.type,
      since: query.since,
      until: query.until,
      limit: query.limit,
      offset: query.offset,
    });
  });
}
