/**
 * RFC 8707 resources as admins manage them (CONTRACT §7): rows of `resources`, besides OIDC_RESOURCES.
 * Every change is audited and applies at once in this process (the registry forgets its cache), within
 * RESOURCE_CACHE_MS in the others.
 */
import { UniqueConstraintError } from 'sequelize';
import type { Models, Resource } from '../../db/models/index.ts';
import { isUuid } from '../../db/uuid.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.ts';
import type { AdminAuditService, AdminContext, Page } from './audit.ts';
import { splitScope, type ResourceRegistry } from '../resources.ts';

export interface ResourceView {
  id: string;
  indicator: string;
  scope: string;
  access_token_ttl: number | null;
  server_client_id: string | null;
  created_at: Date;
}

export interface ResourceInput {
  indicator: string;
  scope: string;
  accessTokenTtl?: number | null;
  serverClientId?: string | null;
}

export class ResourceNotFoundError extends NotFoundError {
  constructor() {
    super('Resource not found', 'RESOURCE_NOT_FOUND');
  }
}

export interface AdminResourceServiceOptions {
  models: Pick<Models, 'Resource'>;
  registry: Pick<ResourceRegistry, 'isConfigured' | 'invalidate'>;
  adminAudit: Pick<AdminAuditService, 'record'>;
  /**
   * The longest access-token lifetime the server was started with: revocation cut-offs and signing-key
   * retention are sized by it, so a resource may not ask for longer.
   */
  maxAccessTokenTtl: number;
  /** Whether a client exists and authenticates itself (is confidential): a resource server must. */
  isConfidentialClient: (clientId: string) => Promise<boolean>;
}

function invalid(field: string, msg: string): ValidationError {
  return new ValidationError([{ loc: ['body', field], msg, type: 'value_error' }]);
}

/** RFC 8707 §2: an absolute URI without a fragment. */
function checkIndicator(indicator: string): void {
  let url: URL;
  try {
    url = new URL(indicator);
  } catch {
    throw invalid('indicator', 'indicator must be an absolute URI');
  }
  if (url.hash || indicator.includes('#')) throw invalid('indicator', 'indicator must not contain a fragment');
}

function toView(row: Resource): ResourceView {
  return {
    id: row.id,
    indicator: row.indicator,
    scope: row.scope,
    access_token_ttl: row.accessTokenTtl ?? null,
    server_client_id: row.serverClientId ?? null,
    created_at: row.createdAt,
  };
}

export function createAdminResourceService(options: AdminResourceServiceOptions) {
  const { Resource } = options.models;

  return {
    async list(): Promise<Page<ResourceView>> {
      const rows = await Resource.findAll({ order: [['indicator', 'ASC']] });
      return { items: rows.map(toView), total: rows.length };
    },

    async create(input: ResourceInput, ctx: AdminContext): Promise<ResourceView> {
      checkIndicator(input.indicator);
      const scopes = splitScope(input.scope);
      if (scopes.length === 0) throw invalid('scope', 'scope must name at least one scope');
      if (scopes.includes('openid') || scopes.includes('offline_access')) throw invalid('scope', 'openid and offline_access are not resource scopes');
      if (input.accessTokenTtl != null && input.accessTokenTtl > options.maxAccessTokenTtl) {
        throw invalid('access_token_ttl', `access_token_ttl must be at most ${options.maxAccessTokenTtl} seconds`);
      }
      if (input.serverClientId != null && !(await options.isConfidentialClient(input.serverClientId))) {
        throw invalid('server_client_id', 'server_client_id must name an existing confidential client');
      }
      if (options.registry.isConfigured(input.indicator)) throw new ConflictError('This resource is defined in OIDC_RESOURCES', 'RESOURCE_EXISTS');
      let row: Resource;
      try {
        row = await Resource.create({
          indicator: input.indicator,
          scope: scopes.join(' '),
          accessTokenTtl: input.accessTokenTtl ?? null,
          serverClientId: input.serverClientId ?? null,
        });
      } catch (err) {
        if (err instanceof UniqueConstraintError) throw new ConflictError('Resource already exists', 'RESOURCE_EXISTS');
        throw err;
      }
      options.registry.invalidate();
      await options.adminAudit.record('resource_create', ctx, {
        clientId: row.serverClientId ?? null,
        detail: { resource_id: row.id, indicator: row.indicator, scope: row.scope },
      });
      return toView(row);
    },

    /** Tokens already issued for the resource stay valid until they expire; new requests for it fail. */
    async delete(id: string, ctx: AdminContext): Promise<void> {
      const row = isUuid(id) ? await Resource.findByPk(id) : null;
      if (!row) throw new ResourceNotFoundError();
      await row.destroy();
      options.registry.invalidate();
      await options.adminAudit.record('resource_delete', ctx, { detail: { resource_id: row.id, indicator: row.indicator } });
    },
  };
}

export type AdminResourceService = ReturnType<typeof createAdminResourceService>;
