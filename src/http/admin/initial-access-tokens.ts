/** POST /admin/api/initial-access-tokens: a one-time token for dynamic client registration (CONTRACT §7). */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { AdminInitialAccessTokenService } from '../../services/admin/initial-access-tokens.ts';
import { validate } from '../middleware/validate.ts';
import { adminContext } from './auth.ts';
import { initialAccessTokenBody } from './schemas.ts';

export function initialAccessTokenRoutes(router: Router, auth: Middleware, tokens: AdminInitialAccessTokenService): void {
  router.post('/initial-access-tokens', auth, async (ctx) => {
    const body = validate(initialAccessTokenBody, ctx.request.body ?? {}, 'body');
    ctx.status = 201;
    ctx.body = await tokens.issue(body.expires_in, adminContext(ctx));
  });
}
