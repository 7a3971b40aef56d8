/**
 * Back-channel logout delivery (CONTRACT §4): the retry schedule and its audit trail, one attempt's
 * HTTP POST with the address policy (BACKCHANNEL_ALLOW_PRIVATE) and the pinned connection, and the
 * session hooks that read an SSO session's clients before the session link destroys it.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import type Provider from 'oidc-provider';
import { createLogger } from '../../src/logger.ts';
import { createDeliveryQueue, type LogoutNotice, type PostToken } from '../../src/oidc/backchannel-delivery.ts';
import { postLogoutToken, type PostResult } from '../../src/oidc/backchannel-post.ts';
import { createBackchannelLogout } from '../../src/oidc/backchannel-logout.ts';
import type { AuditEventInput } from '../../src/services/audit.ts';
import { wireSessionHooks } from '../../src/dependencies.ts';
import { createMemoryStore } from '../../src/store/memory-store.ts';
import { createSessionService } from '../../src/services/sessions.ts';
import { createSessionLink } from '../../src/oidc/session-link.ts';
import type { OidcStorage } from '../../src/oidc/adapter.ts';

const logger = createLogger({ level: 'silent' });
const USER = '3d1c6f3e-5b0a-4c55-9d4e-2f8f1a0b7c11';
const NOTICE: LogoutNotice = { clientId: 'app', accountId: USER, sid: 'sid-1', trigger: 'session_revoked' };

function recordingAudit() {
  const events: AuditEventInput[] = [];
  return { events, audit: { record: async (event: AuditEventInput) => void events.push(event) } };
}

const detail = (event: AuditEventInput | undefined) => event?.detail as Record<string, unknown>;

describe('back-channel logout delivery queue (src/oidc/backchannel-delivery.ts)', () => {
  const prepare = async () => ({ uri: 'https://rp.example/bc', logoutToken: 'jwt' });

  function queueWith(results: PostResult[], delaysMs = [0, 5, 10]) {
    const { events, audit } = recordingAudit();
    const posts: string[] = [];
    const post: PostToken = async (uri, token, timeoutMs) => {
      posts.push(`${uri} ${token} ${timeoutMs}`);
      return results.shift() ?? { result: 'network_error' };
    };
    const queue = createDeliveryQueue({ prepare, post, audit, logger, schedule: { delaysMs, attemptTimeoutMs: 1234 } });
    return { queue, events, posts };
  }

  it('gives a failing receiver exactly 3 attempts, each audited, the last one final', async () => {
    const { queue, events, posts } = queueWith([]);
    queue.enqueue(NOTICE);
    await queue.settle(2000);
    expect(posts).to.deep.equal(Array(3).fill('https://rp.example/bc jwt 1234'));
    expect(events.map((event) => [event.type, event.outcome, event.clientId, event.userId])).to.deep.equal(
      Array(3).fill(['backchannel_logout', 'failure', 'app', USER]),
    );
    expect(events.map((event) => [detail(event).attempt, detail(event).final, detail(event).result])).to.deep.equal([
      [1, false, 'network_error'],
      [2, false, 'network_error'],
      [3, true, 'network_error'],
    ]);
    expect(detail(events[0])).to.include({ trigger: 'session_revoked', sid: 'sid-1' });
  });

  it('stops at the first delivery, and never retries a refused address', async () => {
    const delivered = queueWith([{ result: 'http_error', status: 503 }, { result: 'delivered', status: 204 }]);
    delivered.queue.enqueue(NOTICE);
    await delivered.queue.settle(2000);
    expect(delivered.posts).to.have.length(2);
    expect(delivered.events.map((event) => [event.outcome, detail(event).status, detail(event).final])).to.deep.equal([
      ['failure', 503, false],
      ['success', 204, true],
    ]);

    const refused = queueWith([{ result: 'refused_private_address', address: '10.0.0.1' }]);
    refused.queue.enqueue(NOTICE);
    await refused.queue.settle(2000);
    expect(refused.posts).to.have.length(1);
    expect(detail(refused.events[0])).to.include({ result: 'refused_private_address', final: true });
  });

  it('sends nothing for a client without a back-channel URI, and audits a token that could not be made without throwing', async () => {
    const { events, audit } = recordingAudit();
    let posts = 0;
    const post: PostToken = async () => ((posts += 1), { result: 'delivered', status: 200 });
    const none = createDeliveryQueue({ prepare: async () => undefined, post, audit, logger });
    none.enqueue(NOTICE);
    await none.settle(1000);
    const broken = createDeliveryQueue({ prepare: async () => Promise.reject(new Error('no signing key')), post, audit, logger });
    expect(() => broken.enqueue(NOTICE)).to.not.throw();
    await broken.settle(1000);
    expect(posts).to.equal(0);
    expect(events.map((event) => detail(event).result)).to.deep.equal(['token_error']);
  });

  it('close() waits for retries only up to its bound, then gives them up (audited abandoned) and refuses later notices', async () => {
    const { queue, events, posts } = queueWith([], [0, 60_000, 60_000]);
    queue.enqueue(NOTICE);
    // Let the first attempt run; the second waits a minute.
    while (events.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    const started = Date.now();
    await queue.close(200);
    expect(Date.now() - started).to.be.within(150, 1000);
    expect(posts).to.have.length(1);
    queue.enqueue({ ...NOTICE, clientId: 'late' });
    expect(events.map((event) => [event.clientId, detail(event).result, detail(event).final])).to.deep.equal([
      ['app', 'network_error', false],
      ['app', 'abandoned', true],
      ['late', 'abandoned', true],
    ]);
    expect(queue.pending).to.equal(0);
  });
});

describe('one back-channel logout attempt (src/oidc/backchannel-post.ts)', () => {
  let server: Server;
  let port: number;
  let seen: { headers: IncomingHttpHeaders; body: string }[];
  let answer: (res: ServerResponse) => void;

  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        answer(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  beforeEach(() => {
    seen = [];
    answer = (res) => res.writeHead(200).end();
  });

  it('POSTs logout_token form-encoded and reports 200 and 204 as delivered, any other status as an HTTP error (redirects not followed)', async () => {
    expect(await postLogoutToken(`http://127.0.0.1:${port}/bc`, 'a.b.c', { allowPrivate: true, timeoutMs: 2000 })).to.deep.equal({ result: 'delivered', status: 200 });
    expect(seen[0]?.body).to.equal('logout_token=a.b.c');
    expect(seen[0]?.headers['content-type']).to.equal('application/x-www-form-urlencoded');
    answer = (res) => res.writeHead(204).end();
    expect(await postLogoutToken(`http://127.0.0.1:${port}/bc`, 't', { allowPrivate: true, timeoutMs: 2000 })).to.deep.equal({ result: 'delivered', status: 204 });
    answer = (res) => res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
    expect(await postLogoutToken(`http://127.0.0.1:${port}/bc`, 't', { allowPrivate: true, timeoutMs: 2000 })).to.deep.equal({ result: 'http_error', status: 302 });
    answer = (res) => res.writeHead(500).end();
    expect(await postLogoutToken(`http://127.0.0.1:${port}/bc`, 't', { allowPrivate: true, timeoutMs: 2000 })).to.deep.equal({ result: 'http_error', status: 500 });
  });

  it('without BACKCHANNEL_ALLOW_PRIVATE refuses loopback and private addresses, literal or behind a name, without connecting', async () => {
    expect(await postLogoutToken(`http://127.0.0.1:${port}/bc`, 't', { allowPrivate: false, timeoutMs: 2000 })).to.deep.equal({ result: 'refused_private_address', address: '127.0.0.1' });
    expect(await postLogoutToken('http://[::1]:9/bc', 't', { allowPrivate: false, timeoutMs: 2000 })).to.deep.equal({ result: 'refused_private_address', address: '::1' });
    const resolve = async () => ['203.0.113.7', '10.1.2.3'];
    expect(await postLogoutToken('https://rp.example.test/bc', 't', { allowPrivate: false, timeoutMs: 2000, resolve })).to.deep.equal({
      result: 'refused_private_address',
      address: '10.1.2.3',
    });
    expect(seen).to.have.length(0);
  });

  it('connects to the address it resolved and checked (no second lookup), with the host name kept for Host', async () => {
    const lookups: string[] = [];
    const resolve = async (hostname: string) => (lookups.push(hostname), ['127.0.0.1']);
    const outcome = await postLogoutToken(`http://rp.invalid:${port}/bc`, 't', { allowPrivate: true, timeoutMs: 2000, resolve });
    expect(outcome).to.deep.equal({ result: 'delivered', status: 200 });
    expect(lookups).to.deep.equal(['rp.invalid']);
    expect(seen[0]?.headers.host).to.equal(`rp.invalid:${port}`);
  });

  it('reports an unresolvable host, a receiver that does not answer in time, and a refused connection', async () => {
    const fail = async () => Promise.reject(new Error('ENOTFOUND'));
    expect(await postLogoutToken('http://rp.invalid/bc', 't', { allowPrivate: true, timeoutMs: 2000, resolve: fail })).to.deep.equal({ result: 'unresolvable' });
    answer = () => undefined;
    const started = Date.now();
    expect(await postLogoutToken(`http://127.0.0.1:${port}/bc`, 't', { allowPrivate: true, timeoutMs: 200 })).to.deep.equal({ result: 'timeout' });
    expect(Date.now() - started).to.be.lessThan(1500);
    expect(await postLogoutToken('http://127.0.0.1:1/bc', 't', { allowPrivate: true, timeoutMs: 2000 })).to.deep.equal({ result: 'network_error' });
    expect(await postLogoutToken('ftp://127.0.0.1/bc', 't', { allowPrivate: true, timeoutMs: 2000 })).to.deep.equal({ result: 'invalid_uri' });
  });
});

describe('back-channel logout session hooks (wireSessionHooks with the notifier)', () => {
  const ctx = { door: 'test', ip: '10.1.2.3' };

  /** One SSO session `sso-1` with two clients; the session link destroys it (findSessionByUid then answers nothing). */
  function fakeStorage(options: { failRevoke?: boolean } = {}) {
    let alive = true;
    const sso = { ref: 'ref-1', payload: { uid: 'sso-1', accountId: USER, authorizations: { app: { grantId: 'g-1', sid: 'sid-app' }, other: { grantId: 'g-2', sid: 'sid-other' } } } };
    return {
      async findSessionByUid(uid: string) {
        return uid === 'sso-1' && alive ? sso : undefined;
      },
      async destroySession() {
        alive = false;
      },
      async revokeGrant() {
        if (options.failRevoke) throw new Error('grant store down');
      },
      async grantIdsOfAccount() {
        return [];
      },
    } as unknown as OidcStorage;
  }

  /** A provider whose clients all have a loopback back-channel URI: with allowPrivate false every notice ends audited as refused. */
  const fakeProvider = {
    Client: { find: async (clientId: string) => ({ clientId, backchannelLogoutUri: 'http://127.0.0.1:9/bc' }) },
    IdToken: class {
      set() {}
      async issue() {
        return 'token';
      }
    },
  } as unknown as Provider;

  function setUp(options: { failRevoke?: boolean } = {}) {
    const sessions = createSessionService({ store: createMemoryStore(), defaultTtlSeconds: 3600 });
    const storage = fakeStorage(options);
    const { events, audit } = recordingAudit();
    const link = createSessionLink({ store: createMemoryStore(), storage, sessions, sessionTtlSeconds: 3600, logger });
    const backchannel = createBackchannelLogout({ provider: fakeProvider, storage, audit, logger, allowPrivate: false });
    wireSessionHooks(sessions, link, backchannel);
    return { sessions, events, backchannel };
  }

  it('reads the clients and sids of the SSO session before the link destroys it, and tells each client once the session is revoked', async () => {
    const { sessions, events, backchannel } = setUp();
    const s = await sessions.create({ userId: USER, kind: 'oidc', context: ctx, oidc: { sessionUid: 'sso-1' } });
    expect(await sessions.revoke(USER, s.session_id, 'revoked')).to.equal(true);
    await backchannel.settle(2000);
    expect(events.map((event) => [event.clientId, event.userId, detail(event).sid, detail(event).trigger]).sort()).to.deep.equal([
      ['app', USER, 'sid-app', 'session_revoked'],
      ['other', USER, 'sid-other', 'session_revoked'],
    ]);
  });

  it('sends nothing when the link fails (the revocation fails and the session is still alive), nor for a password session', async () => {
    const { sessions, events, backchannel } = setUp({ failRevoke: true });
    const s = await sessions.create({ userId: USER, kind: 'oidc', context: ctx, oidc: { sessionUid: 'sso-1' } });
    let failed = false;
    await sessions.revoke(USER, s.session_id, 'revoked').catch(() => (failed = true));
    expect(failed).to.equal(true);
    const password = await sessions.create({ userId: USER, kind: 'password', context: ctx });
    expect(await sessions.revoke(USER, password.session_id, 'logout')).to.equal(true);
    await backchannel.settle(2000);
    expect(events).to.deep.equal([]);
  });

  it('a revoked grant is told with the sid the caller gives, and never rejects', async () => {
    const { events, backchannel } = setUp();
    await backchannel.grantRevoked({ accountId: USER, clientId: 'app', sid: 'sid-x' });
    await backchannel.settle(2000);
    expect(events.map((event) => [event.clientId, detail(event).sid, detail(event).trigger])).to.deep.equal([['app', 'sid-x', 'grant_revoked']]);
  });
});
