/**
 * The admin API at /admin/api (CONTRACT §7): JSON in and out, FastAPI-style errors (`{"detail": …}`,
 * 422 with the list of problems), every route behind an admin's bearer token, nothing cached.
 */
import Router from '@koa/router';
import type { AdminServices } from '../../services/admin/index.ts';
import type { BearerAuthServices } from '../middleware/bearer-auth.ts';
import { renderDetail } from '../middleware/errors.ts';
import { requireAdmin } from './auth.ts';
import { userRoutes } from './users.ts';
import { roleRoutes } from './roles.ts';
import { organizationRoutes } from './organizations.ts';
import { clientRoutes } from './clients.ts';
import { auditRoutes } from './audit.ts';
import { resourceRoutes } from './resources.ts';
import { initialAccessTokenRoutes } from './initial-access-tokens.ts';
import { noStore } from '../middleware/no-store.ts';
import { mfaRoutes } from './mfa.ts';
import { grantRoutes } from './grants.ts';

export const ADMIN_API_PREFIX = '/admin/api';

export function createAdminApiRouter(options: { services: AdminServices; auth: BearerAuthServices; adminRole: string }): Router {
  const router = new Router({ prefix: ADMIN_API_PREFIX });
  router.use(noStore, async (ctx, next) => {
    ctx.state.renderError = renderDetail;
    await next();
  });
  // On each route rather than router.use, so the route template (for metrics and logs) is known
  // even when authentication fails.
  const auth = requireAdmin(options.auth, options.adminRole);
  const { services } = options;
  userRoutes(router, auth, services.users);
  roleRoutes(router, auth, services.roles);
  organizationRoutes(router, auth, services.organizations);
  clientRoutes(router, auth, services.clients);
  auditRoutes(router, auth, services.audit);
  resourceRoutes(router, auth, services.resources);
  initialAccessTokenRoutes(router, auth, services.initialAccessTokens);
  mfaRoutes(router, auth, services.mfa);
  grantRoutes(router, auth, services.grants);
  return router;
}
