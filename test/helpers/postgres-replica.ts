/**
 * A throwaway PostgreSQL primary and a real streaming replica of it, on loopback ports, for the read
 * replica tests: the primary is a fresh cluster (initdb) of our own, so the machine's PostgreSQL and its
 * pg_hba.conf are never touched; the replica is `pg_basebackup -R -X stream` of it. Both run the
 * machine's PostgreSQL binaries as the `postgres` user when the tests run as root (PostgreSQL refuses to
 * run as root). Each server is stopped by its PID, also when a test fails (process exit hook).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { createSequelize } from '../../src/db/sequelize.ts';

const run = promisify(execFile);
const HOST = '127.0.0.1';
const live = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The newest PostgreSQL installed the Debian way (/usr/lib/postgresql/<version>/bin), if any. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((name) => existsSync(path.join(root, name, 'bin', 'initdb')) && existsSync(path.join(root, name, 'bin', 'pg_basebackup')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], 'bin') : undefined;
}

interface RunAs {
  uid?: number;
  gid?: number;
}

async function postgresUser(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
  const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
  return { uid, gid };
}

export interface PostgresReplicaPair {
  primaryPort: number;
  replicaPort: number;
  /** postgres:// URL of a database on the primary (or the replica). */
  primaryUrl(database: string): string;
  replicaUrl(database: string): string;
  /** Runs SQL on the primary (its `postgres` database unless another is given). */
  primaryQuery(sql: string, database?: string): Promise<Row[]>;
  replicaQuery(sql: string, database?: string): Promise<Row[]>;
  /** Stops applying WAL on the replica: it keeps what it has, whatever the primary writes next. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Resolves once the replica has applied everything the primary has written so far. */
  caughtUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function stopServer(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGINT'); // "fast" shutdown: ends sessions, checkpoints, exits
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(timer);
  live.delete(child);
}

type Row = Record<string, unknown>;

/** One query on a connection of its own (a replica that is still starting must not poison a pool). */
async function query(port: number, database: string, sql: string): Promise<Row[]> {
  const sequelize = createSequelize({ url: `postgres://postgres@${HOST}:${port}/${database}`, poolMax: 1 });
  try {
    const [rows] = await sequelize.query(sql, { raw: true });
    return rows as Row[];
  } finally {
    await sequelize.close();
  }
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function startPostgresReplica(options: { primaryPort: number; replicaPort: number }): Promise<PostgresReplicaPair> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin');
  const user = await postgresUser();
  const dir = mkdtempSync(path.join(tmpdir(), 'idp-pg-replica-'));
  if (user.uid !== undefined && user.gid !== undefined) chownSync(dir, user.uid, user.gid);
  const primaryDir = path.join(dir, 'primary');
  const replicaDir = path.join(dir, 'replica');
  const servers: ChildProcess[] = [];
  let output = '';

  const exec = (program: string, args: string[]) =>
    run(path.join(bin, program), args, { timeout: 60_000, uid: user.uid, gid: user.gid, cwd: dir });

  function startServer(dataDir: string, port: number): ChildProcess {
    const child = spawn(path.join(bin as string, 'postgres'), ['-D', dataDir, '-p', String(port), '-c', `listen_addresses=${HOST}`, '-c', `unix_socket_directories=${dir}`], {
      uid: user.uid,
      gid: user.gid,
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    live.add(child);
    servers.push(child);
    return child;
  }

  const stop = async () => {
    for (const child of servers.reverse()) await stopServer(child);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // Trust on loopback (initdb writes it for replication connections too); no fsync: a test cluster.
    await exec('initdb', ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    appendFileSync(primaryDir + '/postgresql.conf', ['wal_level = replica', 'max_wal_senders = 4', 'fsync = off', 'synchronous_commit = off', ''].join('\n'));
    const primary = startServer(primaryDir, options.primaryPort);
    await waitUntil(`the primary on port ${options.primaryPort}`, 20_000, async () => {
      if (primary.exitCode !== null) throw new Error(`the primary exited:\n${output}`);
      return (await query(options.primaryPort, 'postgres', 'SELECT 1 AS one')).length === 1;
    });
    await exec('pg_basebackup', ['-h', HOST, '-p', String(options.primaryPort), '-U', 'postgres', '-D', replicaDir, '-R', '-X', 'stream']);
    const replica = startServer(replicaDir, options.replicaPort);
    await waitUntil(`the replica on port ${options.replicaPort}`, 20_000, async () => {
      if (replica.exitCode !== null) throw new Error(`the replica exited:\n${output}`);
      const [row] = await query(options.replicaPort, 'postgres', 'SELECT pg_is_in_recovery() AS standby');
      return row?.standby === true;
    });
  } catch (err) {
    await stop();
    throw err;
  }

  const url = (port: number, database: string) => `postgres://postgres@${HOST}:${port}/${database}`;
  return {
    primaryPort: options.primaryPort,
    replicaPort: options.replicaPort,
    primaryUrl: (database) => url(options.primaryPort, database),
    replicaUrl: (database) => url(options.replicaPort, database),
    primaryQuery: (sql, database = 'postgres') => query(options.primaryPort, database, sql),
    replicaQuery: (sql, database = 'postgres') => query(options.replicaPort, database, sql),
    async pauseReplay() {
      await query(options.replicaPort, 'postgres', 'SELECT pg_wal_replay_pause()');
      await waitUntil('replay to pause', 10_000, async () => {
        const [row] = await query(options.replicaPort, 'postgres', 'SELECT pg_get_wal_replay_pause_state() AS state');
        return row?.state === 'paused';
      });
    },
    async resumeReplay() {
      await query(options.replicaPort, 'postgres', 'SELECT pg_wal_replay_resume()');
    },
    async caughtUp(timeoutMs = 15_000) {
      // The insert position, not pg_current_wal_lsn() (the write position): with synchronous_commit off a
      // commit that has already returned may still sit in the WAL buffers, past the write position, and a
      // replica caught up to that position would not have it yet.
      const [target] = await query(options.primaryPort, 'postgres', 'SELECT pg_current_wal_insert_lsn()::text AS lsn');
      const lsn = String(target?.lsn);
      if (!/^[0-9A-F]+\/[0-9A-F]+$/i.test(lsn)) throw new Error(`unexpected WAL position ${lsn}`);
      await waitUntil('the replica to catch up', timeoutMs, async () => {
        const [row] = await query(options.replicaPort, 'postgres', `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS done`);
        return row?.done === true;
      });
    },
    stop,
  };
}
