import { mkdirSync } from 'node:fs';
import path from 'node:path';
import sqlite3 from 'sqlite3';
import { ConnectionError, Sequelize, Transaction } from 'sequelize';
import type { Options, ReplicationOptions } from 'sequelize';
import { ServiceUnavailableError } from '../errors.ts';
import { serializeSqliteWrites } from './sqlite-writes.ts';
import { ensurePrivateFile, PRIVATE_DIR_MODE } from '../private-files.ts';

/** The slice of a pino logger this module uses. */
export interface DatabaseLogger {
  debug(obj: object, msg?: string): void;
}

export interface CreateSequelizeOptions {
  /** `postgres://user:pass@host:port/db`, `sqlite:PATH`, `sqlite:///ABSOLUTE/PATH` or `sqlite::memory:`. */
  url: string;
  /** PostgreSQL read replicas; reads are spread over them, writes go to `url`. */
  readUrls?: string[];
  /** SQL goes to logger.debug only; nothing is logged without a logger. */
  logger?: DatabaseLogger;
  poolMax?: number;
}

// Short timeouts so an outage becomes a 503 within seconds instead of hanging requests.
const CONNECT_TIMEOUT_MS = 3000;
const ACQUIRE_TIMEOUT_MS = 5000;
// How long an SQLite writer waits for another connection's lock before failing with SQLITE_BUSY.
const SQLITE_BUSY_TIMEOUT_MS = 5000;

export function createSequelize(options: CreateSequelizeOptions): Sequelize {
  const logging = sqlLogging(options.logger);
  if (options.url.startsWith('sqlite:')) {
    if (options.readUrls && options.readUrls.length > 0) {
      throw new Error('DATABASE_READ_URLS needs a PostgreSQL DATABASE_URL');
    }
    return createSqlite(sqliteStorage(options.url), logging);
  }
  if (/^postgres(ql)?:\/\//.test(options.url)) {
    return createPostgres(options, logging);
  }
  throw new Error('DATABASE_URL must start with postgres:// or sqlite:');
}

/**
 * The SQL text only. Sequelize passes the query's options object after the SQL (and the elapsed time
 * before it with `benchmark`); that object reaches the connection configuration, password included, so
 * it is never logged. Bound values (inserts, updates) stay out of the text: logQueryParameters is off.
 */
function sqlLogging(logger: DatabaseLogger | undefined): Options['logging'] {
  if (!logger) return false;
  return (sql: string, timing?: unknown) => logger.debug(typeof timing === 'number' ? { sql, ms: timing } : { sql }, 'sql');
}

/** `sqlite::memory:` → `:memory:`, `sqlite:data/x.sqlite` → relative path, `sqlite:///abs/x.sqlite` → `/abs/x.sqlite`. */
export function sqliteStorage(url: string): string {
  let rest = url.slice('sqlite:'.length);
  if (rest.startsWith('//')) rest = rest.slice(2);
  if (rest === '') throw new Error('DATABASE_URL sqlite: needs a file path or :memory:');
  return rest;
}

const SQLITE_COMPANION_FILES = ['-wal', '-shm', '-journal'];

function createSqlite(storage: string, logging: Options['logging']): Sequelize {
  if (storage !== ':memory:') {
    // Private before SQLite opens it: the file holds password hashes and signing keys, and SQLite gives its
    // -wal and -shm files the database file's permissions. A folder that exists already is left as it is.
    mkdirSync(path.dirname(path.resolve(storage)), { recursive: true, mode: PRIVATE_DIR_MODE });
    ensurePrivateFile(storage, SQLITE_COMPANION_FILES);
  }
  const sequelize = new Sequelize({
    dialect: 'sqlite',
    storage,
    dialectModule: configuredSqlite3(),
    logging,
    // IMMEDIATE takes the write lock at BEGIN, so concurrent transactions wait (busy timeout)
    // instead of failing when a DEFERRED reader tries to upgrade to a writer.
    transactionType: Transaction.TYPES.IMMEDIATE,
    define: { underscored: true },
  });
  // Every writer of the process, not one service: waiting writers must not hold libuv threads.
  serializeSqliteWrites(sequelize);
  return sequelize;
}

type SqliteOpenCallback = (err: Error | null) => void;

/**
 * sqlite3 with every connection configured on open: Sequelize opens one connection per
 * transaction and offers no connect hook for SQLite, so the pragmas are applied here.
 */
function configuredSqlite3(): object {
  function Database(filename: string, mode: number, callback: SqliteOpenCallback): sqlite3.Database {
    const db: sqlite3.Database = new sqlite3.Database(filename, mode, (openError) => {
      if (openError) {
        callback(openError);
        return;
      }
      db.configure('busyTimeout', SQLITE_BUSY_TIMEOUT_MS);
      // WAL lets readers proceed while one writer writes; it is a no-op for :memory:.
      db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL', (err) =>
        callback(err ?? null),
      );
    });
    return db;
  }
  return { ...sqlite3, Database };
}

function createPostgres(options: CreateSequelizeOptions, logging: Options['logging']): Sequelize {
  const readUrls = options.readUrls ?? [];
  const replication: ReplicationOptions | undefined =
    readUrls.length > 0 ? { read: readUrls.map(connectionFromUrl), write: connectionFromUrl(options.url) } : undefined;
  return new Sequelize(options.url, {
    dialect: 'postgres',
    logging,
    ...(replication ? { replication } : {}),
    pool: { max: options.poolMax ?? 10, min: 0, acquire: ACQUIRE_TIMEOUT_MS, idle: 10_000, evict: 1000 },
    dialectOptions: { connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true },
    define: { underscored: true },
  });
}

function connectionFromUrl(url: string): { host: string; port?: string; username?: string; password?: string; database?: string } {
  const parsed = new URL(url);
  return {
    host: parsed.hostname,
    ...(parsed.port ? { port: parsed.port } : {}),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.pathname.length > 1 ? { database: decodeURIComponent(parsed.pathname.slice(1)) } : {}),
  };
}

// Error codes that mean "the database cannot serve right now", not "the query is wrong":
// socket errors, PostgreSQL class 08 (connection exception) and shutdown/startup states,
// too many connections, and SQLite lock contention that outlasted the busy timeout.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN',
  '57P01', '57P02', '57P03', '53300', 'SQLITE_BUSY', 'SQLITE_CANTOPEN',
]);
const UNAVAILABLE_MESSAGES =
  /terminating connection|connection terminated|connection ended|client has encountered a connection error|timeout exceeded when trying to connect|the database system is (starting up|shutting down|in recovery)|ECONNREFUSED|ECONNRESET/i;

/** True when `err` (or an error it wraps) means the database is unreachable; callers map it to ServiceUnavailableError('database'). */
export function isConnectionError(err: unknown): boolean {
  let current: unknown = err;
  for (let depth = 0; depth < 6 && current instanceof Error; depth += 1) {
    if (current instanceof ConnectionError) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
    if (UNAVAILABLE_MESSAGES.test(current.message)) return true;
    const wrapper = current as { parent?: unknown; original?: unknown; cause?: unknown };
    current = wrapper.parent ?? wrapper.original ?? wrapper.cause;
  }
  return false;
}

/** Readiness probe: resolves when `SELECT 1` answers, else throws ServiceUnavailableError('database'). */
export async function checkDatabase(sequelize: Sequelize, timeoutMs = CONNECT_TIMEOUT_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`database did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([sequelize.query('SELECT 1', { raw: true }), timeout]);
  } catch (err) {
    throw new ServiceUnavailableError('database', err);
  } finally {
    clearTimeout(timer);
  }
}
