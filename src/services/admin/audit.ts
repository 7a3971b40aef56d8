/**
 * The audit trail as admins see it: admin changes are recorded with who made them (CONTRACT §6), and
 * the trail is searchable by user, type and time range.
 */
import { Op } from 'sequelize';
import type { WhereOptions } from 'sequelize';
import type { AuditEvent, JsonObject, Models } from '../../db/models/index.ts';
import type { AuditRow, AuditService } from '../audit.ts';
import type { RequestContext } from '../request-context.ts';

/** Who is acting in the admin API or console, and from where. */
export interface AdminContext extends RequestContext {
  actorId: string;
}

/** An audit_events row as the admin API shows it: its detail parsed. */
export interface AuditEventView extends Omit<AuditRow, 'detail'> {
  detail: JsonObject | null;
}

export interface AuditQuery {
  userId?: string;
  type?: string;
  since?: Date;
  until?: Date;
  limit: number;
  offset: number;
}

export interface Page<T> {
  items: T[];
  total: number;
}

function toView(event: AuditEvent): AuditEventView {
  return {
    id: event.id,
    type: event.type,
    outcome: event.outcome,
    user_id: event.userId ?? null,
    ip: event.ip ?? null,
    user_agent: event.userAgent ?? null,
    client_id: event.clientId ?? null,
    detail: event.detail ?? null,
    created_at: event.createdAt,
  };
}

export function createAdminAuditService(options: { models: Pick<Models, 'AuditEvent'>; audit: Pick<AuditService, 'record'> }) {
  const { AuditEvent } = options.models;

  return {
    /**
     * Records an admin change as `admin.<action>`: `userId` is the user the change is about (so the
     * user's own trail shows it), the acting admin is `detail.actor_id`.
     */
    async record(action: string, ctx: AdminContext, about: { userId?: string | null; clientId?: string | null; detail?: Record<string, unknown> } = {}): Promise<void> {
      await options.audit.record({
        type: `admin.${action}`,
        outcome: 'success',
        userId: about.userId ?? null,
        clientId: about.clientId ?? null,
        ip: ctx.ip,
        userAgent: ctx.userAgent,
        detail: { ...about.detail, actor_id: ctx.actorId, door: ctx.door },
      });
    },

    /** Newest first. `until` is exclusive, `since` inclusive. */
    async search(query: AuditQuery): Promise<Page<AuditEventView>> {
      const created: Record<symbol, Date> = {};
      if (query.since) created[Op.gte] = query.since;
      if (query.until) created[Op.lt] = query.until;
      const where: WhereOptions = {
        ...(query.userId ? { userId: query.userId } : {}),
        ...(query.type ? { type: query.type } : {}),
        ...(query.since || query.until ? { createdAt: created } : {}),
      };
      const { rows, count } = await AuditEvent.findAndCountAll({
        where,
        order: [['createdAt', 'DESC'], ['id', 'DESC']],
        limit: query.limit,
        offset: query.offset,
      });
      return { items: rows.map(toView), total: count };
    },

    /** The distinct event types, for the console's filter. */
    async types(): Promise<string[]> {
      const rows = await AuditEvent.findAll({ attributes: ['type'], group: ['type'], order: [['type', 'ASC']], raw: true });
      return rows.map((row) => row.type);
    },
  };
}

export type AdminAuditService = ReturnType<typeof createAdminAuditService>;
