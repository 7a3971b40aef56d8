import { EventEmitter } from 'node:events';
import type { Worker } from 'node:cluster';
import { expect } from 'chai';
import { RESTART_BACKOFF, restartDelay, superviseWorkers, type ClusterApi } from '../../src/cluster.ts';
import { exitOnUncaught } from '../../src/last-resort.ts';

/** node:cluster as the supervisor sees it: forks are recorded, exits and listens are emitted by the test. */
function fakeCluster() {
  const events = new EventEmitter();
  const workers: Record<number, Worker> = {};
  let nextId = 1;
  const api = {
    workers,
    on: (event: string, listener: (...args: unknown[]) => void) => {
      events.on(event, listener);
      return api;
    },
    fork: () => {
      const id = nextId++;
      const worker = { id, process: { pid: 1000 + id, kill: () => true } } as unknown as Worker;
      workers[id] = worker;
      return worker;
    },
  };
  return {
    api: api as unknown as ClusterApi,
    forks: () => nextId - 1,
    listen(id: number) {
      events.emit('listening', workers[id], { port: 3000 });
    },
    crash(id: number) {
      const worker = workers[id];
      delete workers[id];
      events.emit('exit', worker, 1, null);
    },
  };
}

function silentLogger() {
  const lines: { level: string; obj: unknown; msg?: string }[] = [];
  const log = (level: string) => (obj: unknown, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, logger: { info: log('info'), warn: log('warn'), error: log('error') } };
}

describe('the worker supervisor (src/cluster.ts)', () => {
  it('waits 0.5 s before the first replacement, doubling per crash in the last minute up to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20, 1000].map(restartDelay)).to.deep.equal([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it('never gives up once the service has served: every crash gets a replacement, later and later, and the delay falls back after a quiet minute', () => {
    const cluster = fakeCluster();
    const { logger, lines } = silentLogger();
    const scheduled: { run: () => void; ms: number }[] = [];
    let clock = 0;
    const exits: number[] = [];
    superviseWorkers({
      workers: 2,
      logger,
      cluster: cluster.api,
      schedule: (run, ms) => {
        scheduled.push({ run, ms });
        return {};
      },
      now: () => clock,
      exit: (code) => void exits.push(code),
      signals: false,
    });
    expect(cluster.forks()).to.equal(2);
    cluster.listen(1);
    cluster.listen(2);

    // Twelve crashes in a minute (the old supervisor stopped for good after six).
    let live = [1, 2];
    for (let i = 0; i < 12; i += 1) {
      clock += 1000;
      const id = live.shift()!;
      cluster.crash(id);
      const due = scheduled.shift()!;
      expect(due.ms).to.equal(restartDelay(i + 1));
      due.run();
      const replacement = cluster.forks();
      // Every other replacement fails before it listens: it still counts as a crash and is retried.
      if (i % 2 === 0) cluster.listen(replacement);
      live.push(replacement);
    }
    expect(exits, 'the primary never exits').to.deep.equal([]);
    expect(cluster.forks()).to.equal(14);
    expect(lines.filter((line) => line.level === 'error')).to.deep.equal([]);

    // After a quiet minute the count has emptied: the next replacement is quick again.
    clock += RESTART_BACKOFF.windowMs + 1;
    live = live.filter((id) => id in (cluster.api.workers ?? {}));
    cluster.crash(live[0]!);
    expect(scheduled.shift()!.ms).to.equal(RESTART_BACKOFF.initialMs);
  });

  it('exits 1 when the service cannot start at all (no worker ever listened)', () => {
    const cluster = fakeCluster();
    const { logger } = silentLogger();
    const exits: number[] = [];
    superviseWorkers({ workers: 1, logger, cluster: cluster.api, schedule: () => ({}), exit: (code) => void exits.push(code), signals: false });
    cluster.crash(1);
    expect(exits).to.deep.equal([1]);
  });
});

describe('the last-resort handlers (src/last-resort.ts)', () => {
  for (const [event, origin] of [
    ['uncaughtException', 'uncaughtException'],
    ['unhandledRejection', 'unhandledRejection'],
  ] as const) {
    it(`logs a ${event} as one fatal line with its error, then exits 1`, () => {
      const proc = new EventEmitter();
      const fatal: { obj: { err: unknown; origin: string }; msg: string }[] = [];
      const exits: number[] = [];
      exitOnUncaught({ fatal: ((obj: { err: unknown; origin: string }, msg: string) => void fatal.push({ obj, msg })) as never }, {
        process: proc as unknown as NodeJS.Process,
        exit: (code) => void exits.push(code),
      });
      const err = new Error('boom');
      if (event === 'uncaughtException') proc.emit(event, err, 'uncaughtException');
      else proc.emit(event, err, Promise.resolve());
      proc.emit('uncaughtException', new Error('a second one while exiting'), 'uncaughtException');
      expect(fatal).to.have.length(1);
      expect(fatal[0]!.obj).to.deep.equal({ err, origin });
      expect(fatal[0]!.msg).to.equal(`${origin}: exiting`);
      expect(exits).to.deep.equal([1]);
    });
  }
});
