/**
 * Starts the whole server for an integration test: a fresh database (PostgreSQL or SQLite), the shared
 * Redis (with a key prefix of its own) or the in-process store, a temp data folder, a free port.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import type { Server } from 'node:http';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { buildDependencies, type Dependencies } from '../../src/dependencies.ts';
import { createServerApp } from '../../src/server.ts';
import { createTestDatabase } from './database.ts';
import type { LoginLimits } from '../../src/services/rate-limits.ts';
import type { OpenRouteLimits } from '../../src/services/open-route-limits.ts';
import type { PasswordHashingOptions } from '../../src/services/passwords.ts';
import type { DeliverySchedule } from '../../src/oidc/backchannel-delivery.ts';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface TestServer {
  url: string;
  config: Config;
  deps: Dependencies;
  server: Server;
  close(): Promise<void>;
}

export interface TestServerOptions {
  database?: 'postgres' | 'sqlite';
  store?: 'redis' | 'memory';
  /** Extra configuration, as environment variables (they win over everything). */
  env?: Record<string, string>;
  /** The calling hook's context: lets a missing PostgreSQL skip the suite unless REQUIRE_SERVICES=1. */
  mocha?: Mocha.Context;
  /** The host name of PUBLIC_URL (default 127.0.0.1); passkeys need a name such as localhost (CONTRACT §9). */
  publicHost?: string;
  /** Login limits; `{}` gives exactly CONTRACT §6's. Default: those, with a per-IP cap of TEST_IP_ATTEMPTS. */
  loginLimits?: Partial<LoginLimits>;
  /** Limits of the other open routes; `{}` gives exactly CONTRACT §6's. Default: TEST_OPEN_ROUTE_LIMITS. */
  openRouteLimits?: Partial<OpenRouteLimits>;
  /** The password-hash queue (a slow engine, a small queue). */
  passwordHashing?: PasswordHashingOptions;
  /** Back-channel logout retries (short in tests). */
  backchannelSchedule?: Partial<DeliverySchedule>;
}

/**
 * Every test request comes from 127.0.0.1 and a suite logs in far more than 100 times a minute, so test
 * servers raise the per-IP cap by default; the abuse-*.test.ts suites prove the contract's own values.
 */
export const TEST_IP_ATTEMPTS = 100_000;

/** The same for registration and the e-mail routes: per-IP caps out of the way, the per-address mail limit kept. */
export const TEST_OPEN_ROUTE_LIMITS: Partial<OpenRouteLimits> = {
  registerPerIp: TEST_IP_ATTEMPTS,
  mailRequestsPerIp: TEST_IP_ATTEMPTS,
  linkUsesPerIp: TEST_IP_ATTEMPTS,
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** The two modes every door is tested in: production-like and the embedded default. */
export const MODES = [
  { name: 'PostgreSQL + Redis', database: 'postgres', store: 'redis' },
  { name: 'embedded (SQLite + in-process store)', database: 'sqlite', store: 'memory' },
] as const satisfies readonly (TestServerOptions & { name: string })[];

export interface ServerWithOptions {
  databaseUrl: string;
  /** 'redis' (the shared one unless env.REDIS_URL says otherwise) or the in-process store. */
  store?: 'redis' | 'memory';
  env?: Record<string, string>;
  logger?: Logger;
  /** As in startTestServer: `{}` gives exactly CONTRACT §6's limits. */
  loginLimits?: Partial<LoginLimits>;
  openRouteLimits?: Partial<OpenRouteLimits>;
  passwordHashing?: PasswordHashingOptions;
  publicHost?: string;
  backchannelSchedule?: Partial<DeliverySchedule>;
}

/**
 * The server against a database the caller owns (one made by startTestServer, a PostgreSQL behind a proxy
 * a test can cut, an SQLite file) and optionally a logger of its own. close() stops the server, the store
 * and the data folder, never the database.
 */
export async function startServerWith(options: ServerWithOptions): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-test-'));
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://${options.publicHost ?? '127.0.0.1'}:${port}`,
    DATABASE_URL: options.databaseUrl,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...((options.store ?? 'redis') === 'redis' ? { REDIS_URL: TEST_REDIS_URL } : {}),
    ...options.env,
  });
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const deps = await buildDependencies(config, logger, {
    storeKeyPrefix: `test:${path.basename(dataDir)}:`,
    loginLimits: options.loginLimits ?? { ipAttempts: TEST_IP_ATTEMPTS },
    openRouteLimits: options.openRouteLimits ?? TEST_OPEN_ROUTE_LIMITS,
    passwordHashing: options.passwordHashing,
    backchannelSchedule: options.backchannelSchedule,
  });
  const { server } = await createServerApp(deps);
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  let closed = false;
  return {
    url: `http://127.0.0.1:${port}`,
    config,
    deps,
    server,
    async close() {
      if (closed) return;
      closed = true;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await deps.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A fresh database of its own (dropped on close) and the server on it. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const database = await createTestDatabase(options.database ?? 'postgres', { mocha: options.mocha });
  try {
    const server = await startServerWith({
      databaseUrl: database.url,
      store: options.store,
      env: options.env,
      loginLimits: options.loginLimits,
      openRouteLimits: options.openRouteLimits,
      passwordHashing: options.passwordHashing,
      publicHost: options.publicHost,
      backchannelSchedule: options.backchannelSchedule,
    });
    let dropped = false;
    return {
      ...server,
      async close() {
        await server.close();
        if (!dropped) await database.drop();
        dropped = true;
      },
    };
  } catch (err) {
    await database.drop();
    throw err;
  }
}
