import { AsyncResource } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Sequelize } from 'sequelize';
import type { Models } from '../db/models/index.ts';
import type { Logger } from '../logger.ts';
import { primaryQuery } from '../db/primary-sql.ts';

export interface AuditEventInput {
  /** e.g. `login`, `logout`, `refresh`, `refresh_reuse`, `register`, `password_change`, `password_reset`. */
  type: string;
  outcome: 'success' | 'failure';
  userId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  clientId?: string | null;
  /** Client-safe facts only (reason codes, door, session id): never a secret. */
  detail?: Record<string, unknown>;
}

/** One audit_events row, by column. */
export interface AuditRow {
  id: string;
  type: string;
  outcome: string;
  user_id: string | null;
  ip: string | null;
  user_agent: string | null;
  client_id: string | null;
  /** JSON text. */
  detail: string | null;
  created_at: Date;
}

const COLUMNS = ['id', 'type', 'outcome', 'user_id', 'ip', 'user_agent', 'client_id', 'detail', 'created_at'] as const;

/**
 * Writes rows in one multi-row INSERT: on PostgreSQL with bind parameters straight on a primary
 * connection (primary-sql.ts), elsewhere through Sequelize, whose SQLite write queue serialises writers.
 */
export function auditWriter(sequelize: Sequelize): (rows: readonly AuditRow[]) => Promise<void> {
  const direct = primaryQuery(sequelize);
  if (!direct) {
    return async (rows) => {
      await sequelize.getQueryInterface().bulkInsert('audit_events', rows.map((row) => ({ ...row })));
    };
  }
  return async (rows) => {
    const values: unknown[] = [];
    const tuples = rows.map((row) => `(${COLUMNS.map((column) => `$${values.push(row[column])}`).join(', ')})`);
    await direct(`INSERT INTO audit_events (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, values);
  };
}

export interface AuditServiceOptions {
  models: Pick<Models, 'AuditEvent'>;
  logger: Logger;
  /** Most events one INSERT writes; more waiting go in the next. Default 500. */
  maxBatch?: number;
  /** Writes one batch; default auditWriter on the models' database (tests wrap it). */
  write?: (rows: readonly AuditRow[]) => Promise<void>;
}

interface Pending {
  event: AuditEventInput;
  row: AuditRow;
  done: () => void;
}

/**
 * The audit trail (CONTRACT §6): one database row per security event. Recording never fails the
 * request that caused it; a lost event is logged and counted instead (an operator alerts on the count).
 *
 * Group commit: an event recorded while no INSERT is in flight is written at once (no added latency);
 * events recorded while one is in flight wait for it and then go together in the next INSERT, so under
 * load there is one statement per batch, not per event. record() resolves once its event is written
 * (or counted as lost), so a caller that reads the trail afterwards finds it.
 */
export function createAuditService(options: AuditServiceOptions) {
  const { AuditEvent } = options.models;
  const log = options.logger.child({ component: 'audit' });
  const maxBatch = options.maxBatch ?? 500;
  const write = options.write ?? auditWriter(AuditEvent.sequelize!);
  let failures = 0;
  const queue: Pending[] = [];
  let writing: Promise<void> | undefined;
  // The writer runs in the async context the service was made in, not that of whichever request
  // happened to start it: its later batches carry other requests' events (and, on SQLite, a context
  // inside a transaction would let them skip the write queue of db/sqlite-writes.ts).
  const writerScope = new AsyncResource('audit-writer');

  // Column values, not a model instance per event: cheaper, and one INSERT for many.
  function toRow(event: AuditEventInput): AuditRow {
    return {
      id: randomUUID(),
      type: event.type,
      outcome: event.outcome,
      user_id: event.userId ?? null,
      ip: event.ip?.slice(0, 64) ?? null,
      user_agent: event.userAgent?.slice(0, 1024) ?? null,
      client_id: event.clientId ?? null,
      detail: event.detail === undefined ? null : JSON.stringify(event.detail),
      created_at: new Date(),
    };
  }

  function lost(err: unknown, event: AuditEventInput): void {
    failures += 1;
    log.error({ err, type: event.type, outcome: event.outcome, userId: event.userId }, 'audit event not recorded');
  }

  async function writeBatch(batch: Pending[]): Promise<void> {
    try {
      await write(batch.map((pending) => pending.row));
    } catch (err) {
      for (const { event } of batch) lost(err, event);
    }
    for (const pending of batch) pending.done();
  }

  async function drain(): Promise<void> {
    while (queue.length > 0) await writeBatch(queue.splice(0, maxBatch));
    writing = undefined;
  }

  return {
    record(event: AuditEventInput): Promise<void> {
      let row: AuditRow;
      try {
        row = toRow(event);
      } catch (err) {
        // A detail that is not JSON (a cycle, a BigInt) loses this event only.
        lost(err, event);
        return Promise.resolve();
      }
      return new Promise<void>((done) => {
        queue.push({ event, row, done });
        writing ??= writerScope.runInAsyncScope(drain);
      });
    },

    /** Resolves when every event recorded so far is written or counted as lost (shutdown). */
    async flush(): Promise<void> {
      while (writing) await writing;
    },

    /** How many events could not be written since start-up. */
    failures(): number {
      return failures;
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
