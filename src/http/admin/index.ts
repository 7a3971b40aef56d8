/**
 * The admin door: the API at /admin/api and the console at /admin, over the admin services. Client
 * metadata is validated by oidc-provider itself, so the API accepts exactly what the provider will load.
 */
import type Router from '@koa/router';
import type { Provider } from 'oidc-provider';
import type { Dependencies } from '../../dependencies.ts';
import type { JsonObject } from '../../json.ts';
import { ValidationError } from '../../errors.ts';
import { createJwksUriCheck } from '../../oidc/jwks-uri-policy.ts';
import { CONSOLE_CLIENT, FIRST_PARTY_CLIENT_IDS, ensureFirstPartyClient } from '../../services/first-party-clients.ts';
import { firstMountLinks } from '../account-links.ts';
import { createAdminApiRouter } from './api.ts';
import { CLIENT_METADATA_KEYS } from './schemas.ts';
import { createConsolePages } from './console/pages.ts';
import { createSignIn } from './console/sign-in.ts';
import { createConsoleRouters } from './console/router.ts';

type AdminDependencies = Pick<
  Dependencies,
  'config' | 'logger' | 'keys' | 'accounts' | 'sessions' | 'tokens' | 'audit' | 'oidc' | 'errorTranslators' | 'admin' | 'adminConsoleSessions' | 'mfa'
>;

/** Start-up work of the admin door: the console's own OIDC client, made or brought up to date. */
export async function prepareAdminDoor(deps: Pick<Dependencies, 'models' | 'sequelize' | 'config'>): Promise<void> {
  await ensureFirstPartyClient(deps, CONSOLE_CLIENT, deps.config.publicUrl);
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

/** The admin client service's check of client metadata: oidc-provider's own validation, then the jwks_uri policy. */
export function createClientValidator(provider: Provider): (metadata: JsonObject) => Promise<void> {
  const checkJwksUri = createJwksUriCheck();
  return async (metadata) => {
    try {
      await provider.Client.validate(metadata as Parameters<typeof provider.Client.validate>[0]);
      await checkJwksUri(metadata.jwks_uri);
    } catch (err) {
      throw clientMetadataError(err) ?? err;
    }
  };
}

export function createAdminRouters(deps: AdminDependencies): Router[] {
  const { provider } = deps.oidc;
  const services = deps.admin;
  const pages = createConsolePages();
  const signIn = createSignIn({
    config: deps.config,
    provider,
    revokeGrant: (grantId) => deps.oidc.storage.revokeGrant(grantId),
    consoleSessions: deps.adminConsoleSessions,
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
    protectedClientIds: FIRST_PARTY_CLIENT_IDS,
    errorTranslators: deps.errorTranslators,
  });
  return [createAdminApiRouter({ services, auth: deps, adminRole: deps.config.admin.role }), ...consoleRouters];
}
