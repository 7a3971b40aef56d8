/**
 * The admin door: the API at /admin/api and the console at /admin, over the admin services. Client
 * metadata is validated by oidc-provider itself, so the API accepts exactly what the provider will load.
 */
import type Router from '@koa/router';
import type { Dependencies } from '../../dependencies.ts';
import type { JsonObject } from '../../db/models/index.ts';
import { ValidationError } from '../../errors.ts';
import { loadClientsFile } from '../../oidc/clients.ts';
import { createJwksUriCheck } from '../../oidc/jwks-uri-policy.ts';
import { maxAccessTokenTtl } from '../../oidc/provider.ts';
import { createAdminServices } from '../../services/admin-services.ts';
import { CONSOLE_CLIENT_ID, ensureConsoleClient } from '../../services/admin-console-client.ts';
import { createAdminConsoleSessions } from '../../services/admin-console-sessions.ts';
import { firstMountLinks } from '../account-links.ts';
import { createAdminApiRouter } from './api.ts';
import { CLIENT_METADATA_KEYS } from './schemas.ts';
import { createConsolePages } from './console/pages.ts';
import { createSignIn } from './console/sign-in.ts';
import { createConsoleRouters } from './console/router.ts';

type AdminDependencies = Pick<
  Dependencies,
  'config' | 'logger' | 'models' | 'sequelize' | 'store' | 'keys' | 'accounts' | 'sessions' | 'tokens' | 'audit' | 'oidc' | 'resources' | 'errorTranslators' | 'mfa'
>;

/** Start-up work of the admin door: the console's own OIDC client, made or brought up to date. */
export async function prepareAdminDoor(deps: Pick<Dependencies, 'models' | 'sequelize' | 'config'>): Promise<void> {
  await ensureConsoleClient(deps, deps.config.publicUrl);
}

/** oidc-provider's InvalidClientMetadata / InvalidRedirectUri as a 422 on the member it names. */
export function clientMetadataError(err: unknown): ValidationError | undefined {
  const { error, error_description: description } = (err ?? {}) as { error?: unknown; error_description?: unknown };
  if (typeof error !== 'string' || !/^invalid_(client_metadata|redirect_uri)$/.test(error) || typeof description !== 'string') return undefined;
  // oidc-provider names an inline key set "client JSON Web Key Set", and says in error_detail which key is wrong.
  if (description.startsWith('client JSON Web Key Set')) {
    const detail = (err as { error_detail?: unknown }).error_detail;
    return new ValidationError([{ loc: ['body', 'jwks'], msg: typeof detail === 'string' ? `${description}: ${detail}` : description, type: 'value_error' }]);
  }
  const member = CLIENT_METADATA_KEYS.find((key) => description.startsWith(key));
  return new ValidationError([{ loc: member ? ['body', member] : ['body'], msg: description, type: 'value_error' }]);
}

export function createAdminRouters(deps: AdminDependencies): Router[] {
  const { provider } = deps.oidc;
  const checkJwksUri = createJwksUriCheck();
  const services = createAdminServices({
    models: deps.models,
    sequelize: deps.sequelize,
    accounts: deps.accounts,
    sessions: deps.sessions,
    audit: deps.audit,
    adminRole: deps.config.admin.role,
    mfa: deps.mfa,
    async validateClient(metadata: JsonObject) {
      try {
        await provider.Client.validate(metadata as Parameters<typeof provider.Client.validate>[0]);
        await checkJwksUri(metadata.jwks_uri);
      } catch (err) {
        throw clientMetadataError(err) ?? err;
      }
    },
    fileClients: deps.config.oidc.clientsFile ? (loadClientsFile(deps.config.oidc.clientsFile) as unknown as JsonObject[]) : [],
    protectedClientIds: [CONSOLE_CLIENT_ID],
    resources: {
      registry: deps.resources,
      maxAccessTokenTtl: maxAccessTokenTtl(deps.config),
      async isConfidentialClient(clientId: string) {
        const client = await provider.Client.find(clientId).catch(() => undefined);
        return client !== undefined && client.clientAuthMethod !== 'none';
      },
    },
    initialAccessTokens: {
      enabled: deps.oidc.registration.mode === 'token',
      mint: (expiresIn) => deps.oidc.registration.issueInitialAccessToken(provider, expiresIn),
    },
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
    links: firstMountLinks(deps.config),
    protectedClientIds: [CONSOLE_CLIENT_ID],
    errorTranslators: deps.errorTranslators,
  });
  return [createAdminApiRouter({ services, auth: deps, adminRole: deps.config.admin.role }), ...consoleRouters];
}
