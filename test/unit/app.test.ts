import { expect } from 'chai';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import Router from '@koa/router';
import Koa from 'koa';
import { createApp, requestListener } from '../../src/app.ts';
import type { FinishedRequest } from '../../src/http/middleware/access-log.ts';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { AppError, ServiceUnavailableError, ValidationError } from '../../src/errors.ts';

describe('the Koa app (src/app.ts)', () => {
  let server: http.Server;
  let base: string;
  let storeUp = true;
  const logLines: string[] = [];
  const finished: FinishedRequest[] = [];

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
      observers: [(_ctx, request) => finished.push(request)],
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

  /**
   * One raw HTTP/1.1 exchange on a connection of its own: everything that came back until the server
   * closed the connection or `waitMs` passed (then the client closes it), and which of the two happened.
   */
  function raw(text: string, options: { destroyAfterWrite?: boolean; waitMs?: number } = {}): Promise<{ response: string; closedByServer: boolean }> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(new URL(base).port), '127.0.0.1');
      let response = '';
      let closedByServer = false;
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (response += chunk));
      socket.on('end', () => (closedByServer = true));
      socket.on('close', () => resolve({ response, closedByServer }));
      socket.on('error', reject);
      const timer = setTimeout(() => socket.destroy(), options.waitMs ?? 1000);
      socket.on('close', () => clearTimeout(timer));
      socket.write(text, () => {
        if (options.destroyAfterWrite) socket.destroy();
      });
    });
  }

  const firstHead = (response: string): string => response.slice(0, response.indexOf('\r\n\r\n'));

  it('drains the rest of an oversized body after its 413 and serves the next request on the same connection', async () => {
    const big = JSON.stringify({ password: 'x'.repeat(200 * 1024) });
    const request = `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n${big}`;
    const { response } = await raw(`${request}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(firstHead(response)).to.match(/^HTTP\/1\.1 413 /).and.not.match(/connection: close/i);
    expect(response).to.match(/HTTP\/1\.1 200 OK[\s\S]*"status":"ok"/);
  });

  it('closes the connection after the 413 when the body announced is over 1 MB', async () => {
    const head = `POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${2 * 1024 * 1024}\r\n\r\n{"a":"`;
    const { response, closedByServer } = await raw(head + 'x'.repeat(150 * 1024), { waitMs: 5000 });
    expect(firstHead(response)).to.match(/^HTTP\/1\.1 413 /).and.match(/connection: close/i);
    expect(closedByServer, 'closed by the server').to.equal(true);
  });

  it('closes the connection after the 413 of a chunked body, which the reader had started to read (no hanging connection)', async () => {
    const chunk = 'x'.repeat(16 * 1024);
    const chunks = Array.from({ length: 10 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('');
    const head = 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const { response, closedByServer } = await raw(`${head}5\r\n{"a":\r\n${chunks}`, { waitMs: 5000 });
    expect(firstHead(response)).to.match(/^HTTP\/1\.1 413 /).and.match(/connection: close/i);
    expect(closedByServer, 'closed by the server').to.equal(true);
  });

  it('logs a request whose client went away mid-body with its address, and keeps serving', async () => {
    logLines.length = 0;
    await raw('POST /echo HTTP/1.1\r\nHost: x\r\nX-Request-Id: cut-off-request-1\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"a":"xx', { destroyAfterWrite: true });
    const deadline = Date.now() + 5000;
    while (!logLines.some((line) => line.includes('cut-off-request-1')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const line = logLines.find((l) => l.includes('cut-off-request-1'));
    expect(line, 'access line').to.be.a('string');
    // Logged and counted as abandoned (nginx's 499), not as the 404 Koa had not replaced yet.
    expect(JSON.parse(line!)).to.include({ msg: 'request', ip: '127.0.0.1', url: '/echo', status: 499, aborted: true });
    expect(finished.filter((request) => request.path === '/echo').map((request) => request.status)).to.include(499);
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
  });

  it('refuses JSON nested deeper than 32 levels with a 422 json_invalid at the offending bracket; 32 levels pass', async () => {
    const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    let res = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: nested(32) });
    expect(res.status).to.equal(200);
    res = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ` {"é😀": "[[[", "b": ${nested(32)}}` });
    expect(res.status).to.equal(422);
    // The object is level 1, so its 32nd `[` (character 20 + 31, counting the emoji as one, as Python does) is level 33.
    expect(await res.json()).to.deep.equal({
      detail: [{ type: 'json_invalid', loc: ['body', 51], msg: 'JSON decode error', input: {}, ctx: { error: 'Nesting deeper than 32 levels' } }],
    });
    const started = performance.now();
    res = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: nested(50_000) });
    expect(res.status).to.equal(422);
    expect(performance.now() - started).to.be.below(1000);
  });

  it('still finds a NUL anywhere in a body, and names where', async () => {
    const res = await fetch(`${base}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":[1,{"b":"x\\u0000"}]}' });
    expect(res.status).to.equal(422);
    expect(((await res.json()) as { detail: { loc: unknown[] }[] }).detail[0]!.loc).to.deep.equal(['body', 'a', 1, 'b']);
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

describe('ACCESS_LOG: which requests get an access line (src/http/middleware/access-log.ts)', () => {
  async function linesFor(mode: string): Promise<Record<string, unknown>[]> {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const router = new Router();
    router.get('/fine', (ctx) => {
      ctx.body = { ok: true };
    });
    const app = createApp({
      config: loadConfig({ NODE_ENV: 'test', ACCESS_LOG: mode }),
      logger: createLogger({ level: 'info', destination: sink }),
      readiness: [],
      errorTranslators: [],
      routers: [router],
    });
    const server = http.createServer(requestListener(app));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${url}/fine`)).status).to.equal(200);
      expect((await fetch(`${url}/missing`)).status).to.equal(404);
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    return lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'request');
  }

  it('all (the default): a line for every request', async () => {
    expect((await linesFor('all')).map((entry) => [entry.url, entry.status])).to.deep.equal([['/fine', 200], ['/missing', 404]]);
  });

  it('errors: only the requests that failed', async () => {
    expect((await linesFor('errors')).map((entry) => [entry.url, entry.status])).to.deep.equal([['/missing', 404]]);
  });

  it('off: none, and a bad value stops the start naming the key', async () => {
    expect(await linesFor('off')).to.deep.equal([]);
    expect(() => loadConfig({ ACCESS_LOG: 'some' })).to.throw(/ACCESS_LOG/);
  });
});
