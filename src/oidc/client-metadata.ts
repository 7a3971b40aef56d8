/**
 * Our two additions to oidc-provider's client metadata:
 *  - `first_party` (boolean): our own applications; they never see the consent page unless the request
 *    says prompt=consent;
 *  - `web_origins` (array of origins): the browser origins allowed to call the token, userinfo,
 *    introspection and revocation endpoints (CORS). Without it, a public web client (a single-page app)
 *    may call from the origins of its redirect URIs; any other client from none.
 */
import { errors } from 'oidc-provider';
import type { Client, ClientMetadata, KoaContextWithOIDC } from 'oidc-provider';
import { TOKEN_EXCHANGE, TOKEN_EXCHANGE_METADATA } from './token-exchange.ts';

/** Set on clients made by dynamic registration (never by the registrant): they are third-party, always asked for consent. */
export const DYNAMIC_METADATA = 'dynamically_registered';

export const EXTRA_CLIENT_METADATA = ['first_party', 'web_origins', TOKEN_EXCHANGE_METADATA, DYNAMIC_METADATA] as const;

/** The routes on which client metadata comes from a registrant (RFC 7591 / 7592). */
const REGISTRANT_ROUTES = new Set(['registration', 'client_update']);

function originOf(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

export function validateExtraClientMetadata(ctx: KoaContextWithOIDC | undefined, key: string, value: unknown, metadata: ClientMetadata): void {
  const fromRegistrant = REGISTRANT_ROUTES.has(ctx?.oidc?.route ?? '');
  if (key === DYNAMIC_METADATA) {
    if (fromRegistrant) metadata[DYNAMIC_METADATA] = true;
    else if (value !== undefined && typeof value !== 'boolean') throw new errors.InvalidClientMetadata(`${DYNAMIC_METADATA} must be a boolean`);
    return;
  }
  if (fromRegistrant && (key === 'first_party' || key === TOKEN_EXCHANGE_METADATA) && value === true) {
    throw new errors.InvalidClientMetadata(`${key} cannot be registered dynamically`);
  }
  if (key === 'first_party') {
    if (value === undefined) metadata.first_party = false;
    else if (typeof value !== 'boolean') throw new errors.InvalidClientMetadata('first_party must be a boolean');
    return;
  }
  if (key === TOKEN_EXCHANGE_METADATA) {
    // The one switch for token exchange (CONTRACT §11): it alone puts the grant type in grant_types.
    if (value !== undefined && typeof value !== 'boolean') throw new errors.InvalidClientMetadata('token_exchange must be a boolean');
    const grants = (metadata.grant_types ?? []).filter((grant) => grant !== TOKEN_EXCHANGE);
    if (value === true) {
      if (metadata.token_endpoint_auth_method === 'none') throw new errors.InvalidClientMetadata('token_exchange requires a confidential client');
      grants.push(TOKEN_EXCHANGE);
    }
    metadata.grant_types = grants;
    return;
  }
  if (key === 'web_origins') {
    if (value === undefined) return;
    if (!Array.isArray(value)) throw new errors.InvalidClientMetadata('web_origins must be an array of origins');
    const origins = value.map((entry: unknown) => {
      const origin = typeof entry === 'string' ? originOf(entry) : undefined;
      // An origin is scheme://host[:port] and nothing else: a path would be a sign of a misunderstanding.
      if (!origin || origin !== String(entry).replace(/\/$/, '')) {
        throw new errors.InvalidClientMetadata('web_origins must contain origins such as https://app.example.com');
      }
      return origin;
    });
    metadata.web_origins = origins;
  }
}

export function isFirstParty(client: Client | undefined): boolean {
  return client?.['first_party'] === true;
}

/** The browser origins a client registered for CORS (see the header comment). */
export function webOriginsOf(client: Client): Set<string> {
  const registered = client['web_origins'];
  if (Array.isArray(registered)) return new Set(registered.filter((origin): origin is string => typeof origin === 'string'));
  if (client.clientAuthMethod === 'none' && client.applicationType !== 'native') {
    return new Set((client.redirectUris ?? []).map(originOf).filter((origin): origin is string => origin !== undefined));
  }
  return new Set();
}

export function clientBasedCors(_ctx: KoaContextWithOIDC, origin: string, client: Client): boolean {
  return origin !== 'null' && webOriginsOf(client).has(origin);
}
