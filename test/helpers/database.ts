/**
 * A fresh, migrated database per test suite: a uniquely named PostgreSQL database on the shared
 * server, or an SQLite file in a temp folder. drop() closes and removes it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Sequelize } from 'sequelize';
import { runMigrations } from '../../src/db/migrate.ts';
import { initModels, type Models } from '../../src/db/models/index.ts';
import { createSequelize } from '../../src/db/sequelize.ts';

export type DatabaseKind = 'postgres' | 'sqlite';
export const DATABASE_KINDS: readonly DatabaseKind[] = ['postgres', 'sqlite'];

/** The server test databases are created on; its own database is only used to CREATE/DROP. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  kind: DatabaseKind;
  /** A DATABASE_URL for this database (give it to a server or a CLI child process). */
  url: string;
  sequelize: Sequelize;
  models: Models;
  /** Closes the connections and deletes the database; safe to call twice. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Apply the migrations (default true); false gives an empty database for migration tests. */
  migrate?: boolean;
  /**
   * The mocha context of the calling hook: without REQUIRE_SERVICES=1 an unreachable PostgreSQL
   * skips the suite through it. Without a context (or with REQUIRE_SERVICES=1) it fails.
   */
  mocha?: Mocha.Context;
}

export function servicesRequired(): boolean {
  return process.env.REQUIRE_SERVICES === '1' || process.env.REQUIRE_SERVICES === 'true';
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

async function adminQuery(sql: string): Promise<void> {
  const admin = createSequelize({ url: TEST_DATABASE_URL, poolMax: 1 });
  try {
    await admin.query(sql, { raw: true });
  } finally {
    await admin.close();
  }
}

let reachable: Promise<boolean> | undefined;

/** Whether the test PostgreSQL answers; probed once per process. */
export function postgresAvailable(): Promise<boolean> {
  reachable ??= adminQuery('SELECT 1').then(
    () => true,
    () => false,
  );
  return reachable;
}

async function requirePostgres(context: Mocha.Context | undefined): Promise<void> {
  if (await postgresAvailable()) return;
  const message = `PostgreSQL is not reachable at ${new URL(TEST_DATABASE_URL).host} (set TEST_DATABASE_URL)`;
  if (context && !servicesRequired()) context.skip();
  throw new Error(servicesRequired() ? `${message}; REQUIRE_SERVICES=1 makes this a failure` : message);
}

async function prepare(url: string, migrate: boolean, cleanup: () => Promise<void>, kind: DatabaseKind): Promise<TestDatabase> {
  const sequelize = createSequelize({ url, poolMax: 5 });
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await sequelize.close();
    await cleanup();
  };
  try {
    if (migrate) await runMigrations(sequelize);
    return { kind, url, sequelize, models: initModels(sequelize), drop };
  } catch (err) {
    await drop();
    throw err;
  }
}

export async function createTestDatabase(kind: DatabaseKind, options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const migrate = options.migrate ?? true;
  if (kind === 'sqlite') {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-db-'));
    const file = path.join(dir, 'test.sqlite');
    return prepare(`sqlite:${file}`, migrate, async () => rmSync(dir, { recursive: true, force: true }), kind);
  }
  await requirePostgres(options.mocha);
  const name = `idp_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(`CREATE DATABASE "${name}"`);
  // WITH (FORCE) ends connections a failed test may have leaked (PostgreSQL 13+).
  const cleanup = () => adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  return prepare(withDatabase(TEST_DATABASE_URL, name), migrate, cleanup, kind);
}
