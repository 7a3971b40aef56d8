/**
 * Accounts served from the store on the hot paths (every bearer request, OIDC userinfo and refresh)
 * instead of two database queries each time, and never stale.
 *
 * Exactness comes from generations, not from timing: every write to a user or to its roles (caught by
 * Sequelize hooks, so whichever service or CLI makes it) stores a new random generation for that user
 * once its transaction has committed. A cached view records the generation it was computed under (read
 * BEFORE the database), and is used only while that generation is still current. Whatever the
 * interleaving of a reader and a writer, a view computed from data older than the last write carries an
 * older generation and is ignored. Changes that are not one user's (a role renamed or deleted, a bulk
 * update without ids) bump one global generation instead. The cache fills from the primary database, so
 * a lagging read replica cannot put an old row under a new generation.
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'sequelize';
import type { Models } from '../../db/models/index.ts';
import type { Logger } from '../../logger.ts';
import type { Store } from '../../store/store.ts';
import type { AccountView } from './view.ts';

/** Same hash tag as the user's sessions, so a user's keys share a Redis Cluster slot. */
const entryKey = (userId: string): string => `acct:{u:${userId}}`;
const generationKey = (userId: string): string => `acct-gen:{u:${userId}}`;
const GLOBAL_GENERATION = 'acct-gen:all';
/** Ids that can be part of a key (user ids are UUIDs); anything else goes straight to the database. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** A view is kept this long after it was last computed. */
const ENTRY_TTL_SECONDS = 300;
/**
 * At least the entry lifetime: an entry computed before a bump must expire before the bump's
 * generation key does (an expired generation reads as "none", which an old entry may also carry).
 */
const GENERATION_TTL_SECONDS = 2 * ENTRY_TTL_SECONDS;

type Generation = string | null;
type StoredView = Omit<AccountView, 'created_at' | 'updated_at'> & { created_at: string; updated_at: string };
interface Entry {
  gen: Generation;
  all: Generation;
  view: StoredView;
}

const asGeneration = (value: unknown): Generation => (typeof value === 'string' ? value : null);

function revive(view: StoredView): AccountView {
  return { ...view, created_at: new Date(view.created_at), updated_at: new Date(view.updated_at) };
}

export interface AccountCacheOptions {
  store: Store;
  logger: Pick<Logger, 'error'>;
}

export function createAccountCache(options: AccountCacheOptions) {
  const { store, logger } = options;

  return {
    /** The account through the cache; `load` reads it from the primary database on a miss. */
    async get(userId: string, load: (userId: string) => Promise<AccountView | undefined>): Promise<AccountView | undefined> {
      if (!SAFE_ID.test(userId)) return load(userId);
      const [entry, gen, all] = await store.getMany<unknown>([entryKey(userId), generationKey(userId), GLOBAL_GENERATION]);
      const current = { gen: asGeneration(gen), all: asGeneration(all) };
      const cached = entry as Entry | undefined;
      if (cached && cached.gen === current.gen && cached.all === current.all) return revive(cached.view);
      const view = await load(userId);
      if (view) await store.set<Entry>(entryKey(userId), { ...current, view: JSON.parse(JSON.stringify(view)) as StoredView }, ENTRY_TTL_SECONDS);
      return view;
    },

    /**
     * Makes every cached view of these users (or of everyone) stale. The database write has already
     * happened; if the store cannot be reached the error is logged, and views computed before it
     * may be served until they expire (ENTRY_TTL_SECONDS).
     */
    async invalidate(userIds: readonly string[] | 'all'): Promise<void> {
      const keys = userIds === 'all' ? [GLOBAL_GENERATION] : [...new Set(userIds)].map(generationKey);
      try {
        await Promise.all(keys.map((key) => store.set(key, randomUUID(), GENERATION_TTL_SECONDS)));
      } catch (err) {
        logger.error({ err, users: userIds === 'all' ? 'all' : userIds.length }, 'could not invalidate cached accounts');
      }
    },
  };
}

export type AccountCache = ReturnType<typeof createAccountCache>;

interface HookOptions {
  transaction?: Transaction | null;
  where?: unknown;
}

/** The user ids a `where` names (`{id: x}`, `{id: [x, y]}`, `{userId: …}`), or 'all' when it names none. */
export function idsOfWhere(where: unknown, field: 'id' | 'userId'): string[] | 'all' {
  const value = where && typeof where === 'object' ? (where as Record<string, unknown>)[field] : undefined;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'string')) return value as string[];
  return 'all';
}

/** Registers the hooks that keep `cache` exact: every write to users, their roles, or roles themselves. */
export function invalidateOnWrites(models: Pick<Models, 'User' | 'UserRole' | 'Role'>, cache: Pick<AccountCache, 'invalidate'>): void {
  // After the commit: invalidating inside the transaction would let a reader cache the old row under the new generation.
  const afterCommit = async (options: HookOptions | undefined, users: readonly string[] | 'all'): Promise<void> => {
    if (users !== 'all' && users.length === 0) return;
    const transaction = options?.transaction;
    if (transaction) transaction.afterCommit(() => cache.invalidate(users));
    else await cache.invalidate(users);
  };
  const { User, UserRole, Role } = models;
  const name = 'account-cache';

  const id = (instance: { get(key: string): unknown }, key: 'id' | 'userId'): string => String(instance.get(key));
  User.addHook('afterUpdate', name, (user, options) => afterCommit(options, [id(user, 'id')]));
  User.addHook('afterDestroy', name, (user, options) => afterCommit(options, [id(user, 'id')]));
  User.addHook('afterBulkUpdate', name, (options: HookOptions) => afterCommit(options, idsOfWhere(options.where, 'id')));
  User.addHook('afterBulkDestroy', name, (options: HookOptions) => afterCommit(options, idsOfWhere(options.where, 'id')));

  UserRole.addHook('afterCreate', name, (link, options) => afterCommit(options, [id(link, 'userId')]));
  UserRole.addHook('afterDestroy', name, (link, options) => afterCommit(options, [id(link, 'userId')]));
  UserRole.addHook('afterBulkCreate', name, (links, options) => afterCommit(options, links.map((link) => id(link, 'userId'))));
  UserRole.addHook('afterBulkDestroy', name, (options: HookOptions) => afterCommit(options, idsOfWhere(options.where, 'userId')));

  // A role renamed or deleted (its links go by ON DELETE CASCADE, without hooks) changes many views.
  for (const hook of ['afterUpdate', 'afterDestroy', 'afterBulkUpdate', 'afterBulkDestroy'] as const) {
    Role.addHook(hook, name, (...args: unknown[]) => afterCommit(args[args.length - 1] as HookOptions, 'all'));
  }
}
