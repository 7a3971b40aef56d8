import type { Models } from '../db/models/index.ts';
import type { Logger } from '../logger.ts';

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

export interface AuditServiceOptions {
  models: Pick<Models, 'AuditEvent'>;
  logger: Logger;
}

/**
 * The audit trail (CONTRACT §6): one database row per security event. Recording never fails the
 * request that caused it; a lost event is logged and counted instead (an operator alerts on the count).
 */
export function createAuditService(options: AuditServiceOptions) {
  const { AuditEvent } = options.models;
  const log = options.logger.child({ component: 'audit' });
  let failures = 0;

  return {
    async record(event: AuditEventInput): Promise<void> {
      try {
        await AuditEvent.create({
          type: event.type,
          outcome: event.outcome,
          userId: event.userId ?? null,
          ip: event.ip?.slice(0, 64) ?? null,
          userAgent: event.userAgent?.slice(0, 1024) ?? null,
          clientId: event.clientId ?? null,
          detail: event.detail ?? null,
        });
      } catch (err) {
        failures += 1;
        log.error({ err, type: event.type, outcome: event.outcome, userId: event.userId }, 'audit event not recorded');
      }
    },

    /** How many events could not be written since start-up. */
    failures(): number {
      return failures;
    },
  };
}

export type AuditService = ReturnType<typeof createAuditService>;
