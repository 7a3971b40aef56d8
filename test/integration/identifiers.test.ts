/**
 * Usernames and e-mail addresses per CONTRACT §2 (and issue 11, item 11), at the HTTP level: what the
 * originals accepted is accepted (`jo`, `mary smith`, `bob@corp`, `josé@…`, pydantic EmailStr), look-alike
 * forms of a taken name are refused, and a login identifier is matched against e-mails first.
 */
import { expect } from 'chai';
import { MODES, startTestServer, type TestServer } from '../helpers/app.ts';
import { call, createUser } from '../helpers/admin-api.ts';
import { PROFILE_ADAPTERS, legacyClient, type LegacyClient } from '../helpers/legacy-client.ts';

const profile = (name: string) => PROFILE_ADAPTERS.find((p) => p.name === name)!;
const PASSWORD = 'a-good-password-1';

interface Issue {
  loc: (string | number)[];
  msg: string;
  type: string;
}

for (const mode of MODES) {
  describe(`usernames and e-mail addresses (CONTRACT §2) (${mode.name})`, function () {
    this.timeout(60_000);
    let server: TestServer;
    let aurora: LegacyClient;
    let authService: LegacyClient;
    let v2: LegacyClient;

    before(async function () {
      this.timeout(60_000);
      server = await startTestServer({
        database: mode.database,
        store: mode.store,
        mocha: this,
        env: { COMPAT_PROFILES: '/auth=auth-service,/api/v1/auth=aurora,/api/v2/auth=v2' },
      });
      aurora = legacyClient(server.url, profile('aurora'));
      authService = legacyClient(server.url, profile('auth-service'));
      v2 = legacyClient(server.url, profile('v2'));
    });
    after(async () => server?.close());

    const register = (client: LegacyClient, body: Record<string, unknown>) => client.post('/register', { json: { password: PASSWORD, ...body } });
    const loginAs = (client: LegacyClient, username: string, password = PASSWORD) => client.post('/login', { json: { username, password } });

    it('accepts the usernames the originals accepted: short, with spaces, with @, accented, with an apostrophe', async () => {
      const legacy: [string, string][] = [
        ['jo', 'jo@legacy.example'],
        ['mary smith', 'mary@legacy.example'],
        ['bob@corp', 'bob@legacy.example'],
        ['Zoë', 'zoe@legacy.example'],
        ["o'brien", 'ob@legacy.example'],
        ['x'.repeat(150), 'long@legacy.example'],
      ];
      for (const [username, email] of legacy) {
        const res = await register(aurora, { username, email });
        expect(res.status, `${username}: ${JSON.stringify(res.body)}`).to.equal(201);
        expect(res.body).to.deep.include({ username, email });
        expect((await loginAs(aurora, username)).status, username).to.equal(200);
      }
      // Case-insensitive, and compared after NFKC and trimming.
      expect((await loginAs(aurora, '  MARY SMITH ')).status).to.equal(200);
      expect((await loginAs(aurora, 'ｍａｒｙ ｓｍｉｔｈ')).status).to.equal(200);
    });

    it('refuses control, format and bidi characters, other symbols, blank and over-long names with a FastAPI 422', async () => {
      for (const username of ['al\u200bice', '\u202ealice', 'a\u0085b', 'a\tb', 'x<y>', '   ', '', 'x'.repeat(151), 'semi;colon']) {
        const res = await register(aurora, { username, email: `bad${Math.random().toString(16).slice(2)}@example.com` });
        expect(res.status, JSON.stringify(username)).to.equal(422);
        const detail = (res.body as { detail: Issue[] }).detail;
        expect(detail.map((issue) => issue.loc.join('.'))).to.deep.equal(['body.username']);
        expect(detail[0]).to.deep.include({ type: 'value_error' });
        expect(detail[0]?.msg).to.match(/^Value error, Username /);
      }
    });

    it('refuses zero-width, bidi-override and NFKC look-alike forms of a taken name, as taken or invalid', async () => {
      expect((await register(aurora, { username: 'alice', email: 'alice@lookalike.example' })).status).to.equal(201);
      for (const username of ['ALICE', ' alice ', 'ａｌｉｃｅ', 'Ａlice']) {
        const res = await register(aurora, { username, email: `${Buffer.from(username).toString('hex')}@lookalike.example` });
        expect(res.status, username).to.equal(400);
        expect(res.body).to.deep.equal({ detail: 'Username already registered' });
      }
      for (const username of ['al\u200bice', 'alice\u200d', '\u202ealice', '\u2066alice\u2069']) {
        expect((await register(aurora, { username, email: `${Buffer.from(username).toString('hex')}@lookalike.example` })).status, JSON.stringify(username)).to.equal(422);
      }
      const { tokens } = await aurora.signedIn('renamer');
      const rename = await aurora.put('/users/me', { token: tokens.access, json: { username: 'ａｌｉｃｅ' } });
      expect(rename.status).to.equal(400);
      expect(rename.body).to.deep.equal({ detail: 'Username already registered' });
    });

    it("refuses a username equal to another user's e-mail, and an e-mail equal to another user's username", async () => {
      expect((await register(aurora, { username: 'carol', email: 'carol@cross.example' })).status).to.equal(201);
      const res = await register(aurora, { username: 'Carol@Cross.example', email: 'someone-else@cross.example' });
      expect(res.status).to.equal(400);
      expect(res.body).to.deep.equal({ detail: 'Username already registered' });
      expect((await register(aurora, { username: 'dave@cross.example', email: 'dave.real@cross.example' })).status).to.equal(201);
      const clash = await register(aurora, { username: 'dave2', email: 'dave@cross.example' });
      expect(clash.status).to.equal(400);
      expect(clash.body).to.deep.equal({ detail: 'Email already registered' });
      const { tokens } = await aurora.signedIn('cross');
      expect((await aurora.put('/users/me', { token: tokens.access, json: { username: 'carol@cross.example' } })).body).to.deep.equal({ detail: 'Username already registered' });
    });

    it('matches a login identifier against e-mails first, then usernames, case-insensitively', async () => {
      await createUser(server, { email: 'erin@first.example', username: 'erin', password: PASSWORD });
      // Legacy data may hold a username that looks like another user's address (created before the rule).
      const squatterId = await createUser(server, { email: 'squatter@first.example', username: 'squatter', password: 'squatter-password' });
      await server.deps.models.User.update({ username: 'ERIN@first.example' }, { where: { id: squatterId } });
      const res = await loginAs(authService, 'Erin@First.Example');
      expect(res.status).to.equal(200);
      expect((await loginAs(authService, 'erin@first.example', 'squatter-password')).status).to.equal(401);
      const me = await authService.get('/me', { token: (res.body as { access_token: string }).access_token });
      expect(me.body).to.deep.include({ username: 'erin', email: 'erin@first.example' });
    });

    it("takes e-mail addresses as pydantic's EmailStr: stripped, display names, IDN in Unicode, atext, stored lower-case", async () => {
      const cases: [string, string][] = [
        ['  Spaced.Out@Example.com ', 'spaced.out@example.com'],
        ['Frank Sender <Frank@Example.com>', 'frank@example.com'],
        ['josé@exämple.com', 'josé@exämple.com'],
        ['grace@xn--bcher-kva.example', 'grace@bücher.example'],
        ["!#$%&'*+/=?^_`{|}~-@atext.example", "!#$%&'*+/=?^_`{|}~-@atext.example"],
      ];
      for (const [input, stored] of cases) {
        const res = await register(v2, { email: input });
        expect(res.status, `${input}: ${JSON.stringify(res.body)}`).to.equal(201);
        expect((res.body as { email: string }).email).to.equal(stored);
        const login = await v2.post('/login', { json: { email: ` ${stored.toUpperCase()} `, password: PASSWORD } });
        expect(login.status, stored).to.equal(200);
      }
      // The IDN given in punycode finds the same account.
      expect((await v2.post('/login', { json: { email: 'grace@xn--bcher-kva.example', password: PASSWORD } })).status).to.equal(200);
      expect((await loginAs(aurora, 'JOSÉ@EXÄMPLE.COM')).status).to.equal(200);

      for (const bad of ['not-an-email', 'a@b', 'two@@example.com', 'x\u200b@example.com', 'a@[127.0.0.1]', 'Name <not-an-email>']) {
        const res = await register(v2, { email: bad });
        expect(res.status, bad).to.equal(422);
        const [issue] = (res.body as { detail: Issue[] }).detail;
        expect(issue).to.deep.include({ loc: ['body', 'email'], type: 'value_error' });
        expect(issue?.msg).to.match(/^value is not a valid email address/);
      }
    });

    it('answers a lone surrogate in an e-mail, a username or a login identifier with a 422 or a 401, never a 500', async () => {
      const lone = '\ud800';
      const raw = (body: string) => v2.post('/register', { raw: body, headers: { 'content-type': 'application/json' } });
      expect((await raw(`{"email": "a${lone}@example.com", "password": "${PASSWORD}"}`)).status).to.equal(422);
      const name = await aurora.post('/register', { raw: `{"username": "x${lone}", "email": "lone@example.com", "password": "${PASSWORD}"}`, headers: { 'content-type': 'application/json' } });
      expect(name.status).to.equal(422);
      const login = await aurora.post('/login', { raw: `{"username": "a${lone}@example.com", "password": "${PASSWORD}"}`, headers: { 'content-type': 'application/json' } });
      expect(login.status).to.equal(401);
    });

    it('applies the same rules in the admin API', async () => {
      await createUser(server, { email: 'root@identifiers.example', username: 'root_identifiers', password: PASSWORD, roles: ['idp_admin'] });
      const token = ((await loginAs(aurora, 'root_identifiers')).body as { access_token: string }).access_token;
      const created = await call<{ username: string; email: string }>(server, 'POST', '/admin/api/users', {
        token,
        body: { email: ' Henry Admin <Henry@Exämple.com> ', password: PASSWORD, username: 'henry the 8th' },
      });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      expect(created.body).to.deep.include({ email: 'henry@exämple.com', username: 'henry the 8th' });
      const bad = await call<{ detail: Issue[] }>(server, 'POST', '/admin/api/users', { token, body: { email: 'i@x.example', password: PASSWORD, username: 'i\u202e' } });
      expect(bad.status).to.equal(422);
      expect(bad.body.detail.map((issue) => issue.loc.join('.'))).to.deep.equal(['body.username']);
      const lookalike = await call(server, 'POST', '/admin/api/users', { token, body: { email: 'j@x.example', password: PASSWORD, username: 'ＨＥＮＲＹ the 8th' } });
      expect(lookalike.status).to.equal(409);
    });
  });
}
