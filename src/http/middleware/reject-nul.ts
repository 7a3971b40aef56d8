import type { Middleware } from 'koa';
import { ValidationError, type ValidationIssue } from '../../errors.ts';

const NUL = '\u0000';
const ENCODED_NUL = /%00/i;

/** A value waiting to be looked at, with how it was reached: the path is rebuilt only when a NUL is found. */
interface Step {
  value: unknown;
  key: string | number;
  parent: Step | undefined;
}

function pathOf(step: Step): (string | number)[] {
  const path: (string | number)[] = [];
  for (let at: Step | undefined = step; at; at = at.parent) path.push(at.key);
  return path.reverse();
}

/**
 * Where the first NUL is in a parsed body (keys included). Iterative, and linear: each value is visited
 * once and no path is copied on the way down (a body may nest 32 levels and hold thousands of values).
 */
function nulIn(value: unknown, root: string): (string | number)[] | undefined {
  const pending: Step[] = [{ value, key: root, parent: undefined }];
  while (pending.length) {
    const step = pending.pop()!;
    const current = step.value;
    if (typeof current === 'string') {
      if (current.includes(NUL)) return pathOf(step);
    } else if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i += 1) pending.push({ value: current[i], key: i, parent: step });
    } else if (current !== null && typeof current === 'object') {
      for (const [key, item] of Object.entries(current)) {
        if (key.includes(NUL)) return pathOf(step);
        pending.push({ value: item, key, parent: step });
      }
    }
  }
  return undefined;
}

/**
 * Whether a body's text can hold a NUL at all: raw, JSON-escaped or percent-encoded. When it cannot (nearly
 * always), the parsed body is not walked.
 */
const mayHoldNul = (raw: string): boolean => raw.includes(NUL) || raw.includes('\\u0000') || ENCODED_NUL.test(raw);

const issue = (loc: (string | number)[]): ValidationIssue => ({ loc, msg: 'Input should not contain NUL characters', type: 'string_pattern_mismatch' });

/**
 * No request value may contain a NUL character: PostgreSQL's text and jsonb cannot store one and
 * SQLite's driver cuts SQL text at it, so it would surface as a database error (a 500) deep inside a
 * service. Refused here with a 422 in the door's own error shape, for every route behind the body parser.
 */
export function rejectNulInput(): Middleware {
  return async (ctx, next) => {
    if (ENCODED_NUL.test(ctx.path)) throw new ValidationError([issue(['path'])]);
    const inQuery = ENCODED_NUL.test(ctx.querystring) ? nulIn(ctx.query, 'query') : undefined;
    if (inQuery) throw new ValidationError([issue(inQuery)]);
    const { body, rawBody } = ctx.request;
    const inBody = rawBody === undefined || mayHoldNul(rawBody) ? nulIn(body, 'body') : undefined;
    if (inBody) throw new ValidationError([issue(inBody)]);
    await next();
  };
}
