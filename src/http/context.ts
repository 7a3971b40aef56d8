import type { Logger } from '../logger.ts';
import type { AppError } from '../errors.ts';
import type { Locale } from '../config.ts';

/** How a door renders its errors (a legacy profile, the admin API, a page). Set per router by middleware. */
export type ErrorRenderer = (error: AppError) => { status: number; body: unknown; headers?: Record<string, string> };

declare module 'koa' {
  interface Request {
    /** The parsed JSON or form body (src/http/middleware/body.ts); `{}` for other content types. */
    body?: unknown;
    /** The body's text as received, for JSON and forms. */
    rawBody?: string;
  }
  interface DefaultContext {
    requestId: string;
    log: Logger;
  }
  interface DefaultState {
    renderError?: ErrorRenderer;
    /** The route template that matched, for metrics and logs (never the raw path with ids). */
    routeName?: string;
    /** The language a page door chose for this request (CONTRACT §4). */
    lang?: Locale;
  }
}
