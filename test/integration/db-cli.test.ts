import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { runCli } from '../helpers/process.ts';
import { createSequelize } from '../../src/db/sequelize.ts';
import { initModels } from '../../src/db/models/index.ts';
import { MIGRATIONS } from '../../src/db/migrate.ts';
import { createTestDatabase } from '../helpers/database.ts';

const cli = (args: string[], env: Record<string, string>) => runCli(args, env, 30_000);

describe('CLI (npm run cli)', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'idp-cli-'));
    env = { DATABASE_URL: `sqlite:${path.join(dir, 'db', 'idp.sqlite')}`, DATA_DIR: dir };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('--help lists the commands', async () => {
    const run = await cli(['--help'], env);
    expect(run.code).to.equal(0);
    expect(run.stdout).to.contain('migrate').and.to.contain('keys:rotate');
  });

  it('migrate applies every migration to a fresh SQLite database, then has nothing to do', async () => {
    const first = await cli(['migrate'], env);
    expect(first.code, first.stderr).to.equal(0);
    for (const [name] of MIGRATIONS) expect(first.stdout).to.contain(name);
    const second = await cli(['migrate'], env);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.match(/up to date/);
  });

  it('keys:rotate adds a key per algorithm that the key table then holds', async () => {
    expect((await cli(['migrate'], env)).code).to.equal(0);
    const run = await cli(['keys:rotate'], env);
    expect(run.code, run.stderr).to.equal(0);
    const sequelize = createSequelize({ url: env.DATABASE_URL as string });
    try {
      const rows = await initModels(sequelize).SigningKey.findAll();
      expect(rows.map((r) => r.alg).sort()).to.deep.equal(['ES256', 'RS256']);
      for (const row of rows) expect(run.stdout).to.contain(row.kid);
    } finally {
      await sequelize.close();
    }
    const es = await cli(['keys:rotate', '--alg', 'ES256'], env);
    expect(es.code, es.stderr).to.equal(0);
  });

  it('migrate with KEY_ENCRYPTION_KEY encrypts signing keys left in plaintext; keys:rotate adds encrypted ones; a wrong key is one line', async function () {
    this.timeout(120_000);
    const key = randomBytes(32).toString('base64');
    expect((await cli(['migrate'], env)).code).to.equal(0);
    expect((await cli(['keys:rotate'], env)).code, 'two plaintext keys, added without the key').to.equal(0);
    const stored = async () => {
      const sequelize = createSequelize({ url: env.DATABASE_URL as string });
      try {
        return (await initModels(sequelize).SigningKey.findAll({ order: [['kid', 'ASC']] })).map((row) => row.privateJwk);
      } finally {
        await sequelize.close();
      }
    };
    expect((await stored()).every((jwk) => jwk.startsWith('{'))).to.equal(true);

    const sealing = await cli(['migrate'], { ...env, KEY_ENCRYPTION_KEY: key });
    expect(sealing.code, sealing.stderr).to.equal(0);
    expect(sealing.stdout).to.contain('encrypted 2 signing key(s) with KEY_ENCRYPTION_KEY');
    const sealed = await stored();
    expect(sealed.every((jwk) => jwk.startsWith('enc:v1:'))).to.equal(true);
    const again = await cli(['migrate'], { ...env, KEY_ENCRYPTION_KEY: key });
    expect(again.stdout).not.to.contain('encrypted');
    expect(await stored()).to.deep.equal(sealed);

    expect((await cli(['keys:rotate', '--alg', 'ES256'], { ...env, KEY_ENCRYPTION_KEY: key })).code).to.equal(0);
    expect((await stored()).filter((jwk) => jwk.startsWith('enc:v1:'))).to.have.length(3);

    const wrong = await cli(['migrate'], { ...env, KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex') });
    expect(wrong.code).to.equal(1);
    expect(wrong.stderr.trim().split('\n'), wrong.stderr).to.have.length(1);
    expect(wrong.stderr).to.match(/^error: KEY_ENCRYPTION_KEY: signing key \S+ was sealed with a different KEY_ENCRYPTION_KEY/);
  });

  it('an unknown command exits 1 with one line', async () => {
    const run = await cli(['no-such-command'], env);
    expect(run.code).to.equal(1);
    expect(run.stderr.trim().split('\n')).to.have.length(1);
    expect(run.stderr).to.contain('unknown command');
  });

  it('a failing command exits 1 with one clear line and no stack', async () => {
    // No migrations yet: the key table does not exist.
    const run = await cli(['keys:rotate'], env);
    expect(run.code).to.equal(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines, run.stderr).to.have.length(1);
    expect(lines[0]).to.match(/^error: .*signing_keys/);
  });

  it('bad configuration exits 1 naming the key', async () => {
    const run = await cli(['migrate'], { ...env, DATABASE_URL: 'mysql://nope' });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.contain('DATABASE_URL');
    expect(run.stderr).to.not.match(/\n\s+at /);
  });

  it('migrate works against PostgreSQL too', async function () {
    const db = await createTestDatabase('postgres', { migrate: false, mocha: this });
    try {
      const run = await cli(['migrate'], { ...env, DATABASE_URL: db.url });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.contain(MIGRATIONS.at(-1)?.[0]);
    } finally {
      await db.drop();
    }
  });
});
