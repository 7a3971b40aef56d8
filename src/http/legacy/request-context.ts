import type { Context } from 'koa';
import type { RequestContext } from '../../services/request-context.ts';
import type { Locale } from '../../config.ts';
import { abandonedSignal } from '../abandoned.ts';
import { clientIp } from '../client-ip.ts';

/**
 * What the services record about a legacy request: the device headers of CONTRACT §3, the user agent
 * and the client IP (X-Forwarded-For only when TRUST_PROXY is on: Koa's `app.proxy`). The session service
 * bounds and cleans the values; an absent device type is `unknown`.
 */
export function requestContext(ctx: Context, door: string, options: { abandonable?: boolean; locale?: Locale } = {}): RequestContext {
  const header = (name: string): string | undefined => ctx.get(name) || undefined;
  return {
    // Only for the operations that wait for a password hash: a plain property (an accessor here cost the
    // hot /me path a quarter of its CPU, bench/README.md), and no close listener where none is needed.
    abandoned: options.abandonable ? abandonedSignal(ctx) : undefined,
    ip: clientIp(ctx),
    userAgent: header('User-Agent'),
    deviceId: header('X-Device-ID'),
    deviceName: header('X-Device-Name'),
    deviceType: header('X-Device-Type') ?? 'unknown',
    door,
    // Only for the operations that send mail (negotiated by the router): the mail's language.
    locale: options.locale,
  };
}
