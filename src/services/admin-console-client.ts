/**
 * The admin console is a first-party OIDC client of this very provider: public, PKCE, code flow, its
 * redirect URI under PUBLIC_URL. It is made (or brought up to date) at every start, and the admin API will
 * not change or delete it. Processes sharing one database may run under different PUBLIC_URLs (an internal
 * and a public name, a blue/green switch): each start adds its own redirect URIs to those already
 * registered instead of replacing them, so one start never breaks another instance's console.
 */
import { UniqueConstraintError, type Sequelize } from 'sequelize';
import type { JsonObject, Models } from '../db/models/index.ts';

export const CONSOLE_CLIENT_ID = 'admin-console';
export const CONSOLE_SCOPE = 'openid profile email';

/** The URI lists each start extends with its own PUBLIC_URL's (never shrinks). */
const URI_LISTS = ['redirect_uris', 'post_logout_redirect_uris'] as const;

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

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** This start's metadata, with the URIs other PUBLIC_URLs registered kept (theirs first, in their order). */
function mergedMetadata(stored: JsonObject, publicUrl: string): JsonObject {
  const metadata = consoleClientMetadata(publicUrl);
  for (const list of URI_LISTS) metadata[list] = [...new Set([...strings(stored[list]), ...strings(metadata[list])])];
  return metadata;
}

export async function ensureConsoleClient(deps: { models: Pick<Models, 'OidcClient'>; sequelize: Sequelize }, publicUrl: string): Promise<void> {
  const { OidcClient } = deps.models;
  // From the primary, under a row lock: two processes starting at once with different PUBLIC_URLs must
  // not each write their own list over the other's.
  const existed = await deps.sequelize.transaction(async (transaction) => {
    const row = await OidcClient.findByPk(CONSOLE_CLIENT_ID, { transaction, lock: transaction.LOCK.UPDATE, useMaster: true });
    if (!row) return false;
    const metadata = mergedMetadata(row.metadata, publicUrl);
    if (JSON.stringify(row.metadata) !== JSON.stringify(metadata) || !row.firstParty || row.secretHash) {
      await row.update({ metadata, firstParty: true, secretHash: null }, { transaction });
    }
    return true;
  });
  if (existed) return;
  try {
    await OidcClient.create({ clientId: CONSOLE_CLIENT_ID, metadata: consoleClientMetadata(publicUrl), secretHash: null, firstParty: true });
  } catch (err) {
    // Another process starting at the same moment made it: add this PUBLIC_URL's URIs to its row.
    if (!(err instanceof UniqueConstraintError)) throw err;
    await ensureConsoleClient(deps, publicUrl);
  }
}
