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
 *
 * Nothing stored gives a token, code or cookie away (CONTRACT §5): records live under a hash of their id
 * (storage-keys.ts), indexes and maps hold those hashes, and payloads are sealed under a key derived from
 * the id (sealed-payload.ts). Two models are found by something else than their id, so they cannot be
 * sealed with it: an SSO session (found by its uid) is stored without its id (`jti`, the cookie), which
 * `find` puts back and the lookups by uid (oidc-provider only reads the account and grants there) do not
 * need; a device code (found by the user code, then saved again) is stored as it is, for its 10 minutes.
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
  recordKey,
  refOf,
  sessionUidKey,
  tokenKey,
  userCodeKey,
} from './storage-keys.ts';
import { seal, unseal } from './sealed-payload.ts';

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

/** Models found by something else than their id (see the header comment): stored unsealed. */
const FOUND_BY_UID = 'Session';
const FOUND_BY_USER_CODE = 'DeviceCode';

/** The value stored for a record: sealed, or for the two exceptions as described above. */
function encode(model: string, id: string, payload: AdapterPayload): unknown {
  if (model === FOUND_BY_UID) {
    const { jti: _cookie, ...rest } = payload;
    return rest;
  }
  if (model === FOUND_BY_USER_CODE) return payload;
  return seal(model, id, payload);
}

/** The payload of a stored value; `id` undefined when found by uid or user code (then nothing is sealed). */
function decode(model: string, id: string | undefined, value: unknown): AdapterPayload | undefined {
  if (value === undefined || value === null) return undefined;
  if (model === FOUND_BY_UID) return id === undefined ? (value as AdapterPayload) : { ...(value as AdapterPayload), jti: id };
  if (model === FOUND_BY_USER_CODE) return value as AdapterPayload;
  return id === undefined ? undefined : unseal(model, id, value);
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
    const grant = decode('Grant', grantId, await store.get(tokenKey('Grant', grantId)));
    await store.set(accessTokenCutoffKey(grantId), epoch(), options.maxAccessTokenTtlSeconds + grace);
    const members = await store.indexMembers(grantIndexKey(grantId));
    const keys = members.map((member) => {
      const at = member.indexOf(':');
      return recordKey(member.slice(0, at), member.slice(at + 1));
    });
    await store.delete(tokenKey('Grant', grantId), grantIndexKey(grantId), ...keys);
    if (grant?.accountId) await store.indexRemove(accountGrantsKey(grant.accountId), grantId);
  }

  /** `ref`: the record's stored name (refOf its id); `id` when known (a session found by uid has none). */
  async function removeSecondaryIndexes(model: string, ref: string, payload: AdapterPayload, id?: string): Promise<void> {
    const work: Promise<unknown>[] = [];
    if (model === 'Session' && typeof payload.uid === 'string') {
      const key = sessionUidKey(payload.uid);
      // Only if it still points here: a re-identified session has already moved the uid on.
      work.push(store.get<string>(key).then((current) => (current === ref ? store.delete(key) : undefined)));
    }
    if (typeof payload.userCode === 'string') {
      const key = userCodeKey(payload.userCode);
      work.push(store.get<string>(key).then((current) => (current === ref ? store.delete(key) : undefined)));
    }
    if (GRANT_INDEXED.has(model) && payload.grantId) work.push(store.indexRemove(grantIndexKey(payload.grantId), grantMember(model, ref)));
    if (model === 'Grant' && payload.accountId && id !== undefined) work.push(store.indexRemove(accountGrantsKey(payload.accountId), id));
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
    const read = async (id: string): Promise<AdapterPayload | undefined> => decode(model, id, await store.get(key(id)));

    async function findAccessToken(id: string): Promise<AdapterPayload | undefined> {
      const payload = await read(id);
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
        const ref = refOf(id);
        const work: Promise<unknown>[] = [];
        if (GRANT_INDEXED.has(model) && payload.grantId && !payload.consumed) {
          work.push(store.indexAdd(grantIndexKey(payload.grantId), grantMember(model, ref), ttl));
        }
        // Grant ids are not credentials; the account's index keeps them so its grants can be revoked.
        if (model === 'Grant' && payload.accountId) work.push(store.indexAdd(accountGrantsKey(payload.accountId), id, ttl));
        if (model === 'Session' && typeof payload.uid === 'string') work.push(store.set(sessionUidKey(payload.uid), ref, ttl));
        if (typeof payload.userCode === 'string') work.push(store.set(userCodeKey(payload.userCode), ref, ttl));
        await Promise.all(work);
        await store.set(recordKey(model, ref), encode(model, id, payload), ttl);
      },

      async find(id: string): Promise<AdapterPayload | undefined> {
        if (model === 'Client') return clients.find(id);
        if (model === 'AccessToken') return findAccessToken(id);
        return read(id);
      },

      async findByUid(uid: string): Promise<AdapterPayload | undefined> {
        const ref = await store.get<string>(sessionUidKey(uid));
        return ref === undefined ? undefined : decode(model, undefined, await store.get(recordKey(model, ref)));
      },

      async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
        const ref = await store.get<string>(userCodeKey(userCode));
        return ref === undefined ? undefined : decode(model, undefined, await store.get(recordKey(model, ref)));
      },

      /**
       * Marks a code or token used, atomically: of two concurrent uses exactly one wins. The loser
       * is a replay, so it revokes the grant (as a sequential replay does) and fails the request.
       */
      async consume(id: string): Promise<void> {
        for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt += 1) {
          const stored = await store.get(key(id));
          const current = decode(model, id, stored);
          if (!current) return;
          if (current.consumed) {
            if (current.grantId) await revokeGrant(current.grantId);
            throw alreadyUsed(model);
          }
          const next: AdapterPayload = { ...current, consumed: epoch() };
          // Compared with the very value stored (a sealed value differs at every write).
          if (await store.compareAndSet(key(id), stored, encode(model, id, next), keepFor(current))) {
            if (GRANT_INDEXED.has(model) && current.grantId) {
              await store.indexRemove(grantIndexKey(current.grantId), grantMember(model, refOf(id)));
            }
            return;
          }
        }
        throw alreadyUsed(model);
      },

      async destroy(id: string): Promise<void> {
        if (model === 'Client' && clients.destroy) return clients.destroy(id);
        const payload = await read(id);
        await store.delete(key(id));
        if (payload) await removeSecondaryIndexes(model, refOf(id), payload, id);
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
        const keys = mine.map((member) => recordKey(model, member.slice(prefix.length)));
        // Device codes are stored unsealed (found by user code): their user-code maps go with them.
        const payloads = model === FOUND_BY_USER_CODE ? await store.getMany<AdapterPayload>(keys) : [];
        const userCodes = payloads.flatMap((payload) => (typeof payload?.userCode === 'string' ? [userCodeKey(payload.userCode)] : []));
        await store.delete(...keys, ...userCodes);
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
    /** The live members of a grant's index (`<model>:<ref>` of its codes and refresh tokens), for diagnostics and tests. */
    grantMembers(grantId: string): Promise<string[]> {
      return store.indexMembers(grantIndexKey(grantId));
    },
    /**
     * The SSO session with this uid (stable across re-logins, unlike its id), or undefined. `ref` is the
     * name it is stored under: the session's id (its cookie) is not stored anywhere.
     */
    async findSessionByUid(uid: string): Promise<{ ref: string; payload: AdapterPayload } | undefined> {
      const ref = await store.get<string>(sessionUidKey(uid));
      if (ref === undefined) return undefined;
      const payload = decode('Session', undefined, await store.get(recordKey('Session', ref)));
      return payload ? { ref, payload } : undefined;
    },
    /** Ends an SSO session: its record and uid mapping go; the browser's cookie then points at nothing. */
    async destroySession(ref: string, payload: AdapterPayload): Promise<void> {
      await store.delete(recordKey('Session', ref));
      await removeSecondaryIndexes('Session', ref, payload);
    },
  };
}

export type OidcStorage = ReturnType<typeof createOidcStorage>;
