import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';

export const BODY_LIMIT = '100kb';

/** JSON and form bodies up to 100 kB (413 beyond), malformed JSON → 400 through the error handler. */
export function parseBody(): Middleware {
  return bodyParser({
    enableTypes: ['json', 'form'],
    // DELETE too: removing a second factor takes the password in the body (CONTRACT §9).
    parsedMethods: ['POST', 'PUT', 'PATCH', 'DELETE'],
    jsonLimit: BODY_LIMIT,
    formLimit: BODY_LIMIT,
    encoding: 'utf-8',
    jsonStrict: true,
    onError: (err) => {
      throw err;
    },
  }) as Middleware;
}
