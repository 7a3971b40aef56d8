import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { AppError, BadRequestError, MalformedJsonError, ValidationError, NotFoundError, PayloadTooLargeError } from '../../errors.ts';
import { pythonJsonError } from './python-json.ts';
import type { ErrorRenderer } from '../context.ts';
import { pageDoorOf, renderErrorPage, type ErrorPageViews } from './error-pages.ts';
import type { I18n } from '../../services/i18n.ts';

/** Maps an error of a lower layer (e.g. a lost database connection) to an AppError, or returns undefined. */
export type ErrorTranslator = (error: unknown) => AppError | undefined;

/** FastAPI's error body: `{"detail": "…"}`, or the list of validation issues for a 422. */
export const renderDetail: ErrorRenderer = (error) => ({
  status: error.status,
  body: { detail: error.status === 422 && Array.isArray(error.detail) ? error.detail : error.message },
});

const INTERNAL = new AppError(500, 'INTERNAL_ERROR', 'Internal Server Error', { expose: true });

/** Errors thrown by the body parser (co-body / raw-body) carry an HTTP status, and sometimes a `type`. */
function fromBodyParser(error: unknown): AppError | undefined {
  if (!(error instanceof Error)) return undefined;
  const { type, status } = error as { type?: unknown; status?: unknown };
  if (type === 'entity.too.large' || status === 413) return new PayloadTooLargeError();
  if (status === 400 && (error instanceof SyntaxError || type === 'entity.parse.failed')) {
    const text = (error as { body?: unknown }).body;
    // co-body keeps the text it failed on. Python parses what JSON.parse refused only when the top level is
    // not an object or array (co-body's strict mode) or a member is named __proto__: then it is not a
    // dictionary FastAPI could read fields from, which pydantic reports at the body itself.
    if (typeof text !== 'string') return new MalformedJsonError(0, 'Expecting value');
    const python = pythonJsonError(text);
    if (python) return new MalformedJsonError(python.pos, python.msg);
    if (/^[\s\ufeff]*[[{]/.test(text)) {
      return new ValidationError([{ type: 'value_error', loc: ['body'], msg: 'Value error, a member named __proto__ is not accepted', input: {} }]);
    }
    let input: unknown;
    try {
      input = JSON.parse(text);
    } catch {
      return new MalformedJsonError(0, 'Expecting value');
    }
    // A scalar: nothing nested to echo.
    return new ValidationError([{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input }]);
  }
  if (status === 415 || type === 'encoding.unsupported' || type === 'charset.unsupported') {
    return new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported request body encoding');
  }
  if (status === 400) return new BadRequestError('Unreadable request body');
  return undefined;
}

export interface ErrorPages {
  /** The routers of the app; those marked with servesPages answer their errors as pages. */
  routers: readonly Router[];
  views: ErrorPageViews;
  /** The pages' languages: an error page speaks the reader's (CONTRACT §4). */
  i18n: I18n;
}

/**
 * The one place errors become responses. An error that is not an AppError (or not exposed) is logged with
 * its stack and becomes a generic 500. It is then rendered, as Koa's onerror does, by what the request is
 * for: the renderer an API door put on ctx.state (a legacy profile's dialect, FastAPI `detail` for the
 * admin API, set before the body is read), else an HTML page for a page door (error-pages.ts), else JSON
 * `detail`.
 */
export function errorHandler(translators: ErrorTranslator[] = [], pages?: ErrorPages): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new NotFoundError();
    } catch (caught) {
      let error: AppError | undefined = caught instanceof AppError ? caught : undefined;
      for (const translate of translators) error ??= translate(caught);
      error ??= fromBodyParser(caught);
      if (!error || !error.expose) {
        ctx.log.error({ err: caught }, 'unhandled error');
        error = INTERNAL;
      } else if (error.status >= 500) {
        ctx.log.warn({ code: error.code, cause: (error.cause as Error | undefined)?.message }, error.message);
      }
      ctx.remove('Content-Length');
      const door = ctx.state.renderError || !pages ? undefined : pageDoorOf(ctx, pages.routers);
      if (door && pages) {
        for (const [name, value] of Object.entries(error.headers)) ctx.set(name, value);
        await renderErrorPage(ctx, error, pages, door);
        return;
      }
      const render = ctx.state.renderError ?? renderDetail;
      const rendered = render(error);
      ctx.status = rendered.status;
      for (const [name, value] of Object.entries({ ...error.headers, ...rendered.headers })) ctx.set(name, value);
      ctx.body = rendered.body;
    }
  };
}
