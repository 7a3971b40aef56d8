/**
 * The login limits' counting on Redis (rate-limits.ts): one script call per attempt, where counting
 * through rate-limiter-flexible took two round trips (IP, then pair) and a third and fourth to set a
 * block. The script also sets the block atomically with the count that reaches it, so attempts racing
 * it always see the block's own expiry.
 *
 * The three keys of an attempt share the client address as their hash tag, so one script may touch
 * them all on Redis Cluster.
 */
import type { Cluster, Redis } from 'ioredis';
import type { LoginLimits } from './rate-limits.ts';

/** What counting one attempt decided. `refused` carries the milliseconds until the next allowed try. */
export type Counted =
  | { refused: 'login_ip' | 'login_identifier'; retryMs: number }
  | { refused?: undefined; blocked: boolean };

export interface LoginCounter {
  /** Counts an attempt of `ip` and of its identifier+IP pair, in that order; the pair only if the IP may try. */
  count(ip: string, pairId: string): Promise<Counted>;
  /** Takes an attempt back (it ended in an outage); `blocked`: it had set the pair's block. */
  uncount(ip: string, pairId: string, blocked: boolean): Promise<void>;
  /** A success: the pair's failures and block history are forgotten. */
  reset(ip: string, pairId: string): Promise<void>;
}

/**
 * KEYS[1] the IP's attempts, KEYS[2] the pair's attempts, KEYS[3] the blocks the pair has earned.
 * ARGV: IP attempts, IP window ms, failures allowed, failure window ms, base block ms, max block ms,
 * block memory ms. Returns {0} allowed, {3, block ms} allowed and the pair now blocked (the last
 * attempt allowed), {1, ms} refused by the IP limit, {2, ms} refused by the pair's limit.
 */
const COUNT_SCRIPT = `
local function count(key, windowMs)
  redis.call('SET', key, 0, 'PX', windowMs, 'NX')
  return redis.call('INCR', key), redis.call('PTTL', key)
end
local ip, ipTtl = count(KEYS[1], ARGV[2])
if ip > tonumber(ARGV[1]) then return {1, ipTtl} end
local failures, ttl = count(KEYS[2], ARGV[4])
local allowed = tonumber(ARGV[3])
if failures > allowed then return {2, ttl} end
if failures < allowed then return {0} end
redis.call('SET', KEYS[3], 0, 'PX', ARGV[7], 'NX')
local earned = redis.call('INCR', KEYS[3])
local blockMs = math.floor(math.min(tonumber(ARGV[5]) * 2 ^ (earned - 1), tonumber(ARGV[6])))
redis.call('PEXPIRE', KEYS[2], blockMs)
return {3, blockMs}
`;

/** Same keys; ARGV[1] '1' when the attempt had set the block (which then goes with the count). */
const UNCOUNT_SCRIPT = `
local function decrement(key)
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
decrement(KEYS[1])
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[2])
  decrement(KEYS[3])
else
  decrement(KEYS[2])
end
return 1
`;

interface Scripts {
  idpLoginCount(ipKey: string, pairKey: string, blocksKey: string, ...args: number[]): Promise<number[]>;
  idpLoginUncount(ipKey: string, pairKey: string, blocksKey: string, blocked: string): Promise<number>;
}

export function createRedisLoginCounter(redis: Redis | Cluster, limits: LoginLimits): LoginCounter {
  redis.defineCommand('idpLoginCount', { numberOfKeys: 3, lua: COUNT_SCRIPT });
  redis.defineCommand('idpLoginUncount', { numberOfKeys: 3, lua: UNCOUNT_SCRIPT });
  const scripts = redis as unknown as Scripts;
  const keys = (ip: string, pairId: string): [string, string, string] => [
    `rl:login:ip:{${ip}}`,
    `rl:login:fail:{${ip}}:${pairId}`,
    `rl:login:blocks:{${ip}}:${pairId}`,
  ];
  const ms = (seconds: number): number => Math.max(1, Math.ceil(seconds * 1000));
  const args = [
    limits.ipAttempts,
    ms(limits.ipWindowSeconds),
    limits.maxConsecutiveFailures,
    ms(limits.failureWindowSeconds),
    ms(limits.baseBlockSeconds),
    ms(limits.maxBlockSeconds),
    ms(limits.blockMemorySeconds),
  ];

  return {
    async count(ip, pairId) {
      const [verdict, retryMs = 0] = await scripts.idpLoginCount(...keys(ip, pairId), ...args);
      if (verdict === 1) return { refused: 'login_ip', retryMs };
      if (verdict === 2) return { refused: 'login_identifier', retryMs };
      return { blocked: verdict === 3 };
    },

    async uncount(ip, pairId, blocked) {
      await scripts.idpLoginUncount(...keys(ip, pairId), blocked ? '1' : '0');
    },

    async reset(ip, pairId) {
      const [, pair, blocks] = keys(ip, pairId);
      await redis.del(pair, blocks);
    },
  };
}
