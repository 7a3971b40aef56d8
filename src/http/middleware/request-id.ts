import { randomUUID } from 'node:crypto';
import type Koa from 'koa';
import type { Context } from 'koa';
import type { Logger } from '../../logger.ts';

const SAFE_ID = /^[A-Za-z0-9._:-]{8,128}$/;
const LOG = Symbol('log');

/**
 * `ctx.log`: a child logger carrying the request id, made on first use. Most requests log nothing but
 * their access line, and a pino child per request was a measurable share of a token request.
 */
export function defineRequestLogger(app: Koa, logger: Logger): void {
  Object.defineProperty(app.context, 'log', {
    configurable: true,
    get(this: Koa.Context & { [LOG]?: Logger }): Logger {
      this[LOG] ??= logger.child({ reqId: this.requestId });
      return this[LOG];
    },
  });
}

/** Gives every request an id: the caller's X-Request-Id when it is sane, else a new one. */
export function assignRequestId(ctx: Context): void {
  const incoming = ctx.req.headers['x-request-id'];
  const reqId = typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
  ctx.requestId = reqId;
  ctx.res.setHeader('X-Request-Id', reqId);
}
