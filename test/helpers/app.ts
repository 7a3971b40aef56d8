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
import { createLogger } from '../../src/logger.ts';
import { buildDependencies, type Dependencies } from '../../src/dependencies.ts';
import { createServerApp } from '../../src/server.ts';
import { createTestDatabase } from './database.ts';
import type { LoginLimits } from '../../src/services/rate-limits.ts';

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
  /** Login limits; `{}` gives exactly CONTRACT §6's. Default: those, with a per-IP cap of TEST_IP_ATTEMPTS. */
  loginLimits?: Partial<LoginLimits>;
}

/**
 * Every test request comes from 127.0.0.1 and a suite logs in far more than 100 times a minute, so test
 * servers raise the per-IP cap by default; the abuse-*.test.ts suites prove the contract's own values.
 */
export const TEST_IP_ATTEMPTS = 100_000;

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

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const database = await createTestDatabase(options.database ?? 'postgres', { mocha: options.mocha });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-test-'));
  const port = await freePort();
  const env: Record<string, string> = {
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: database.url,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...((options.store ?? 'redis') === 'redis' ? { REDIS_URL: TEST_REDIS_URL } : {}),
    ...options.env,
  };
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel });
  const keyPrefix = `test:${path.basename(dataDir)}:`;
  const loginLimits = options.loginLimits ?? { ipAttempts: TEST_IP_ATTEMPTS };
  const deps = await buildDependencies(config, logger, { storeKeyPrefix: keyPrefix, loginLimits });
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
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
