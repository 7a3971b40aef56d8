import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { DatabaseError, QueryTypes, UniqueConstraintError } from 'sequelize';
import { ServiceUnavailableError } from '../../src/errors.ts';
import { checkDatabase, createSequelize, isConnectionError, sqliteStorage } from '../../src/db/sequelize.ts';
import { TEST_DATABASE_URL, createTestDatabase, type TestDatabase } from '../helpers/database.ts';

// Nothing listens on port 1 of the loopback: connections are refused at once.
const DEAD_POSTGRES = 'postgres://postgres@127.0.0.1:1/none';

describe('createSequelize', () => {
  it('reads sqlite: URLs as relative, absolute or in-memory storage', () => {
    expect(sqliteStorage('sqlite:data/idp.sqlite')).to.equal('data/idp.sqlite');
    expect(sqliteStorage('sqlite:/var/lib/idp.sqlite')).to.equal('/var/lib/idp.sqlite');
    expect(sqliteStorage('sqlite:///var/lib/idp.sqlite')).to.equal('/var/lib/idp.sqlite');
    expect(sqliteStorage('sqlite::memory:')).to.equal(':memory:');
  });

  it('refuses other schemes and read replicas for SQLite', () => {
    expect(() => createSequelize({ url: 'mysql://x/y' })).to.throw(/DATABASE_URL/);
    expect(() => createSequelize({ url: 'sqlite::memory:', readUrls: ['postgres://x/y'] })).to.throw(/READ_URLS/);
  });

  it("creates the SQLite file's folder and opens it with WAL, foreign keys and a busy timeout", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'idp-sqlite-'));
    const file = path.join(dir, 'nested', 'deeper', 'db.sqlite');
    const sequelize = createSequelize({ url: `sqlite:${file}` });
    try {
      const pragma = async (name: string) =>
        Object.values((await sequelize.query<Record<string, unknown>>(`PRAGMA ${name}`, { type: QueryTypes.SELECT }))[0] ?? {})[0];
      expect(await pragma('journal_mode')).to.equal('wal');
      expect(await pragma('foreign_keys')).to.equal(1);
      expect(await pragma('busy_timeout')).to.equal(5000);
      expect(existsSync(file)).to.equal(true);
    } finally {
      await sequelize.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sends SQL to logger.debug when a logger is given', async () => {
    const lines: object[] = [];
    const sequelize = createSequelize({ url: 'sqlite::memory:', logger: { debug: (obj) => lines.push(obj) } });
    try {
      await sequelize.query('SELECT 42');
      expect(lines.some((line) => String((line as { sql?: string }).sql).includes('SELECT 42'))).to.equal(true);
    } finally {
      await sequelize.close();
    }
  });

  it('surfaces an unreachable PostgreSQL quickly as a connection error', async () => {
    const sequelize = createSequelize({ url: DEAD_POSTGRES });
    const started = Date.now();
    try {
      let error: unknown;
      await sequelize.query('SELECT 1').catch((err: unknown) => (error = err));
      expect(isConnectionError(error)).to.equal(true);
      expect(Date.now() - started).to.be.below(6000);
    } finally {
      await sequelize.close();
    }
  });
});

describe('isConnectionError', () => {
  it('recognises errors that mean the database is away, also when wrapped', () => {
    const terminated = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01', sql: 'SELECT 1', parameters: {} });
    expect(isConnectionError(new DatabaseError(terminated))).to.equal(true);
    expect(isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).to.equal(true);
    expect(isConnectionError(new Error('outer', { cause: new Error('Connection terminated unexpectedly') }))).to.equal(true);
    expect(isConnectionError(Object.assign(new Error('SQLITE_BUSY: database is locked'), { code: 'SQLITE_BUSY' }))).to.equal(true);
  });

  it('leaves query and constraint errors alone', () => {
    const syntax = Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601', sql: 'SELEC 1', parameters: {} });
    expect(isConnectionError(new DatabaseError(syntax))).to.equal(false);
    expect(isConnectionError(new UniqueConstraintError({ message: 'Validation error' }))).to.equal(false);
    expect(isConnectionError('ECONNREFUSED')).to.equal(false);
    expect(isConnectionError(undefined)).to.equal(false);
  });
});

describe('checkDatabase', () => {
  it('resolves while SQLite answers', async () => {
    const sequelize = createSequelize({ url: 'sqlite::memory:' });
    try {
      await checkDatabase(sequelize);
    } finally {
      await sequelize.close();
    }
  });

  it('throws ServiceUnavailableError("database") when PostgreSQL is unreachable', async () => {
    const sequelize = createSequelize({ url: DEAD_POSTGRES });
    try {
      let error: unknown;
      await checkDatabase(sequelize).catch((err: unknown) => (error = err));
      expect(error).to.be.instanceOf(ServiceUnavailableError);
      expect((error as ServiceUnavailableError).dependency).to.equal('database');
    } finally {
      await sequelize.close();
    }
  });
});

describe('PostgreSQL read replicas (DATABASE_READ_URLS) and dropped connections', () => {
  let primary: TestDatabase;
  let replica: TestDatabase;
  before(async function () {
    primary = await createTestDatabase('postgres', { mocha: this, migrate: false });
    replica = await createTestDatabase('postgres', { mocha: this, migrate: false });
  });
  after(async () => {
    await primary?.drop();
    await replica?.drop();
  });

  it('sends reads to the replicas and writes to DATABASE_URL', async () => {
    const sequelize = createSequelize({ url: primary.url, readUrls: [replica.url] });
    try {
      const current = async (useMaster: boolean) =>
        (await sequelize.query<{ db: string }>('SELECT current_database() AS db', { type: QueryTypes.SELECT, useMaster }))[0]?.db;
      expect(await current(false)).to.equal(new URL(replica.url).pathname.slice(1));
      expect(await current(true)).to.equal(new URL(primary.url).pathname.slice(1));
      expect(new URL(primary.url).host).to.equal(new URL(TEST_DATABASE_URL).host);
    } finally {
      await sequelize.close();
    }
  });

  it('treats a connection the server killed as unavailable, then reconnects by itself', async () => {
    const sequelize = createSequelize({ url: primary.url, poolMax: 1 });
    try {
      const [row] = await sequelize.query<{ pid: number }>('SELECT pg_backend_pid() AS pid', { type: QueryTypes.SELECT });
      await primary.sequelize.query(`SELECT pg_terminate_backend(${Number(row?.pid)})`);
      // The pooled connection fails its next query or two (the server's notice and the closed
      // socket arrive separately); each failure must be classed as a connection error, and the
      // pool must then connect afresh by itself.
      let failures = 0;
      for (;;) {
        try {
          await sequelize.query('SELECT 1');
          break;
        } catch (err) {
          expect(isConnectionError(err), String(err)).to.equal(true);
          failures += 1;
          expect(failures, 'still failing after the connection was replaced').to.be.below(3);
        }
      }
    } finally {
      await sequelize.close();
    }
  });
});
