/** Runs one load scenario in a separate, pinned load-generator process (bench/load-worker.ts). */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { cpuSeconds, runToCompletion, threadCpuSeconds } from './processes.ts';
import type { LoadResult, LoadSpec } from './load-spec.ts';

export type { LoadResult, LoadSpec } from './load-spec.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const LOAD_CPU = 1;
export const SERVER_CPU = 0;

let specCounter = 0;

export function writePool(dir: string, name: string, items: readonly string[]): string {
  const file = path.join(dir, `pool-${name}.json`);
  writeFileSync(file, JSON.stringify(items));
  return file;
}

export interface Measurement extends LoadResult {
  /** Server CPU time per response (all its threads), in microseconds, when the server's PID was given. */
  cpuUs?: number;
  /** The same, by kind of thread (main, libuv pool, V8 workers, other). */
  threadCpuUs?: Record<string, number>;
  /** Filled in by the runner: the server's peak resident memory during the run, bytes. */
  rssPeak?: number;
}

/**
 * Runs `spec` from the load-generator core. With `serverPid`, also measures the server's CPU time per
 * response: less sensitive than req/s to other work on a shared machine.
 */
export async function runLoad(dir: string, spec: LoadSpec, serverPid?: number): Promise<Measurement> {
  specCounter += 1;
  const file = path.join(dir, `spec-${specCounter}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const timeoutMs = (spec.warmupSeconds + spec.seconds) * 1000 + 30_000;
  const cpuBefore = serverPid === undefined ? undefined : await cpuSeconds(serverPid);
  const threadsBefore = serverPid === undefined ? {} : await threadCpuSeconds(serverPid);
  const stdout = await runToCompletion('load generator', process.execPath, [path.join(ROOT, 'bench/load-worker.ts'), file], {
    cpu: LOAD_CPU,
    cwd: ROOT,
    timeoutMs,
  });
  const cpuAfter = serverPid === undefined ? undefined : await cpuSeconds(serverPid);
  const threadsAfter = serverPid === undefined ? {} : await threadCpuSeconds(serverPid);
  const line = stdout.trim().split('\n').pop() ?? '';
  const result = JSON.parse(line) as LoadResult;
  if (cpuBefore === undefined || cpuAfter === undefined || result.responses === 0) return result;
  const perResponse = (seconds: number) => (seconds * 1e6) / result.responses;
  const threadCpuUs = Object.fromEntries(
    Object.entries(threadsAfter).map(([kind, seconds]) => [kind, perResponse(seconds - (threadsBefore[kind] ?? 0))]),
  );
  return { ...result, cpuUs: perResponse(cpuAfter - cpuBefore), threadCpuUs };
}

/**
 * One figure from several runs of the same load: rates from the summed responses and seconds, CPU per
 * response weighted by responses, latency percentiles as the mean of the runs'.
 */
export function combine(runs: readonly Measurement[]): Measurement {
  if (runs.length === 1 && runs[0]) return runs[0];
  const sum = (pick: (m: Measurement) => number) => runs.reduce((total, m) => total + pick(m), 0);
  const responses = sum((m) => m.responses);
  const seconds = sum((m) => m.seconds);
  const weighted = (pick: (m: Measurement) => number | undefined) =>
    runs.every((m) => pick(m) !== undefined) ? sum((m) => (pick(m) ?? 0) * m.responses) / responses : undefined;
  const kinds = new Set(runs.flatMap((m) => Object.keys(m.threadCpuUs ?? {})));
  const statuses: Record<string, number> = {};
  for (const m of runs) for (const [status, count] of Object.entries(m.statuses)) statuses[status] = (statuses[status] ?? 0) + count;
  return {
    ok: sum((m) => m.ok),
    failed: sum((m) => m.failed),
    errors: sum((m) => m.errors),
    rps: sum((m) => m.rps * m.seconds) / seconds,
    p50: sum((m) => m.p50) / runs.length,
    p99: sum((m) => m.p99) / runs.length,
    seconds,
    statuses,
    responses,
    cpuUs: weighted((m) => m.cpuUs),
    threadCpuUs: Object.fromEntries([...kinds].map((kind) => [kind, weighted((m) => m.threadCpuUs?.[kind] ?? 0) ?? 0])),
  };
}
