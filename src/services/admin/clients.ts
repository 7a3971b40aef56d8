/**
 * OIDC clients as admins manage them (CONTRACT §4, §7). Rows of `oidc_clients` are read by the provider
 * on every use (src/oidc/clients.ts), so a change applies at once in every process. Secrets are made
 * here, shown once in the answer that created them, and stored only as their hash (services/client-secrets.ts).
 * Clients from OIDC_CLIENTS_FILE are listed read-only: the file is their source of truth.
 */
import { randomBytes } from 'node:crypto';
import { UniqueConstraintError } from 'sequelize';
import type { JsonObject, Models, OidcClient } from '../../db/models/index.ts';
import { ConflictError, NotFoundError } from '../../errors.ts';
import { generateClientSecret, hashClientSecret } from '../client-secrets.ts';
import type { AdminAuditService, AdminContext, Page } from './audit.ts';

export interface ClientView {
  client_id: string;
  source: 'admin' | 'dynamic' | 'file';
  first_party: boolean;
  has_secret: boolean;
  created_at: Date | null;
  updated_at: Date | null;
  [metadata: string]: unknown;
}

/** A client as created or changed: the secret is there only when one was just made. */
export interface ClientWithSecret extends ClientView {
  client_secret?: string;
}

export interface ClientInput {
  clientId?: string;
  firstParty?: boolean;
  /** oidc-provider client metadata (redirect_uris, grant_types, …), without client_id and secret. */
  metadata: JsonObject;
}

export interface ClientPatch {
  firstParty?: boolean;
  /** Replaces these members; a member set to null is removed (back to the provider's default). */
  metadata: JsonObject;
  /** Makes a new secret (shown once) and retires the old one. */
  rotateSecret?: boolean;
}

export interface AdminClientServiceOptions {
  models: Pick<Models, 'OidcClient'>;
  adminAudit: Pick<AdminAuditService, 'record'>;
  /** Full metadata validation, by the provider itself; throws a ValidationError (422) naming the problem. */
  validate: (metadata: JsonObject) => Promise<void>;
  /** Clients of OIDC_CLIENTS_FILE (read-only here). */
  fileClients?: readonly JsonObject[];
  /** Clients the server itself depends on (the admin console's): they cannot be changed or deleted here. */
  protectedClientIds?: readonly string[];
}

export class ClientNotFoundError extends NotFoundError {
  constructor() {
    super('Client not found', 'CLIENT_NOT_FOUND');
  }
}

// Authentication methods that use no shared secret; every other (the default included) needs one.
const SECRETLESS_METHODS = new Set(['none', 'private_key_jwt', 'tls_client_auth', 'self_signed_tls_client_auth']);
const OWN_MEMBERS = ['client_id', 'client_secret', 'first_party'];

export function needsSecret(metadata: JsonObject): boolean {
  const method = metadata.token_endpoint_auth_method;
  return typeof method !== 'string' || !SECRETLESS_METHODS.has(method);
}

function withoutOwnMembers(metadata: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(metadata).filter(([key, value]) => !OWN_MEMBERS.includes(key) && value !== null && value !== undefined));
}

export function createAdminClientService(options: AdminClientServiceOptions) {
  const { OidcClient } = options.models;
  const fileClients = new Map((options.fileClients ?? []).map((client) => [String(client.client_id), client]));
  const protectedIds = new Set(options.protectedClientIds ?? []);

  function fromRow(row: OidcClient): ClientView {
    return {
      client_id: row.clientId,
      source: row.source,
      first_party: row.firstParty,
      has_secret: Boolean(row.secretHash),
      created_at: row.createdAt,
      updated_at: row.updatedAt,
      ...withoutOwnMembers(row.metadata),
    };
  }

  function fromFile(client: JsonObject): ClientView {
    return {
      client_id: String(client.client_id),
      source: 'file',
      first_party: client.first_party === true,
      has_secret: typeof client.client_secret === 'string',
      created_at: null,
      updated_at: null,
      ...withoutOwnMembers(client),
    };
  }

  async function loadRow(clientId: string): Promise<OidcClient> {
    const row = clientId.length <= 255 ? await OidcClient.findByPk(clientId) : null;
    if (!row) throw new ClientNotFoundError();
    return row;
  }

  function assertManageable(clientId: string): void {
    if (fileClients.has(clientId)) throw new ConflictError('This client is defined in OIDC_CLIENTS_FILE; change it there', 'CLIENT_READ_ONLY');
    if (protectedIds.has(clientId)) throw new ConflictError('This client is used by the server itself and cannot be changed here', 'CLIENT_PROTECTED');
  }

  async function check(clientId: string, firstParty: boolean, metadata: JsonObject, secretHash: string | null): Promise<void> {
    await options.validate({ ...metadata, client_id: clientId, first_party: firstParty, ...(secretHash ? { client_secret: secretHash } : {}) });
  }

  return {
    /** Database clients by id, then the file's; few enough that one page is all of them. */
    async list(): Promise<Page<ClientView>> {
      const rows = await OidcClient.findAll({ order: [['clientId', 'ASC']] });
      const items = [...rows.map(fromRow), ...[...fileClients.values()].map(fromFile)];
      return { items, total: items.length };
    },

    async get(clientId: string): Promise<ClientView> {
      const file = fileClients.get(clientId);
      if (file) return fromFile(file);
      return fromRow(await loadRow(clientId));
    },

    async create(input: ClientInput, ctx: AdminContext): Promise<ClientWithSecret> {
      const clientId = input.clientId ?? randomBytes(16).toString('base64url');
      if (fileClients.has(clientId)) throw new ConflictError('Client already exists', 'CLIENT_EXISTS');
      const metadata = withoutOwnMembers(input.metadata);
      const firstParty = input.firstParty ?? false;
      const secret = needsSecret(metadata) ? generateClientSecret() : undefined;
      const secretHash = secret ? hashClientSecret(secret) : null;
      await check(clientId, firstParty, metadata, secretHash);
      let row: OidcClient;
      try {
        row = await OidcClient.create({ clientId, metadata, secretHash, firstParty });
      } catch (err) {
        if (err instanceof UniqueConstraintError) throw new ConflictError('Client already exists', 'CLIENT_EXISTS');
        throw err;
      }
      await options.adminAudit.record('client_create', ctx, { clientId, detail: { first_party: firstParty } });
      return { ...fromRow(row), ...(secret ? { client_secret: secret } : {}) };
    },

    /**
     * Changes metadata members. A client that now authenticates with a secret and has none, or that asks
     * for rotation, gets a new one (in this answer only); one that no longer uses a secret loses it.
     */
    async update(clientId: string, patch: ClientPatch, ctx: AdminContext): Promise<ClientWithSecret> {
      assertManageable(clientId);
      const row = await loadRow(clientId);
      const merged: JsonObject = { ...row.metadata };
      for (const [key, value] of Object.entries(patch.metadata)) {
        if (value === null) delete merged[key];
        else merged[key] = value;
      }
      const metadata = withoutOwnMembers(merged);
      const firstParty = patch.firstParty ?? row.firstParty;
      let secret: string | undefined;
      let secretHash = row.secretHash ?? null;
      if (!needsSecret(metadata)) secretHash = null;
      else if (!secretHash || patch.rotateSecret) {
        secret = generateClientSecret();
        secretHash = hashClientSecret(secret);
      }
      await check(clientId, firstParty, metadata, secretHash);
      await row.update({ metadata, firstParty, secretHash });
      await options.adminAudit.record('client_update', ctx, {
        clientId,
        detail: { fields: Object.keys(patch.metadata), ...(patch.firstParty !== undefined ? { first_party: firstParty } : {}), secret_rotated: Boolean(secret) },
      });
      return { ...fromRow(row), ...(secret ? { client_secret: secret } : {}) };
    },

    /** The provider stops knowing the client at once; its tokens fail on their next use. */
    async delete(clientId: string, ctx: AdminContext): Promise<void> {
      assertManageable(clientId);
      const row = await loadRow(clientId);
      await row.destroy();
      await options.adminAudit.record('client_delete', ctx, { clientId });
    },
  };
}

export type AdminClientService = ReturnType<typeof createAdminClientService>;
