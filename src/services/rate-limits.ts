/**
 * Brute-force protection for password checks (CONTRACT §6), for every door: the account service runs
 * each password check (logins at every door, the current password of a password change) through
 * `guard`, so the legacy profiles, the interaction login page and anything added later share the limits.
 *
 * Three limits, kept in the store (Redis through rate-limiter-flexible, shared by every process; the
 * in-process limiter in embedded mode):
 * - per account and client IP: 5 attempts that did not succeed in a row → blocked, first for a minute,
 *   then each new block twice as long, up to 15 minutes. The account is the one the identifier names,
 *   whichever of its username or e-mail is typed, so `bob` and `bob@example.com` share one budget; an
 *   identifier that names no account is counted as itself, the same way, so a 429 says nothing about
 *   existence;
 * - per account, from any IPs: 20 attempts that did not succeed in a row → the account is blocked the
 *   same way (60 s doubling up to 15 minutes), whoever tries; unknown identifiers alike;
 * - per client IP: 100 attempts a minute, whatever the identifier.
 * A success resets both failure counts (the account-wide one from anywhere); an attempt that failed
 * because a dependency was down (or the hash queue was full) does not count.
 *
 * An attempt is counted BEFORE the password is checked (consume first, clear on success): of N
 * concurrent attempts at most the allowed number reach the password hash. If the store cannot be
 * reached the check fails with 503: never an unlimited login.
 */
import { hash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedError, ServerBusyError, ServiceUnavailableError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import type { Metrics } from './metrics.ts';

export interface LoginLimits {
  /** Attempts in a row (per account and IP) that may fail before the pair is blocked. */
  maxConsecutiveFailures: number;
  /** Attempts in a row (per account, from any IPs) that may fail before the account is blocked. */
  accountMaxConsecutiveFailures: number;
  /** Failures older than this (with no block reached) are forgotten. */
  failureWindowSeconds: number;
  /** The first block; every further block doubles it... */
  baseBlockSeconds: number;
  /** ...up to this. */
  maxBlockSeconds: number;
  /** How long past blocks are remembered for the doubling. */
  blockMemorySeconds: number;
  /** Login attempts per client IP per window, any identifier. */
  ipAttempts: number;
  ipWindowSeconds: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = {
  maxConsecutiveFailures: 5,
  accountMaxConsecutiveFailures: 20,
  failureWindowSeconds: 3600,
  baseBlockSeconds: 60,
  maxBlockSeconds: 900,
  blockMemorySeconds: 24 * 3600,
  ipAttempts: 100,
  ipWindowSeconds: 60,
};

/** Which limit refused a request (the label of the rate-limit rejection metric). */
export type LoginLimitName = 'login_ip' | 'login_identifier' | 'login_account';

/** The part of a rate-limiter-flexible limiter used here; RateLimiterRedis and RateLimiterMemory both fit. */
export interface Limiter {
  consume(key: string, points?: number): Promise<RateLimiterRes>;
  penalty(key: string, points?: number): Promise<RateLimiterRes>;
  block(key: string, seconds: number): Promise<RateLimiterRes>;
  delete(key: string): Promise<boolean>;
  reward(key: string, points?: number): Promise<RateLimiterRes>;
  get(key: string): Promise<RateLimiterRes | null>;
}

export interface LoginRateLimiterOptions {
  /** Redis when `store.redis` is there (its key prefix already applies), else in-process. */
  store: Pick<Store, 'redis'>;
  limits?: Partial<LoginLimits>;
  metrics?: Pick<Metrics, 'rateLimitRejected'>;
  /**
   * Errors that mean the password was not checked: a dependency failed, or the hash queue was full
   * (default: ServiceUnavailableError, ServerBusyError). Such an attempt is not counted: users retrying
   * through a database outage must not lock themselves out.
   */
  isOutage?: (error: unknown) => boolean;
}

export interface LoginAttempt {
  /** The username or e-mail as typed; compared the way authenticate compares it. */
  identifier: string;
  /** The account the identifier names, if any: its counters are shared by all of its identifiers. */
  accountId?: string;
  ip?: string;
}

/**
 * The client address a limit is kept for. An IPv4 client on a dual-stack socket (`::ffff:1.2.3.4`)
 * counts as its IPv4 address; an IPv6 client by its /64, since one host usually holds a whole /64.
 */
export function clientKey(ip: string | undefined): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  if (isIPv4(ip)) return ip;
  if (!isIPv6(ip)) return 'unknown';
  const [address = ''] = ip.toLowerCase().split('%'); // without a zone index (fe80::1%eth0)
  const [head = '', tail] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  const prefix = [...left, ...zeros, ...right].slice(0, 4).map((group) => group.replace(/^0+(?=.)/, ''));
  return `${prefix.join(':')}::/64`;
}

/** Identifiers (and e-mail addresses) are kept only as a digest: bounded keys, and no addresses in the store. */
export function identifierKey(identifier: string): string {
  return hash('sha256', identifier.trim().toLowerCase(), 'base64url');
}

/** A rate-limiter-flexible limiter on Redis when the store has it, else in this process. */
export function storeLimiter(
  store: Pick<Store, 'redis'>,
  keyPrefix: string,
  points: number,
  duration: number,
  options: { outage?: 'refuse' | 'count-in-process' } = {},
): Limiter {
  if (store.redis) {
    // Not ready (Redis down or reconnecting) → the call fails at once, and the request with a 503; or, for a
    // route that needs only the database, the library's insurance limiter counts in this process meanwhile.
    const insuranceLimiter = options.outage === 'count-in-process' ? new RateLimiterMemory({ keyPrefix, points, duration }) : undefined;
    return new RateLimiterRedis({ storeClient: store.redis, keyPrefix, points, duration, rejectIfRedisNotReady: true, insuranceLimiter });
  }
  return new RateLimiterMemory({ keyPrefix, points, duration });
}

/** A store call; anything but a limiter's refusal means the store is unreachable (503). */
export async function reach<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (err) {
    if (err instanceof RateLimiterRes) throw err;
    throw new ServiceUnavailableError('store', err);
  }
}

interface FailureCounterOptions {
  store: Pick<Store, 'redis'>;
  keyPrefix: string;
  name: LoginLimitName;
  maxFailures: number;
  limits: LoginLimits;
  refuse: (name: LoginLimitName, seconds: number) => never;
}

/**
 * Consecutive failures of one key (an account and IP, or an account): the attempt that reaches the
 * limit blocks the key, base × 2^(blocks so far) seconds, up to the maximum.
 */
function failureCounter(options: FailureCounterOptions) {
  const { limits, name } = options;
  const failures = storeLimiter(options.store, options.keyPrefix, options.maxFailures, limits.failureWindowSeconds);
  // Counts the blocks a key has earned, to double the next one; never refuses anything itself.
  const blocks = storeLimiter(options.store, `${options.keyPrefix}:blocks`, Number.MAX_SAFE_INTEGER, limits.blockMemorySeconds);
  // Blocks being written in this process, by key: attempts refused meanwhile report their length.
  const blocking = new Map<string, Promise<number>>();

  function blockKey(key: string): Promise<number> {
    const writing = (async () => {
      const earned = (await reach(blocks.penalty(key))).consumedPoints;
      const seconds = Math.max(1, Math.ceil(Math.min(limits.baseBlockSeconds * 2 ** Math.max(0, earned - 1), limits.maxBlockSeconds)));
      await reach(failures.block(key, seconds));
      return seconds;
    })().finally(() => blocking.delete(key));
    blocking.set(key, writing);
    return writing;
  }

  /**
   * Seconds until a refused key may try again. A refusal that raced the attempt reaching the limit
   * still sees the failure window's expiry, not the block being written: wait for the block (in this
   * process) or read it back (another process wrote it); never more than the longest block.
   */
  async function blockRemaining(key: string, msBeforeNext: number): Promise<number> {
    const longest = limits.maxBlockSeconds;
    if (msBeforeNext <= longest * 1000) return msBeforeNext / 1000;
    // The attempt that reached the limit registers its block as soon as its count comes back; a
    // turn of the event loop later it has, if it runs in this process.
    if (!blocking.has(key)) await new Promise((resolve) => setImmediate(resolve));
    const local = await blocking.get(key)?.catch(() => undefined);
    if (local !== undefined) return local;
    const stored = await failures.get(key).catch(() => null);
    return stored && stored.msBeforeNext > 0 && stored.msBeforeNext <= longest * 1000 ? stored.msBeforeNext / 1000 : longest;
  }

  return {
    /**
     * Counts one attempt; refused (RateLimitedError) while the key is blocked. The last attempt allowed
     * blocks the key before its password is even checked, so concurrent attempts already meet the
     * block (a success lifts it again). True when this attempt set the block.
     */
    async count(key: string): Promise<boolean> {
      let counted: RateLimiterRes;
      try {
        counted = await reach(failures.consume(key));
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) throw err;
        options.refuse(name, await blockRemaining(key, err.msBeforeNext));
      }
      if (counted.remainingPoints === 0) {
        await blockKey(key);
        return true;
      }
      return false;
    },

    /** Takes back an attempt whose password was not checked; a block it set goes with it (a rare, lenient case). */
    async uncount(key: string, blocked: boolean): Promise<void> {
      const undo = blocked ? [failures.delete(key), blocks.reward(key)] : [failures.reward(key)];
      await Promise.all(undo).catch(() => undefined);
    },

    /** A success: the count and the block history start again. */
    clear(key: string): Promise<unknown> {
      return reach(Promise.all([failures.delete(key), blocks.delete(key)]));
    },
  };
}

export function createLoginRateLimiter(options: LoginRateLimiterOptions) {
  const limits: LoginLimits = { ...DEFAULT_LOGIN_LIMITS, ...options.limits };
  const isOutage = options.isOutage ?? ((error: unknown) => error instanceof ServiceUnavailableError || error instanceof ServerBusyError);
  const byIp = storeLimiter(options.store, 'rl:login:ip', limits.ipAttempts, limits.ipWindowSeconds);

  function refuse(name: LoginLimitName, seconds: number): never {
    options.metrics?.rateLimitRejected(name);
    throw new RateLimitedError(seconds);
  }

  const common = { store: options.store, limits, refuse };
  const pairs = failureCounter({ ...common, keyPrefix: 'rl:login:pair', name: 'login_identifier', maxFailures: limits.maxConsecutiveFailures });
  const accounts = failureCounter({ ...common, keyPrefix: 'rl:login:account', name: 'login_account', maxFailures: limits.accountMaxConsecutiveFailures });

  /** Counts one attempt of an IP; over the cap → RateLimitedError. */
  async function countForIp(ip: string): Promise<void> {
    try {
      await reach(byIp.consume(ip));
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      refuse('login_ip', err.msBeforeNext / 1000);
    }
  }

  return {
    limits,

    /**
     * Counts one attempt, then runs `verify` (the password check) if the limits allow it; a success
     * clears the failures and block history of the account (from this IP, and from anywhere). Refused →
     * RateLimitedError (429, Retry-After); store unreachable → ServiceUnavailableError (503).
     */
    async guard<T>(attempt: LoginAttempt, verify: () => Promise<T>): Promise<T> {
      const ip = clientKey(attempt.ip);
      // One subject per account, whichever identifier named it; an unknown identifier is its own subject.
      const subject = attempt.accountId ? `a:${attempt.accountId}` : `i:${identifierKey(attempt.identifier)}`;
      const pair = `${subject}:${ip}`;
      await countForIp(ip);
      const pairBlocked = await pairs.count(pair);
      let accountBlocked: boolean;
      try {
        accountBlocked = await accounts.count(subject);
      } catch (err) {
        // Refused for the account: no password was checked, so this IP's count takes it back.
        await pairs.uncount(pair, pairBlocked);
        throw err;
      }
      let result: T;
      try {
        result = await verify();
      } catch (err) {
        if (isOutage(err)) {
          await Promise.all([byIp.reward(ip).catch(() => undefined), pairs.uncount(pair, pairBlocked), accounts.uncount(subject, accountBlocked)]);
        }
        throw err;
      }
      await Promise.all([pairs.clear(pair), accounts.clear(subject)]);
      return result;
    },
  };
}

export type LoginRateLimiter = ReturnType<typeof createLoginRateLimiter>;
