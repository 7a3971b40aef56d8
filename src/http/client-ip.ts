import type { Context } from 'koa';

/**
 * The client address as every door records it (sessions, audit rows, request contexts): an IPv4
 * client on a dual-stack socket, `::ffff:10.0.0.1`, is `10.0.0.1`, so one user's list never shows
 * the same address two ways. X-Forwarded-For counts only when TRUST_PROXY is on (Koa's `app.proxy`).
 */
export function clientIp(ctx: Pick<Context, 'ip'>): string | undefined {
  const ip = ctx.ip;
  if (!ip) return undefined;
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice('::ffff:'.length) : ip;
}
