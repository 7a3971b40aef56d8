/**
 * The admin door: the API at /admin/api and the console at /admin, over the admin services. Client
 * metadata is validated by oidc-provider itself, so the API accepts exactly what the provider will load.
 */
import type Router from '@koa/router';
import type { Dependencies } from '../../dependencies.ts';
import type { JsonObject } from '../../db/models/index.ts';
import { ValidationError } from '../../errors.ts';
import { loadClientsFile } from '../../oidc/clients.ts';
import { createAdminServices } from '../../services/admin-services.ts';
import { CONSOLE_CLIENT_ID, ensureConsoleClient } from '../../services/admin-console-client.ts';
import { createAdminConsoleSessions } from '../../services/admin-console-sessions.ts';
import type { AccountLinks } from '../../services/account-mail.ts';
import { createAdminApiRouter } from './api.ts';
import { CLIENT_METADATA_KEYS } from './schemas.ts';
import { createConsolePages } from './console/pages.ts';
import { createSignIn } from './console/sign-in.ts';
import { createConsoleRouters } from './console/router.ts';

type AdminDependencies = Pick<
  Dependencies,
  'config' | 'logger' | 'models' | 'sequelize' | 'store' | 'keys' | 'accounts' | 'sessions' | 'tokens' | 'audit' | 'oidc' | 'errorTranslators' | 'mfa'
>;

/** Start-up work of the admin door: the console's own OIDC client, made or brought up to date. */
export async function prepareAdminDoor(deps: Pick<Dependencies, 'models' | 'config'>): Promise<void> {
  await ensureConsoleClient(deps.models, deps.config.publicUrl);
}

/** Reset links point at the first legacy mount's reset page (there is no other); none without one. */
function accountLinks(config: Dependencies['config']): AccountLinks | undefined {
  const mount = config.compatProfiles[0];
  if (!mount) return undefined;
  const base = `${config.publicUrl}${mount.prefix}`;
  return {
    verifyEmail: (token) => `${base}/verify-email?token=${encodeURIComponent(token)}`,
    resetPassword: (token) => `${base}/reset-password?token=${encodeURIComponent(token)}`,
  };
}

/** oidc-provider's InvalidClientMetadata / InvalidRedirectUri as a 422 on the member it names. */
export function clientMetadataError(err: unknown): ValidationError | undefined {
  const { error, error_description: description } = (err ?? {}) as { error?: unknown; error_description?: unknown };
  if (typeof error !== 'string' || !/^invalid_(client_metadata|redirect_uri)$/.test(error) || typeof description !== 'string') return undefined;
  const member = CLIENT_METADATA_KEYS.find((key) => description.startsWith(key));
  return new ValidationError([{ loc: member ? ['body', member] : ['body'], msg: description, type: 'value_error' }]);
}

export function createAdminRouters(deps: AdminDependencies): Router[] {
  const { provider } = deps.oidc;
  const services = createAdminServices({
    models: deps.models,
    sequelize: deps.sequelize,
    accounts: deps.accounts,
    sessions: deps.sessions,
    audit: deps.audit,
    mfa: deps.mfa,
    async validateClient(metadata: JsonObject) {
      try {
        await provider.Client.validate(metadata as Parameters<typeof provider.Client.validate>[0]);
      } catch (err) {
        throw clientMetadataError(err) ?? err;
      }
    },
    fileClients: deps.config.oidc.clientsFile ? (loadClientsFile(deps.config.oidc.clientsFile) as unknown as JsonObject[]) : [],
    protectedClientIds: [CONSOLE_CLIENT_ID],
  });
  const pages = createConsolePages();
  const signIn = createSignIn({
    config: deps.config,
    provider,
    revokeGrant: (grantId) => deps.oidc.storage.revokeGrant(grantId),
    consoleSessions: createAdminConsoleSessions({ store: deps.store }),
    accounts: deps.accounts,
    keys: deps.keys,
    adminAudit: services.audit,
    pages,
    logger: deps.logger,
  });
  const consoleRouters = createConsoleRouters({
    services,
    pages,
    signIn,
    links: accountLinks(deps.config),
    protectedClientIds: [CONSOLE_CLIENT_ID],
    errorTranslators: deps.errorTranslators,
  });
  return [createAdminApiRouter({ services, auth: deps }), ...consoleRouters];
}
