import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import argon2 from 'argon2';
import { loadConfig } from '../../src/config.ts';
import { runImportUsersCommand } from '../../src/cli/import-users.ts';
import { jsonElementLines } from '../../src/cli/user-file.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { startTestServer } from '../helpers/app.ts';
import { call } from '../helpers/admin-api.ts';

const IMPORTED_PASSWORD = 'imported password';

function quiet() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, options: { print: (line: string) => out.push(line), printError: (line: string) => err.push(line), progress: false } };
}

describe('import-users FILE', function () {
  this.timeout(120_000);
  let dir: string;
  // One real bcrypt hash (cost 10), shared by every row: hashing 10,000 would take minutes.
  const bcryptHash = bcrypt.hashSync(IMPORTED_PASSWORD, 10).replace(/^\$2b\$/, '$2y$');

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'idp-import-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('10,000 bcrypt users into PostgreSQL', () => {
    let db: TestDatabase;
    before(async function () {
      db = await createTestDatabase('postgres', { mocha: this });
    });
    after(async () => db?.drop());

    it('imports them in well under a minute, is idempotent, and an imported user logs in and is re-hashed to argon2id', async () => {
      const file = path.join(dir, 'users.csv');
      const lines = ['email,username,full_name,password_hash,roles'];
      for (let i = 0; i < 10_000; i += 1) lines.push(`User${i}@Example.com,user${i},User Number ${i},${bcryptHash},${i % 100 === 0 ? 'member;pmc_admin' : ''}`);
      lines.push(`broken-address,,,${bcryptHash},`);
      writeFileSync(file, `${lines.join('\n')}\n`);
      const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.url, DATA_DIR: dir });

      const first = quiet();
      const started = performance.now();
      const summary = await runImportUsersCommand(config, file, first.options);
      const seconds = (performance.now() - started) / 1000;
      expect(summary.created).to.equal(10_000);
      expect(summary.skipped).to.equal(0);
      expect(first.out).to.deep.equal(['created 10000, skipped 0, rejected 1']);
      expect(first.err).to.deep.equal(['line 10002: email: not a valid e-mail address']);
      expect(seconds, `took ${seconds.toFixed(1)} s`).to.be.below(30);

      // Every user looks like a registered one: personal organization, owner membership, roles.
      expect(await db.models.User.count()).to.equal(10_000);
      expect(await db.models.Membership.count({ where: { role: 'owner' } })).to.equal(10_000);
      const user = await db.models.User.findOne({ where: { email: 'user100@example.com' } });
      expect(user?.username).to.equal('user100');
      expect(user?.fullName).to.equal('User Number 100');
      expect(user?.passwordHash).to.equal(bcryptHash);
      const roles = (await user?.getRoles())?.map((role) => role.name).sort();
      expect(roles).to.deep.equal(['member', 'pmc_admin']);
      const membership = await db.models.Membership.findOne({ where: { userId: user?.id ?? '' } });
      expect(membership?.organizationId).to.equal(user?.organizationId);

      const second = quiet();
      const again = await runImportUsersCommand(config, file, second.options);
      expect(again).to.deep.include({ created: 0, skipped: 10_000 });
      expect(second.out).to.deep.equal(['created 0, skipped 10000, rejected 1']);
      expect(await db.models.User.count()).to.equal(10_000);
      expect(await db.models.Organization.count()).to.equal(10_000);

      // The server on this database: the bcrypt user logs in (e-mail, any case) and gets argon2id.
      const server = await startTestServer({ database: 'sqlite', store: 'memory', env: { DATABASE_URL: db.url } });
      try {
        const res = await call<{ access_token: string }>(server, 'POST', '/auth/login', { body: { username: 'USER4242@example.com', password: IMPORTED_PASSWORD } });
        expect(res.status).to.equal(200);
        expect((await call(server, 'GET', '/auth/me', { token: res.body.access_token })).body).to.include({ username: 'user4242' });
        const rehashed = await db.models.User.findOne({ where: { email: 'user4242@example.com' } });
        expect(rehashed?.passwordHash).to.match(/^\$argon2id\$/);
        expect((await call(server, 'POST', '/auth/login', { body: { username: 'user4242', password: IMPORTED_PASSWORD } })).status).to.equal(200);
        expect((await call(server, 'POST', '/auth/login', { body: { username: 'user4243', password: 'wrong password' } })).status).to.equal(401);
      } finally {
        await server.close();
      }
    });
  });

  describe('rows and files (embedded SQLite)', () => {
    let db: TestDatabase;
    let config: ReturnType<typeof loadConfig>;
    before(async () => {
      db = await createTestDatabase('sqlite');
      config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.url, DATA_DIR: dir });
    });
    after(async () => db?.drop());

    it('reads a JSON array, reports each rejected row with its line, and keeps argon2id hashes', async () => {
      const argonHash = await argon2.hash('argon password', { type: argon2.argon2id });
      await db.models.User.create({ email: 'taken-name@example.com', username: 'takenname', passwordHash: bcryptHash });
      const file = path.join(dir, 'users.json');
      writeFileSync(
        file,
        `[
  {"email": "json1@example.com", "username": "json1", "password_hash": "${bcryptHash}", "roles": ["viewer"]},
  {"email": "json2@example.com",
   "password_hash": "${argonHash}", "full_name": "Jason Two", "email_verified": true},
  {"email": "no-hash@example.com"},
  {"email": "weak@example.com", "password_hash": "$1$md5$notsupported"},
  "not an object",
  {"email": "JSON1@example.com", "password_hash": "${bcryptHash}"},
  {"email": "other@example.com", "username": "TakenName", "password_hash": "${bcryptHash}"},
  {"email": "spaces@example.com", "username": "has space", "password_hash": "${bcryptHash}", "roles": ["bad role!"]}
]
`,
      );
      const run = quiet();
      const summary = await runImportUsersCommand(config, file, run.options);
      expect(summary).to.deep.include({ created: 2, skipped: 0 });
      expect(run.err).to.deep.equal([
        'line 5: password_hash is required',
        'line 6: password_hash must be a bcrypt ($2a$/$2b$/$2y$) or $argon2id$ hash',
        'line 7: expected an object',
        'line 8: e-mail json1@example.com already appears on line 2',
        'line 9: username TakenName is already taken',
        'line 10: username must have no spaces and no @; roles.0: role names are letters, digits and _ . : - (64 at most)',
      ]);
      expect(run.out).to.deep.equal(['created 2, skipped 0, rejected 6']);

      const two = await db.models.User.findOne({ where: { email: 'json2@example.com' } });
      expect(two?.passwordHash).to.equal(argonHash);
      expect(two?.emailVerified).to.equal(true);
      expect(two?.username).to.equal(null);
      const one = await db.models.User.findOne({ where: { email: 'json1@example.com' } });
      expect((await one?.getRoles())?.map((role) => role.name)).to.deep.equal(['viewer']);
      const audit = await db.models.AuditEvent.findOne({ where: { type: 'cli.import_users' } });
      expect(audit?.detail).to.deep.include({ file: 'users.json', created: 2, rejected: 6 });
    });

    it('reads a CSV with quoted multi-line fields and a broken row without stopping', async () => {
      const file = path.join(dir, 'users.csv');
      writeFileSync(
        file,
        [
          'Email,Password_Hash,Full_Name,Roles',
          `csv1@example.com,${bcryptHash},"Smith, Anna",`,
          `csv2@example.com,${bcryptHash},"Two
Lines",a;b`,
          '',
          `csv3@example.com,not-a-hash,Three,`,
          `csv4@example.com,${bcryptHash},Four`,
        ].join('\r\n'),
      );
      const run = quiet();
      const summary = await runImportUsersCommand(config, file, run.options);
      expect(run.err).to.deep.equal(['line 6: password_hash must be a bcrypt ($2a$/$2b$/$2y$) or $argon2id$ hash']);
      expect(summary).to.deep.include({ created: 3, skipped: 0 });
      expect((await db.models.User.findOne({ where: { email: 'csv1@example.com' } }))?.fullName).to.equal('Smith, Anna');
      const csv2 = await db.models.User.findOne({ where: { email: 'csv2@example.com' } });
      expect((await csv2?.getRoles())?.map((role) => role.name).sort()).to.deep.equal(['a', 'b']);
    });

    it('fails with one clear line on an unreadable file, a wrong extension, bad JSON or a CSV without the needed columns', async () => {
      const cases: [string, string, RegExp][] = [
        ['missing.csv', '', /missing\.csv: no such file/],
        ['users.txt', 'x', /users\.txt: expected a \.json or \.csv file/],
        ['bad.json', '[{"email": ', /bad\.json: not valid JSON/],
        ['object.json', '{"email": "a@b.c"}', /object\.json: expected a JSON array/],
        ['header.csv', 'mail,hash\na@b.c,x\n', /header\.csv: the header row must name the columns email and password_hash/],
      ];
      for (const [name, content, message] of cases) {
        const file = path.join(dir, name);
        if (content) writeFileSync(file, content);
        let error: unknown;
        await runImportUsersCommand(config, file, quiet().options).catch((err: unknown) => {
          error = err;
        });
        expect((error as Error | undefined)?.message, name).to.match(message);
        expect((error as Error).message, name).not.to.include('\n');
      }
    });
  });

  it('finds the line of each element of a JSON array, whatever the strings hold', () => {
    const text = '[\n {"a": "x,]\\"{"},\n\n {"b": [1,\n 2]}, {"c": 3},\n "s"\n]';
    expect(jsonElementLines(text)).to.deep.equal([2, 4, 5, 6]);
    expect(jsonElementLines('[]')).to.deep.equal([]);
  });
});
