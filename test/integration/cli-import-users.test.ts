import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import argon2 from 'argon2';
import { loadConfig } from '../../src/config.ts';
import { runImportUsersCommand } from '../../src/cli/import-users.ts';
import { jsonElementLines } from '../../src/cli/user-file.ts';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/database.ts';
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
        'line 10: roles.0: role names are letters, digits and _ . : - (64 at most)',
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

  for (const kind of DATABASE_KINDS) {
    describe(`identity kept: ids, numbers and the extra columns (${kind})`, () => {
      let db: TestDatabase;
      let config: ReturnType<typeof loadConfig>;
      before(async function () {
        db = await createTestDatabase(kind, { mocha: this });
        config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.url, DATA_DIR: dir });
      });
      after(async () => db?.drop());

      it('keeps id and number, moves the number sequence past the largest, and rejects clashes with their line', async () => {
        const existing = await db.models.User.create({ email: 'already@example.com', username: 'already', passwordHash: bcryptHash });
        const ids = ['0b0c1a2e-1111-4c55-9d4e-2f8f1a0b7c11', '0b0c1a2e-2222-4c55-9d4e-2f8f1a0b7c11', '0b0c1a2e-3333-4c55-9d4e-2f8f1a0b7c11'];
        const file = path.join(dir, `identity-${kind}.json`);
        writeFileSync(
          file,
          `[
  {"id": "${ids[0]}", "number": 42, "email": "jo@legacy.example", "username": "jo", "password_hash": "${bcryptHash}", "roles": ["admin", "pmc_admin"],
   "phone": "+44 20 7946 0000", "status": "inactive", "email_verified": true, "created_at": "2021-03-04T05:06:07Z", "organization": "Acme Property"},
  {"id": "${ids[1]?.toUpperCase()}", "number": "7", "email": "josé@exämple.com", "username": "mary smith", "password_hash": "${bcryptHash}", "organization": "Acme Property"},
  {"id": "${ids[2]}", "number": 43, "email": "Bob <BOB@corp.example>", "username": "bob@corp", "password_hash": "${bcryptHash}"},
  {"id": "${existing.id}", "email": "id-clash@example.com", "password_hash": "${bcryptHash}"},
  {"number": ${existing.number}, "email": "number-clash@example.com", "password_hash": "${bcryptHash}"},
  {"number": 42, "email": "dup-number@example.com", "password_hash": "${bcryptHash}"},
  {"id": "not-a-uuid", "number": -3, "email": "bad-identity@example.com", "password_hash": "${bcryptHash}"},
  {"email": "plain@example.com", "username": "bob@corp.example", "password_hash": "${bcryptHash}"},
  {"email": "fresh@example.com", "username": "Fresh", "password_hash": "${bcryptHash}", "status": "gone"},
  {"email": "noid@example.com", "username": "noid", "password_hash": "${bcryptHash}"}
]
`,
        );
        const run = quiet();
        const summary = await runImportUsersCommand(config, file, run.options);
        expect(run.err).to.deep.equal([
          `line 6: id ${existing.id} belongs to another user`,
          `line 7: number ${existing.number} belongs to another user`,
          'line 8: number 42 already appears on line 2',
          'line 9: id must be a UUID; number must be a positive integer',
          'line 10: username bob@corp.example is the e-mail on line 5',
          'line 11: status must be one of active, inactive, suspended',
        ]);
        expect(run.out).to.deep.equal(['created 4, skipped 0, rejected 6']);
        expect(summary.created).to.equal(4);

        const jo = await db.models.User.findOne({ where: { email: 'jo@legacy.example' } });
        expect(jo).to.deep.include({ id: ids[0], number: 42, username: 'jo', phone: '+44 20 7946 0000', status: 'inactive', emailVerified: true });
        expect(jo?.createdAt.toISOString()).to.equal('2021-03-04T05:06:07.000Z');
        expect((await jo?.getRoles())?.map((role) => role.name).sort()).to.deep.equal(['admin', 'pmc_admin']);
        const mary = await db.models.User.findOne({ where: { email: 'josé@exämple.com' } });
        expect(mary).to.deep.include({ id: ids[1], number: 7, username: 'mary smith' });
        // One organization for both, found by name; they are its members and it is their primary one.
        const acme = await db.models.Organization.findAll({ where: { name: 'Acme Property' } });
        expect(acme).to.have.length(1);
        expect([jo?.organizationId, mary?.organizationId]).to.deep.equal([acme[0]?.id, acme[0]?.id]);
        expect(await db.models.Membership.count({ where: { organizationId: acme[0]?.id ?? '', role: 'member' } })).to.equal(2);
        expect(await db.models.User.findOne({ where: { email: 'bob@corp.example' } })).to.deep.include({ id: ids[2], number: 43, username: 'bob@corp' });
        // Rows without a number come after the numbered ones and the sequence moved: past 43.
        const noid = await db.models.User.findOne({ where: { email: 'noid@example.com' } });
        expect(noid?.number).to.be.above(43);
        const later = await db.models.User.create({ email: 'registered-later@example.com', passwordHash: bcryptHash });
        expect(later.number).to.be.above(noid?.number ?? Infinity);

        const again = quiet();
        expect(await runImportUsersCommand(config, file, again.options)).to.deep.include({ created: 0, skipped: 4 });
        expect(again.out).to.deep.equal(['created 0, skipped 4, rejected 6']);
      });

      it('reads ids, numbers and ;-separated roles from CSV, and refuses an existing e-mail with another id', async () => {
        const file = path.join(dir, `identity-${kind}.csv`);
        writeFileSync(
          file,
          [
            'id,number,email,username,password_hash,roles,phone,status,email_verified,created_at,organization',
            `0b0c1a2e-4444-4c55-9d4e-2f8f1a0b7c11,500,csv-id@example.com,csv id,${bcryptHash},admin;pmc_admin,+1 555 0100,suspended,true,2020-01-02,7d3e0000-0000-4000-8000-00000000abcd`,
            `0b0c1a2e-5555-4c55-9d4e-2f8f1a0b7c11,,jo@legacy.example,,${bcryptHash},,,,,,`,
          ].join('\n'),
        );
        const run = quiet();
        await runImportUsersCommand(config, file, run.options);
        expect(run.err).to.deep.equal(['line 3: e-mail jo@legacy.example exists with another id (0b0c1a2e-1111-4c55-9d4e-2f8f1a0b7c11)']);
        expect(run.out).to.deep.equal(['created 1, skipped 0, rejected 1']);
        const user = await db.models.User.findOne({ where: { email: 'csv-id@example.com' } });
        expect(user).to.deep.include({ id: '0b0c1a2e-4444-4c55-9d4e-2f8f1a0b7c11', number: 500, username: 'csv id', status: 'suspended', emailVerified: true, phone: '+1 555 0100' });
        expect((await user?.getRoles())?.map((role) => role.name).sort()).to.deep.equal(['admin', 'pmc_admin']);
        // An organization given by its old id keeps it (the v2 profile's organization_id).
        expect(user?.organizationId).to.equal('7d3e0000-0000-4000-8000-00000000abcd');
        expect(await db.models.Organization.findByPk('7d3e0000-0000-4000-8000-00000000abcd')).to.not.equal(null);
      });
    });
  }

  it('finds the line of each element of a JSON array, whatever the strings hold', () => {
    const text = '[\n {"a": "x,]\\"{"},\n\n {"b": [1,\n 2]}, {"c": 3},\n "s"\n]';
    expect(jsonElementLines(text)).to.deep.equal([2, 4, 5, 6]);
    expect(jsonElementLines('[]')).to.deep.equal([]);
  });
});
