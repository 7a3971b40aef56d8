/** Console pages for OIDC clients: list, register (the secret shown once), rotate the secret, delete. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError, ValidationError } from '../../../errors.ts';
import type { JsonObject } from '../../../json.ts';
import type { AdminServices } from '../../../services/admin/index.ts';
import type { ClientView } from '../../../services/admin/clients.ts';
import { validate } from '../../middleware/validate.ts';
import { adminContext } from '../auth.ts';
import { createClientBody } from '../schemas.ts';
import { field, fieldList, formOf, issueMessages, seeOther, type ConsolePages } from './pages.ts';

export function clientPages(router: Router, options: { services: AdminServices; pages: ConsolePages; protectedClientIds: readonly string[] }): void {
  const { services, pages } = options;
  const { clients } = services;
  const actor = (ctx: Context) => adminContext(ctx, ctx.state.console?.account.id);

  async function list(ctx: Context, status: number, values: Record<string, unknown> = {}, errors: string[] = []) {
    const { items } = await clients.list();
    await pages.render(ctx, status, 'clients', {
      title: 'Clients',
      section: 'clients',
      items,
      values: {
        client_name: '',
        redirect_uris: '',
        type: 'confidential',
        grant_types: ['authorization_code'],
        first_party: false,
        backchannel_logout_uri: '',
        backchannel_logout_session_required: false,
        ...values,
      },
      errors,
    });
  }

  async function show(ctx: Context, client: ClientView, secret?: string) {
    const editable = client.source !== 'file' && !options.protectedClientIds.includes(client.client_id);
    await pages.render(ctx, 200, 'client', { title: String(client.client_name ?? client.client_id), section: 'clients', client, secret, editable });
  }

  router.get('/admin/clients', (ctx) => list(ctx, 200));

  router.post('/admin/clients', async (ctx) => {
    const form = formOf(ctx);
    const values = {
      client_name: field(form, 'client_name'),
      redirect_uris: field(form, 'redirect_uris'),
      type: field(form, 'type') === 'public' ? 'public' : 'confidential',
      grant_types: fieldList(form, 'grant_types'),
      first_party: field(form, 'first_party') === 'true',
      backchannel_logout_uri: field(form, 'backchannel_logout_uri').trim(),
      backchannel_logout_session_required: field(form, 'backchannel_logout_session_required') === 'true',
    };
    const redirectUris = values.redirect_uris.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
    try {
      const { client_id: _id, first_party: firstParty, ...metadata } = validate(
        createClientBody,
        {
          client_name: values.client_name.trim(),
          redirect_uris: redirectUris,
          grant_types: values.grant_types,
          // A client that only uses client credentials has no browser step.
          response_types: values.grant_types.includes('authorization_code') ? ['code'] : [],
          token_endpoint_auth_method: values.type === 'public' ? 'none' : 'client_secret_basic',
          first_party: values.first_party,
          ...(values.backchannel_logout_uri
            ? { backchannel_logout_uri: values.backchannel_logout_uri, backchannel_logout_session_required: values.backchannel_logout_session_required }
            : {}),
        },
        'body',
      );
      const created = await clients.create({ firstParty, metadata: metadata as JsonObject }, actor(ctx));
      const { client_secret: secret, ...client } = created;
      // The secret exists only in this answer: shown here, once, never stored in plain.
      await show(ctx, client, secret);
    } catch (err) {
      if (err instanceof ValidationError) return list(ctx, 422, values, issueMessages(err.issues));
      if (err instanceof AppError && err.status === 409) return list(ctx, 409, values, [err.message]);
      throw err;
    }
  });

  router.get('/admin/clients/:id', async (ctx) => show(ctx, await clients.get(ctx.params.id ?? '')));

  router.post('/admin/clients/:id/rotate-secret', async (ctx) => {
    const { client_secret: secret, ...client } = await clients.update(ctx.params.id ?? '', { metadata: {}, rotateSecret: true }, actor(ctx));
    await show(ctx, client, secret);
  });

  router.post('/admin/clients/:id/delete', async (ctx) => {
    await clients.delete(ctx.params.id ?? '', actor(ctx));
    seeOther(ctx, '/admin/clients', 'client-deleted');
  });
}
