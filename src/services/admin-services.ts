/** The admin API's and console's services, built once from the shared ones (see server.ts). */
import type { Sequelize } from 'sequelize';
import type { JsonObject, Models } from '../db/models/index.ts';
import type { AccountService } from './accounts.ts';
import type { AuditService } from './audit.ts';
import type { SessionService } from './sessions.ts';
import { createAdminAuditService } from './admin-audit.ts';
import { createAdminUserService } from './admin-users.ts';
import { createAdminRoleService } from './admin-roles.ts';
import { createAdminOrganizationService } from './admin-organizations.ts';
import { createAdminClientService, type AdminClientServiceOptions } from './admin-clients.ts';
import { createAdminMfaService } from './admin-mfa.ts';
import type { MfaService } from './mfa/factors.ts';

export interface AdminServicesInput {
  models: Models;
  sequelize: Sequelize;
  accounts: AccountService;
  sessions: SessionService;
  audit: Pick<AuditService, 'record'>;
  /** Second factors (CONTRACT §7 `/users/:id/mfa`). */
  mfa: Pick<MfaService, 'status' | 'removeAll'>;
  /** Client metadata validation by the provider (see admin-clients.ts). */
  validateClient: (metadata: JsonObject) => Promise<void>;
  fileClients?: AdminClientServiceOptions['fileClients'];
  protectedClientIds?: AdminClientServiceOptions['protectedClientIds'];
}

export function createAdminServices(input: AdminServicesInput) {
  const { models, sequelize } = input;
  const audit = createAdminAuditService({ models, audit: input.audit });
  const users = createAdminUserService({ models, sequelize, accounts: input.accounts, sessions: input.sessions, adminAudit: audit });
  return {
    audit,
    users,
    mfa: createAdminMfaService({ mfa: input.mfa, requireUser: (id) => users.get(id) }),
    roles: createAdminRoleService({ models, adminAudit: audit }),
    organizations: createAdminOrganizationService({ models, sequelize, adminAudit: audit }),
    clients: createAdminClientService({
      models,
      adminAudit: audit,
      validate: input.validateClient,
      fileClients: input.fileClients,
      protectedClientIds: input.protectedClientIds,
    }),
  };
}

export type AdminServices = ReturnType<typeof createAdminServices>;
