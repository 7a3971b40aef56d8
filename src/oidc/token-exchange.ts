/**
 * Token exchange (RFC 8693, CONTRACT §11) as a grant registered with oidc-provider: a resource server
 * trades the access token it received for one to call the next service.
 *
 *  - The caller is a confidential client an admin allowed (`token_exchange: true`), and it is the
 *    resource server of the subject token: the subject token's audience is a registered resource whose
 *    `server_client_id` is the caller. A token minted for someone else is `invalid_grant`.
 *  - The subject token is an active RFC 9068 access token of this provider: its signature, issuer, type
 *    and expiry check out and its grant still exists (a revoked grant, e.g. after a logout, is inactive).
 *    JWT access tokens are not stored, so each one's grant is remembered under its `jti` while it is minted
 *    (extraTokenClaims, awaited before the token is signed: a token is exchangeable as soon as it is out).
 *  - `resource` or `audience` names another registered resource (`invalid_target` otherwise).
 *  - Scopes never widen: the result carries the requested scopes, which must all be in the subject
 *    token and in the target resource (`invalid_scope` otherwise); with no `scope` it carries the
 *    subject token's scopes that the target defines, never the grant's or the target's whole set (the
 *    scope-escalation class of flaw published in other servers' token exchange: an omitted or wider
 *    `scope` filled from the grant, the client or the target).
 *  - An optional `actor_token` (an active access token of this provider) adds `act: {sub, client_id}`.
 * Every exchange, allowed or refused, is audited.
 */
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { errors } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { AccessToken, KoaContextWithOIDC } from 'oidc-provider';
import type { Store } from '../store/store.ts';
import type { AuditService } from '../services/audit.ts';
import type { ResourceDefinition, ResourceRegistry } from '../services/resources.ts';
import { resourceServerInfo } from './resource-server.ts';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const PARAMETERS = ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'resource', 'audience', 'scope', 'requested_token_type'];

/** Client metadata that allows a client to exchange tokens; see client-metadata.ts. */
export const TOKEN_EXCHANGE_METADATA = 'token_exchange';

const jtiKey = (jti: string): string => `oidc:jwt-at:${jti}`;

interface ActiveToken {
  sub: string;
  clientId: string;
  scopes: string[];
  audience?: string;
  grantId?: string;
}

/** The `act` claim of exchanged tokens, handed to extraTokenClaims (oidc-provider rebuilds `extra` on save). */
const actorClaims = new WeakMap<object, { sub: string; client_id: string }>();

export interface TokenExchangeOptions {
  store: Store;
  resources: Pick<ResourceRegistry, 'find'>;
  /** The published keys (what /jwks serves): the subject token's signature must verify against them. */
  publicJwks: JSONWebKeySet;
  defaultAccessTokenTtl: number;
  audit: Pick<AuditService, 'record'>;
}

function single(ctx: KoaContextWithOIDC, name: string): string | undefined {
  const value = (ctx.oidc.params as Record<string, unknown>)[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new errors.InvalidRequest(`${name} must be one non-empty value`);
  return value;
}

export function createTokenExchange(options: TokenExchangeOptions) {
  const { store, resources, audit } = options;
  const jwks = createLocalJWKSet(options.publicJwks);

  /**
   * `extraTokenClaims` of the provider configuration, run while any access token is minted: a JWT access
   * token's grant is remembered under its jti for as long as it lives, and an exchanged token gets `act`.
   */
  async function tokenClaims(token: object): Promise<Record<string, unknown> | undefined> {
    const accessToken = token as Partial<AccessToken> & { kind?: string };
    if (accessToken.kind === 'AccessToken' && accessToken.resourceServer && accessToken.jti && accessToken.grantId) {
      const now = Math.floor(Date.now() / 1000);
      const ttl = Math.max(1, typeof accessToken.exp === 'number' && accessToken.exp > now ? accessToken.exp - now : (accessToken.expiration ?? 1));
      await store.set(jtiKey(accessToken.jti), { grantId: accessToken.grantId }, ttl);
    }
    const act = actorClaims.get(token);
    return act ? { act } : undefined;
  }

  function register(provider: Provider): void {
    /** The facts of an active access token of this provider, or undefined. */
    async function inspect(value: string): Promise<ActiveToken | undefined> {
      if (value.split('.').length === 3) {
        let payload;
        try {
          ({ payload } = await jwtVerify(value, jwks, { issuer: provider.issuer, typ: 'at+jwt' }));
        } catch {
          return undefined;
        }
        if (typeof payload.sub !== 'string' || typeof payload.client_id !== 'string' || typeof payload.jti !== 'string') return undefined;
        const record = await store.get<{ grantId: string }>(jtiKey(payload.jti));
        if (!record || !(await provider.Grant.find(record.grantId))) return undefined;
        const audience = Array.isArray(payload.aud) ? (payload.aud.length === 1 ? payload.aud[0] : undefined) : payload.aud;
        return {
          sub: payload.sub,
          clientId: payload.client_id,
          scopes: typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [],
          audience,
          grantId: record.grantId,
        };
      }
      const opaque = (await provider.AccessToken.find(value)) ?? (await provider.ClientCredentials.find(value));
      if (!opaque || opaque.isExpired || !opaque.clientId) return undefined;
      const sub = 'accountId' in opaque && typeof opaque.accountId === 'string' ? opaque.accountId : opaque.clientId;
      return { sub, clientId: opaque.clientId, scopes: [...opaque.scopes], grantId: 'grantId' in opaque ? opaque.grantId : undefined };
    }

    async function target(ctx: KoaContextWithOIDC): Promise<ResourceDefinition> {
      const resource = single(ctx, 'resource');
      const audience = single(ctx, 'audience');
      if (resource && audience && resource !== audience) throw new errors.InvalidTarget('resource and audience name different resources');
      const indicator = resource ?? audience;
      if (!indicator) throw new errors.InvalidTarget('resource or audience must name a registered resource');
      const found = await resources.find(indicator);
      if (!found) throw new errors.InvalidTarget('the resource is not registered');
      return found;
    }

    async function exchange(ctx: KoaContextWithOIDC, facts: Record<string, unknown>): Promise<void> {
      const client = ctx.oidc.client;
      if (!client || client.clientAuthMethod === 'none' || client[TOKEN_EXCHANGE_METADATA] !== true) {
        throw new errors.UnauthorizedClient('this client may not exchange tokens');
      }
      const subjectValue = single(ctx, 'subject_token');
      if (!subjectValue) throw new errors.InvalidRequest('missing required parameter subject_token');
      const subjectType = single(ctx, 'subject_token_type');
      if (subjectType !== ACCESS_TOKEN_TYPE && subjectType !== JWT_TOKEN_TYPE) throw new errors.InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
      const requested = single(ctx, 'requested_token_type');
      if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);

      const subject = await inspect(subjectValue);
      if (!subject || !subject.audience || !subject.grantId) throw new errors.InvalidGrant('subject_token is not an active access token for a resource');
      facts.subject = subject.sub;
      facts.subject_resource = subject.audience;
      const own = await resources.find(subject.audience);
      if (!own || own.serverClientId !== client.clientId) throw new errors.InvalidGrant('subject_token was not issued for a resource this client runs');

      let actor: ActiveToken | undefined;
      const actorValue = single(ctx, 'actor_token');
      if (actorValue !== undefined) {
        const actorType = single(ctx, 'actor_token_type');
        if (actorType !== ACCESS_TOKEN_TYPE && actorType !== JWT_TOKEN_TYPE) throw new errors.InvalidRequest(`actor_token_type must be ${ACCESS_TOKEN_TYPE}`);
        actor = await inspect(actorValue);
        if (!actor) throw new errors.InvalidGrant('actor_token is not an active access token');
        facts.actor = actor.sub;
      } else if (single(ctx, 'actor_token_type') !== undefined) {
        throw new errors.InvalidRequest('actor_token_type without actor_token');
      }

      const destination = await target(ctx);
      facts.target_resource = destination.indicator;
      if (destination.indicator === subject.audience) throw new errors.InvalidTarget('the subject token is already for this resource');

      const scopeParam = single(ctx, 'scope');
      const allowed = subject.scopes.filter((scope) => destination.scopes.includes(scope));
      let scopes: string[];
      if (scopeParam !== undefined) {
        scopes = [...new Set(scopeParam.split(' ').filter(Boolean))];
        const beyond = scopes.filter((scope) => !allowed.includes(scope));
        if (beyond.length) throw new errors.InvalidScope('requested scopes exceed the subject token or the resource', beyond.join(' '));
      } else {
        scopes = allowed;
      }
      if (scopes.length === 0) throw new errors.InvalidScope('the subject token carries no scope of the resource', destination.scopes.join(' '));
      facts.scope = scopes.join(' ');

      const token = new provider.AccessToken({
        accountId: subject.sub,
        client,
        grantId: subject.grantId,
        gty: TOKEN_EXCHANGE,
        scope: scopes.join(' '),
      });
      token.resourceServer = new provider.ResourceServer(destination.indicator, resourceServerInfo(destination, options.defaultAccessTokenTtl));
      if (actor) actorClaims.set(token, { sub: actor.sub, client_id: actor.clientId });
      ctx.oidc.entity('AccessToken', token);
      const value = await token.save();
      ctx.body = {
        access_token: value,
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: 'Bearer',
        expires_in: token.expiration,
        scope: scopes.join(' '),
      };
    }

    async function handler(ctx: KoaContextWithOIDC): Promise<void> {
      const facts: Record<string, unknown> = {};
      const record = (outcome: 'success' | 'failure', extra: Record<string, unknown> = {}) =>
        void audit.record({
          type: 'token_exchange',
          outcome,
          userId: typeof facts.subject === 'string' && outcome === 'success' ? facts.subject : null,
          clientId: ctx.oidc.client?.clientId ?? null,
          ip: ctx.ip,
          userAgent: ctx.get('user-agent') || null,
          detail: { door: 'oidc', ...facts, ...extra },
        });
      try {
        await exchange(ctx, facts);
      } catch (err) {
        record('failure', { error: (err as { error?: string }).error ?? 'server_error' });
        throw err;
      }
      record('success');
    }

    provider.registerGrantType(TOKEN_EXCHANGE, handler, PARAMETERS);
  }

  return { tokenClaims, register };
}

export type TokenExchange = ReturnType<typeof createTokenExchange>;
