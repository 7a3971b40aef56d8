import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Router from '@koa/router';
import Koa from 'koa';
import { createApp, requestListener } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { AppError, ServiceUnavailableError, ValidationError } from '../../src/errors.ts';

describe('the Koa app (src/app.ts)', () => {
  let server: http.Server;
  let base: string;
  let storeUp = true;
  const logLines: string[] = [];

  before(async () => {
    const router = new Router();
    router.post('/echo', (ctx) => {
      ctx.body = { received: ctx.request.body };
    });
    router.get('/boom', () => {
      throw new Error('SELECT * FROM users WHERE secret');
    });
    router.get('/teapot', () => {
      throw new AppError(418, 'TEAPOT', 'I am a teapot');
    });
    router.get('/invalid', () => {
      throw new ValidationError([{ loc: ['body', 'email'], msg: 'Field required', type: 'missing' }]);
    });
    router.get('/lost-db', () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { lostConnection: true });
    });
    router.get('/noted', (ctx) => {
      ctx.log.info('noted');
      ctx.body = { ok: true };
    });
    // Stands in for oidc-provider: answers by itself, on paths relative to the mount.
    const provider = new Koa();
    provider.use((ctx) => {
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { path: ctx.path, originalUrl: (ctx.req as { originalUrl?: string }).originalUrl };
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        logLines.push(chunk.toString());
        done();
      },
    });
    const oidc = { prefix: '/oidc', app: provider };
    const app = createApp({
      config: loadConfig({ NODE_ENV: 'test' }),
      logger: createLogger({ level: 'info', destination: sink }),
      readiness: [
        { name: 'database', check: async () => {} },
        {
          name: 'store',
          check: async () => {
            if (!storeUp) throw new Error('down');
          },
        },
      ],
      errorTranslators: [(err) => ((err as { lostConnection?: boolean }).lostConnection ? new ServiceUnavailableError('database', err) : undefined)],
      routers: [router],
      oidc,
    });
    server = http.createServer(requestListener(app, oidc));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers /healthz with 200', async () => {
    const res = await fetch(`${base}/healthz`);
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ status: 'ok' });
  });

  it('answers /readyz 200 {"status":"ok"} when every check passes, 503 naming the failed one otherwise', async () => {
    let res = await fetch(`${base}/readyz`);
    expect(res.status).to.equal(200);
    expect(await res.json()).to.deep.equal({ status: 'ok' });
    storeUp = false;
    try {
      res = await fetch(`${base}/readyz`);
      expect(res.status).to.equal(503);
      expect(res.headers.get('retry-after')).to.equal('5');
      expect(await res.json()).to.deep.equal({ status: 'unavailable', failed: ['store'] });
    } finally {
      storeUp = true;
    }
  });

  it('parses JSON and form bodies', async () => {
    let res = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await res.json()).to.deep.equal({ received: { a: 1 } });
    res = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'username=a&password=b' });
    expect(await res.json()).to.deep.equal({ received: { username: 'a', password: 'b' } });
  });

  it('answers malformed JSON with 400 and a detail, not a stack', async () => {
    const res = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":' });
    expect(res.status).to.equal(400);
    expect(await res.json()).to.deep.equal({ detail: 'Malformed JSON body' });
  });

  it('answers a body over 100 kB with 413', async () => {
    const body = JSON.stringify({ password: 'x'.repeat(101 * 1024) });
    const res = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).to.equal(413);
    expect(await res.json()).to.deep.equal({ detail: 'Request body too large' });
  });

  it('answers an unknown route with 404 JSON', async () => {
    const res = await fetch(`${base}/nowhere`);
    expect(res.status).to.equal(404);
    expect(await res.json()).to.deep.equal({ detail: 'Not Found' });
  });

  it('renders AppErrors with their status and message, 422s in FastAPI shape', async () => {
    let res = await fetch(`${base}/teapot`);
    expect(res.status).to.equal(418);
    expect(await res.json()).to.deep.equal({ detail: 'I am a teapot' });
    res = await fetch(`${base}/invalid`);
    expect(res.status).to.equal(422);
    expect(await res.json()).to.deep.equal({ detail: [{ loc: ['body', 'email'], msg: 'Field required', type: 'missing' }] });
  });

  it('turns an unexpected error into a generic 500 with no stack or SQL, and logs it once', async () => {
    logLines.length = 0;
    const res = await fetch(`${base}/boom`);
    expect(res.status).to.equal(500);
    const text = await res.text();
    expect(JSON.parse(text)).to.deep.equal({ detail: 'Internal Server Error' });
    expect(text).not.to.match(/SELECT|at .*\.ts/);
    expect(logLines.filter((l) => l.includes('unhandled error'))).to.have.length(1);
  });

  it('translates a lost database connection into 503 with Retry-After', async () => {
    const res = await fetch(`${base}/lost-db`);
    expect(res.status).to.equal(503);
    expect(res.headers.get('retry-after')).to.equal('5');
    expect(await res.json()).to.deep.equal({ detail: 'Service temporarily unavailable' });
  });

  it('gives every response a request id and security headers', async () => {
    const res = await fetch(`${base}/healthz`, { headers: { 'X-Request-Id': 'abcdef12-req' } });
    expect(res.headers.get('x-request-id')).to.equal('abcdef12-req');
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(res.headers.get('content-security-policy')).to.include("frame-ancestors 'none'");
    expect(res.headers.get('x-frame-options')).to.equal('DENY');
    expect(res.headers.get('strict-transport-security')).to.equal(null);
    const generated = (await fetch(`${base}/healthz`, { headers: { 'X-Request-Id': 'bad id with spaces' } })).headers.get('x-request-id');
    expect(generated).to.match(/^[0-9a-f-]{36}$/);
  });

  it('hands /oidc to the mounted provider with its own paths, and logs the request as it arrived, without its query', async () => {
    const res = await fetch(`${base}/oidc/token?code=secret-code`, { headers: { 'X-Request-Id': 'abcdef12-oidc' } });
    expect(await res.json()).to.deep.equal({ path: '/token', originalUrl: '/oidc/token?code=secret-code' });
    expect(((await (await fetch(`${base}/oidc?x=1`)).json()) as { path: string }).path).to.equal('/');
    expect((await fetch(`${base}/oidcx/token`)).status, 'not under the prefix').to.equal(404);
    // A request line in absolute form (RFC 9112 §3.2.2) reaches the provider the same way.
    const absolute = await new Promise<string>((resolve, reject) => {
      const request = http.request({ host: '127.0.0.1', port: Number(new URL(base).port), path: `${base}/oidc/token?x=1` }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve(text));
      });
      request.on('error', reject);
      request.end();
    });
    expect(JSON.parse(absolute)).to.deep.equal({ path: '/token', originalUrl: '/oidc/token?x=1' });
    logLines.length = 0;
    await (await fetch(`${base}/oidc/token?code=secret-code`, { headers: { 'X-Request-Id': 'abcdef12-oidc' } })).arrayBuffer();
    expect(res.headers.get('x-request-id')).to.equal('abcdef12-oidc');
    await new Promise((resolve) => setTimeout(resolve, 20));
    const access = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.msg === 'request');
    expect(access).to.have.length(1);
    expect(access[0]).to.include({ reqId: 'abcdef12-oidc', method: 'GET', url: '/oidc/token', status: 200 });
    expect(logLines.join('')).not.to.include('secret-code');
  });

  it('gives ctx.log the request id of the request it logs for', async () => {
    logLines.length = 0;
    await (await fetch(`${base}/noted`, { headers: { 'X-Request-Id': 'abcdef12-noted' } })).arrayBuffer();
    const noted = logLines.map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.msg === 'noted');
    expect(noted).to.include({ reqId: 'abcdef12-noted' });
  });
});
