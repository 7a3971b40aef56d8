/**
 * Mints OIDC tokens straight through a provider's own models (what its token endpoint would have saved
 * after a code flow), so the bench starts with pools of refresh and access tokens without driving
 * thousands of browser logins. Used for the product's provider and the bare baseline alike.
 */
import type Provider from 'oidc-provider';

export const BENCH_SCOPE = 'openid offline_access profile email';

export interface OidcPools {
  refresh: string[];
  access: string[];
}

export async function mintOidcTokens(
  provider: Provider,
  input: { accountIds: readonly string[]; clientId: string; perAccount?: number },
): Promise<OidcPools> {
  const found = await provider.Client.find(input.clientId);
  if (!found) throw new Error(`client ${input.clientId} is unknown to the provider`);
  const client = found;
  const authTime = Math.floor(Date.now() / 1000);
  const pools: OidcPools = { refresh: [], access: [] };
  const perAccount = input.perAccount ?? 1;
  // A few accounts at a time: enough to hide Redis round trips, few enough to stay polite.
  const queue = [...input.accountIds];
  async function worker(): Promise<void> {
    for (let accountId = queue.shift(); accountId !== undefined; accountId = queue.shift()) {
      const grant = new provider.Grant({ accountId, clientId: input.clientId });
      grant.addOIDCScope(BENCH_SCOPE);
      const grantId = await grant.save();
      for (let i = 0; i < perAccount; i += 1) {
        const common = { client, accountId, grantId, gty: 'authorization_code', scope: BENCH_SCOPE };
        pools.refresh.push(await new provider.RefreshToken({ ...common, authTime }).save());
        pools.access.push(await new provider.AccessToken({ ...common, scope: 'openid profile email' }).save());
      }
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker));
  return pools;
}
