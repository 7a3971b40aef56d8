import type { Context } from 'koa';

/** How much of an unread body is read and dropped to keep its connection usable; past it the connection closes. */
export const DRAIN_LIMIT_BYTES = 1024 * 1024;

/**
 * Once a request is answered, what is left of a body nobody read (a reader stopped at its limit, the
 * handler did not need it) must leave the connection, which carries the client's next request after it.
 * Up to DRAIN_LIMIT_BYTES announced, it is read and dropped: the client reads the answer in full and may
 * reuse the connection. A longer or chunked body gets `Connection: close` and Node closes the socket once
 * the answer is written. The socket is never destroyed under the answer (the client would get a reset
 * instead of the 413), and a paused reader never leaves the connection hanging.
 */
export function settleUnreadBody(ctx: Context): void {
  const { req } = ctx;
  if (req.complete || req.destroyed) return;
  const announced = Number(req.headers['content-length']);
  if (!(announced <= DRAIN_LIMIT_BYTES) && !ctx.headerSent) ctx.set('Connection', 'close');
  // A reader that stopped at its limit left the stream paused: flowing again, with no reader, it is dropped.
  req.resume();
}

