/**
 * The composition root: the one place that constructs clients and services from the configuration.
 * Nothing else connects to anything; tests build the same graph with their own configuration.
 */
import type { Sequelize } from 'sequelize';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { createSequelize, checkDatabase, isConnectionError } from './db/sequelize.ts';
import { runMigrations } from './db/migrate.ts';
import { initModels, type Models } from './db/models/index.ts';
import type { Store } from './store/store.ts';
import { createMemoryStore } from './store/memory-store.ts';
import { createRedisStore } from './store/redis-store.ts';
import { createKeyService, type KeyService } from './services/keys.ts';
import { createPasswordService, type PasswordService } from './services/passwords.ts';
import { loadOrCreateCookieKeys } from './services/local-secrets.ts';
import { ServiceUnavailableError } from './errors.ts';
import type { ReadinessCheck } from './http/health.ts';
import type { ErrorTranslator } from './http/middleware/errors.ts';

export interface Dependencies {
  config: Config;
  logger: Logger;
  sequelize: Sequelize;
  models: Models;
  store: Store;
  keys: KeyService;
  passwords: PasswordService;
  cookieKeys: string[];
  readiness: ReadinessCheck[];
  errorTranslators: ErrorTranslator[];
  /** Closes the database and the store; safe to call twice. */
  close(): Promise<void>;
}

async function createStore(config: Config, logger: Logger, keyPrefix: string): Promise<Store> {
  if (config.redis.embedded) return createMemoryStore();
  const store = createRedisStore({
    url: config.redis.url,
    clusterNodes: config.redis.clusterNodes.length ? config.redis.clusterNodes : undefined,
    keyPrefix,
    logger: logger.child({ component: 'store' }),
  });
  await store.connect();
  return store;
}

export interface BuildOptions {
  /** Prefix of every store key; tests give each server its own so they can share one Redis. */
  storeKeyPrefix?: string;
}

export async function buildDependencies(config: Config, logger: Logger, options: BuildOptions = {}): Promise<Dependencies> {
  const sequelize = createSequelize({
    url: config.database.url,
    readUrls: config.database.readUrls,
    logger: logger.child({ component: 'db' }),
  });
  const closers: (() => Promise<void>)[] = [() => sequelize.close()];
  const close = async () => {
    const pending = closers.splice(0).reverse();
    for (const closeOne of pending) await closeOne().catch((err: unknown) => logger.warn({ err }, 'error while closing'));
  };
  try {
    await sequelize.authenticate();
    if (config.database.migrateOnStart) await runMigrations(sequelize);
    const models = initModels(sequelize);
    const store = await createStore(config, logger, options.storeKeyPrefix ?? 'idp:');
    closers.push(() => store.close());

    const keys = createKeyService({
      models,
      // JWTs signed by a key: access tokens and ID tokens (one hour); refresh tokens are opaque.
      maxTokenTtlSeconds: Math.max(config.tokens.accessTokenTtl, 3600),
    });
    await keys.ensureKeys();

    const passwords = createPasswordService(config.argon2);
    const cookieKeys = config.cookieKeys ?? loadOrCreateCookieKeys(config.dataDir);

    const readiness: ReadinessCheck[] = [
      { name: 'database', check: () => checkDatabase(sequelize) },
      { name: 'store', check: () => store.ping() },
    ];
    const errorTranslators: ErrorTranslator[] = [
      (err) => (isConnectionError(err) ? new ServiceUnavailableError('database', err) : undefined),
    ];
    return { config, logger, sequelize, models, store, keys, passwords, cookieKeys, readiness, errorTranslators, close };
  } catch (err) {
    await close();
    throw err;
  }
}
