import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../../logger.ts';

const SAFE_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** Gives every request an id (the caller's X-Request-Id when it is sane) and a child logger carrying it. */
export function requestId(logger: Logger): Middleware {
  // The access line carries only the fields below, none of them secret, so it skips the redaction
  // pass, which cost three times the rest of the line (bench/README.md). Everything else logged
  // through ctx.log is redacted as before.
  const access = logger.child({}, { redact: [] });
  return async (ctx, next) => {
    const incoming = ctx.get('X-Request-Id');
    const reqId = SAFE_ID.test(incoming) ? incoming : randomUUID();
    ctx.requestId = reqId;
    ctx.set('X-Request-Id', reqId);
    ctx.log = logger.child({ reqId });
    const started = performance.now();
    try {
      await next();
    } finally {
      const ms = Math.round((performance.now() - started) * 10) / 10;
      access.info({ reqId, method: ctx.method, url: ctx.path, status: ctx.status, ms, ip: ctx.ip }, 'request');
    }
  };
}
