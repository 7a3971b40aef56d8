/**
 * The admin console is a first-party OIDC client of this very provider: public, PKCE, code flow, its
 * redirect URI under PUBLIC_URL. It is made (or brought up to date, when PUBLIC_URL changed) at every
 * start, and the admin API will not change or delete it.
 */
import { UniqueConstraintError } from 'sequelize';
import type { JsonObject, Models } from '../db/models/index.ts';

export const CONSOLE_CLIENT_ID = 'admin-console';
export const CONSOLE_SCOPE = 'openid profile email';

export function consoleClientMetadata(publicUrl: string): JsonObject {
  return {
    client_name: 'Admin console',
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [`${publicUrl}/admin/callback`],
    post_logout_redirect_uris: [`${publicUrl}/admin/signed-out`],
    scope: CONSOLE_SCOPE,
  };
}

export async function ensureConsoleClient(models: Pick<Models, 'OidcClient'>, publicUrl: string): Promise<void> {
  const metadata = consoleClientMetadata(publicUrl);
  // From the primary: read just before a write, right after the start-up migrations (a replica may lag).
  const row = await models.OidcClient.findByPk(CONSOLE_CLIENT_ID, { useMaster: true });
  if (!row) {
    try {
      await models.OidcClient.create({ clientId: CONSOLE_CLIENT_ID, metadata, secretHash: null, firstParty: true });
    } catch (err) {
      // Another process starting at the same moment made it.
      if (!(err instanceof UniqueConstraintError)) throw err;
    }
    return;
  }
  if (JSON.stringify(row.metadata) !== JSON.stringify(metadata) || !row.firstParty || row.secretHash) {
    await row.update({ metadata, firstParty: true, secretHash: null });
  }
}
