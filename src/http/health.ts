import Router from '@koa/router';
import { noStore } from './middleware/no-store.ts';

/** A named readiness check; it throws (or rejects) when its dependency is not usable. */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<void>;
}

const CHECK_TIMEOUT_MS = 2000;

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** /healthz: the process lives. /readyz: every dependency answers; 503 names the ones that do not. */
export function healthRouter(checks: ReadinessCheck[]): Router {
  const router = new Router();
  router.get('/healthz', noStore, (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', noStore, async (ctx) => {
    const results = await Promise.all(
      checks.map(async ({ name, check }) => {
        try {
          await withTimeout(check(), CHECK_TIMEOUT_MS);
          return [name, 'ok'] as const;
        } catch (err) {
          ctx.log.warn({ check: name, reason: (err as Error).message }, 'readiness check failed');
          return [name, 'unavailable'] as const;
        }
      }),
    );
    const failed = results.filter(([, state]) => state !== 'ok').map(([name]) => name);
    if (failed.length) {
      ctx.status = 503;
      ctx.set('Retry-After', '5');
      ctx.body = { status: 'unavailable', failed };
    } else {
      ctx.body = { status: 'ok' };
    }
  });
  return router;
}
