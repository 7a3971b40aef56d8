import type { Middleware } from 'koa';
import { ValidationError, type ValidationIssue } from '../../errors.ts';

const NUL = '\u0000';
const ENCODED_NUL = /%00/i;

/** Where the first NUL is in a parsed body (keys included), walked without recursion: a body may nest deeply. */
function nulIn(value: unknown, root: (string | number)[]): (string | number)[] | undefined {
  const pending: [unknown, (string | number)[]][] = [[value, root]];
  while (pending.length) {
    const [current, at] = pending.pop()!;
    if (typeof current === 'string') {
      if (current.includes(NUL)) return at;
    } else if (Array.isArray(current)) {
      current.forEach((item, i) => pending.push([item, [...at, i]]));
    } else if (current !== null && typeof current === 'object') {
      for (const [key, item] of Object.entries(current)) {
        if (key.includes(NUL)) return at;
        pending.push([item, [...at, key]]);
      }
    }
  }
  return undefined;
}

const issue = (loc: (string | number)[]): ValidationIssue => ({ loc, msg: 'Input should not contain NUL characters', type: 'string_pattern_mismatch' });

/**
 * No request value may contain a NUL character: PostgreSQL's text and jsonb cannot store one and
 * SQLite's driver cuts SQL text at it, so it would surface as a database error (a 500) deep inside a
 * service. Refused here with a 422 in the door's own error shape, for every route behind the body parser.
 */
export function rejectNulInput(): Middleware {
  return async (ctx, next) => {
    if (ENCODED_NUL.test(ctx.path)) throw new ValidationError([issue(['path'])]);
    const inQuery = ENCODED_NUL.test(ctx.querystring) ? nulIn(ctx.query, ['query']) : undefined;
    if (inQuery) throw new ValidationError([issue(inQuery)]);
    const inBody = nulIn((ctx.request as { body?: unknown }).body, ['body']);
    if (inBody) throw new ValidationError([issue(inBody)]);
    await next();
  };
}
