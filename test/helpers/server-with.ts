/**
 * Starts the whole server against a database the test made itself (a PostgreSQL behind a proxy it can
 * cut, an SQLite file) and with a logger of its own: what test/helpers/app.ts cannot do. The caller
 * owns the database: close() stops the server, the store and the data folder, never the database.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.ts';
import { createLogger, type Logger } from '../../src/logger.ts';
import { buildDependencies } from '../../src/dependencies.ts';
import { createServerApp } from '../../src/server.ts';
import type { LoginLimits } from '../../src/services/rate-limits.ts';
import { TEST_IP_ATTEMPTS, TEST_REDIS_URL, freePort, type TestServer } from './app.ts';

export interface ServerWithOptions {
  databaseUrl: string;
  /** 'redis' (the shared one unless env.REDIS_URL says otherwise) or the in-process store. */
  store?: 'redis' | 'memory';
  env?: Record<string, string>;
  logger?: Logger;
  /** As in startTestServer: `{}` gives exactly CONTRACT §6's limits. */
  loginLimits?: Partial<LoginLimits>;
}

export async function startServerWith(options: ServerWithOptions): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'idp-sec-'));
  const port = await freePort();
  const config = loadConfig({
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATABASE_URL: options.databaseUrl,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    MIGRATE_ON_START: 'true',
    ...((options.store ?? 'redis') === 'redis' ? { REDIS_URL: TEST_REDIS_URL } : {}),
    ...options.env,
  });
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const deps = await buildDependencies(config, logger, {
    storeKeyPrefix: `test:${path.basename(dataDir)}:`,
    loginLimits: options.loginLimits ?? { ipAttempts: TEST_IP_ATTEMPTS },
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
