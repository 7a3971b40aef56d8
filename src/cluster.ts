/**
 * WORKERS=N: N server processes behind one port (node:cluster; the primary accepts connections and
 * hands them out round-robin). Every worker is a complete server (src/main.ts's start) sharing the
 * database and Redis, which is all a request needs (CONTRACT §8), so any worker can serve any request.
 *
 * The primary only supervises: it restarts every worker that dies once the service has been serving,
 * and never gives up while it lives: replacements wait longer the more workers crashed in the last minute
 * (0.5 s doubling up to 30 s), so a crash loop neither spins the CPU nor leaves the port dead for good.
 * Only when the service cannot start at all (no worker ever listened: bad configuration, port taken) does
 * it exit 1. On SIGTERM/SIGINT it asks every worker to shut down gracefully and exits 0 once they all have.
 */
import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { loadConfig, type Config } from './config.ts';
import { createLogger, stdoutFor, type Logger } from './logger.ts';
import { exitOnUncaught } from './last-resort.ts';
import { loadOrCreateCookieKeys } from './services/local-secrets.ts';

/** A worker gets this long to finish in-flight requests and close its connections (main.ts allows 10 s). */
const WORKER_STOP_TIMEOUT_MS = 15_000;
/** Pause before a replacement starts: doubled for each other crash within the window, up to the cap. */
export const RESTART_BACKOFF = { initialMs: 500, maxMs: 30_000, windowMs: 60_000 };

/** How long to wait before replacing a worker, given how many crashed within the window (this one included). */
export function restartDelay(recentCrashes: number): number {
  const doublings = Math.max(0, recentCrashes - 1);
  return Math.min(RESTART_BACKOFF.maxMs, RESTART_BACKOFF.initialMs * 2 ** Math.min(doublings, 30));
}

/** Why `config` cannot run with several workers, or undefined when it can. */
export function workersProblem(config: Pick<Config, 'workers' | 'redis'>): string | undefined {
  if (config.workers > 1 && config.redis.embedded) {
    return 'WORKERS: more than one worker needs REDIS_URL or REDIS_CLUSTER_NODES (the in-process store lives in one process only)';
  }
  return undefined;
}

/** What the supervisor uses of node:cluster (a fake in the unit tests). */
export type ClusterApi = Pick<typeof cluster, 'fork' | 'on' | 'workers'>;

export interface SupervisorOptions {
  workers: number;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Ends the primary; process.exit outside tests. */
  exit?: (code: number) => void;
  cluster?: ClusterApi;
  /** setTimeout outside tests. */
  schedule?: (run: () => void, ms: number) => { unref?(): unknown };
  now?: () => number;
  /** Listen for SIGTERM/SIGINT (true outside tests). */
  signals?: boolean;
}

/** Runs in the primary: forks the workers and watches them until shutdown. */
export function superviseWorkers(options: SupervisorOptions): { stop(): void } {
  const { logger } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const api = options.cluster ?? cluster;
  const schedule = options.schedule ?? ((run: () => void, ms: number) => setTimeout(run, ms));
  const now = options.now ?? Date.now;
  const listening = new Set<number>();
  const crashes: number[] = [];
  let servedOnce = false;
  let stopping = false;
  let exitCode = 0;

  const alive = (): Worker[] => Object.values(api.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);

  function fork(): void {
    api.fork();
  }

  function stopAll(code: number): void {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    const workers = alive();
    if (workers.length === 0) {
      exit(exitCode);
      return;
    }
    for (const worker of workers) {
      worker.process.kill('SIGTERM');
      // A worker stuck past its own grace period is killed, so the primary always gets to exit.
      setTimeout(() => worker.process.kill('SIGKILL'), WORKER_STOP_TIMEOUT_MS).unref();
    }
  }

  api.on('listening', (worker, address) => {
    listening.add(worker.id);
    servedOnce = true;
    if (listening.size === options.workers) {
      logger.info({ workers: options.workers, port: address.port }, `${options.workers} workers listening`);
    }
  });

  api.on('exit', (worker, code, signal) => {
    const served = listening.delete(worker.id);
    if (stopping) {
      if (alive().length === 0) {
        logger.info('all workers stopped');
        exit(exitCode);
      }
      return;
    }
    if (!served && !servedOnce) {
      // The service never got to listen: bad configuration, database down at start, port taken.
      // Restarting would fail the same way; the worker has already said why.
      logger.error({ pid: worker.process.pid, code, signal }, 'a worker failed to start; stopping');
      stopAll(1);
      return;
    }
    const at = now();
    crashes.push(at);
    while (crashes.length > 0 && (crashes[0] ?? at) <= at - RESTART_BACKOFF.windowMs) crashes.shift();
    const delayMs = restartDelay(crashes.length);
    logger.warn(
      { pid: worker.process.pid, code, signal, crashes: crashes.length, windowMs: RESTART_BACKOFF.windowMs, delayMs },
      served ? 'a worker exited unexpectedly; starting a replacement' : 'a replacement worker failed to start; trying again',
    );
    // Not unref'd: while a replacement is due, the primary stays (it never gives up while it lives).
    schedule(() => {
      if (!stopping) fork();
    }, delayMs);
  });

  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down: stopping every worker');
    stopAll(0);
  };
  if (options.signals ?? true) {
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  logger.info({ workers: options.workers }, `starting ${options.workers} workers`);
  for (let i = 0; i < options.workers; i += 1) fork();

  return { stop: () => stopAll(0) };
}

/**
 * The entry point's wrapper: runs `start` in this process when WORKERS is 1 (or in a worker), and
 * otherwise becomes the primary of WORKERS workers that each run `start`. Configuration errors are left
 * to `start`, which reports them the one way main.ts does.
 */
export async function runWithWorkers(start: () => Promise<void>, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!cluster.isPrimary) return start();
  let config: Config;
  try {
    config = loadConfig(env);
  } catch {
    return start();
  }
  if (config.workers <= 1) return start();
  const problem = workersProblem(config);
  if (problem) {
    console.error(`configuration error: ${problem}`);
    process.exit(1);
  }
  // Generated cookie keys (no COOKIE_KEYS) are created once here: workers creating them at the same
  // moment could each write their own, and a cookie signed by one worker would fail at another.
  if (!config.cookieKeys) loadOrCreateCookieKeys(config.dataDir);
  const logger = createLogger({ level: config.logLevel, base: { pid: process.pid, role: 'primary' }, destination: stdoutFor(config.env) });
  exitOnUncaught(logger);
  superviseWorkers({ workers: config.workers, logger });
}
