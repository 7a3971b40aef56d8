/**
 * oidc-provider, configured: the protocol is entirely its own; this file only says which features are
 * on, where accounts, clients, keys and storage come from, and how long things live (CONTRACT §4).
 */
import Provider, { errors, interactionPolicy } from 'oidc-provider';
import type { Configuration, JWKS, KoaContextWithOIDC, ResourceServer } from 'oidc-provider';
import type { Config } from '../config.ts';
import type { ResourceRegistry } from '../services/resources.ts';
import type { Logger } from '../logger.ts';
import type { I18n } from '../services/i18n.ts';
import type { OidcStorage } from './adapter.ts';
import { SCOPE_CLAIMS, SCOPES, type AccountLookup, createFindAccount } from './find-account.ts';
import { deviceFlowPages, logoutPages, renderErrorPage, type PageRenderer } from './pages.ts';
import { clientBasedCors, validateExtraClientMetadata, EXTRA_CLIENT_METADATA, isFirstParty, DYNAMIC_METADATA } from './client-metadata.ts';
import type { RegistrationPolicy } from './registration-policy.ts';
import { cimdFeatures } from './cimd-policy.ts';
import { resourceServerInfo } from './resource-server.ts';
import { keepOfflineAccess, loadFirstPartyGrant, OFFLINE_HOOK_PARAM } from './first-party.ts';
import { ACR_MFA, ACR_PWD } from '../services/mfa/mfa-login.ts';

export interface ProviderOptions {
  config: Pick<Config, 'issuer' | 'tokens' | 'oidc' | 'trustProxy'> & Partial<Pick<Config, 'agents'>>;
  jwks: JWKS;
  cookieKeys: string[];
  storage: OidcStorage;
  staticClients: NonNullable<Configuration['clients']>;
  /** OIDC_RESOURCES and the admin API's resources. */
  resources: Pick<ResourceRegistry, 'find'>;
  /** Dynamic client registration (CLIENT_REGISTRATION); off when absent. */
  registration?: Pick<RegistrationPolicy, 'features' | 'validate'>;
  /** Claims added while an access token is minted (token-exchange.ts: `act`, and the jti record of JWTs). */
  tokenClaims?: (token: object) => Promise<Record<string, unknown> | undefined>;
  accounts: AccountLookup;
  pages: PageRenderer;
  /** The provider's pages' languages. */
  i18n: I18n;
  logger: Logger;
  /** Lifetime of an SSO session (and of its entry in the shared session list). */
  sessionTtlSeconds: number;
}

/** Endpoint paths, relative to the mount: oidc-provider's defaults, listed once for the POST handling. */
export const ROUTES = { authorization: '/auth', end_session: '/session/end' } as const;

const ID_TOKEN_TTL = 3600;

/**
 * Registered resource indicators (OIDC_RESOURCES and the admin API's): each gets RFC 9068 JWT access
 * tokens with itself as the one audience and at most its own scopes.
 */
function resourceServers(config: ProviderOptions['config'], resources: ProviderOptions['resources']) {
  return async (_ctx: KoaContextWithOIDC, indicator: string): Promise<ResourceServer> => {
    const resource = await resources.find(indicator);
    if (!resource) throw new errors.InvalidTarget('the resource indicator is not registered');
    return resourceServerInfo(resource, config.tokens.accessTokenTtl);
  };
}

/** The default policy plus one login check: a session whose account is gone or inactive must sign in again. */
function interactionsPolicy() {
  const { Check, base } = interactionPolicy;
  const policy = base();
  // Step-up: a session proven by the password alone must present a second factor when the client asks for it.
  policy.get('login')?.checks.add(
    new Check('acr_mfa', 'a second factor is requested', 'login_required', (ctx) => {
      const requested = String(ctx.oidc.params?.acr_values ?? '').split(' ');
      if (!requested.includes(ACR_MFA) || !ctx.oidc.session?.accountId || ctx.oidc.result?.login) return Check.NO_NEED_TO_PROMPT;
      return ctx.oidc.acr === ACR_MFA ? Check.NO_NEED_TO_PROMPT : Check.REQUEST_PROMPT;
    }),
  );
  policy.get('login')?.checks.add(
    new Check('account_unavailable', 'the signed-in account is no longer available', 'login_required', (ctx) =>
      ctx.oidc.session?.accountId && !ctx.oidc.account ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
  // Dynamically registered clients are third-party: the user decides on every authorization (CONTRACT §11).
  policy.get('consent')?.checks.add(
    new Check('dynamic_client', 'a dynamically registered client needs the user to consent', 'consent_required', (ctx) =>
      ctx.oidc.client?.[DYNAMIC_METADATA] === true && !ctx.oidc.result?.consent ? Check.REQUEST_PROMPT : Check.NO_NEED_TO_PROMPT,
    ),
  );
  return policy;
}

export function buildConfiguration(options: ProviderOptions): Configuration {
  const { config, pages, i18n } = options;
  const { accessTokenTtl, refreshTokenTtl } = config.tokens;
  const sessionTtl = options.sessionTtlSeconds;
  const asymmetric = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

  return {
    adapter: options.storage.adapterFactory,
    clients: options.staticClients,
    findAccount: createFindAccount(options.accounts),
    jwks: options.jwks,
    // `acr` and `amr` (how the login was proven, CONTRACT §4) in every ID token, not only when requested.
    claims: { ...SCOPE_CLAIMS, openid: [...SCOPE_CLAIMS.openid, 'acr', 'amr'], acr: null, auth_time: null, sid: null, iss: null },
    acrValues: [ACR_PWD, ACR_MFA],
    scopes: SCOPES,
    // Relying parties expect the scope's claims in the ID token of the code flow too, not only at userinfo.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    // Secrets are stored hashed, so methods that use the secret as an HMAC key (client_secret_jwt) cannot work.
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    clientDefaults: {
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    enabledJWA: {
      clientAuthSigningAlgValues: [...asymmetric],
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
      introspectionSigningAlgValues: ['RS256', 'ES256'],
      authorizationSigningAlgValues: ['RS256', 'ES256'],
      requestObjectSigningAlgValues: [...asymmetric],
      dPoPSigningAlgValues: ['ES256', 'EdDSA', 'RS256', 'PS256'],
    },
    extraClientMetadata: {
      properties: [...EXTRA_CLIENT_METADATA],
      validator(ctx, key, value, metadata) {
        validateExtraClientMetadata(ctx, key, value, metadata);
        options.registration?.validate(ctx, key, metadata);
      },
    },
    clientBasedCORS: clientBasedCors,
    cookies: {
      keys: options.cookieKeys,
      names: { session: '_session', interaction: '_interaction', resume: '_interaction_resume' },
      long: { httpOnly: true, sameSite: 'lax', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // A public client may only introspect its own tokens; an authenticated one (a resource server) any.
        allowedPolicy: async (ctx, client, token) => !(client.clientAuthMethod === 'none' && token.clientId !== ctx.oidc.client?.clientId),
      },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      rpInitiatedLogout: { enabled: true, ...logoutPages(pages, i18n) },
      // backchannel_logout_uri / _session_required in client metadata and discovery; the delivery itself
      // is ours (backchannel-logout.ts: off the request path, retried, audited, our address policy).
      backchannelLogout: { enabled: true },
      resourceIndicators: {
        enabled: true,
        getResourceServerInfo: resourceServers(config, options.resources),
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => false,
      },
      deviceFlow: { enabled: true, ...deviceFlowPages(pages, i18n) },
      pushedAuthorizationRequests: { enabled: true },
      dPoP: { enabled: true },
      userinfo: { enabled: true },
      ...(options.registration?.features() ?? {}),
      ...(config.agents ? cimdFeatures(config.agents.metadataDocuments) : {}),
    },
    loadExistingGrant: loadFirstPartyGrant,
    // The `act` claim of exchanged tokens (token-exchange.ts); no other token gets extra claims.
    extraTokenClaims: async (_ctx, token) => options.tokenClaims?.(token),
    extraParams: { [OFFLINE_HOOK_PARAM]: keepOfflineAccess },
    interactions: {
      policy: interactionsPolicy(),
      url: async (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    issueRefreshToken: async (_ctx, client, source) => client.grantTypeAllowed('refresh_token') && source.scopes.has('offline_access'),
    // Public clients rotate on every use; confidential ones once most of the token's life has passed.
    rotateRefreshToken: (ctx) => {
      const { RefreshToken: refreshToken, Client: client } = ctx.oidc.entities;
      if (!refreshToken || !client) return false;
      return client.clientAuthMethod === 'none' || refreshToken.ttlPercentagePassed() >= 70;
    },
    ttl: {
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTtl,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTtl,
      AuthorizationCode: 60,
      DeviceCode: 600,
      BackchannelAuthenticationRequest: 600,
      IdToken: ID_TOKEN_TTL,
      Interaction: 3600,
      // A browser-held (public web) refresh token keeps the lifetime of the first one: rotation alone
      // never makes it live forever. Other clients get a fresh full lifetime.
      RefreshToken: (ctx, token, client) => {
        const rotated = ctx?.oidc?.entities.RotatedRefreshToken;
        if (rotated && client.applicationType === 'web' && client.clientAuthMethod === 'none' && !token.isSenderConstrained()) {
          return Math.max(1, rotated.remainingTTL);
        }
        return refreshTokenTtl;
      },
      // A grant lives as long as a refresh token: offline access lasts REFRESH_TOKEN_TTL from the consent.
      Grant: refreshTokenTtl,
      // An SSO session lasts sessionTtl from the last sign-in, however often it is used in between.
      Session: (ctx, session) => {
        if (ctx?.oidc?.result?.login || !session.exp) return sessionTtl;
        return Math.max(1, session.exp - Math.floor(Date.now() / 1000));
      },
    },
    renderError: renderErrorPage(pages, i18n),
    discovery: { claim_types_supported: ['normal'] },
  };
}

/** The longest lifetime of any access token the provider can issue (a grant's revocation must outlast it). */
export function maxAccessTokenTtl(config: Pick<Config, 'tokens' | 'oidc'> & Partial<Pick<Config, 'compatProfiles'>>): number {
  const resourceTtls = Object.values(config.oidc.resources).map((resource) => resource.accessTokenTTL ?? 0);
  // Legacy mounts signing with the key set (auth-service: 24 h by default). Refresh JWTs are only ever
  // looked up by their hash, never verified, so they need no published key.
  const mountTtls = (config.compatProfiles ?? []).filter((mount) => mount.token.signing === 'jwks').map((mount) => mount.accessTokenTtl);
  return Math.max(config.tokens.accessTokenTtl, ID_TOKEN_TTL, ...resourceTtls, ...mountTtls);
}

export function createProvider(options: ProviderOptions): Provider {
  const provider = new Provider(options.config.issuer, buildConfiguration(options));
  // src/http/middleware/public-origin.ts sets Host and the X-Forwarded-Host/-Proto headers to PUBLIC_URL's
  // origin on every request (and drops X-Forwarded-For unless TRUST_PROXY), so trusting them is safe.
  provider.proxy = options.config.trustProxy || options.config.issuer.startsWith('https:');
  return provider;
}

export { isFirstParty };
