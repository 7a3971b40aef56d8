/**
 * Who may use the admin API: a bearer access token (the same the legacy login issues) of a live session
 * whose user is active and has ADMIN_ROLE (default `idp_admin`) now (read from the database, not from the token, so a
 * demotion applies at once). No or bad token → 401; any other user → 403.
 */
import type { Context, Middleware } from 'koa';
import { ForbiddenError, UnauthorizedError } from '../../errors.ts';
import type { AdminContext } from '../../services/admin/audit.ts';
import { bearerAuth, type BearerAuthServices } from '../middleware/bearer-auth.ts';
import { clientIp } from '../client-ip.ts';

export class AdminRequiredError extends ForbiddenError {
  constructor() {
    super('Admin role required', 'ADMIN_REQUIRED');
  }
}

/** `adminRole`: ADMIN_ROLE. Application roles (`admin`, `pmc_admin`, …) grant nothing here. */
export function requireAdmin(services: BearerAuthServices, adminRole: string): Middleware {
  const authenticate = bearerAuth(services);
  return (ctx, next) =>
    authenticate(ctx, async () => {
      if (!ctx.state.auth?.account.roles.includes(adminRole)) throw new AdminRequiredError();
      await next();
    });
}

/** The acting admin and where the request came from, for the services and the audit trail. */
export function adminContext(ctx: Context, actorId: string | undefined = ctx.state.auth?.account.id): AdminContext {
  if (!actorId) throw new UnauthorizedError();
  return { actorId, ip: clientIp(ctx), userAgent: ctx.get('User-Agent') || undefined, door: 'admin' };
}
