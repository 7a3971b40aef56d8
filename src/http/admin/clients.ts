/** /admin/api/clients: OIDC clients; the secret appears once, in the answer that made it (CONTRACT §7). */
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { JsonObject } from '../../json.ts';
import type { AdminClientService } from '../../services/admin/clients.ts';
import { validate } from '../middleware/validate.ts';
import { adminContext } from './auth.ts';
import { createClientBody, updateClientBody } from './schemas.ts';

export function clientRoutes(router: Router, auth: Middleware, clients: AdminClientService): void {
  router.get('/clients', auth, async (ctx) => {
    ctx.body = await clients.list();
  });

  router.post('/clients', auth, async (ctx) => {
    const { client_id: clientId, first_party: firstParty, ...metadata } = validate(createClientBody, ctx.request.body, 'body');
    ctx.status = 201;
    ctx.body = await clients.create({ clientId, firstParty, metadata: metadata as JsonObject }, adminContext(ctx));
  });

  router.get('/clients/:id', auth, async (ctx) => {
    ctx.body = await clients.get(ctx.params.id ?? '');
  });

  router.patch('/clients/:id', auth, async (ctx) => {
    const { first_party: firstParty, rotate_secret: rotateSecret, ...metadata } = validate(updateClientBody, ctx.request.body, 'body');
    ctx.body = await clients.update(ctx.params.id ?? '', { firstParty, rotateSecret, metadata: metadata as JsonObject }, adminContext(ctx));
  });

  router.delete('/clients/:id', auth, async (ctx) => {
    await clients.delete(ctx.params.id ?? '', adminContext(ctx));
    ctx.status = 204;
  });
}
