/**
 * Two modules of oidc-provider that its public API does not re-export: the refresh_token grant handler
 * and the helpers the provider binds to every built-in grant. refresh-retry.ts wraps the handler (through
 * the public registerGrantType) instead of re-implementing it. Checked against oidc-provider 9.13.
 */
declare module 'oidc-provider/lib/actions/grants/refresh_token.js' {
  import type Provider from 'oidc-provider';
  import type { KoaContextWithOIDC } from 'oidc-provider';
  export const handler: (provider: Provider, helpers: Record<string, unknown>, ctx: KoaContextWithOIDC) => Promise<void>;
  export const parameters: Set<string>;
  export const grantType: 'refresh_token';
}

declare module 'oidc-provider/lib/helpers/grants.js' {
  const helpers: Record<string, (provider: unknown, ...args: unknown[]) => unknown>;
  export = helpers;
}
