/**
 * oidc-provider's persistence over the Store port (Redis or in-process): every model it stores, with
 * TTLs, atomic `consume`, `findByUid`, `findByUserCode` and `revokeByGrantId`.
 *
 * The per-grant index stays bounded: it holds only the grant's live, unconsumed codes and refresh
 * tokens (a member leaves when its token is consumed or destroyed, and expires with it), so a grant
 * refreshed all day keeps one member. Access tokens are not indexed at all: each refresh mints one,
 * and indexing them would grow the index by one per refresh for an access-token lifetime. They are
 * revoked by a per-grant cut-off instead (every access token of the grant issued up to that second)
 * and refused once their grant is gone, which `find` checks in the same round trip.
 */
import { errors } from 'oidc-provider';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { ServiceUnavailableError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import {
  accessTokenCutoffKey,
  accountGrantsKey,
  grantIndexKey,
  grantMember,
  sessionUidKey,
  tokenKey,
  userCodeKey,
} from './storage-keys.ts';

/** Models whose records belong to a grant and are deleted with it. */
const GRANT_INDEXED = new Set(['AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);
const CAS_ATTEMPTS = 5;
const DAY = 24 * 3600;

/**
 * The store is down. oidc-provider would show an exposed error's message as the protocol error code,
 * so the adapter hands it this unexposed 503 instead; the door turns it into temporarily_unavailable.
 */
export class StoreUnavailableError extends Error {
  readonly expose = false;
  readonly status = 503;
  readonly statusCode = 503;
  constructor(cause: unknown) {
    super('Service temporarily unavailable', { cause });
    this.name = 'StoreUnavailableError';
  }
}

function unexposed<T extends (...args: never[]) => Promise<unknown>>(operation: T): T {
  return (async (...args: Parameters<T>) => {
    try {
      return await operation(...args);
    } catch (err) {
      throw err instanceof ServiceUnavailableError ? new StoreUnavailableError(err) : err;
    }
  }) as T;
}

export interface ClientSource {
  /** Client metadata for oidc-provider (the secret as a hash), or undefined when there is no such client. */
  find(clientId: string): Promise<AdapterPayload | undefined>;
  /** Stores a client the provider made itself (dynamic registration, RFC 7591/7592). */
  upsert?(clientId: string, metadata: AdapterPayload): Promise<void>;
  destroy?(clientId: string): Promise<void>;
}

export interface OidcStorageOptions {
  store: Store;
  clients: ClientSource;
  /** The longest access-token lifetime: how long a grant's access-token cut-off must be kept. */
  maxAccessTokenTtlSeconds: number;
  /** Added to every stored TTL so an expired token is still found and reported as expired, not unknown. */
  graceSeconds?: number;
  now?: () => number;
}

/** Why a consume lost: an error the endpoint renders as a protocol error, never a 500. */
function alreadyUsed(model: string): Error {
  if (model === 'PushedAuthorizationRequest') return new errors.InvalidRequest('request_uri already used');
  return new errors.InvalidGrant('grant request is invalid or was already used');
}

export function createOidcStorage(options: OidcStorageOptions) {
  const { store, clients } = options;
  const now = options.now ?? Date.now;
  const grace = options.graceSeconds ?? 15;
  const epoch = (): number => Math.floor(now() / 1000);

  /** Seconds to keep a record: its own expiry when it has one, plus the grace. */
  function keepFor(payload: AdapterPayload, expiresIn?: number): number {
    if (typeof expiresIn === 'number' && expiresIn > 0) return expiresIn + grace;
    if (typeof payload.exp === 'number') return Math.max(1, payload.exp - epoch()) + grace;
    return DAY;
  }

  /**
   * Deletes a grant and everything minted from it: the grant record, its indexed codes and refresh
   * tokens (of every model), and, through the cut-off, its access tokens.
   */
  async function revokeGrant(grantId: string): Promise<void> {
    const grant = await store.get<AdapterPayload>(tokenKey('Grant', grantId));
    await store.set(accessTokenCutoffKey(grantId), epoch(), options.maxAccessTokenTtlSeconds + grace);
    const members = await store.indexMembers(grantIndexKey(grantId));
    const keys = members.map((member) => {
      const at = member.indexOf(':');
      return tokenKey(member.slice(0, at), member.slice(at + 1));
    });
    await store.delete(tokenKey('Grant', grantId), grantIndexKey(grantId), ...keys);
    if (grant?.accountId) await store.indexRemove(accountGrantsKey(grant.accountId), grantId);
  }

  async function removeSecondaryIndexes(model: string, id: string, payload: AdapterPayload): Promise<void> {
    const work: Promise<unknown>[] = [];
    if (model === 'Session' && typeof payload.uid === 'string') {
      const key = sessionUidKey(payload.uid);
      // Only if it still points here: a re-identified session has already moved the uid on.
      work.push(store.get<string>(key).then((current) => (current === id ? store.delete(key) : undefined)));
    }
    if (typeof payload.userCode === 'string') {
      const key = userCodeKey(payload.userCode);
      work.push(store.get<string>(key).then((current) => (current === id ? store.delete(key) : undefined)));
    }
    if (GRANT_INDEXED.has(model) && payload.grantId) work.push(store.indexRemove(grantIndexKey(payload.grantId), grantMember(model, id)));
    if (model === 'Grant' && payload.accountId) work.push(store.indexRemove(accountGrantsKey(payload.accountId), id));
    await Promise.all(work);
  }

  function adapterFor(model: string): Adapter {
    const adapter = rawAdapterFor(model);
    return {
      upsert: unexposed(adapter.upsert),
      find: unexposed(adapter.find),
      findByUid: unexposed(adapter.findByUid),
      findByUserCode: unexposed(adapter.findByUserCode),
      consume: unexposed(adapter.consume),
      destroy: unexposed(adapter.destroy),
      revokeByGrantId: unexposed(adapter.revokeByGrantId),
    };
  }

  function rawAdapterFor(model: string): Adapter {
    const key = (id: string): string => tokenKey(model, id);

    async function findAccessToken(id: string): Promise<AdapterPayload | undefined> {
      const payload = await store.get<AdapterPayload>(key(id));
      if (!payload?.grantId) return payload;
      const [grant, cutoff] = await store.getMany<unknown>([tokenKey('Grant', payload.grantId), accessTokenCutoffKey(payload.grantId)]);
      if (grant === undefined) return undefined;
      if (typeof cutoff === 'number' && (payload.iat ?? 0) <= cutoff) return undefined;
      return payload;
    }

    return {
      async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
        if (model === 'Client' && clients.upsert) return clients.upsert(id, payload);
        const ttl = keepFor(payload, expiresIn);
        // Indexes first: a crash in between leaves a dangling index member (harmless), never an unrevocable token.
        const work: Promise<unknown>[] = [];
        if (GRANT_INDEXED.has(model) && payload.grantId && !payload.consumed) {
          work.push(store.indexAdd(grantIndexKey(payload.grantId), grantMember(model, id), ttl));
        }
        if (model === 'Grant' && payload.accountId) work.push(store.indexAdd(accountGrantsKey(payload.accountId), id, ttl));
        if (model === 'Session' && typeof payload.uid === 'string') work.push(store.set(sessionUidKey(payload.uid), id, ttl));
        if (typeof payload.userCode === 'string') work.push(store.set(userCodeKey(payload.userCode), id, ttl));
        await Promise.all(work);
        await store.set(key(id), payload, ttl);
      },

      async find(id: string): Promise<AdapterPayload | undefined> {
        if (model === 'Client') return clients.find(id);
        if (model === 'AccessToken') return findAccessToken(id);
        return store.get<AdapterPayload>(key(id));
      },

      async findByUid(uid: string): Promise<AdapterPayload | undefined> {
        const id = await store.get<string>(sessionUidKey(uid));
        return id === undefined ? undefined : store.get<AdapterPayload>(key(id));
      },

      async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
        const id = await store.get<string>(userCodeKey(userCode));
        return id === undefined ? undefined : store.get<AdapterPayload>(key(id));
      },

      /**
       * Marks a code or token used, atomically: of two concurrent uses exactly one wins. The loser
       * is a replay, so it revokes the grant (as a sequential replay does) and fails the request.
       */
      async consume(id: string): Promise<void> {
        for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt += 1) {
          const current = await store.get<AdapterPayload>(key(id));
          if (!current) return;
          if (current.consumed) {
            if (current.grantId) await revokeGrant(current.grantId);
            throw alreadyUsed(model);
          }
          const next: AdapterPayload = { ...current, consumed: epoch() };
          if (await store.compareAndSet(key(id), current, next, keepFor(current))) {
            if (GRANT_INDEXED.has(model) && current.grantId) {
              await store.indexRemove(grantIndexKey(current.grantId), grantMember(model, id));
            }
            return;
          }
        }
        throw alreadyUsed(model);
      },

      async destroy(id: string): Promise<void> {
        if (model === 'Client' && clients.destroy) return clients.destroy(id);
        const payload = await store.get<AdapterPayload>(key(id));
        await store.delete(key(id));
        if (payload) await removeSecondaryIndexes(model, id, payload);
      },

      async revokeByGrantId(grantId: string): Promise<void> {
        if (model === 'AccessToken') {
          await store.set(accessTokenCutoffKey(grantId), epoch(), options.maxAccessTokenTtlSeconds + grace);
          return;
        }
        if (!GRANT_INDEXED.has(model)) return;
        const prefix = `${model}:`;
        const mine = (await store.indexMembers(grantIndexKey(grantId))).filter((member) => member.startsWith(prefix));
        if (mine.length === 0) return;
        const ids = mine.map((member) => member.slice(prefix.length));
        const payloads = model === 'DeviceCode' ? await store.getMany<AdapterPayload>(ids.map(key)) : [];
        const userCodes = payloads.flatMap((payload) => (typeof payload?.userCode === 'string' ? [userCodeKey(payload.userCode)] : []));
        await store.delete(...ids.map(key), ...userCodes);
        await store.indexRemove(grantIndexKey(grantId), ...mine);
      },
    };
  }

  return {
    /** The `adapter` option of oidc-provider: one adapter per model name. */
    adapterFactory: adapterFor,
    revokeGrant,
    /** The grants of an account that have not expired. */
    grantIdsOfAccount(accountId: string): Promise<string[]> {
      return store.indexMembers(accountGrantsKey(accountId));
    },
    /** The live members of a grant's index (codes and refresh tokens), for diagnostics and tests. */
    grantMembers(grantId: string): Promise<string[]> {
      return store.indexMembers(grantIndexKey(grantId));
    },
    /** The SSO session with this uid (stable across re-logins, unlike its id), or undefined. */
    async findSessionByUid(uid: string): Promise<{ id: string; payload: AdapterPayload } | undefined> {
      const id = await store.get<string>(sessionUidKey(uid));
      if (id === undefined) return undefined;
      const payload = await store.get<AdapterPayload>(tokenKey('Session', id));
      return payload ? { id, payload } : undefined;
    },
    /** Ends an SSO session: its record and uid mapping go; the browser's cookie then points at nothing. */
    async destroySession(id: string, payload: AdapterPayload): Promise<void> {
      await store.delete(tokenKey('Session', id));
      await removeSecondaryIndexes('Session', id, payload);
    },
  };
}

export type OidcStorage = ReturnType<typeof createOidcStorage>;
