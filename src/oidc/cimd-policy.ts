/**
 * Client ID metadata documents (CONTRACT §11) through oidc-provider's `clientIdMetadataDocument` feature,
 * with CLIENT_ID_METADATA_DOCUMENTS as the allow-list: `any`, or host suffixes (a document on
 * `agents.example.com` matches `example.com`). oidc-provider does the fetch: https only, no loopback,
 * private or link-local addresses (its SSRF-checked dispatcher), a 2.5 s timeout (within §11's 5 s),
 * 5 kB, the document's `client_id` equal to its URL, no shared-secret authentication; it caches the
 * document per its Cache-Control / Expires, here between 1 s and 24 h. We add: the client may only use
 * the code and refresh grants, and redirect URIs that are https or loopback.
 *
 * `loopback` in the list (refused in production by config.ts) lets tests serve documents over http on
 * 127.0.0.1, which oidc-provider's fetch never does: such ids are fetched here, under the same rules.
 */
import { errors } from 'oidc-provider';
import type { AdapterPayload, Client, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Config } from '../config.ts';
import type { ClientSource } from './adapter.ts';

type Settings = Config['agents']['metadataDocuments'];

const GRANTS = new Set(['authorization_code', 'refresh_token']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const SECRET_METHODS = new Set(['client_secret_basic', 'client_secret_post', 'client_secret_jwt']);
const MAX_CACHE_SECONDS = 86_400;
const FETCH_TIMEOUT_MS = 5000;
const MAX_BYTES = 5 * 1024;
const LOOPBACK_DOCUMENT = /^http:\/\/127\.0\.0\.1(:\d{1,5})?\/[^#\s]*$/;

export function hostAllowed(settings: Settings, host: string): boolean {
  if (settings.mode === 'any') return true;
  if (settings.mode !== 'list') return false;
  const name = host.toLowerCase();
  return settings.hostSuffixes.some((suffix) => name === suffix || name.endsWith(`.${suffix}`));
}

function isLoopbackRedirect(uri: string): boolean {
  try {
    const url = new URL(uri);
    return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
  } catch {
    return false;
  }
}

/** Why a document's client may not be used, or undefined. */
function refusal(grantTypes: readonly string[], redirectUris: readonly string[]): string | undefined {
  const extra = grantTypes.filter((grant) => !GRANTS.has(grant));
  if (extra.length) return `grant_types may only contain authorization_code and refresh_token, not ${extra.join(', ')}`;
  const bad = redirectUris.find((uri) => !uri.startsWith('https://') && !isLoopbackRedirect(uri));
  if (bad !== undefined) return 'redirect_uris must be https or loopback';
  return undefined;
}

export function cimdFeatures(settings: Settings): Pick<NonNullable<Configuration['features']>, 'clientIdMetadataDocument' | 'rpMetadataChoices'> {
  if (settings.mode === 'off') return { clientIdMetadataDocument: { enabled: false }, rpMetadataChoices: { enabled: true } };
  return {
    clientIdMetadataDocument: {
      enabled: true,
      // The draft version this policy was written and tested against (oidc-provider 9.13).
      ack: 'draft-02',
      async allowFetch(_ctx: KoaContextWithOIDC, clientId: string) {
        return hostAllowed(settings, new URL(clientId).hostname);
      },
      async allowClient(_ctx: KoaContextWithOIDC, client: Client) {
        return refusal(client.grantTypes ?? [], client.redirectUris ?? []) === undefined;
      },
      cacheDuration: { min: 1, max: MAX_CACHE_SECONDS },
    },
    // RP Metadata Choices: a document may list token_endpoint_auth_methods_supported (ChatGPT's does).
    rpMetadataChoices: { enabled: true },
  } as Pick<NonNullable<Configuration['features']>, 'clientIdMetadataDocument' | 'rpMetadataChoices'>;
}

/** What the consent page says about a client identified by its metadata document, or undefined for others. */
export function metadataDocumentFacts(client: Client | undefined): { host: string; loopbackOnly: boolean } | undefined {
  if (!client) return undefined;
  const isDocument = (client as unknown as { clientIdMetadataDocument?: boolean }).clientIdMetadataDocument === true || LOOPBACK_DOCUMENT.test(client.clientId);
  if (!isDocument) return undefined;
  const redirects = client.redirectUris ?? [];
  return { host: new URL(client.clientId).host, loopbackOnly: redirects.length > 0 && redirects.every(isLoopbackRedirect) };
}

function cacheSeconds(response: Response): number {
  const maxAge = /(?:^|,)\s*max-age\s*=\s*(\d+)/i.exec(response.headers.get('cache-control') ?? '');
  let seconds = maxAge ? Number(maxAge[1]) : undefined;
  const expires = response.headers.get('expires');
  if (seconds === undefined && expires && !Number.isNaN(Date.parse(expires))) seconds = Math.floor((Date.parse(expires) - Date.now()) / 1000);
  return Math.max(1, Math.min(MAX_CACHE_SECONDS, seconds ?? 1));
}

async function fetchLoopbackDocument(id: string): Promise<AdapterPayload & { maxAge: number }> {
  const failed = (why: string) => new errors.InvalidClient('client_id metadata document fetch failed', why);
  let response: Response;
  try {
    response = await fetch(id, { headers: { accept: 'application/json' }, redirect: 'manual', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch {
    throw failed('the document could not be fetched');
  }
  if (response.status !== 200) throw failed(`unexpected response status ${response.status}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += (chunk as Uint8Array).length;
    if (size > MAX_BYTES) throw failed('the document is larger than 5 kB');
    chunks.push(Buffer.from(chunk as Uint8Array));
  }
  let document: unknown;
  try {
    document = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw failed('the document is not JSON');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw new errors.InvalidClientMetadata('client_id metadata document is not a JSON object');
  const metadata = document as Record<string, unknown>;
  if (metadata.client_id !== id) throw new errors.InvalidClientMetadata('client_id metadata document client_id does not match the expected value');
  if (SECRET_METHODS.has(String(metadata.token_endpoint_auth_method)) || 'client_secret' in metadata) {
    throw new errors.InvalidClientMetadata('client_id metadata document must not use shared-secret client authentication');
  }
  const why = refusal(
    Array.isArray(metadata.grant_types) ? metadata.grant_types.map(String) : ['authorization_code'],
    Array.isArray(metadata.redirect_uris) ? metadata.redirect_uris.map(String) : [],
  );
  if (why) throw new errors.InvalidClient('client is not allowed', why);
  return { ...(metadata as AdapterPayload), maxAge: cacheSeconds(response) };
}

/** The client source, plus http documents on 127.0.0.1 when the settings say `loopback` (tests only). */
export function withLoopbackDocuments(source: ClientSource, settings: Settings, now: () => number = Date.now): ClientSource {
  if (!settings.loopback) return source;
  const cache = new Map<string, { metadata: AdapterPayload; until: number }>();
  return {
    ...source,
    async find(clientId: string) {
      if (!LOOPBACK_DOCUMENT.test(clientId)) return source.find(clientId);
      const cached = cache.get(clientId);
      if (cached && cached.until > now()) return cached.metadata;
      const { maxAge, ...metadata } = await fetchLoopbackDocument(clientId);
      cache.set(clientId, { metadata, until: now() + maxAge * 1000 });
      return metadata;
    },
  };
}
