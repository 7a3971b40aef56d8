/**
 * One SQL statement with bind parameters on a PostgreSQL primary connection taken from Sequelize's own
 * pool, without Sequelize's query layer (SQL formatting, escaping, the retry wrapper, result
 * building): for the statements of a password login, where that layer cost as much main-thread CPU
 * as the rest of the statement (bench/README.md, POST /auth/login). Errors are pg's own; the error
 * middleware's isConnectionError (db/sequelize.ts) knows them, so an outage is still a 503.
 */
import type { Sequelize } from 'sequelize';

/** The slice of a pg client used here. */
interface PgClient {
  query(sql: string, values: readonly unknown[]): Promise<{ rows: unknown[] }>;
}

export type PrimaryQuery = <Row>(sql: string, values: readonly unknown[]) => Promise<Row[]>;

/** A runner for PostgreSQL; undefined for other dialects, which keep Sequelize's query(). */
export function primaryQuery(sequelize: Sequelize): PrimaryQuery | undefined {
  if (sequelize.getDialect() !== 'postgres') return undefined;
  const { connectionManager } = sequelize;
  return async <Row>(sql: string, values: readonly unknown[]) => {
    // type 'write': the primary's pool, also with read replicas (DATABASE_READ_URLS).
    const connection = (await connectionManager.getConnection({ type: 'write' })) as unknown as PgClient;
    try {
      return (await connection.query(sql, values)).rows as Row[];
    } finally {
      connectionManager.releaseConnection(connection as never);
    }
  };
}
