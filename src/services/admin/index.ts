/**
 * The admin API's and console's services as one bundle: its shape only. The composition root
 * (src/dependencies.ts, buildAdminServices) constructs them over the shared services.
 */
import type { createAdminAuditService } from './audit.ts';
import type { createAdminUserService } from './users.ts';
import type { createAdminRoleService } from './roles.ts';
import type { createAdminOrganizationService } from './organizations.ts';
import type { createAdminClientService } from './clients.ts';
import type { createAdminResourceService } from './resources.ts';
import type { createAdminInitialAccessTokenService } from './initial-access-tokens.ts';
import type { createAdminMfaService } from './mfa.ts';
import type { createAdminGrantService } from './grants.ts';

export interface AdminServices {
  audit: ReturnType<typeof createAdminAuditService>;
  users: ReturnType<typeof createAdminUserService>;
  mfa: ReturnType<typeof createAdminMfaService>;
  grants: ReturnType<typeof createAdminGrantService>;
  roles: ReturnType<typeof createAdminRoleService>;
  organizations: ReturnType<typeof createAdminOrganizationService>;
  clients: ReturnType<typeof createAdminClientService>;
  resources: ReturnType<typeof createAdminResourceService>;
  initialAccessTokens: ReturnType<typeof createAdminInitialAccessTokenService>;
}
