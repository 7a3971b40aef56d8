import { readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { ModelStatic, Model } from 'sequelize';
import { MIGRATIONS, createMigrator, runMigrations } from '../../src/db/migrate.ts';
import { initModels } from '../../src/db/models/index.ts';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { randomBytes } from 'node:crypto';
import { createSecretBox } from '../../src/services/secret-box.ts';

const TABLES = ['audit_events', 'memberships', 'oidc_clients', 'organizations', 'passkeys', 'recovery_codes', 'resources', 'roles', 'signing_keys', 'totp_factors', 'user_roles', 'users'];

async function tableNames(db: TestDatabase): Promise<string[]> {
  const tables = (await db.sequelize.getQueryInterface().showAllTables()) as unknown[];
  return tables
    .map((t) => (typeof t === 'string' ? t : (t as { tableName: string }).tableName))
    .filter((name) => name !== 'schema_migrations')
    .sort();
}

const TYPE_FAMILIES: Record<string, RegExp> = {
  STRING: /^(VARCHAR|CHARACTER VARYING)/,
  TEXT: /^TEXT/,
  UUID: /^UUID/,
  INTEGER: /^INT/,
  BIGINT: /^BIGINT/,
  BOOLEAN: /^(BOOLEAN|TINYINT\(1\))/,
  JSON: /^JSON/,
  DATE: /^(TIMESTAMP WITH TIME ZONE|DATETIME)/,
};

describe('migrations', () => {
  it('lists every file in src/db/migrations, in order, named NNNN-verb-noun', () => {
    const dir = path.resolve(import.meta.dirname, '../../src/db/migrations');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '')).sort();
    expect(MIGRATIONS.map(([name]) => name)).to.deep.equal(files);
    for (const name of files) expect(name).to.match(/^\d{4}-[a-z]+-[a-z-]+$/);
  });

  for (const kind of DATABASE_KINDS) {
    describe(`on ${kind}`, () => {
      let db: TestDatabase;
      before(async function () {
        db = await createTestDatabase(kind, { migrate: false, mocha: this });
      });
      after(() => db?.drop());

      it('creates the whole schema on an empty database and records every migration', async () => {
        const applied = await runMigrations(db.sequelize);
        expect(applied).to.deep.equal(MIGRATIONS.map(([name]) => name));
        expect(await tableNames(db)).to.deep.equal(TABLES);
        expect(await runMigrations(db.sequelize)).to.deep.equal([]);
      });

      it('matches the models column by column (name, type, nullability)', async () => {
        const models = initModels(db.sequelize) as unknown as Record<string, ModelStatic<Model>>;
        const queryInterface = db.sequelize.getQueryInterface();
        for (const model of Object.values(models)) {
          const table = model.getTableName() as string;
          const columns = await queryInterface.describeTable(table);
          const attributes = Object.values(model.getAttributes());
          expect(attributes.map((a) => a.field).sort(), table).to.deep.equal(Object.keys(columns).sort());
          for (const attribute of attributes) {
            const column = columns[attribute.field as string];
            const where = `${table}.${attribute.field}`;
            if (!column) throw new Error(`${where} missing`);
            const type = attribute.type as unknown as { key: string; options?: { length?: number } };
            const family = TYPE_FAMILIES[type.key];
            expect(family, `${where}: unexpected model type ${type.key}`).to.not.equal(undefined);
            expect(column.type.toUpperCase(), where).to.match(family as RegExp);
            if (type.key === 'STRING') expect(column.type, where).to.contain(`(${type.options?.length ?? 255})`);
            // Sequelize manages timestamps itself; every other column must agree on NULL.
            // (SQLite reports its INTEGER PRIMARY KEY as nullable, but a rowid never is NULL.)
            const columnNullable = column.allowNull && !column.primaryKey;
            const isTimestamp = attribute.field === 'created_at' || attribute.field === 'updated_at';
            expect(columnNullable, `${where} allowNull`).to.equal(isTimestamp ? false : attribute.allowNull !== false);
          }
        }
      });

      it('rolls every migration back and re-applies them', async () => {
        const migrator = createMigrator(db.sequelize);
        const reverted = await migrator.down({ to: 0 });
        expect(reverted.map((m) => m.name)).to.deep.equal(MIGRATIONS.map(([name]) => name).reverse());
        expect(await tableNames(db)).to.deep.equal([]);
        await runMigrations(db.sequelize);
        expect(await tableNames(db)).to.deep.equal(TABLES);
      });
    });
  }

  for (const kind of DATABASE_KINDS) {
    it(`0008 encrypts the plaintext signing keys when KEY_ENCRYPTION_KEY is given, and undoing it decrypts them (${kind})`, async function () {
      const db = await createTestDatabase(kind, { migrate: false, mocha: this });
      try {
        await createMigrator(db.sequelize).up({ to: '0007-create-audit-events' });
        const plaintext = [
          { kid: 'k-es', alg: 'ES256', jwk: JSON.stringify({ kty: 'EC', kid: 'k-es', d: 'private-es' }) },
          { kid: 'k-rs', alg: 'RS256', jwk: JSON.stringify({ kty: 'RSA', kid: 'k-rs', d: 'private-rs' }) },
        ];
        for (const key of plaintext) {
          await db.sequelize.query('INSERT INTO signing_keys (kid, alg, private_jwk, created_at) VALUES ($1, $2, $3, $4)', {
            bind: [key.kid, key.alg, key.jwk, new Date()],
          });
        }
        const rows = async () => ((await db.sequelize.query('SELECT kid, private_jwk FROM signing_keys ORDER BY kid')) as [{ kid: string; private_jwk: string }[], unknown])[0];
        const box = createSecretBox(randomBytes(32));

        // Every migration after 0007 runs; 0008 first, encrypting what 0005 left in plaintext.
        expect(await runMigrations(db.sequelize, { sealer: box })).to.deep.equal(MIGRATIONS.map(([name]) => name).slice(7));
        const sealed = await rows();
        expect(sealed.map((row) => row.private_jwk.startsWith('enc:v1:'))).to.deep.equal([true, true]);
        expect(sealed.map((row) => box.open(row.private_jwk, `signing-key:${row.kid}`))).to.deep.equal(plaintext.map((key) => key.jwk));

        // Undoing needs the key; without it nothing changes.
        const failed = await createMigrator(db.sequelize).down({ to: '0008-encrypt-signing-keys' }).then(() => undefined, (err: unknown) => err as Error);
        expect(failed?.message).to.match(/KEY_ENCRYPTION_KEY: signing key k-es is stored encrypted, but KEY_ENCRYPTION_KEY is not set/);
        expect(await rows()).to.deep.equal(sealed);
        await createMigrator(db.sequelize, { sealer: box }).down({ to: '0008-encrypt-signing-keys' });
        expect((await rows()).map((row) => row.private_jwk)).to.deep.equal(plaintext.map((key) => key.jwk));
      } finally {
        await db.drop();
      }
    });
  }

  it('lets concurrent runners on PostgreSQL apply each migration exactly once', async function () {
    const db = await createTestDatabase('postgres', { migrate: false, mocha: this });
    try {
      const { createSequelize } = await import('../../src/db/sequelize.ts');
      const others = [createSequelize({ url: db.url, poolMax: 2 }), createSequelize({ url: db.url, poolMax: 2 })];
      try {
        const results = await Promise.all([runMigrations(db.sequelize), ...others.map((s) => runMigrations(s))]);
        expect(results.flat().sort()).to.deep.equal(MIGRATIONS.map(([name]) => name).sort());
      } finally {
        await Promise.all(others.map((s) => s.close()));
      }
    } finally {
      await db.drop();
    }
  });
});
