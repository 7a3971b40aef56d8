import { expect } from 'chai';
import Koa from 'koa';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMetrics } from '../../src/services/metrics.ts';
import { countDependencyErrors, metricsRouter, requestMetrics, routeLabel } from '../../src/http/metrics.ts';
import { accessLog } from '../../src/http/middleware/access-log.ts';
import { createLogger } from '../../src/logger.ts';
import { observeProvider } from '../../src/services/metrics-instrument.ts';
import { ServiceUnavailableError } from '../../src/errors.ts';
import { sample } from '../helpers/prometheus.ts';
import { EventEmitter } from 'node:events';
import type { Context } from 'koa';

async function serve(app: Koa): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('metrics (unit)', () => {
  it('labels oidc-provider paths from a fixed list of segments, anything else as :id', () => {
    const label = (path: string, status = 200) => routeLabel({ state: {}, res: { statusCode: status } } as unknown as Context, path, '/oidc');
    expect(label('/oidc/token/introspection')).to.equal('/oidc/token/introspection');
    expect(label('/oidc/auth/Xyz123')).to.equal('/oidc/auth/:id');
    expect(label('/oidc/session/end/confirm')).to.equal('/oidc/session/end/confirm');
    expect(label('/oidc/a/b/c/d/e/f')).to.equal('/oidc/:id/:id/:id/:id');
    expect(label('/elsewhere', 404)).to.equal('unmatched');
    expect(label('/static.css', 200)).to.equal('other');
  });

  it('counts requests that failed because the database or the store was down', async () => {
    const metrics = createMetrics({ processMetrics: false });
    const app = new Koa();
    app.silent = true;
    const log = accessLog(createLogger({ level: 'silent' }), [requestMetrics(metrics)]);
    app.use((ctx, next) => {
      log(ctx);
      return next();
    });
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (err) {
        ctx.status = (err as { status?: number }).status ?? 500;
      }
    });
    app.use(countDependencyErrors(metrics, [(err) => ((err as Error).message === 'ECONNREFUSED' ? new ServiceUnavailableError('database') : undefined)]));
    app.use((ctx) => {
      if (ctx.path === '/store') throw new ServiceUnavailableError('store');
      if (ctx.path === '/db') throw new Error('ECONNREFUSED');
      throw new Error('boom');
    });
    const { url, close } = await serve(app);
    try {
      for (const path of ['/store', '/db', '/db', '/other']) await (await fetch(url + path)).arrayBuffer();
      const text = await metrics.scrape();
      expect(sample(text, 'idp_dependency_errors_total', { dependency: 'store' })).to.equal(1);
      expect(sample(text, 'idp_dependency_errors_total', { dependency: 'database' })).to.equal(2);
      expect(sample(text, 'idp_http_requests_total', { route: 'other', status: '503' })).to.equal(1);
    } finally {
      await close();
    }
  });

  it('offers a rate-limit rejection counter and counts provider server errors caused by a dependency', async () => {
    const metrics = createMetrics({ processMetrics: false, auditFailures: () => 3 });
    metrics.rateLimitRejected('login_identifier');
    metrics.rateLimitRejected('login_identifier');
    const provider = new EventEmitter();
    observeProvider(provider, metrics, (err) => (err instanceof ServiceUnavailableError ? err.dependency : undefined));
    provider.emit('server_error', {}, new ServiceUnavailableError('store'));
    provider.emit('server_error', {}, new Error('bug'));
    provider.emit('access_token.saved', {});
    provider.emit('access_token.issued', {});
    provider.emit('refresh_token.saved', {});
    const text = await metrics.scrape();
    expect(sample(text, 'idp_rate_limit_rejections_total', { limit: 'login_identifier' })).to.equal(2);
    expect(sample(text, 'idp_dependency_errors_total', { dependency: 'store' })).to.equal(1);
    expect(sample(text, 'idp_tokens_issued_total', { type: 'access_token', issuer: 'oidc' })).to.equal(2);
    expect(sample(text, 'idp_tokens_issued_total', { type: 'refresh_token', issuer: 'oidc' })).to.equal(1);
    expect(sample(text, 'idp_audit_write_failures')).to.equal(3);
  });

  it('serves /metrics openly without a token, and only to the bearer of METRICS_TOKEN with one', async () => {
    const metrics = createMetrics({ processMetrics: false });
    for (const [token, header, expected] of [
      [undefined, undefined, 200],
      ['s3cret', undefined, 401],
      ['s3cret', 'Bearer s3cre', 401],
      ['s3cret', 'Bearer s3cret', 200],
    ] as const) {
      const app = new Koa();
      app.silent = true;
      app.use(async (ctx, next) => {
        try {
          await next();
        } catch (err) {
          ctx.status = (err as { status: number }).status;
        }
      });
      app.use(metricsRouter(metrics, token).routes());
      const { url, close } = await serve(app);
      try {
        const res = await fetch(`${url}/metrics`, { headers: header ? { authorization: header } : {} });
        expect(res.status, `${token} ${header}`).to.equal(expected);
      } finally {
        await close();
      }
    }
  });
});
