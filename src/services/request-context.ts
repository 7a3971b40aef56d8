/**
 * What a door knows about the request that led to a service call: who is calling from where. Services
 * record it (sessions, audit events) but never see the HTTP request itself.
 */
import type { Locale } from '../config.ts';

export type Door = 'auth-service' | 'aurora' | 'v2' | 'envelope' | 'interaction' | 'admin' | 'cli';

export interface RequestContext {
  ip?: string;
  userAgent?: string;
  deviceId?: string;
  deviceName?: string;
  deviceType?: string;
  /** The OIDC client the request is for (an interaction login), for the audit trail. */
  clientId?: string;
  door: Door | string;
  /**
   * The language of the request (the door negotiated it: `ui_locales`, then Accept-Language): a mail this
   * request causes is written in it. Absent → the first of UI_LOCALES.
   */
  locale?: Locale;
  /** Aborted when the client has gone before its answer: a login is then not hashed and starts no session. */
  abandoned?: AbortSignal;
}

/** The request's part of an audit event. */
export function auditFrom(ctx: RequestContext): { ip?: string; userAgent?: string; clientId?: string } {
  return { ip: ctx.ip, userAgent: ctx.userAgent, clientId: ctx.clientId };
}
