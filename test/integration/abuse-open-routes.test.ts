/**
 * Abuse of the open routes besides login (CONTRACT §6): registration 20 per IP per hour; forgot-password
 * and resend-verification 30 requests per IP per hour and 5 mails per address per hour (past it the
 * answer is still 202 and no mail goes out); verify-email and reset-password 30 per IP per hour; over a
 * limit 429 with Retry-After in the door's error shape. Registration looks for a taken e-mail or username
 * before it hashes. The password-hash queue is bounded: full → 503 with Retry-After, not a longer queue.
 * Each client is its own X-Forwarded-For address behind TRUST_PROXY.
 */
import { expect } from 'chai';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { ALL_PROFILES, PROFILE_ADAPTERS, field, legacyClient, newUser, type HttpResult, type ProfileAdapter, type TestUser } from '../helpers/legacy-client.ts';
import { freshIp, spyOnArgon2 } from '../helpers/security.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp.ts';
import type { Argon2Engine } from '../../src/services/passwords.ts';
import argon2 from 'argon2';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { UserAgent } from '../e2e/helpers/user-agent.ts';
import { RP, authorizationUrl, startOidcEnv, type OidcEnv } from '../e2e/helpers/oidc-env.ts';

const TOO_MANY = 'Too many attempts, try again later';

function adapter(name: ProfileAdapter['name']): ProfileAdapter {
  const found = PROFILE_ADAPTERS.find((p) => p.name === name);
  if (!found) throw new Error(name);
  return found;
}

/** The error text of any profile's error body (flat `detail`, or the envelope's `error.message`). */
function errorText(body: unknown): unknown {
  return field(body, 'detail') ?? field(body, 'error.message');
}

function expectLimited(res: HttpResult, maxSeconds = 3600): void {
  expect(res.status, JSON.stringify(res.body)).to.equal(429);
  expect(Number(res.headers.get('retry-after'))).to.be.within(1, maxSeconds);
  expect(errorText(res.body)).to.equal(TOO_MANY);
}

/** `count` requests made one after another; their statuses. */
async function statuses(count: number, request: (i: number) => Promise<HttpResult>): Promise<number[]> {
  const seen: number[] = [];
  for (let i = 0; i < count; i += 1) seen.push((await request(i)).status);
  return seen;
}

for (const mode of MODES) {
  describe(`abuse: the open routes' limits per IP, ${mode.name}`, function () {
    this.timeout(60_000);
    let server: TestServer;

    before(async function () {
      this.timeout(60_000);
      server = await startTestServer({
        database: mode.database,
        store: mode.store,
        mocha: this,
        loginLimits: {},
        openRouteLimits: {},
        env: { COMPAT_PROFILES: ALL_PROFILES, TRUST_PROXY: 'true' },
      });
    });
    after(async () => server?.close());

    for (const profile of [adapter('aurora'), adapter('envelope')]) {
      it(`${profile.name}: registration, 20 per IP per hour, then 429 with Retry-After in the profile's shape`, async () => {
        const api = legacyClient(server.url, profile);
        const headers = { 'X-Forwarded-For': freshIp() };
        const taken = newUser('reg');
        const first = await api.post('/register', { json: profile.registerBody(taken), headers });
        expect(first.status).to.equal(profile.registerStatus);
        // Taken addresses cost no hash but count all the same: 19 more make 20.
        const more = await statuses(19, () => api.post('/register', { json: profile.registerBody({ ...newUser('reg'), email: taken.email }), headers }));
        expect(more.every((s) => s === 400 || s === 409)).to.equal(true);
        const refused = await api.post('/register', { json: profile.registerBody(newUser('reg')), headers });
        expectLimited(refused);
        // Another client registers as usual.
        expect((await api.post('/register', { json: profile.registerBody(newUser('reg')), headers: { 'X-Forwarded-For': freshIp() } })).status).to.equal(profile.registerStatus);
      });
    }

    it('forgot-password: 30 requests per IP per hour, then 429', async () => {
      const api = legacyClient(server.url, adapter('auth-service'));
      const headers = { 'X-Forwarded-For': freshIp() };
      const seen = await statuses(30, (i) => api.post('/forgot-password', { json: { email: `nobody-${i}-${Date.now()}@example.com` }, headers }));
      expect(seen.every((s) => s === 202)).to.equal(true);
      expectLimited(await api.post('/forgot-password', { json: { email: 'one-more@example.com' }, headers }));
    });

    it('resend-verification: 30 requests per IP per hour, then 429', async () => {
      const api = legacyClient(server.url, adapter('aurora'));
      const ip = freshIp();
      const { tokens } = await api.signedIn('resend');
      const headers = { 'X-Forwarded-For': ip };
      const seen = await statuses(30, () => api.post('/resend-verification', { token: tokens.access, headers }));
      expect(seen.every((s) => s === 202)).to.equal(true);
      expectLimited(await api.post('/resend-verification', { token: tokens.access, headers }));
    });

    it('verify-email and reset-password: 30 per IP per hour each, then 429, whatever the tokens', async () => {
      const api = legacyClient(server.url, adapter('v2'));
      const headers = { 'X-Forwarded-For': freshIp() };
      const bogus = (i: number) => `${'x'.repeat(40)}${String(i).padStart(3, '0')}`;
      const verify = await statuses(30, (i) => api.post('/verify-email', { json: { token: bogus(i) }, headers }));
      expect(verify.every((s) => s === 400)).to.equal(true);
      expectLimited(await api.post('/verify-email', { json: { token: bogus(99) }, headers }));
      // The link in the mail (GET) is the same operation and shares the count.
      expect((await api.get(`/verify-email?token=${bogus(98)}`, { headers })).status).to.equal(429);

      const reset = await statuses(30, (i) => api.post('/reset-password', { json: { token: bogus(i), new_password: 'new-password-1' }, headers }));
      expect(reset.every((s) => s === 400)).to.equal(true);
      expectLimited(await api.post('/reset-password', { json: { token: bogus(99), new_password: 'new-password-1' }, headers }));
    });
  });
}

describe('abuse: registration checks the e-mail and username before hashing', function () {
  this.timeout(60_000);
  let server: TestServer;
  let spy: ReturnType<typeof spyOnArgon2> | undefined;

  before(async function () {
    this.timeout(60_000);
    server = await startTestServer({ database: 'sqlite', store: 'memory', mocha: this, env: { COMPAT_PROFILES: ALL_PROFILES } });
  });
  after(async () => server?.close());
  afterEach(() => spy?.restore());

  it('answers a taken e-mail or username without a single argon2 hash', async () => {
    const profile = adapter('auth-service');
    const api = legacyClient(server.url, profile);
    const user = newUser('taken');
    await api.register(user);
    spy = spyOnArgon2();
    const results = await Promise.all([
      ...Array.from({ length: 6 }, () => api.post('/register', { json: profile.registerBody({ ...newUser('taken'), email: user.email.toUpperCase() }) })),
      ...Array.from({ length: 6 }, () => api.post('/signup', { json: profile.registerBody({ ...newUser('taken'), username: user.username.toUpperCase() }) })),
    ]);
    const hashes = spy.hashes;
    spy.restore();
    expect(results.slice(0, 6).map((r) => errorText(r.body))).to.deep.equal(Array(6).fill('Email already registered'));
    expect(results.slice(6).map((r) => errorText(r.body))).to.deep.equal(Array(6).fill('Username already registered'));
    expect(results.every((r) => r.status === 400)).to.equal(true);
    expect(hashes, 'argon2 hashes').to.equal(0);
  });

  it('still lets exactly one of concurrent registrations of one new address succeed', async () => {
    const profile = adapter('v2');
    const api = legacyClient(server.url, profile);
    const email = newUser('race').email;
    const results = await Promise.all(Array.from({ length: 6 }, () => api.post('/register', { json: profile.registerBody({ ...newUser('race'), email }) })));
    expect(results.filter((r) => r.status === 201)).to.have.length(1);
    expect(results.filter((r) => r.status === 400).map((r) => errorText(r.body))).to.deep.equal(Array(5).fill('Email already registered'));
  });
});

/** argon2 whose hashes wait until released: the queue fills and stays full while a test looks. */
function gatedArgon2() {
  let open!: () => void;
  let gate = new Promise<void>((resolve) => (open = resolve));
  const engine: Argon2Engine = {
    hash: async (plain, options) => {
      await gate;
      return argon2.hash(plain, options);
    },
    verify: async (stored, plain) => {
      await gate;
      return argon2.verify(stored, plain);
    },
    needsRehash: (stored, options) => argon2.needsRehash(stored, options),
  };
  return {
    engine,
    release: () => open(),
    close: () => {
      gate = new Promise<void>((resolve) => (open = resolve));
    },
  };
}

describe('abuse: the password-hash queue is bounded (4 × the hashing threads)', function () {
  this.timeout(60_000);
  let server: TestServer;
  const gated = gatedArgon2();

  before(async function () {
    this.timeout(60_000);
    gated.release(); // the bootstrap admin is hashed at start
    // One hashing thread: at most 4 hash jobs running or waiting.
    server = await startTestServer({
      database: 'sqlite',
      store: 'memory',
      mocha: this,
      passwordHashing: { threads: 1, engine: gated.engine },
      env: { COMPAT_PROFILES: ALL_PROFILES },
    });
  });
  after(async () => {
    gated.release();
    await server?.close();
  });

  async function untilQueued(count: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (server.deps.passwords.queued() < count) {
      if (Date.now() > deadline) throw new Error(`the hash queue holds ${server.deps.passwords.queued()}, not ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  for (const profile of [adapter('aurora'), adapter('envelope')]) {
    it(`${profile.name}: a 5th registration while 4 hashes wait is answered 503 with Retry-After, at once`, async () => {
      const api = legacyClient(server.url, profile);
      gated.close();
      const waiting = Array.from({ length: 4 }, () => api.post('/register', { json: profile.registerBody(newUser('queue')) }));
      await untilQueued(4);
      const started = Date.now();
      const refused = await api.post('/register', { json: profile.registerBody(newUser('queue')) });
      expect(Date.now() - started).to.be.below(2000);
      expect(refused.status).to.equal(503);
      expect(Number(refused.headers.get('retry-after'))).to.be.at.least(1);
      expect(errorText(refused.body)).to.equal('Service temporarily unavailable');
      // Logins need the queue too.
      const login = await api.post('/login', { json: profile.loginBody(newUser('queue')) });
      expect(login.status).to.equal(503);
      gated.release();
      const done = await Promise.all(waiting);
      expect(done.map((r) => r.status)).to.deep.equal(Array(4).fill(profile.registerStatus));
      expect(server.deps.passwords.queued()).to.equal(0);
      // With room again, the refused registration goes through.
      expect((await api.post('/register', { json: profile.registerBody(newUser('queue')) })).status).to.equal(profile.registerStatus);
    });
  }
  it('leaves a reset link working when its use was refused with 503 for a full queue', async () => {
    const profile = adapter('v2');
    const api = legacyClient(server.url, profile);
    const user = newUser('resetq');
    await api.register(user);
    expect((await api.post('/forgot-password', { json: { email: user.email } })).status).to.equal(202);
    await server.deps.mailQueue.settle();
    const dir = server.config.mail.outboxDir;
    const eml = readdirSync(dir)
      .map((name) => readFileSync(path.join(dir, name), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '='))
      .find((text) => text.includes(`To: ${user.email.toLowerCase()}`) && text.includes('Reset your password'));
    const token = new URL(/https?:\/\/\S+/.exec(eml ?? '')?.[0] ?? 'http://x/').searchParams.get('token') ?? '';
    expect(token).to.have.length(43);
    const reset = () => api.post('/reset-password', { json: { token, new_password: 'after-the-queue-1' } });

    gated.close();
    const waiting = Array.from({ length: 4 }, () => api.post('/register', { json: profile.registerBody(newUser('resetq')) }));
    await untilQueued(4);
    const refused = await reset();
    expect(refused.status).to.equal(503);
    expect(errorText(refused.body)).to.equal('Service temporarily unavailable');
    gated.release();
    await Promise.all(waiting);
    expect((await reset()).status).to.be.within(200, 299);
    expect((await api.post('/login', { json: profile.loginBody(user, 'after-the-queue-1') })).status).to.equal(200);
  });
});

describe('abuse: a full password-hash queue on the login page', function () {
  this.timeout(60_000);
  let env: OidcEnv;
  const gated = gatedArgon2();

  before(async function () {
    this.timeout(60_000);
    gated.release();
    env = await startOidcEnv({ database: 'sqlite', store: 'memory', mocha: this, passwordHashing: { threads: 1, engine: gated.engine } });
  });
  after(async () => {
    gated.release();
    await env?.close();
  });

  it('shows the sign-in form again with a message, 503 and Retry-After; the same sign-in works once there is room', async () => {
    const user = await env.createUser('busy');
    const agent = new UserAgent();
    let page = await agent.open((await authorizationUrl(await env.discover('spa'))).href);
    gated.close();
    const api = legacyClient(env.server.url, adapter('auth-service'));
    const waiting = Array.from({ length: 4 }, () => api.post('/register', { json: adapter('auth-service').registerBody(newUser('busy')) }));
    const deadline = Date.now() + 10_000;
    while (env.server.deps.passwords.queued() < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    const busy = await agent.submit(page, '/login', { login: user.username, password: user.password });
    expect(busy.status).to.equal(503);
    expect(Number(busy.headers.get('retry-after'))).to.be.at.least(1);
    expect(busy.body).to.include('The service is busy right now').and.include('name="password"');
    gated.release();
    expect((await Promise.all(waiting)).map((r) => r.status)).to.deep.equal([200, 200, 200, 200]);
    // Not counted as a failed attempt, and the form still works.
    page = await agent.submit(busy, '/login', { login: user.username, password: user.password }, RP.spa);
    expect(new URL(page.url).searchParams.get('code')).to.be.a('string');
  });
});

describe('abuse: mails per address, and no requester text in mail to an unverified address', function () {
  this.timeout(60_000);
  let server: TestServer;
  let smtp: TestSmtpServer;

  before(async function () {
    this.timeout(60_000);
    smtp = await startSmtpServer();
    server = await startTestServer({ database: 'sqlite', store: 'memory', mocha: this, env: { COMPAT_PROFILES: ALL_PROFILES, SMTP_URL: smtp.url } });
  });
  after(async () => {
    await server?.close();
    await smtp?.close();
  });

  const mailsTo = (address: string) => smtp.messages.filter((m) => m.to.includes(address.toLowerCase()));

  async function settled(): Promise<void> {
    await server.deps.mailQueue.settle();
    // The SMTP server sees the message a moment after the client is done.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  /** A user made without any mail (no links), so a test counts only its own mails. */
  async function quietUser(tag: string): Promise<TestUser> {
    const user = newUser(tag);
    await server.deps.accounts.register({ email: user.email, password: user.password, username: user.username }, { door: 'test' });
    return user;
  }

  it('forgot-password: at most 5 mails per address per hour, every answer still 202', async () => {
    const api = legacyClient(server.url, adapter('auth-service'));
    const user = await quietUser('mailcap');
    // From different clients: the per-IP limit is not what stops them.
    const seen = await statuses(8, () => api.post('/forgot-password', { json: { email: user.email }, headers: { 'X-Forwarded-For': freshIp() } }));
    expect(seen).to.deep.equal(Array(8).fill(202));
    await settled();
    expect(mailsTo(user.email).map((m) => m.subject)).to.deep.equal(Array(5).fill('Reset your password'));
  });

  it('resend-verification shares the address allowance with the other mails', async () => {
    const api = legacyClient(server.url, adapter('aurora'));
    const user = newUser('mailshare');
    await api.register(user); // its verification mail is the first of five
    const tokens = await api.login(user);
    for (let i = 0; i < 3; i += 1) expect((await api.post('/forgot-password', { json: { email: user.email } })).status).to.equal(202);
    const resent = await statuses(3, () => api.post('/resend-verification', { token: tokens.access }));
    expect(resent).to.deep.equal([202, 202, 202]);
    await settled();
    const subjects = mailsTo(user.email).map((m) => m.subject).sort();
    expect(subjects).to.deep.equal(['Reset your password', 'Reset your password', 'Reset your password', 'Verify your e-mail address', 'Verify your e-mail address']);
  });

  it('sends the verification and reset mails of an unverified address without the name the registrant chose', async () => {
    const api = legacyClient(server.url, adapter('aurora'));
    const user = newUser('spam');
    const fullName = 'You won a prize!\nClaim it at https://evil.example/claim now\n\nRegards';
    const registered = await api.post('/register', { json: { ...adapter('aurora').registerBody(user), full_name: fullName } });
    expect(registered.status).to.equal(201);
    expect((await api.post('/forgot-password', { json: { email: user.email } })).status).to.equal(202);
    await settled();
    const mails = mailsTo(user.email);
    expect(mails.map((m) => m.subject).sort()).to.deep.equal(['Reset your password', 'Verify your e-mail address']);
    for (const mail of mails) {
      expect(mail.text).to.not.include('evil.example');
      expect(mail.text).to.not.include('prize');
      expect(mail.text).to.not.include(user.username);
      expect(mail.text.trimStart()).to.match(/^Hello,\n/);
    }
  });

  it('greets a verified address by its name, on one line', async () => {
    const api = legacyClient(server.url, adapter('aurora'));
    const user = newUser('verified');
    expect((await api.post('/register', { json: { ...adapter('aurora').registerBody(user), full_name: 'Ada\nLovelace' } })).status).to.equal(201);
    await settled();
    const link = /https?:\/\/\S+/.exec(mailsTo(user.email)[0]?.text ?? '')?.[0] ?? '';
    expect((await fetch(link)).status).to.equal(200);
    expect((await api.post('/forgot-password', { json: { email: user.email } })).status).to.equal(202);
    await settled();
    const reset = mailsTo(user.email).find((m) => m.subject === 'Reset your password');
    expect(reset?.text.trimStart()).to.match(/^Hello Ada Lovelace,\n/);
  });
});

describe('load shedding: a login whose client has gone is dropped (not hashed, no session, no success recorded)', function () {
  this.timeout(60_000);
  let server: TestServer;
  const gated = gatedArgon2();
  const verified: string[] = [];

  before(async function () {
    this.timeout(60_000);
    gated.release();
    // One hash at a time, so a second password check waits in line behind a gated first one.
    const engine: Argon2Engine = {
      ...gated.engine,
      verify: (stored, plain) => {
        verified.push(plain);
        return gated.engine.verify(stored, plain);
      },
    };
    server = await startTestServer({ database: 'sqlite', store: 'memory', mocha: this, passwordHashing: { threads: 1, slots: 1, engine }, env: { COMPAT_PROFILES: ALL_PROFILES } });
  });
  after(async () => {
    gated.release();
    await server?.close();
  });

  async function untilQueued(count: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (server.deps.passwords.queued() !== count) {
      if (Date.now() > deadline) throw new Error(`the hash queue holds ${server.deps.passwords.queued()}, not ${count}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('takes the login out of the hash queue when its client hangs up while it waits, and starts nothing for it', async () => {
    const profile = adapter('aurora');
    const api = legacyClient(server.url, profile);
    const user = newUser('shed');
    expect((await api.register(user)).status).to.equal(profile.registerStatus);
    gated.close();
    const ahead = api.post('/register', { json: profile.registerBody(newUser('ahead')) });
    await untilQueued(1);
    const hangUp = new AbortController();
    const login = fetch(`${server.url}${profile.prefix}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(profile.loginBody(user)),
      signal: hangUp.signal,
    }).catch((err: unknown) => err);
    await untilQueued(2);
    hangUp.abort();
    expect(await login).to.be.instanceOf(Error);
    await untilQueued(1); // it left the line without running
    gated.release();
    expect((await ahead).status).to.equal(profile.registerStatus);
    expect(verified.filter((plain) => plain === user.password), 'the abandoned password was never checked').to.deep.equal([]);
    const userId = (await server.deps.accounts.findByEmail(user.email))!.id;
    expect(await server.deps.sessions.list(userId, { includeExpired: true })).to.deep.equal([]);
    await server.deps.audit.flush();
    const signedIn = await server.deps.models.AuditEvent.count({ where: { userId, type: 'login', outcome: 'success' } });
    expect(signedIn).to.equal(0);
    // The same login with a client that waits works.
    expect((await api.post('/login', { json: profile.loginBody(user) })).status).to.equal(200);
  });
});
