/** Small tools the abuse, outage, race and security suites share. */
import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { servicesRequired } from './database.ts';
import { redisServerAvailable } from './redis.ts';
import { TEST_REDIS_URL } from './app.ts';
import { createRedisStore, type RedisStore } from '../../src/store/redis-store.ts';

/** Retries `operation` until it resolves or `timeoutMs` passes (then its last error). */
export async function eventually<T>(operation: () => Promise<T>, timeoutMs: number, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await operation();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** Skips the suite when a service is missing, or fails it under REQUIRE_SERVICES=1. */
export function missing(context: Mocha.Context, what: string): never {
  if (servicesRequired()) throw new Error(`${what} (REQUIRE_SERVICES=1 makes this a failure)`);
  context.skip();
}

export async function requireRedisServerBinary(context: Mocha.Context): Promise<void> {
  if (!(await redisServerAvailable())) missing(context, 'redis-server is not installed');
}

/** A store on the shared test Redis under a prefix of its own. */
export async function sharedRedisStore(context: Mocha.Context): Promise<RedisStore> {
  const store = createRedisStore({ url: TEST_REDIS_URL, keyPrefix: `test:sec:${randomBytes(6).toString('hex')}:` });
  try {
    await store.connect();
  } catch (err) {
    await store.close();
    missing(context, `Redis is not reachable at ${TEST_REDIS_URL}: ${(err as Error).message}`);
  }
  return store;
}

let ipCounter = 0;
/** A client address no other test uses (for X-Forwarded-For behind TRUST_PROXY). */
export function freshIp(): string {
  ipCounter += 1;
  const n = (process.pid % 200) * 65_536 + ipCounter;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

export interface Argon2Spy {
  readonly hashes: number;
  readonly verifies: number;
  reset(): void;
  restore(): void;
}

/**
 * Counts argon2 hash and verify calls made anywhere in this process (the password service calls the
 * module's functions at call time). Tests run one at a time, so the counts are the server's work.
 */
export function spyOnArgon2(): Argon2Spy {
  const original = { hash: argon2.hash, verify: argon2.verify };
  let hashes = 0;
  let verifies = 0;
  const target = argon2 as { hash: typeof argon2.hash; verify: typeof argon2.verify };
  target.hash = ((...args: Parameters<typeof argon2.hash>) => {
    hashes += 1;
    return original.hash(...args);
  }) as typeof argon2.hash;
  target.verify = (...args: Parameters<typeof argon2.verify>) => {
    verifies += 1;
    return original.verify(...args);
  };
  return {
    get hashes() {
      return hashes;
    },
    get verifies() {
      return verifies;
    },
    reset() {
      hashes = 0;
      verifies = 0;
    },
    restore() {
      target.hash = original.hash;
      target.verify = original.verify;
    },
  };
}

/** What a response must never show: a stack frame, a SQL statement or a driver's error. */
export const LEAK = /\bat [\w.<>]+ \(|\.ts:\d+|node_modules|Sequelize|SQLITE_|\bSELECT\b.*\bFROM\b|\bINSERT INTO\b|syntax error at|TypeError|ReferenceError|stack/i;
