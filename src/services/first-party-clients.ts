/**
 * This provider's own front ends (the admin console at /admin, the account pages at /account) are
 * first-party OIDC clients of this very provider: public, PKCE, code flow, redirect URIs under PUBLIC_URL.
 * Each is made (or brought up to date) at every start, and the admin API will not change or delete it.
 * Processes sharing one database may run under different PUBLIC_URLs (an internal and a public name, a
 * blue/green switch): each start adds its own redirect URIs to those already registered instead of
 * replacing them, so one start never breaks another instance's sign-in.
 */
import { UniqueConstraintError, type Sequelize } from 'sequelize';
import type { JsonObject, Models } from '../db/models/index.ts';

export interface FirstPartyClient {
  clientId: string;
  clientName: string;
  /** Where the front end lives: its callback is `<basePath>/callback`, its post-logout page `<basePath>/signed-out`. */
  basePath: string;
  scope: string;
}

export const CONSOLE_CLIENT: FirstPartyClient = { clientId: 'admin-console', clientName: 'Admin console', basePath: '/admin', scope: 'openid profile email' };
export const ACCOUNT_CLIENT: FirstPartyClient = { clientId: 'account', clientName: 'Your account', basePath: '/account', scope: 'openid profile email' };
export const CONSOLE_CLIENT_ID = CONSOLE_CLIENT.clientId;
export const ACCOUNT_CLIENT_ID = ACCOUNT_CLIENT.clientId;
/** Clients the admin API must leave alone: removing one would lock people out of a front end. */
export const FIRST_PARTY_CLIENT_IDS: readonly string[] = [CONSOLE_CLIENT_ID, ACCOUNT_CLIENT_ID];

/** The URI lists each start extends with its own PUBLIC_URL's (never shrinks). */
const URI_LISTS = ['redirect_uris', 'post_logout_redirect_uris'] as const;

export function firstPartyClientMetadata(client: FirstPartyClient, publicUrl: string): JsonObject {
  return {
    client_name: client.clientName,
    application_type: 'web',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [`${publicUrl}${client.basePath}/callback`],
    post_logout_redirect_uris: [`${publicUrl}${client.basePath}/signed-out`],
    scope: client.scope,
  };
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

/** This start's metadata, with the URIs other PUBLIC_URLs registered kept (theirs first, in their order). */
function mergedMetadata(client: FirstPartyClient, stored: JsonObject, publicUrl: string): JsonObject {
  const metadata = firstPartyClientMetadata(client, publicUrl);
  for (const list of URI_LISTS) metadata[list] = [...new Set([...strings(stored[list]), ...strings(metadata[list])])];
  return metadata;
}

export async function ensureFirstPartyClient(
  deps: { models: Pick<Models, 'OidcClient'>; sequelize: Sequelize },
  client: FirstPartyClient,
  publicUrl: string,
): Promise<void> {
  const { OidcClient } = deps.models;
  // From the primary, under a row lock: two processes starting at once with different PUBLIC_URLs must
  // not each write their own list over the other's.
  const existed = await deps.sequelize.transaction(async (transaction) => {
    const row = await OidcClient.findByPk(client.clientId, { transaction, lock: transaction.LOCK.UPDATE, useMaster: true });
    if (!row) return false;
    const metadata = mergedMetadata(client, row.metadata, publicUrl);
    if (JSON.stringify(row.metadata) !== JSON.stringify(metadata) || !row.firstParty || row.secretHash) {
      await row.update({ metadata, firstParty: true, secretHash: null }, { transaction });
    }
    return true;
  });
  if (existed) return;
  try {
    await OidcClient.create({ clientId: client.clientId, metadata: firstPartyClientMetadata(client, publicUrl), secretHash: null, firstParty: true });
  } catch (err) {
    // Another process starting at the same moment made it: add this PUBLIC_URL's URIs to its row.
    if (!(err instanceof UniqueConstraintError)) throw err;
    await ensureFirstPartyClient(deps, client, publicUrl);
  }
}
