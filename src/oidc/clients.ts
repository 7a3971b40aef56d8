/**
 * Where OIDC clients come from: OIDC_CLIENTS_FILE (read once at start, a JSON array of oidc-provider
 * client metadata plus `first_party` and `web_origins`) and the oidc_clients table (the admin API's,
 * read on every use so a change applies at once in every process). Secrets reach the provider only as
 * hashes; client-auth.ts teaches it to compare against them.
 */
import { readFileSync } from 'node:fs';
import type { AdapterPayload, ClientMetadata } from 'oidc-provider';
import type { JsonObject, Models } from '../db/models/index.ts';
import { DYNAMIC_METADATA } from './client-metadata.ts';
import type { ClientSource } from './adapter.ts';
import { hashClientSecret, isClientSecretHash } from '../services/client-secrets.ts';

export class ClientsFileError extends Error {
  constructor(file: string, problem: string) {
    super(`OIDC_CLIENTS_FILE ${file}: ${problem}`);
    this.name = 'ClientsFileError';
  }
}

const CLIENT_ID = /^[\x21-\x7e]{1,255}$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A plain secret in the file becomes its hash; a value that already is a hash is kept. */
function withHashedSecret(metadata: Record<string, unknown>): Record<string, unknown> {
  const secret = metadata.client_secret;
  if (typeof secret !== 'string' || isClientSecretHash(secret)) return metadata;
  return { ...metadata, client_secret: hashClientSecret(secret) };
}

/** Reads and shape-checks the clients file; full metadata validation happens when the provider loads them. */
export function loadClientsFile(file: string): ClientMetadata[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ClientsFileError(file, (err as Error).message);
  }
  if (!Array.isArray(parsed)) throw new ClientsFileError(file, 'expected a JSON array of client metadata objects');
  const seen = new Set<string>();
  return parsed.map((entry, index) => {
    if (!isObject(entry)) throw new ClientsFileError(file, `entry ${index}: expected an object`);
    const clientId = entry.client_id;
    if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) throw new ClientsFileError(file, `entry ${index}: client_id must be a non-empty string`);
    if (seen.has(clientId)) throw new ClientsFileError(file, `entry ${index}: duplicate client_id ${clientId}`);
    seen.add(clientId);
    if (entry.first_party !== undefined && typeof entry.first_party !== 'boolean') {
      throw new ClientsFileError(file, `client ${clientId}: first_party must be true or false`);
    }
    return withHashedSecret(entry) as ClientMetadata;
  });
}

/** The oidc_clients table as a source for the provider's Client model. */
export function createDatabaseClientSource(models: Pick<Models, 'OidcClient'>): ClientSource {
  return {
    async find(clientId: string): Promise<AdapterPayload | undefined> {
      if (!CLIENT_ID.test(clientId)) return undefined;
      const row = await models.OidcClient.findByPk(clientId);
      if (!row) return undefined;
      const metadata: Record<string, unknown> = { ...(row.metadata as Record<string, unknown>) };
      delete metadata.client_secret;
      return {
        ...metadata,
        client_id: row.clientId,
        ...(row.secretHash ? { client_secret: row.secretHash } : {}),
        first_party: row.firstParty,
        [DYNAMIC_METADATA]: row.source === 'dynamic',
      } as AdapterPayload;
    },

    /**
     * A client registered (or updated, RFC 7592) through the registration endpoint: stored as `dynamic`,
     * its secret (if it has one) as a hash. Never touches an admin client: the endpoint makes fresh ids,
     * and updates need the registration access token of a dynamic client.
     */
    async upsert(clientId: string, payload: AdapterPayload): Promise<void> {
      const { client_secret: secret, ...rest } = payload as Record<string, unknown>;
      const metadata = { ...rest } as JsonObject;
      delete metadata.client_id;
      delete metadata.first_party;
      delete metadata[DYNAMIC_METADATA];
      const secretHash = typeof secret === 'string' ? (isClientSecretHash(secret) ? secret : hashClientSecret(secret)) : null;
      const row = await models.OidcClient.findByPk(clientId);
      if (row && row.source !== 'dynamic') throw new Error(`refusing to overwrite the ${row.source} client ${clientId}`);
      if (row) await row.update({ metadata, secretHash });
      else await models.OidcClient.create({ clientId, metadata, secretHash, firstParty: false, source: 'dynamic', lastUsedAt: new Date() });
    },

    async destroy(clientId: string): Promise<void> {
      await models.OidcClient.destroy({ where: { clientId, source: 'dynamic' } });
    },
  };
}
