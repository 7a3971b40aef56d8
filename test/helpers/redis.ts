import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Throwaway redis-server processes on loopback ports, for tests that need their own Redis (outages,
 * a cluster). Every process is stopped by its PID; a process-exit hook kills any a failed test left.
 */

const run = promisify(execFile);
const HOST = '127.0.0.1';
const live = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** PID of the current process (changes after restart). */
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and waits for it to exit. Idempotent. */
  stop(): Promise<void>;
  /** Starts the server again on the same port with the same arguments (stopping it first if running);
   *  also works after stop(). Data is not kept (no persistence). */
  restart(): Promise<void>;
}

export interface RedisCluster {
  /** `host:port` of every master, as REDIS_CLUSTER_NODES expects. */
  readonly nodes: string[];
  readonly servers: RedisServer[];
  stop(): Promise<void>;
}

export async function redisServerAvailable(): Promise<boolean> {
  try {
    await run('redis-server', ['--version'], { timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

/** Runs one redis-cli command against a port; resolves with its trimmed output. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', HOST, '-p', String(port), ...args], { timeout: 5000 });
  return stdout.trim();
}

async function waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function portAnswers(port: number): Promise<boolean> {
  try {
    return (await redisCli(port, 'ping')) !== '';
  } catch {
    return false;
  }
}

async function spawnServer(port: number, args: string[], dir: string): Promise<ChildProcess> {
  // Otherwise a leftover server on the port would answer our readiness check in place of ours.
  if (await portAnswers(port)) throw new Error(`Port ${port} is already in use by another server`);
  await mkdir(dir, { recursive: true }); // stop() removes it; restart() comes back here
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no', '--dir', dir, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', () => live.delete(child));
  const spawnFailed = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`redis-server on port ${port} exited early (${code ?? signal}); is the port taken?\n${output}`)),
    );
  });
  try {
    await Promise.race([
      spawnFailed,
      waitFor(`redis-server on port ${port}`, 10_000, async () => (await redisCli(port, 'ping')) === 'PONG'),
    ]);
  } catch (error) {
    child.kill('SIGKILL');
    await exited(child);
    throw error;
  }
  spawnFailed.catch(() => undefined); // exits after this point are handled by stop()
  return child;
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await done;
  clearTimeout(timer);
}

export async function startRedisServer(options: { port: number; args?: string[]; dir?: string }): Promise<RedisServer> {
  const { port } = options;
  const args = options.args ?? [];
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), `redis-${port}-`)));
  let child: ChildProcess | undefined = await spawnServer(port, args, dir).catch(async (error: unknown) => {
    if (ownDir) await rm(dir, { recursive: true, force: true });
    throw error;
  });

  return {
    url: `redis://${HOST}:${port}`,
    port,
    get pid() {
      return child?.pid ?? -1;
    },
    async stop() {
      await stopChild(child);
      child = undefined;
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
    async restart() {
      await stopChild(child);
      child = await spawnServer(port, args, dir);
    },
  };
}

/** Three (or more) masters, no replicas, slots spread by `redis-cli --cluster create`. */
export async function startRedisCluster(options: { ports: number[] }): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'redis-cluster-'));
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of options.ports) {
      servers.push(
        await startRedisServer({
          port,
          dir,
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', '2000'],
        }),
      );
    }
    const nodes = options.ports.map((port) => `${HOST}:${port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
    await waitFor('cluster_state:ok on every node', 15_000, async () => {
      const infos = await Promise.all(options.ports.map((port) => redisCli(port, 'cluster', 'info')));
      return infos.every((info) => info.includes('cluster_state:ok'));
    });
    return { nodes, servers, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
