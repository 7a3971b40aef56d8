/**
 * Brute-force protection for password logins (CONTRACT §6), for every door: the composition root wraps
 * the account service's `authenticate` once (withLoginRateLimit), so the legacy profiles, the
 * interaction login page and anything added later are limited alike.
 *
 * Two limits, kept in the store (Redis through rate-limiter-flexible, shared by every process; the
 * in-process limiter in embedded mode):
 * - per login identifier and client IP: 5 attempts that did not succeed in a row → blocked, first for
 *   a minute, then each new block twice as long, up to 15 minutes; a success resets both counters,
 *   and an attempt that failed because a dependency was down does not count;
 * - per client IP: 100 login attempts a minute, whatever the identifier.
 * The identifier is counted whether or not an account has it, so a 429 says nothing about existence.
 *
 * An attempt is counted BEFORE the password is checked (consume first, clear on success): of N
 * concurrent attempts at most the allowed number reach the password hash. If the store cannot be
 * reached the login fails with 503: never an unlimited login.
 */
import { hash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { RateLimitedError, ServiceUnavailableError } from '../errors.ts';
import type { Store } from '../store/store.ts';
import type { AccountService } from './accounts.ts';
import type { Metrics } from './metrics.ts';

export interface LoginLimits {
  /** Attempts in a row (per identifier and IP) that may fail before the pair is blocked. */
  maxConsecutiveFailures: number;
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
  failureWindowSeconds: 3600,
  baseBlockSeconds: 60,
  maxBlockSeconds: 900,
  blockMemorySeconds: 24 * 3600,
  ipAttempts: 100,
  ipWindowSeconds: 60,
};

/** Which limit refused a request (the label of the rate-limit rejection metric). */
export type LoginLimitName = 'login_ip' | 'login_identifier';

/** The part of a rate-limiter-flexible limiter used here; RateLimiterRedis and RateLimiterMemory both fit. */
interface Limiter {
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
   * Errors that mean a dependency failed, not the password (default: ServiceUnavailableError). Such an
   * attempt is not counted: users retrying through a database outage must not lock themselves out.
   */
  isOutage?: (error: unknown) => boolean;
}

export interface LoginAttempt {
  /** The username or e-mail as typed; compared the way authenticate compares it. */
  identifier: string;
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

/** Identifiers are kept only as a digest: bounded keys, and no e-mail addresses in the store. */
function identifierKey(identifier: string): string {
  return hash('sha256', identifier.trim().toLowerCase(), 'base64url');
}

function limiter(store: Pick<Store, 'redis'>, keyPrefix: string, points: number, duration: number): Limiter {
  if (store.redis) {
    // Not ready (Redis down or reconnecting) → the call fails at once, and the login with a 503.
    return new RateLimiterRedis({ storeClient: store.redis, keyPrefix, points, duration, rejectIfRedisNotReady: true });
  }
  return new RateLimiterMemory({ keyPrefix, points, duration });
}

export function createLoginRateLimiter(options: LoginRateLimiterOptions) {
  const limits: LoginLimits = { ...DEFAULT_LOGIN_LIMITS, ...options.limits };
  const isOutage = options.isOutage ?? ((error: unknown) => error instanceof ServiceUnavailableError);
  const byIp = limiter(options.store, 'rl:login:ip', limits.ipAttempts, limits.ipWindowSeconds);
  const failures = limiter(options.store, 'rl:login:fail', limits.maxConsecutiveFailures, limits.failureWindowSeconds);
  // Counts the blocks a pair has earned, to double the next one; never refuses anything itself.
  const blocks = limiter(options.store, 'rl:login:blocks', Number.MAX_SAFE_INTEGER, limits.blockMemorySeconds);

  async function reach<T>(operation: Promise<T>): Promise<T> {
    try {
      return await operation;
    } catch (err) {
      if (err instanceof RateLimiterRes) throw err;
      throw new ServiceUnavailableError('store', err);
    }
  }

  function refuse(name: LoginLimitName, seconds: number): never {
    options.metrics?.rateLimitRejected(name);
    throw new RateLimitedError(seconds);
  }

  /** Counts one attempt of an IP; over the cap → RateLimitedError. */
  async function countForIp(ip: string): Promise<void> {
    try {
      await reach(byIp.consume(ip));
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      refuse('login_ip', err.msBeforeNext / 1000);
    }
  }

  /**
   * Counts one attempt of a pair; the last one allowed blocks the pair before its password is even
   * checked, so concurrent attempts already meet the block (a success lifts it again).
   */
  async function countForPair(pair: string): Promise<boolean> {
    let counted: RateLimiterRes;
    try {
      counted = await reach(failures.consume(pair));
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      refuse('login_identifier', await blockRemaining(pair, err.msBeforeNext));
    }
    if (counted.remainingPoints === 0) {
      await blockPair(pair);
      return true;
    }
    return false;
  }

  /** Takes back an attempt that ended in an outage; a block it set goes with the count (a rare, lenient case). */
  async function uncount(ip: string, pair: string, blocked: boolean): Promise<void> {
    const undo = blocked ? [failures.delete(pair), blocks.reward(pair)] : [failures.reward(pair)];
    await Promise.all([byIp.reward(ip), ...undo]).catch(() => undefined);
  }

  // Blocks being written in this process, by pair: attempts refused meanwhile report their length.
  const blocking = new Map<string, Promise<number>>();

  /** The block a pair gets for reaching the limit now: base × 2^(blocks so far), at most the maximum. */
  function blockPair(pair: string): Promise<number> {
    const writing = (async () => {
      const earned = (await reach(blocks.penalty(pair))).consumedPoints;
      const seconds = Math.max(1, Math.ceil(Math.min(limits.baseBlockSeconds * 2 ** Math.max(0, earned - 1), limits.maxBlockSeconds)));
      await reach(failures.block(pair, seconds));
      return seconds;
    })().finally(() => blocking.delete(pair));
    blocking.set(pair, writing);
    return writing;
  }

  /**
   * Seconds until a refused pair may try again. A refusal that raced the attempt reaching the limit
   * still sees the failure window's expiry, not the block being written: wait for the block (in this
   * process) or read it back (another process wrote it); never more than the longest block.
   */
  async function blockRemaining(pair: string, msBeforeNext: number): Promise<number> {
    const longest = limits.maxBlockSeconds;
    if (msBeforeNext <= longest * 1000) return msBeforeNext / 1000;
    // The attempt that reached the limit registers its block as soon as its count comes back; a
    // turn of the event loop later it has, if it runs in this process.
    if (!blocking.has(pair)) await new Promise((resolve) => setImmediate(resolve));
    const local = await blocking.get(pair)?.catch(() => undefined);
    if (local !== undefined) return local;
    const stored = await failures.get(pair).catch(() => null);
    return stored && stored.msBeforeNext > 0 && stored.msBeforeNext <= longest * 1000 ? stored.msBeforeNext / 1000 : longest;
  }

  return {
    limits,

    /**
     * Counts one attempt, then runs `verify` (the password check) if the limits allow it; a success
     * clears the pair's failures and block history. Refused → RateLimitedError (429, Retry-After);
     * store unreachable → ServiceUnavailableError (503).
     */
    async guard<T>(attempt: LoginAttempt, verify: () => Promise<T>): Promise<T> {
      const ip = clientKey(attempt.ip);
      const pair = `${identifierKey(attempt.identifier)}:${ip}`;
      await countForIp(ip);
      const blocked = await countForPair(pair);
      let result: T;
      try {
        result = await verify();
      } catch (err) {
        if (isOutage(err)) await uncount(ip, pair, blocked);
        throw err;
      }
      await reach(Promise.all([failures.delete(pair), blocks.delete(pair)]));
      return result;
    },
  };
}

export type LoginRateLimiter = ReturnType<typeof createLoginRateLimiter>;

/** The account service with every password check going through the login limits. */
export function withLoginRateLimit<A extends Pick<AccountService, 'authenticate'>>(accounts: A, limiter: LoginRateLimiter): A {
  return {
    ...accounts,
    authenticate: (login: string, password: string, ctx: Parameters<AccountService['authenticate']>[2]) =>
      limiter.guard({ identifier: login, ip: ctx.ip }, () => accounts.authenticate(login, password, ctx)),
  };
}
