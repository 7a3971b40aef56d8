/**
 * `loadExistingGrant`: the grant the provider checks the request against. For first-party clients we
 * grant what they ask for on the spot, so the consent prompt has nothing to ask, unless the request
 * itself says prompt=consent (then the user sees the page and decides).
 */
import type { Client, Grant, KoaContextWithOIDC } from 'oidc-provider';
import { isFirstParty } from './client-metadata.ts';

/**
 * The name under which `keepOfflineAccess` is registered as an extraParams validator. It is not a
 * parameter for clients: a value sent is dropped. The validator is simply oidc-provider's hook that runs
 * on every authorization request once the client is known and the parameters are processed.
 */
export const OFFLINE_HOOK_PARAM = 'first_party_offline_access';

/**
 * oidc-provider drops `offline_access` from a request without prompt=consent (OIDC Core §11: "unless
 * other conditions … permitting offline access … are in place"). A first-party client is such a
 * condition (CONTRACT §4): for it we put the scope back when the request asked for it.
 */
export async function keepOfflineAccess(ctx: KoaContextWithOIDC, _value: string | undefined, client: Client): Promise<void> {
  const params = ctx.oidc.params as Record<string, unknown>;
  params[OFFLINE_HOOK_PARAM] = undefined;
  if (ctx.oidc.route !== 'authorization' || !isFirstParty(client) || !client.grantTypeAllowed('refresh_token')) return;
  const requested = typeof ctx.query.scope === 'string' ? ctx.query.scope.split(' ') : [];
  const scopes = typeof params.scope === 'string' ? params.scope.split(' ').filter(Boolean) : [];
  if (requested.includes('offline_access') && !scopes.includes('offline_access')) params.scope = [...scopes, 'offline_access'].join(' ');
}

export async function loadFirstPartyGrant(ctx: KoaContextWithOIDC): Promise<Grant | undefined> {
  const { oidc } = ctx;
  const client = oidc.client;
  const accountId = oidc.session?.accountId;
  if (!client || !accountId) return undefined;
  const grantId = oidc.result?.consent?.grantId ?? oidc.session?.grantIdFor(client.clientId);
  const existing = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
  if (!isFirstParty(client) || oidc.prompts.has('consent')) return existing;

  const grant = existing ?? new oidc.provider.Grant({ accountId, clientId: client.clientId });
  const scopes = [...oidc.requestParamOIDCScopes];
  if (scopes.length) grant.addOIDCScope(scopes.join(' '));
  const claims = [...oidc.requestParamClaims];
  if (claims.length) grant.addOIDCClaims(claims);
  for (const [indicator, server] of Object.entries(oidc.resourceServers ?? {})) {
    const resourceScopes = [...oidc.requestParamScopes].filter((scope) => server.scopes.has(scope));
    if (resourceScopes.length) grant.addResourceScope(indicator, resourceScopes.join(' '));
  }
  await grant.save();
  return grant;
}
