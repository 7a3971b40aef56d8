import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';

export interface Argon2Params {
  memoryCost: number; // KiB
  timeCost: number;
  parallelism: number;
}

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export function isSupportedHash(hash: string): boolean {
  return BCRYPT.test(hash) || hash.startsWith('$argon2id$');
}

/**
 * At most `slots` hashes at a time, the others wait in order. Memory-hard hashes running side by side
 * on one core evict each other's memory from the CPU caches, so each takes more CPU than alone: with
 * one hash per core a login costs less (bench/README.md), and no request waits longer on average.
 */
function createHashSlots(slots: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async function inSlot<T>(task: () => Promise<T>): Promise<T> {
    if (running >= slots) await new Promise<void>((resolve) => waiting.push(resolve));
    else running += 1;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}

/**
 * Password hashing: argon2id for everything we hash; imported bcrypt hashes still verify and are
 * flagged for re-hashing. `verifyDummy` spends the same work on an unknown user as on a real one, so
 * timing does not tell whether an account exists.
 */
export function createPasswordService(params: Argon2Params) {
  const options = { type: argon2.argon2id as 2, ...params };
  let dummyHash: Promise<string> | undefined;
  // One per core this process may run on (taskset and cgroup cpusets count).
  const inSlot = createHashSlots(Math.max(1, availableParallelism()));

  async function hash(plain: string): Promise<string> {
    return inSlot(() => argon2.hash(plain, options));
  }

  async function verify(stored: string, plain: string): Promise<{ ok: boolean; needsRehash: boolean }> {
    if (BCRYPT.test(stored)) {
      // bcryptjs knows $2a$/$2b$; $2y$ (PHP) is the same algorithm under another name.
      const ok = await inSlot(() => bcrypt.compare(plain, stored.replace(/^\$2y\$/, '$2b$')));
      return { ok, needsRehash: ok };
    }
    if (!stored.startsWith('$argon2')) return { ok: false, needsRehash: false };
    try {
      const ok = await inSlot(() => argon2.verify(stored, plain));
      return { ok, needsRehash: ok && argon2.needsRehash(stored, options) };
    } catch {
      return { ok: false, needsRehash: false };
    }
  }

  async function verifyDummy(plain: string): Promise<void> {
    dummyHash ??= hash('dummy password that no account has');
    const dummy = await dummyHash;
    await inSlot(() => argon2.verify(dummy, plain)).catch(() => false);
  }

  return { hash, verify, verifyDummy };
}

export type PasswordService = ReturnType<typeof createPasswordService>;
