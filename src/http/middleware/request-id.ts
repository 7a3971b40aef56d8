import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { Logger } from '../../logger.ts';

const SAFE_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** Gives every request an id (the caller's X-Request-Id when it is sane) and a child logger carrying it. */
export function requestId(logger: Logger): Middleware {
  return async (ctx, next) => {
    const incoming = ctx.get('X-Request-Id');
    ctx.requestId = SAFE_ID.test(incoming) ? incoming : randomUUID();
    ctx.set('X-Request-Id', ctx.requestId);
    ctx.log = logger.child({ reqId: ctx.requestId });
    const started = performance.now();
    try {
      await next();
    } finally {
      const ms = Math.round((performance.now() - started) * 10) / 10;
      ctx.log.info({ method: ctx.method, url: ctx.path, status: ctx.status, ms, ip: ctx.ip }, 'request');
    }
  };
}
