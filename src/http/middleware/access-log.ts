import type { Context } from 'koa';
import type { Logger } from '../../logger.ts';
import { accessLineWriter, type AccessLine } from './access-line.ts';

/** What is known of a request once its response is done. */
export interface FinishedRequest {
  /** The path as it arrived, with the mount path of a mounted app (oidc-provider). */
  path: string;
  seconds: number;
  /** The response status, or 499 (nginx's "client closed request") when the client left before it was written. */
  status: number;
}

export type AccessLogMode = 'all' | 'errors' | 'off';

/** nginx's status for a request whose client closed the connection before the response was written. */
export const CLIENT_CLOSED_REQUEST = 499;

/** Told about every request once its response is done (written, or the connection lost). */
export type RequestObserver = (ctx: Context, request: FinishedRequest) => void;

/**
 * One line per request, and the observers (metrics), from a single `close` listener: it fires once the
 * response is finished or aborted (the front calls the returned step as a request starts). The listener
 * runs outside any request's error handling, where a throw would end the process: what it needs of the
 * request is read before the request is handled (the socket, and so the client address, may be gone by the
 * time it fires), and a failing observer is only logged.
 */
export function accessLog(
  logger: Logger,
  observers: readonly RequestObserver[] = [],
  options: { mountPath?: string; mode?: AccessLogMode } = {},
): (ctx: Context) => void {
  const mountPath = options.mountPath ?? '';
  // `errors`: only what failed (status 400 and above, abandoned requests included); `off`: no line at all.
  const minimumStatus = { all: 0, errors: 400, off: Infinity }[options.mode ?? 'all'];
  // The line carries only the fields below, none of them secret, so it skips the redaction pass, which
  // cost three times the rest of the line (bench/README.md). Everything logged through ctx.log is
  // still redacted.
  const writeLine = accessLineWriter(logger);
  return (ctx) => {
    const started = performance.now();
    // The path as the client sent it (a mounted app sees its own part), never the query string, which
    // may carry codes or tokens.
    const path = mountPath + ctx.path;
    const { ip } = ctx;
    // `close` is emitted once per response, so a plain listener does (once() wraps it on every request).
    ctx.res.on('close', () => {
      try {
        const seconds = (performance.now() - started) / 1000;
        // Closed before the response was written: the client went away (Koa's default 404 is not what happened).
        const aborted = !ctx.res.writableFinished;
        const status = aborted ? CLIENT_CLOSED_REQUEST : ctx.res.statusCode;
        if (status >= minimumStatus) {
          const ms = Math.round(seconds * 10_000) / 10;
          const line: AccessLine = { reqId: ctx.requestId, method: ctx.method, url: path, status, ms, ip };
          if (aborted) line.aborted = true;
          writeLine(line);
        }
        const finished = { path, seconds, status };
        for (const observe of observers) observe(ctx, finished);
      } catch (err) {
        logger.error({ err, reqId: ctx.requestId }, 'access log: recording a finished request failed');
      }
    });
  };
}
