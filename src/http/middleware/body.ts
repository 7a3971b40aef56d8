import bourne from '@hapi/bourne';
import coBody from 'co-body';
import type { Context, Middleware } from 'koa';
import { ValidationError } from '../../errors.ts';
import { characterOffset, tooDeepAt } from './json-depth.ts';

export const BODY_LIMIT = '100kb';
/** CONTRACT §6: the body itself is level 1. */
export const MAX_JSON_DEPTH = 32;

// DELETE too: removing a second factor takes the password in the body (CONTRACT §9).
const PARSED_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const JSON_TYPES = ['application/json', 'application/json-patch+json', 'application/vnd.api+json', 'application/csp-report', 'application/reports+json', 'application/scim+json'];
const FORM_TYPES = ['application/x-www-form-urlencoded'];
/** Strict JSON bodies are an object or an array (RFC 7159 whitespace before them). */
const STRICT_JSON = /^[ \t\n\r]*[[{]/;

/** Too deep: FastAPI's own shape for a body it cannot decode (CONTRACT §3), at the bracket that went too deep. */
function tooDeep(text: string, index: number): ValidationError {
  return new ValidationError([
    {
      type: 'json_invalid',
      loc: ['body', characterOffset(text, index)],
      msg: 'JSON decode error',
      input: {},
      ctx: { error: `Nesting deeper than ${MAX_JSON_DEPTH} levels` },
    },
  ]);
}

function parseJson(text: string): unknown {
  if (!text) return {};
  // The text goes with the error (as co-body's own parser did): the error handler reports where Python's
  // parser would have stopped in it (FastAPI's 422 json_invalid, CONTRACT §3).
  if (!STRICT_JSON.test(text)) throw Object.assign(new SyntaxError('invalid JSON, only supports object and array'), { status: 400, body: text });
  const deep = tooDeepAt(text, MAX_JSON_DEPTH);
  if (deep !== -1) throw tooDeep(text, deep);
  try {
    // bourne: JSON.parse, and an own `__proto__` key is refused (co-body's choice, kept).
    return bourne.parse(text, { protoAction: 'error' });
  } catch (err) {
    throw Object.assign(err as Error, { status: 400, body: text });
  }
}

async function read(ctx: Context): Promise<{ body: unknown; raw?: string }> {
  const options = { limit: BODY_LIMIT, encoding: 'utf-8' };
  if (ctx.is(JSON_TYPES)) {
    const raw = (await coBody.text(ctx, options)) as string;
    return { body: parseJson(raw), raw };
  }
  if (ctx.is(FORM_TYPES)) {
    const { parsed, raw } = (await coBody.form(ctx, { ...options, returnRawBody: true })) as { parsed: unknown; raw: string };
    return { body: parsed, raw };
  }
  return { body: {} };
}

/**
 * JSON and form bodies of POST, PUT, PATCH and DELETE up to 100 kB (413 beyond; the rest of the body is dropped
 * or the connection closed, see unread-body.ts). JSON nested deeper than 32 levels is a 422 before it is
 * parsed; malformed JSON → 400 through the error handler. Sets `ctx.request.body` (`{}` for other types)
 * and `ctx.request.rawBody`, the text as received.
 */
export function parseBody(): Middleware {
  return async (ctx, next) => {
    if (!PARSED_METHODS.has(ctx.method) || ctx.request.body !== undefined) return next();
    const { body, raw } = await read(ctx);
    ctx.request.body = body;
    ctx.request.rawBody = raw;
    return next();
  };
}
