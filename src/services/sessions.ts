import { randomUUID } from 'node:crypto';
import type { Store, StoreWrite } from '../store/store.ts';
import type { RequestContext } from './request-context.ts';

export type SessionKind = 'password' | 'oidc';

/** Why a session ended (CONTRACT §3): what every place that ends one passes, and what the list shows. */
export const END_REASONS = ['logout', 'logout_all', 'revoked', 'password_change', 'password_reset', 'admin', 'refresh_reuse', 'expired'] as const;
export type EndReason = (typeof END_REASONS)[number];

/** One login, password or OIDC alike (CONTRACT §5). Times are ISO-8601 strings (the store holds JSON). */
export interface SessionRecord {
  session_id: string;
  user_id: string;
  kind: SessionKind;
  client_id: string | null;
  device_id: string | null;
  device_name: string | null;
  device_type: string;
  user_agent: string | null;
  ip_address: string | null;
  created_at: string;
  last_active_at: string;
  expires_at: string;
  /** How the login was proven (RFC 8176 names), e.g. `["pwd"]`. Absent on entries written before it was recorded. */
  amr?: string[];
  /** Set when the session was ended (soft end: the entry stays listable for the retention window). */
  ended_at?: string | null;
  end_reason?: EndReason | null;
  /** Whatever the OIDC side needs to find its SSO session and grants again. */
  oidc?: Record<string, unknown>;
}

export interface SessionListItem extends SessionRecord {
  amr: string[];
  is_current: boolean;
  is_active: boolean;
  ended_at: string | null;
  end_reason: EndReason | null;
}

/** A session as every door lists it (CONTRACT §3): exactly these fields, nothing internal. */
export type SessionView = Pick<
  SessionListItem,
  | 'session_id' | 'kind' | 'client_id' | 'device_id' | 'device_name' | 'device_type' | 'user_agent' | 'ip_address'
  | 'created_at' | 'last_active_at' | 'expires_at' | 'is_current' | 'is_active' | 'amr' | 'ended_at' | 'end_reason'
>;

export function toSessionView(item: SessionListItem): SessionView {
  return {
    session_id: item.session_id,
    kind: item.kind,
    client_id: item.client_id,
    device_id: item.device_id,
    device_name: item.device_name,
    device_type: item.device_type,
    user_agent: item.user_agent,
    ip_address: item.ip_address,
    created_at: item.created_at,
    last_active_at: item.last_active_at,
    expires_at: item.expires_at,
    is_current: item.is_current,
    is_active: item.is_active,
    amr: item.amr,
    ended_at: item.ended_at,
    end_reason: item.end_reason,
  };
}

export interface CreateSessionInput {
  userId: string;
  kind: SessionKind;
  clientId?: string | null;
  context: RequestContext;
  ttlSeconds?: number;
  /** Default `["pwd"]`. */
  amr?: readonly string[];
  oidc?: Record<string, unknown>;
}

export type SessionPatch = Partial<
  Pick<SessionRecord, 'client_id' | 'device_id' | 'device_name' | 'device_type' | 'user_agent' | 'ip_address' | 'amr' | 'oidc'>
>;

export interface RevocationEvent {
  reason: EndReason;
  /** True when the session goes as part of revokeAll. */
  all: boolean;
}

export type RevokeListener = (session: SessionRecord, event: RevocationEvent) => Promise<void>;
export type RevokeAllListener = (userId: string, event: { reason: EndReason; exceptSessionId?: string }) => Promise<void>;

export interface SessionServiceOptions {
  store: Store;
  /** Lifetime of a new session when create() is given none. */
  defaultTtlSeconds: number;
  /** How long an ended or expired session stays listable with include_expired (and stored). Default 7 days. */
  retentionSeconds?: number;
  /** last_active_at is written at most this often per session, so a busy client is not a write per request. */
  touchIntervalSeconds?: number;
  now?: () => number;
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const CAS_ATTEMPTS = 5;
const LIMITS = { device_id: 128, device_name: 255, device_type: 64, user_agent: 512, ip_address: 64, client_id: 255 };

/** Trims client-supplied text to a bounded, printable value (headers are attacker-controlled). */
function clean(value: string | undefined | null, max: number): string | null {
  if (value === undefined || value === null) return null;
  // eslint-disable-next-line no-control-regex
  const text = value.replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return text ? text.slice(0, max) : null;
}

export const sessionKey = (userId: string, sessionId: string): string => `sess:{u:${userId}}:${sessionId}`;
export const sessionIndexKey = (userId: string): string => `sessions:{u:${userId}}`;

/**
 * The one session store for password and OIDC logins. Every key of a user carries the hash tag
 * `{u:<id>}`, so a user's sessions and index share a Redis Cluster slot; the per-user index (with
 * per-member expiry) makes listing and "log out everywhere" O(sessions of that user), never a scan.
 * Ending a session is soft: the entry is marked (`ended_at`, `end_reason`) and kept for the retention
 * window, like an expired one, so `include_expired` can still show it; the store drops it after that.
 * An ended entry is never live again: its tokens fail at once.
 */
export function createSessionService(options: SessionServiceOptions) {
  const { store } = options;
  const now = options.now ?? Date.now;
  const retention = options.retentionSeconds ?? 7 * 24 * 3600;
  const touchIntervalMs = (options.touchIntervalSeconds ?? 60) * 1000;
  const revokeListeners: RevokeListener[] = [];
  const revokeAllListeners: RevokeAllListener[] = [];

  const isLive = (record: SessionRecord, at = now()): boolean => !record.ended_at && Date.parse(record.expires_at) > at;
  /** Kept until the retention window has passed since it ended, or since it expires. */
  const storeTtl = (record: SessionRecord): number =>
    Math.max(1, (Date.parse(record.ended_at ?? record.expires_at) - now()) / 1000 + retention);

  function listItem(record: SessionRecord, at: number, currentSessionId: string | undefined): SessionListItem {
    const live = isLive(record, at);
    const ended = record.ended_at ? { ended_at: record.ended_at, end_reason: record.end_reason ?? 'revoked' } : undefined;
    return {
      ...record,
      amr: record.amr ?? ['pwd'],
      is_current: record.session_id === currentSessionId,
      is_active: live,
      ended_at: live ? null : (ended?.ended_at ?? record.expires_at),
      end_reason: live ? null : (ended?.end_reason ?? 'expired'),
    };
  }

  /** Marks the session ended and keeps it for the retention window (one set, one index refresh). */
  async function markEnded(record: SessionRecord, reason: EndReason): Promise<void> {
    const ended: SessionRecord = { ...record, ended_at: new Date(now()).toISOString(), end_reason: reason };
    await write(ended);
  }
  const validIds = (userId: string, sessionId: string): boolean => SAFE_ID.test(userId) && SAFE_ID.test(sessionId);

  async function readAny(userId: string, sessionId: string): Promise<SessionRecord | undefined> {
    if (!validIds(userId, sessionId)) return undefined;
    return store.get<SessionRecord>(sessionKey(userId, sessionId));
  }

  async function write(record: SessionRecord): Promise<void> {
    const ttl = storeTtl(record);
    await store.set(sessionKey(record.user_id, record.session_id), record, ttl);
    await store.indexAdd(sessionIndexKey(record.user_id), record.session_id, ttl);
  }

  /** What write() does, as writes for a caller that batches them with its own. */
  function writesOf(record: SessionRecord): StoreWrite[] {
    const ttl = storeTtl(record);
    return [
      { op: 'set', key: sessionKey(record.user_id, record.session_id), value: record, ttlSeconds: ttl },
      { op: 'indexAdd', index: sessionIndexKey(record.user_id), member: record.session_id, ttlSeconds: ttl },
    ];
  }

  /** Read-modify-write with compare-and-set, so concurrent updates of one session never lose each other. */
  async function modify(
    userId: string,
    sessionId: string,
    change: (record: SessionRecord) => SessionRecord | undefined,
  ): Promise<SessionRecord | undefined> {
    for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt += 1) {
      const current = await readAny(userId, sessionId);
      if (!current || !isLive(current)) return undefined;
      const next = change(current);
      if (!next) return current;
      const ttl = storeTtl(next);
      if (await store.compareAndSet(sessionKey(userId, sessionId), current, next, ttl)) {
        if (next.expires_at !== current.expires_at) await store.indexAdd(sessionIndexKey(userId), sessionId, ttl);
        return next;
      }
    }
    return readAny(userId, sessionId);
  }

  async function notify(session: SessionRecord, event: RevocationEvent): Promise<void> {
    // Listeners first: if ending the OIDC side fails, the session stays and the caller may retry.
    for (const listener of revokeListeners) await listener(session, event);
  }

  function draft(input: CreateSessionInput): { record: SessionRecord; writes: StoreWrite[] } {
    const at = new Date(now());
    const ttl = input.ttlSeconds ?? options.defaultTtlSeconds;
    const { context } = input;
    const record: SessionRecord = {
      session_id: randomUUID(),
      user_id: input.userId,
      kind: input.kind,
      client_id: clean(input.clientId, LIMITS.client_id),
      device_id: clean(context.deviceId, LIMITS.device_id),
      device_name: clean(context.deviceName, LIMITS.device_name),
      device_type: clean(context.deviceType, LIMITS.device_type) ?? 'unknown',
      user_agent: clean(context.userAgent, LIMITS.user_agent),
      ip_address: clean(context.ip, LIMITS.ip_address),
      created_at: at.toISOString(),
      last_active_at: at.toISOString(),
      expires_at: new Date(at.getTime() + ttl * 1000).toISOString(),
      amr: [...(input.amr ?? ['pwd'])],
      ended_at: null,
      end_reason: null,
      ...(input.oidc ? { oidc: input.oidc } : {}),
    };
    return { record, writes: writesOf(record) };
  }

  return {
    async create(input: CreateSessionInput): Promise<SessionRecord> {
      const { record } = draft(input);
      await write(record);
      return record;
    },

    /**
     * A new session's record and the store writes that make it exist, not yet made: for a caller
     * that writes them in one round trip with writes of its own (a login's first refresh token).
     */
    draft,

    /** The session when it exists and has not expired; one store read. */
    async get(userId: string, sessionId: string): Promise<SessionRecord | undefined> {
      const record = await readAny(userId, sessionId);
      return record && isLive(record) ? record : undefined;
    },

    /** Records activity; written at most once per touch interval. */
    async touch(userId: string, sessionId: string, session?: SessionRecord): Promise<void> {
      const at = now();
      if (session && at - Date.parse(session.last_active_at) < touchIntervalMs) return;
      await modify(userId, sessionId, (record) =>
        at - Date.parse(record.last_active_at) < touchIntervalMs ? undefined : { ...record, last_active_at: new Date(at).toISOString() },
      );
    },

    /** Moves the expiry to `ttlSeconds` from now (a refresh keeps an active session alive). */
    async renew(userId: string, sessionId: string, ttlSeconds: number): Promise<SessionRecord | undefined> {
      const at = now();
      return modify(userId, sessionId, (record) => ({
        ...record,
        last_active_at: new Date(at).toISOString(),
        expires_at: new Date(at + ttlSeconds * 1000).toISOString(),
      }));
    },

    async update(userId: string, sessionId: string, patch: SessionPatch): Promise<SessionRecord | undefined> {
      return modify(userId, sessionId, (record) => ({ ...record, ...patch }));
    },

    /** The user's sessions, newest first; ended and expired ones only with includeExpired (within the retention window). */
    async list(userId: string, opts: { includeExpired?: boolean; currentSessionId?: string } = {}): Promise<SessionListItem[]> {
      if (!SAFE_ID.test(userId)) return [];
      const ids = await store.indexMembers(sessionIndexKey(userId));
      if (ids.length === 0) return [];
      const records = await store.getMany<SessionRecord>(ids.map((id) => sessionKey(userId, id)));
      const gone = ids.filter((_, i) => records[i] === undefined);
      if (gone.length) await store.indexRemove(sessionIndexKey(userId), ...gone);
      const at = now();
      return records
        .filter((record): record is SessionRecord => record !== undefined)
        .map((record) => listItem(record, at, opts.currentSessionId))
        .filter((item) => opts.includeExpired || item.is_active)
        .sort((a, b) => b.created_at.localeCompare(a.created_at));
    },

    /**
     * Ends one session (an expired one too: it is still the user's, and its OIDC side may linger).
     * False when there is none, or it has already ended.
     */
    async revoke(userId: string, sessionId: string, reason: EndReason): Promise<boolean> {
      const record = await readAny(userId, sessionId);
      if (!record || record.ended_at) return false;
      await notify(record, { reason, all: false });
      await markEnded(record, reason);
      return true;
    },

    /** Ends every session of the user but `exceptSessionId`; returns how many live sessions ended. */
    async revokeAll(userId: string, opts: { exceptSessionId?: string; reason: EndReason }): Promise<number> {
      if (!SAFE_ID.test(userId)) return 0;
      const { reason } = opts;
      const ids = (await store.indexMembers(sessionIndexKey(userId))).filter((id) => id !== opts.exceptSessionId);
      const records = ids.length ? await store.getMany<SessionRecord>(ids.map((id) => sessionKey(userId, id))) : [];
      const at = now();
      let live = 0;
      const ending = records.filter((record): record is SessionRecord => record !== undefined && !record.ended_at);
      for (const record of ending) {
        if (isLive(record, at)) live += 1;
        await notify(record, { reason, all: true });
      }
      for (const listener of revokeAllListeners) await listener(userId, { reason, exceptSessionId: opts.exceptSessionId });
      await store.writeMany(ending.flatMap((record) => writesOf({ ...record, ended_at: new Date(now()).toISOString(), end_reason: reason })));
      return live;
    },

    /** Deletes every entry of the user, ended or not, without ending anything: for a deleted user, after revokeAll. */
    async forget(userId: string): Promise<void> {
      if (!SAFE_ID.test(userId)) return;
      const ids = await store.indexMembers(sessionIndexKey(userId));
      if (ids.length === 0) return;
      await store.delete(...ids.map((id) => sessionKey(userId, id)));
      await store.indexRemove(sessionIndexKey(userId), ...ids);
    },

    /** Called for every session revoked (one by one, or within revokeAll). */
    onRevoke(listener: RevokeListener): void {
      revokeListeners.push(listener);
    },

    /** Called once per revokeAll, after the sessions' own listeners: for user-wide clean-up (every OIDC grant). */
    onRevokeAll(listener: RevokeAllListener): void {
      revokeAllListeners.push(listener);
    },
  };
}

export type SessionService = ReturnType<typeof createSessionService>;
