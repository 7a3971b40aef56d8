/**
 * Client authentication at the token, introspection, revocation and other back-channel endpoints.
 *
 * Every client secret the provider holds is a hash (clients.ts), so client authentication compares the
 * presented secret against it. `compareClientSecret` is the one place oidc-provider compares secrets
 * (client_secret_basic and client_secret_post); HMAC-based methods are disabled in provider.ts.
 *
 * oidc-provider answers every failed client authentication with the same `invalid_client` ("client
 * authentication failed"), as it must; the reason is logged here for the operator (CONTRACT §4): a bad
 * secret, an expired assertion, clock skew, an unknown key, a key set that could not be fetched. Never the
 * secret or the assertion: only oidc-provider's fixed reason texts and the names of causes.
 */
import type { EventEmitter } from 'node:events';
import { decodeJwt } from 'jose';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from '../logger.ts';
import type { PasswordService } from '../services/passwords.ts';
import { verifyClientSecret } from '../services/client-secrets.ts';

interface ClientWithSecret {
  clientSecret?: string;
}

export function useHashedClientSecrets(provider: Provider, passwords?: Pick<PasswordService, 'verify'>): void {
  const prototype = provider.Client.prototype as unknown as { compareClientSecret(this: ClientWithSecret, actual: string): Promise<boolean> };
  prototype.compareClientSecret = function compareClientSecret(this: ClientWithSecret, actual: string): Promise<boolean> {
    return verifyClientSecret(actual, this.clientSecret, passwords);
  };
}

/** The endpoints that authenticate clients, by the name of their error event. */
const CLIENT_AUTH_EVENTS = [
  'grant.error',
  'introspection.error',
  'revocation.error',
  'pushed_authorization_request.error',
  'device_authorization.error',
  'backchannel_authentication.error',
] as const;

export type ClientAuthFailureReason =
  | 'unknown_client'
  | 'bad_secret'
  | 'secret_expired'
  | 'assertion_expired'
  | 'clock_skew'
  | 'unknown_key'
  | 'bad_signature'
  | 'assertion_replayed'
  | 'assertion_claims'
  | 'method_mismatch'
  | 'jwks_unavailable'
  | 'other';

interface ProviderErrorLike {
  error?: unknown;
  error_description?: unknown;
  error_detail?: unknown;
  cause?: unknown;
}

/** oidc-provider's fixed reason texts (error_detail or its cause's message) and what they mean. */
const REASONS: [RegExp, ClientAuthFailureReason][] = [
  [/^client not found$/, 'unknown_client'],
  [/^invalid secret provided$/, 'bad_secret'],
  [/client secret .*is expired/, 'secret_expired'],
  [/^jwt expired$/, 'assertion_expired'],
  [/^jwt (issued in the future|not active yet)$/, 'clock_skew'],
  [/no applicable key found|no matching key/i, 'unknown_key'],
  [/signature verification failed/i, 'bad_signature'],
  [/must only be used once/, 'assertion_replayed'],
  [/does not match the registered client authentication method/, 'method_mismatch'],
  [/client_assertion JWT|^alg mismatch$|audience|^invalid (nbf|iat|exp|jti|iss|aud|sub) value$/, 'assertion_claims'],
];

const JWKS_REFRESH_FAILED = 'client JSON Web Key Set failed to be refreshed';

function causesOf(err: unknown): Error[] {
  const found: Error[] = [];
  let current = (err as ProviderErrorLike | undefined)?.cause;
  while (current instanceof Error && found.length < 4) {
    found.push(current);
    current = (current as ProviderErrorLike).cause;
  }
  return found;
}

/**
 * Why a client authentication failed, or undefined when the error is not one (a bad grant, a bad
 * parameter). `detail` is one of oidc-provider's fixed texts, or for a key set that could not be
 * fetched the causes' messages (network errors, "hostname resolves to a special-use IP address").
 */
export function clientAuthFailure(err: unknown): { reason: ClientAuthFailureReason; detail?: string } | undefined {
  const { error, error_detail: detail } = (err ?? {}) as ProviderErrorLike;
  // The client's jwks_uri could not be fetched: the error itself (during metadata use) or the cause of invalid_client.
  const refresh = [err, ...causesOf(err)].find((candidate) => (candidate as ProviderErrorLike | undefined)?.error_description === JWKS_REFRESH_FAILED);
  if (refresh) return { reason: 'jwks_unavailable', detail: causesOf(refresh).map((cause) => cause.message).join(': ').slice(0, 300) };
  if (error !== 'invalid_client') return undefined;
  const texts = [typeof detail === 'string' ? detail : undefined, ...causesOf(err).map((cause) => cause.message)].filter((text): text is string => Boolean(text));
  for (const text of texts) {
    for (const [pattern, reason] of REASONS) if (pattern.test(text)) return { reason, detail: text.slice(0, 200) };
  }
  // An unrecognised text may quote the presented value (a JSON parse error does): only the cause's kind.
  return { reason: 'other', detail: causesOf(err)[0]?.name };
}

/** The client id a request presented (parameter, Basic user name or assertion subject), for the log line only. */
function presentedClientId(ctx: KoaContextWithOIDC): string | undefined {
  const params = ctx.oidc?.params ?? {};
  if (typeof params.client_id === 'string') return params.client_id;
  const basic = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(ctx.get('authorization'))?.[1];
  if (basic) {
    const decoded = Buffer.from(basic, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) {
      try {
        return decodeURIComponent(decoded.slice(0, colon));
      } catch {
        return undefined;
      }
    }
  }
  if (typeof params.client_assertion === 'string') {
    try {
      const { sub } = decodeJwt(params.client_assertion);
      return typeof sub === 'string' ? sub : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export function logClientAuthFailures(provider: Provider, logger: Logger): void {
  const log = logger.child({ component: 'oidc-client-auth' });
  // Each event has its own overload in oidc-provider's types; they all pass (ctx, err).
  const events = provider as unknown as EventEmitter;
  for (const event of CLIENT_AUTH_EVENTS) {
    events.on(event, (ctx: KoaContextWithOIDC, err: unknown) => {
      try {
        const failure = clientAuthFailure(err);
        if (!failure) return;
        const client = ctx.oidc?.client;
        const clientId = (client?.clientId ?? presentedClientId(ctx))?.slice(0, 255);
        log.warn(
          { client_id: clientId, auth_method: client?.clientAuthMethod, route: ctx.oidc?.route, reason: failure.reason, detail: failure.detail },
          'client authentication failed',
        );
      } catch {
        // Logging must never break the response (it is already decided).
      }
    });
  }
}
