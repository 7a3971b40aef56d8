/**
 * The Prometheus metrics of one server (CONTRACT §8). Each call makes its own registry (never
 * prom-client's global one), so tests can run several servers in one process and a scrape only ever
 * shows the metrics of the app it asked.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type LoginOutcome = 'success' | 'invalid_credentials' | 'inactive' | 'rate_limited' | 'error';
export type TokenType = 'access_token' | 'refresh_token' | 'id_token' | 'authorization_code' | 'client_credentials' | 'device_code';
export type Dependency = 'database' | 'store';

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC); on by default. */
  processMetrics?: boolean;
  /** Read at every scrape: audit events that could not be written (audit.failures()). */
  auditFailures?: () => number;
}

// Login pages and token endpoints answer in milliseconds to a second; password hashing dominates.
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'idp_' });

  const httpRequests = new Counter({
    name: 'idp_http_requests_total',
    help: 'HTTP requests by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'idp_http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const logins = new Counter({
    name: 'idp_logins_total',
    help: 'Password logins by outcome and door (legacy profile, interaction page, admin)',
    labelNames: ['outcome', 'door'] as const,
    registers: [registry],
  });
  const tokensIssued = new Counter({
    name: 'idp_tokens_issued_total',
    help: 'Tokens issued by type and by which side issued them (legacy or oidc)',
    labelNames: ['type', 'issuer'] as const,
    registers: [registry],
  });
  const dependencyErrors = new Counter({
    name: 'idp_dependency_errors_total',
    help: 'Requests that failed because the database or the store could not be reached',
    labelNames: ['dependency'] as const,
    registers: [registry],
  });
  const rateLimited = new Counter({
    name: 'idp_rate_limit_rejections_total',
    help: 'Requests refused with 429 by a rate limit, by limit',
    labelNames: ['limit'] as const,
    registers: [registry],
  });
  const { auditFailures } = options;
  if (auditFailures) {
    new Gauge({
      name: 'idp_audit_write_failures',
      help: 'Audit events that could not be written since start-up',
      registers: [registry],
      collect() {
        this.set(auditFailures());
      },
    });
  }

  return {
    registry,
    contentType: registry.contentType,
    /** The Prometheus text exposition of every metric. */
    scrape: (): Promise<string> => registry.metrics(),

    observeRequest(labels: { method: string; route: string; status: number }, seconds: number): void {
      const values = { method: labels.method, route: labels.route, status: String(labels.status) };
      httpRequests.inc(values);
      httpDuration.observe(values, seconds);
    },
    login(outcome: LoginOutcome, door: string): void {
      logins.inc({ outcome, door });
    },
    tokenIssued(type: TokenType, issuer: 'legacy' | 'oidc', count = 1): void {
      tokensIssued.inc({ type, issuer }, count);
    },
    dependencyError(dependency: Dependency): void {
      dependencyErrors.inc({ dependency });
    },
    /** For the rate limits: call once per request refused with 429. */
    rateLimitRejected(limit: string): void {
      rateLimited.inc({ limit });
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
