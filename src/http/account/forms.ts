/** Small helpers the account page handlers share: the posted form, one field of it, the request context. */
import type { Context } from 'koa';
import type { RequestContext } from '../../services/request-context.ts';
import { clientIp } from '../client-ip.ts';
import type { SignedIn } from '../first-party/sign-in.ts';

export function formOf(ctx: Context): Record<string, unknown> {
  const body = (ctx.request as { body?: unknown }).body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

/** A form field as a string, at most `max` characters (a repeated field gives its first value). */
export function field(form: Record<string, unknown>, name: string, max = 1024): string {
  const raw = form[name];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return typeof value === 'string' ? value.slice(0, max) : '';
}

/** Who is asking, for the services' audit records, and the page's language for any mail the request causes. */
export function requestContext(ctx: Context): RequestContext {
  return { door: 'account', locale: ctx.state.lang, ip: clientIp(ctx), userAgent: ctx.get('User-Agent') || undefined };
}

/** The signed-in user of a guarded route (the guard has put it there). */
export function signedIn(ctx: Context): SignedIn {
  const state = ctx.state.account;
  if (!state) throw new Error('account route without the sign-in guard');
  return state;
}
