/**
 * Lua run atomically by Redis (EVALSHA via ioredis defineCommand). Each script touches one key, so it
 * is valid in a cluster. Expiry instants come from the server clock (TIME) so that several server
 * processes with skewed clocks agree on which index members are expired.
 */

const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/** KEYS[1] key; ARGV[1] expected JSON, ARGV[2] next JSON, ARGV[3] TTL ms. Returns 1 if replaced. */
export const CAS_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`;

/**
 * KEYS[1] index (sorted set, score = member expiry in epoch ms); ARGV[1] member, ARGV[2] TTL ms.
 * Prunes expired members first so the set stays bounded, then lets the key itself expire with its
 * longest-lived member.
 */
export const INDEX_ADD_SCRIPT = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', tonumber(last[2])))
return 1
`;

/** KEYS[1] index. The members whose expiry is still in the future. */
export const INDEX_MEMBERS_SCRIPT = `${NOW_MS}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. string.format('%.0f', now), '+inf')
`;
