/**
 * One error path (src/http/middleware/errors.ts): a page door (a router marked with servesPages, here the
 * interaction pages and the admin console) answers every error as an HTML page with its status and the
 * request id and no stack, also an error of the body before any route runs; the APIs keep their JSON.
 */
import { expect } from 'chai';
import { startTestServer, type TestServer } from '../helpers/app.ts';

const HUGE_FORM = `password=${'x'.repeat(150 * 1024)}`;
const DEEP_JSON = `${'['.repeat(100)}${']'.repeat(100)}`;

interface Bad {
  name: string;
  type: string;
  body: string;
  status: number;
  encoding?: string;
}

const BAD_BODIES: Bad[] = [
  { name: 'an oversized form', type: 'application/x-www-form-urlencoded', body: HUGE_FORM, status: 413 },
  { name: 'JSON nested too deep', type: 'application/json', body: DEEP_JSON, status: 422 },
  { name: 'malformed JSON', type: 'application/json', body: '{"login": ', status: 400 },
  { name: 'a form in an unknown content encoding', type: 'application/x-www-form-urlencoded', encoding: 'x-unknown', body: 'login=a', status: 415 },
];

describe('error pages and API errors: one error path', function () {
  this.timeout(30_000);
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ database: 'sqlite', store: 'memory' });
  });
  after(() => server?.close());

  const post = (path: string, bad: Bad, requestId: string) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': bad.type, ...(bad.encoding ? { 'content-encoding': bad.encoding } : {}), accept: 'application/json', 'x-request-id': requestId },
      body: bad.body,
      redirect: 'manual',
    });

  async function expectPage(res: Response, status: number, requestId: string): Promise<string> {
    expect(res.status).to.equal(status);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    expect(res.headers.get('cache-control')).to.equal('no-store');
    const html = await res.text();
    expect(html).to.match(/^<!DOCTYPE html>/);
    expect(html).to.include('role="alert"');
    expect(html).to.include(`<code>${status}</code>`);
    expect(html).to.include(`Reference: <code>${requestId}</code>`);
    expect(html).not.to.match(/\n\s+at .+:\d+:\d+/);
    return html;
  }

  for (const bad of BAD_BODIES) {
    it(`answers ${bad.name} to an interaction page with an HTML page and ${bad.status}`, async () => {
      const html = await expectPage(await post('/interaction/some-uid/login', bad, `interaction-${bad.status}`), bad.status, `interaction-${bad.status}`);
      expect(html).to.include('Go back to the application you came from');
    });

    it(`answers ${bad.name} to an admin console page with an HTML page and ${bad.status}`, async () => {
      const html = await expectPage(await post('/admin/users', bad, `console-${bad.status}`), bad.status, `console-${bad.status}`);
      expect(html).to.include('href="/admin/users"');
    });
  }

  it('answers an unknown interaction path with a 404 page', async () => {
    await expectPage(await fetch(`${server.url}/interaction/a/b/c`, { headers: { 'x-request-id': 'unknown-page' } }), 404, 'unknown-page');
  });

  it('keeps the JSON of the admin API, of a legacy mount (its dialect) and of unknown paths', async () => {
    const huge = BAD_BODIES[0]!;
    const admin = await post('/admin/api/users', { ...huge, type: 'application/json', body: `{"password":"${'x'.repeat(150 * 1024)}"}` }, 'api-413');
    expect(admin.status).to.equal(413);
    expect(admin.headers.get('content-type')).to.match(/^application\/json/);
    expect(await admin.text()).to.equal('{"detail":"Request body too large"}');

    const deep = await post('/auth/login', BAD_BODIES[1]!, 'legacy-422');
    expect(deep.status).to.equal(422);
    const body = (await deep.json()) as { detail: { type: string; loc: unknown[] }[] };
    expect(body.detail[0]).to.include({ type: 'json_invalid' });

    const nowhere = await fetch(`${server.url}/nowhere`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: DEEP_JSON });
    expect(nowhere.status).to.equal(422);
    expect(nowhere.headers.get('content-type')).to.match(/^application\/json/);
  });
});
