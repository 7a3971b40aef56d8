/**
 * The load generator: runs one autocannon scenario (warm-up, then the measured part) and prints a
 * LoadResult as JSON. The runner starts it pinned to the core the servers do not use.
 * Usage: node bench/load-worker.ts <spec.json>
 */
import { readFileSync } from 'node:fs';
import autocannon, { type RawRequest, type Request, type Result } from 'autocannon';
import type { LoadResult, LoadSpec } from './lib/load-spec.ts';

const spec = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as LoadSpec;
const pool: string[] = spec.poolFile ? (JSON.parse(readFileSync(spec.poolFile, 'utf8')) as string[]) : [];
let next = 0;
let ipCounter = 0;

function item(): string {
  if (pool.length === 0) return '';
  if (spec.once) return pool[Math.min(next++, pool.length - 1)] ?? '';
  return pool[next++ % pool.length] ?? '';
}

function fill(template: string, value: string): string {
  return template.includes('{{item}}') ? template.split('{{item}}').join(value) : template;
}

function setupRequest(request: RawRequest): RawRequest {
  const value = item();
  const headers: Record<string, string> = {};
  for (const [name, template] of Object.entries(spec.headers)) headers[name] = fill(template, value);
  if (spec.spreadIps) {
    ipCounter = (ipCounter + 1) % 16_777_216;
    headers['x-forwarded-for'] = `10.${ipCounter >> 16}.${(ipCounter >> 8) & 255}.${ipCounter & 255}`;
  }
  return {
    ...request,
    method: spec.method,
    headers,
    ...(spec.path !== undefined ? { path: fill(spec.path, value) } : {}),
    ...(spec.body !== undefined ? { body: fill(spec.body, value) } : {}),
  };
}

interface Measured {
  result: Result;
  ok: number;
  /** Response times of the 2xx responses, ms. */
  okTimes: number[];
  /** Every response, whatever its status. */
  completed: number;
  firstSent: number;
  lastResponse: number;
}

function run(seconds: number, maxRequests: number | undefined): Promise<Measured> {
  return new Promise((resolve, reject) => {
    let ok = 0;
    const okTimes: number[] = [];
    let completed = 0;
    let lastResponse = 0;
    const firstSent = performance.now();
    const instance = autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: seconds,
        ...(maxRequests !== undefined ? { maxOverallRequests: Math.max(maxRequests, spec.connections) } : {}),
        requests: [{ setupRequest } satisfies Request],
        // Tokens expire and bodies differ per request: nothing to compare.
        timeout: 10,
      },
      (err, result) => (err ? reject(err) : resolve({ result, ok, okTimes, completed, firstSent, lastResponse })),
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      lastResponse = performance.now();
      completed += 1;
      if (statusCode >= 200 && statusCode < 300) {
        ok += 1;
        okTimes.push(responseTime);
      }
    });
  });
}

const remaining = () => (spec.once ? Math.max(0, pool.length - next) : undefined);

let warmupResponses = 0;
if (spec.warmupSeconds > 0) {
  const warmupBudget = spec.once ? Math.floor(pool.length / 5) : undefined;
  warmupResponses = (await run(spec.warmupSeconds, warmupBudget)).completed;
}
const measured = await run(spec.seconds, remaining());
const { result } = measured;
const elapsed = Math.max(0.001, (measured.lastResponse - measured.firstSent) / 1000);
const statuses: Record<string, number> = {};
for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = (stat as { count: number }).count;
const failed = Object.entries(statuses).filter(([code]) => !code.startsWith('2')).reduce((sum, [, count]) => sum + count, 0);
const sortedOk = [...measured.okTimes].sort((a, b) => a - b);
const percentile = (q: number): number | undefined =>
  sortedOk.length ? Math.round(sortedOk[Math.min(sortedOk.length - 1, Math.floor(q * sortedOk.length))] as number) : undefined;
const out: LoadResult = {
  ok: measured.ok,
  failed,
  errors: result.errors + result.timeouts,
  rps: measured.ok / elapsed,
  p50: result.latency.p50,
  p99: result.latency.p99,
  okP50: percentile(0.5),
  okP99: percentile(0.99),
  seconds: elapsed,
  statuses,
  responses: warmupResponses + measured.completed,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
