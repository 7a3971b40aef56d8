/**
 * Back-channel logout deliveries, off the request path (CONTRACT §4): a session that ends enqueues one
 * notice per client, and the logout that caused it never waits for, or fails because of, a receiver.
 * Each notice gets at most `delaysMs.length` attempts (by default 3: at once, after 5 s, after 20 s
 * more; each attempt bounded by `attemptTimeoutMs`, so the last one ends within a minute), one logout
 * token for all of them (same `jti`: a receiver that got an attempt we saw fail can tell it is a
 * repeat). A refused address is not retried. Every attempt is audited (`backchannel_logout`) and
 * counted. Nothing here throws to its caller.
 */
import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import type { AuditService } from '../services/audit.ts';
import type { Logger } from '../logger.ts';
import type { PostResult } from './backchannel-post.ts';
import { settlePending } from '../services/settle.ts';

/** Why a logout token is sent. */
export type LogoutTrigger = 'end_session' | 'session_revoked' | 'grant_revoked';

export interface LogoutNotice {
  clientId: string;
  /** The user (`sub`). */
  accountId: string;
  /** The client's session id in the ended SSO session (`sid` of its ID tokens), when there is one. */
  sid?: string;
  trigger: LogoutTrigger;
}

export interface DeliverySchedule {
  /** Wait before each attempt, in ms; its length is the number of attempts. */
  delaysMs: readonly number[];
  /** Bound of one attempt (resolving, connecting, the answer's status line). */
  attemptTimeoutMs: number;
}

/** Enough for abandoned deliveries to record themselves and finish. */
const ABANDON_MS = 100;

export const DEFAULT_SCHEDULE: DeliverySchedule = { delaysMs: [0, 5000, 20_000], attemptTimeoutMs: 5000 };

/** Where and what to send for one notice; undefined when the client has no backchannel_logout_uri (or is gone). */
export type PrepareDelivery = (notice: LogoutNotice) => Promise<{ uri: string; logoutToken: string } | undefined>;

/** One attempt, bounded by `timeoutMs`. */
export type PostToken = (uri: string, logoutToken: string, timeoutMs: number) => Promise<PostResult>;

export interface DeliveryQueueOptions {
  prepare: PrepareDelivery;
  post: PostToken;
  audit: Pick<AuditService, 'record'>;
  logger: Logger;
  schedule?: Partial<DeliverySchedule>;
  /** Registers `idp_backchannel_logout_attempts_total{result}` there when given. */
  registry?: Registry;
}

type Result = PostResult['result'] | 'token_error' | 'abandoned';

export function createDeliveryQueue(options: DeliveryQueueOptions) {
  const schedule = { ...DEFAULT_SCHEDULE, ...options.schedule };
  const log = options.logger.child({ component: 'backchannel-logout' });
  const pending = new Set<Promise<void>>();
  const waiting = new Map<NodeJS.Timeout, (proceed: boolean) => void>();
  let stopped = false;
  const attempts = options.registry
    ? new Counter({
        name: 'idp_backchannel_logout_attempts_total',
        help: 'Back-channel logout delivery attempts by result (delivered, http_error, timeout, refused_private_address, ...)',
        labelNames: ['result'] as const,
        registers: [options.registry],
      })
    : undefined;

  function record(notice: LogoutNotice, result: Result, facts: { attempt: number; final: boolean; status?: number }): void {
    attempts?.inc({ result });
    void options.audit.record({
      type: 'backchannel_logout',
      outcome: result === 'delivered' ? 'success' : 'failure',
      userId: notice.accountId,
      clientId: notice.clientId,
      detail: { result, trigger: notice.trigger, attempt: facts.attempt, final: facts.final, ...(facts.status ? { status: facts.status } : {}), ...(notice.sid ? { sid: notice.sid } : {}) },
    });
    if (result !== 'delivered') log.warn({ clientId: notice.clientId, result, attempt: facts.attempt, status: facts.status }, 'back-channel logout attempt failed');
  }

  /** Resolves true after `ms`, or false at once when the queue is closed. Unref'd: a pending retry alone keeps no process alive. */
  function wait(ms: number): Promise<boolean> {
    if (stopped) return Promise.resolve(false);
    if (ms <= 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(timer);
        resolve(true);
      }, ms);
      timer.unref();
      waiting.set(timer, resolve);
    });
  }

  async function deliver(notice: LogoutNotice): Promise<void> {
    let target: Awaited<ReturnType<PrepareDelivery>>;
    try {
      target = await options.prepare(notice);
    } catch (err) {
      log.error({ err, clientId: notice.clientId }, 'could not make a logout token');
      record(notice, 'token_error', { attempt: 0, final: true });
      return;
    }
    if (!target) return;
    const total = schedule.delaysMs.length;
    for (let attempt = 1; attempt <= total; attempt += 1) {
      if (!(await wait(schedule.delaysMs[attempt - 1] ?? 0))) {
        record(notice, 'abandoned', { attempt, final: true });
        return;
      }
      const outcome = await options.post(target.uri, target.logoutToken, schedule.attemptTimeoutMs);
      const retry = outcome.result !== 'delivered' && outcome.result !== 'refused_private_address' && outcome.result !== 'invalid_uri';
      record(notice, outcome.result, { attempt, final: !retry || attempt === total, status: 'status' in outcome ? outcome.status : undefined });
      if (!retry) return;
    }
  }

  const settle = (timeoutMs = 60_000): Promise<void> => settlePending(pending, timeoutMs);

  return {
    /** Queues the notice and returns at once; never throws. */
    enqueue(notice: LogoutNotice): void {
      if (stopped) {
        record(notice, 'abandoned', { attempt: 0, final: true });
        return;
      }
      const task = deliver(notice)
        .catch((err: unknown) => log.error({ err }, 'back-channel logout delivery failed'))
        .finally(() => pending.delete(task));
      pending.add(task);
    },

    /** Deliveries not yet finished (retries waiting included). */
    get pending(): number {
      return pending.size;
    },

    /** Waits until every queued delivery has finished, retries included, at most `timeoutMs`. */
    settle,

    /**
     * Shutdown: deliveries may go on, retries that come due included, until `timeoutMs` has passed;
     * then retries still waiting are given up (audited `abandoned`) and later notices refused. Nothing is
     * persisted: a process that exits with retries pending does not resume them after a restart.
     */
    async close(timeoutMs = 5000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      await settle(timeoutMs);
      stopped = true;
      for (const [timer, resolve] of waiting) {
        clearTimeout(timer);
        resolve(false);
      }
      waiting.clear();
      // The abandoned ones end at once; an attempt in flight at the deadline may still answer within
      // what is left (its audit row with it).
      await settle(Math.max(ABANDON_MS, deadline - Date.now()));
    },
  };
}

export type DeliveryQueue = ReturnType<typeof createDeliveryQueue>;
