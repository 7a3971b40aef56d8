import type { Context } from 'koa';

/**
 * Aborted once the client has closed the connection without its answer having been written (a login whose
 * client gave up waiting): services drop work they have not started for it. Made on first use; a request
 * whose connection is already gone gets a signal that is aborted from the start.
 */
export function abandonedSignal(ctx: Context): AbortSignal {
  const controller = new AbortController();
  const { res } = ctx;
  const gone = () => {
    if (!res.writableFinished) controller.abort();
  };
  if (res.closed) gone();
  else res.once('close', gone);
  return controller.signal;
}
