/** Initial access tokens for dynamic client registration under CLIENT_REGISTRATION=token (CONTRACT §7, §11). */
import { ConflictError } from '../../errors.ts';
import type { AdminAuditService, AdminContext } from './audit.ts';

export const DEFAULT_INITIAL_ACCESS_TOKEN_TTL = 86_400;

export interface AdminInitialAccessTokenOptions {
  /** Whether CLIENT_REGISTRATION is `token` (the only mode that uses them). */
  enabled: boolean;
  /** Makes a one-time token in the provider's storage. */
  mint: (expiresIn: number) => Promise<{ value: string; expiresAt: Date }>;
  adminAudit: Pick<AdminAuditService, 'record'>;
}

export function createAdminInitialAccessTokenService(options: AdminInitialAccessTokenOptions) {
  return {
    async issue(expiresIn: number | undefined, ctx: AdminContext): Promise<{ initial_access_token: string; expires_at: Date }> {
      if (!options.enabled) throw new ConflictError('Initial access tokens are used only when CLIENT_REGISTRATION is token', 'REGISTRATION_NOT_TOKEN');
      const ttl = expiresIn ?? DEFAULT_INITIAL_ACCESS_TOKEN_TTL;
      const { value, expiresAt } = await options.mint(ttl);
      await options.adminAudit.record('initial_access_token_create', ctx, { detail: { expires_in: ttl } });
      return { initial_access_token: value, expires_at: expiresAt };
    },
  };
}

export type AdminInitialAccessTokenService = ReturnType<typeof createAdminInitialAccessTokenService>;
