/** What the runner asks the load generator (bench/load-worker.ts) to do, and what it reports back. */
export interface LoadSpec {
  /** Full URL of the endpoint. */
  url: string;
  method: 'GET' | 'POST' | 'DELETE';
  /** A path template (may contain {{item}}) that replaces the URL's path on each request. */
  path?: string;
  /** Header values may contain {{item}}, replaced by the next pool item. */
  headers: Record<string, string>;
  /** May contain {{item}}. */
  body?: string;
  /** JSON file with an array of strings (tokens, bodies) fed into {{item}}. */
  poolFile?: string;
  /** Each pool item is used once (refresh tokens): the run stops early when the pool is spent. */
  once?: boolean;
  /** A different X-Forwarded-For per request (the server runs with TRUST_PROXY), so per-IP login limits measure nothing but themselves. */
  spreadIps?: boolean;
  connections: number;
  warmupSeconds: number;
  seconds: number;
}

export interface LoadResult {
  /** 2xx responses in the measured part. */
  ok: number;
  /** Other status codes. */
  failed: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** 2xx responses per second, from the first request to the last response. */
  rps: number;
  p50: number;
  p99: number;
  /** Latency of the 2xx responses alone (the admitted requests when others are shed with 503), ms. */
  okP50?: number;
  okP99?: number;
  seconds: number;
  statuses: Record<string, number>;
  /** Every response of the run, warm-up included (to divide the server's CPU time by). */
  responses: number;
}
