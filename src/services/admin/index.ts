/** The admin API's and console's services, built once from the shared ones by the composition root (dependencies.ts). */
import type { Sequelize } from 'sequelize';
import type { JsonObject, Models } from '../../db/models/index.ts';
import type { AccountService } from '../accounts/accounts.ts';
import type { AuditService } from '../audit.ts';
import type { SessionService } from '../sessions.ts';
import { createAdminAuditService } from './audit.ts';
import { createAdminUserService } from './users.ts';
import { createAdminRoleService } from './roles.ts';
import { createAdminOrganizationService } from './organizations.ts';
import { createAdminClientService, type AdminClientServiceOptions } from './clients.ts';
import { createAdminResourceService, type AdminResourceServiceOptions } from './resources.ts';
import { createAdminInitialAccessTokenService, type AdminInitialAccessTokenOptions } from './initial-access-tokens.ts';
import { createAdminMfaService } from './mfa.ts';
import type { MfaService } from '../mfa/factors.ts';

export interface AdminServicesInput {
  models: Models;
  sequelize: Sequelize;
  accounts: AccountService;
  sessions: SessionService;
  audit: Pick<AuditService, 'record'>;
  /** ADMIN_ROLE: the role that grants the admin API and console. */
  adminRole: string;
  /** Second factors (CONTRACT §7 `/users/:id/mfa`). */
  mfa: Pick<MfaService, 'status' | 'removeAll'>;
  /** Client metadata validation by the provider (see admin/clients.ts). */
  validateClient: (metadata: JsonObject) => Promise<void>;
  fileClients?: AdminClientServiceOptions['fileClients'];
  protectedClientIds?: AdminClientServiceOptions['protectedClientIds'];
  resources: Pick<AdminResourceServiceOptions, 'registry' | 'maxAccessTokenTtl' | 'isConfidentialClient'>;
  initialAccessTokens: Pick<AdminInitialAccessTokenOptions, 'enabled' | 'mint'>;
}

export function createAdminServices(input: AdminServicesInput) {
  const { models, sequelize } = input;
  const audit = createAdminAuditService({ models, audit: input.audit });
  const users = createAdminUserService({ models, sequelize, accounts: input.accounts, sessions: input.sessions, adminAudit: audit, adminRole: input.adminRole });
  return {
    audit,
    users,
    mfa: createAdminMfaService({ mfa: input.mfa, requireUser: (id) => users.get(id) }),
    roles: createAdminRoleService({ models, adminAudit: audit, adminRole: input.adminRole }),
    organizations: createAdminOrganizationService({ models, sequelize, adminAudit: audit }),
    clients: createAdminClientService({
      models,
      adminAudit: audit,
      validate: input.validateClient,
      fileClients: input.fileClients,
      protectedClientIds: input.protectedClientIds,
    }),
    resources: createAdminResourceService({ models, adminAudit: audit, ...input.resources }),
    initialAccessTokens: createAdminInitialAccessTokenService({ adminAudit: audit, ...input.initialAccessTokens }),
  };
}

export type AdminServices = ReturnType<typeof createAdminServices>;
