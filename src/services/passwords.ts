import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import bcrypt from 'bcryptjs';
import { RequestAbandonedError, ServerBusyError } from '../errors.ts';

export interface Argon2Params {
  memoryCost: number; // KiB
  timeCost: number;
  parallelism: number;
}

type Argon2Options = Argon2Params & { type: 2 };

/** The argon2 calls the service makes; the argon2 package by default, a slow or counting one in tests. */
export interface Argon2Engine {
  hash(plain: string, options: Argon2Options): Promise<string>;
  verify(stored: string, plain: string): Promise<boolean>;
  needsRehash(stored: string, options: Argon2Options): boolean;
}

// Looked up at call time, so a test spying on the module's functions sees every call.
const ARGON2: Argon2Engine = {
  hash: (plain, options) => argon2.hash(plain, options),
  verify: (stored, plain) => argon2.verify(stored, plain),
  needsRehash: (stored, options) => argon2.needsRehash(stored, options),
};

/** libuv's default thread pool size, when UV_THREADPOOL_SIZE is not set. */
export const DEFAULT_HASH_THREADS = 4;

export interface PasswordHashingOptions {
  /** Threads that run the hashes (libuv's pool: UV_THREADPOOL_SIZE, default 4). */
  threads?: number;
  /** Hashes running at once (default: one per core). */
  slots?: number;
  /** Hash jobs running or waiting beyond which new ones are refused (default: 4 × threads, CONTRACT §6). */
  queueLimit?: number;
  engine?: Argon2Engine;
}

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 256;

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

export function isSupportedHash(hash: string): boolean {
  return BCRYPT.test(hash) || hash.startsWith('$argon2id$');
}

/**
 * At most `slots` hashes at a time, the others wait in order; at most `limit` running and waiting
 * together, beyond that a job is refused with ServerBusyError (503) at once: a flood of password requests
 * must not build a queue that every login waits behind. Memory-hard hashes running side by side on one
 * core evict each other's memory from the CPU caches, so each takes more CPU than alone: with one hash
 * per core a login costs less (bench/README.md), and no request waits longer on average.
 */
function createHashQueue(slots: number, limit: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  /** Resolves when a finishing job hands its slot over; rejects (leaving the line) if the client goes first. */
  function waitForSlot(abandoned?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const leave = () => {
        const at = waiting.indexOf(take);
        if (at === -1) return;
        waiting.splice(at, 1);
        reject(new RequestAbandonedError());
      };
      const take = () => {
        abandoned?.removeEventListener('abort', leave);
        resolve();
      };
      waiting.push(take);
      abandoned?.addEventListener('abort', leave, { once: true });
    });
  }
  return {
    /** Jobs running or waiting now. */
    get size(): number {
      return running + waiting.length;
    },
    /** Whether a new job would be refused now. */
    get full(): boolean {
      return running + waiting.length >= limit;
    },
    /** `abandoned`: the job's client has gone; it is dropped, before it runs or from its place in the line. */
    async run<T>(task: () => Promise<T>, abandoned?: AbortSignal): Promise<T> {
      if (abandoned?.aborted) throw new RequestAbandonedError();
      if (running + waiting.length >= limit) throw new ServerBusyError();
      if (running >= slots) await waitForSlot(abandoned);
      else running += 1;
      try {
        if (abandoned?.aborted) throw new RequestAbandonedError();
        return await task();
      } finally {
        const next = waiting.shift();
        if (next) next();
        else running -= 1;
      }
    },
  };
}

/**
 * Password hashing: argon2id for everything we hash; imported bcrypt hashes still verify and are
 * flagged for re-hashing. `verifyDummy` spends the same work on an unknown user as on a real one, so
 * timing does not tell whether an account exists. Every hash and verification goes through one bounded
 * queue; when it is full they throw ServerBusyError.
 */
export function createPasswordService(params: Argon2Params, hashing: PasswordHashingOptions = {}) {
  const options: Argon2Options = { type: argon2.argon2id as 2, ...params };
  const engine = hashing.engine ?? ARGON2;
  const threads = Math.max(1, hashing.threads ?? DEFAULT_HASH_THREADS);
  // One running hash per core this process may run on (taskset and cgroup cpusets count).
  const queue = createHashQueue(Math.max(1, hashing.slots ?? availableParallelism()), Math.max(1, hashing.queueLimit ?? 4 * threads));
  let dummyHash: Promise<string> | undefined;

  async function hash(plain: string, abandoned?: AbortSignal): Promise<string> {
    return queue.run(() => engine.hash(plain, options), abandoned);
  }

  async function verify(stored: string, plain: string, abandoned?: AbortSignal): Promise<{ ok: boolean; needsRehash: boolean }> {
    if (BCRYPT.test(stored)) {
      // bcryptjs knows $2a$/$2b$; $2y$ (PHP) is the same algorithm under another name.
      const ok = await queue.run(() => bcrypt.compare(plain, stored.replace(/^\$2y\$/, '$2b$')), abandoned);
      return { ok, needsRehash: ok };
    }
    if (!stored.startsWith('$argon2')) return { ok: false, needsRehash: false };
    // A malformed stored hash is a failed check; a full queue is not (it propagates as a 503).
    const ok = await queue.run(() => engine.verify(stored, plain).catch(() => false), abandoned);
    return { ok, needsRehash: ok && engine.needsRehash(stored, options) };
  }

  async function verifyDummy(plain: string, abandoned?: AbortSignal): Promise<void> {
    // Made once; a first attempt refused by a full queue is not remembered.
    dummyHash ??= hash('dummy password that no account has').catch((err: unknown) => {
      dummyHash = undefined;
      throw err;
    });
    const dummy = await dummyHash;
    await queue.run(() => engine.verify(dummy, plain).catch(() => false), abandoned);
  }

  return {
    hash,
    verify,
    verifyDummy,
    /** Hash jobs running or waiting (for tests and diagnostics). */
    queued: (): number => queue.size,
    /**
     * Whether a hash asked for now would be refused (ServerBusyError): a login can be shed before any of its
     * other work (the account's look-up, the limiters' round trips), which past the queue cost the core as
     * much as the logins it admits (bench/README.md, overload).
     */
    busy: (): boolean => queue.full,
  };
}

export type PasswordService = ReturnType<typeof createPasswordService>;
