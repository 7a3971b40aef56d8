/**
 * Entry point: load config → build dependencies → create app → listen. SIGTERM/SIGINT: stop accepting,
 * let in-flight requests finish (10 s at most), close the database and the store, exit 0.
 */
import type { Server } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { InFlight } from './http/middleware/in-flight.ts';
import { loadConfig, ConfigError, type Config } from './config.ts';
import { createLogger, stdoutFor, type Logger } from './logger.ts';
import { exitOnUncaught } from './last-resort.ts';
import { buildDependencies } from './dependencies.ts';
import { createServerApp } from './server.ts';
import { ensureInitialAdmin } from './services/admin/bootstrap.ts';
import { SigningKeySealError } from './db/signing-key-sealing.ts';

const SHUTDOWN_GRACE_MS = 10_000;

function describeMode(config: Config): string {
  const db = config.database.embedded ? `embedded SQLite (${config.database.url.slice('sqlite:'.length)})` : 'PostgreSQL';
  const store = config.redis.embedded ? 'in-process store' : config.redis.clusterNodes.length ? 'Redis Cluster' : 'Redis';
  return `${db}, ${store}, e-mail ${config.mail.smtpUrl ? 'via SMTP' : `to ${config.mail.outboxDir}`}`;
}

function listen(server: Server, config: Config): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function shutdownOn(server: Server, inFlight: InFlight, logger: Logger, close: () => Promise<void>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, finishing in-flight requests');
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
    force.unref();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    clearTimeout(force);
    // A handler may still run after its client has gone (a login waiting for its hash): the database and
    // the store stay open until it ends, within the same grace period.
    await Promise.race([inFlight.idle(), delay(Math.max(0, deadline - Date.now()), undefined, { ref: false })]);
    await close();
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) console.error(`configuration error: ${problem}`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger({ level: config.logLevel, destination: stdoutFor(config.env) });
  exitOnUncaught(logger);
  try {
    const deps = await buildDependencies(config, logger);
    await ensureInitialAdmin(deps, { email: config.admin.email, password: config.admin.password, dataDir: config.dataDir });
    const { server, inFlight } = await createServerApp(deps);
    await listen(server, config);
    shutdownOn(server, inFlight, logger, deps.close);
    if (config.database.embedded || config.redis.embedded) {
      logger.info(`embedded mode: ${describeMode(config)}; not for production (set DATABASE_URL and REDIS_URL)`);
    } else {
      logger.info(`using ${describeMode(config)}`);
    }
    logger.info({ port: config.port, issuer: config.issuer }, `listening on http://${config.host}:${config.port}`);
    // Where a person goes next, in the words of the URLs they will type.
    logger.info(`open ${config.publicUrl}/ in a browser; admin console ${config.publicUrl}/admin; OpenID Connect issuer ${config.issuer}`);
  } catch (err) {
    // A wrong or missing KEY_ENCRYPTION_KEY is a configuration problem: one line naming it, no stack (also when
    // migration 0008 met it, which umzug wraps).
    const keyProblem = [err, (err as { cause?: unknown }).cause].find((e) => e instanceof SigningKeySealError);
    if (keyProblem) {
      console.error(`configuration error: ${(keyProblem as Error).message}`);
      process.exit(1);
    }
    logger.fatal({ err }, 'start-up failed');
    console.error(`start-up failed: ${(err as Error).message}`);
    process.exit(1);
  }
}

// WORKERS=N runs main() in N worker processes behind one port (src/cluster.ts); WORKERS=1 runs it here.
const { runWithWorkers } = await import('./cluster.ts');
await runWithWorkers(main);
