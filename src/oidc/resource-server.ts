/** How a registered resource is described to oidc-provider: RFC 9068 JWT access tokens with itself as audience. */
import type { ResourceServer } from 'oidc-provider';
import type { ResourceDefinition } from '../services/resources.ts';

/** JWT access tokens (RFC 9068) are signed with RS256, which every resource server must support. */
export const JWT_ACCESS_TOKEN_ALG = 'RS256';

export function resourceServerInfo(resource: ResourceDefinition, defaultAccessTokenTtl: number): ResourceServer {
  return {
    scope: resource.scopes.join(' '),
    audience: resource.indicator,
    accessTokenTTL: resource.accessTokenTtl ?? defaultAccessTokenTtl,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: JWT_ACCESS_TOKEN_ALG } },
  };
}
