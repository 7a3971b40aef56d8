/**
 * Data migrations at upgrade: 0009 gives every holder of the old `admin` role (which used to grant the
 * admin API) the new ADMIN_ROLE `idp_admin` too, so nobody loses access; 0010 folds existing usernames
 * to NFKC so a look-alike can no longer stand beside the name it imitates.
 */
import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { QueryTypes } from 'sequelize';
import { createMigrator } from '../../src/db/migrate.ts';
import { DATABASE_KINDS, createTestDatabase, type TestDatabase } from '../helpers/database.ts';

for (const kind of DATABASE_KINDS) {
  describe(`upgrade migrations 0009 and 0010 (${kind})`, () => {
    let db: TestDatabase;
    before(async function () {
      db = await createTestDatabase(kind, { migrate: false, mocha: this });
      await createMigrator(db.sequelize).up({ to: '0007-create-audit-events' });
    });
    after(() => db?.drop());

    const insertUser = async (email: string, username: string | null, normalized: string | null): Promise<string> => {
      const id = randomUUID();
      const now = new Date();
      await db.sequelize.getQueryInterface().bulkInsert('users', [
        { id, email, username, username_normalized: normalized, password_hash: 'x', status: 'active', email_verified: false, onboarding_completed: false, created_at: now, updated_at: now },
      ]);
      return id;
    };
    const rolesOf = async (userId: string): Promise<string[]> =>
      (
        await db.sequelize.query<{ name: string }>('SELECT r.name FROM roles r JOIN user_roles ur ON ur.role_id = r.id WHERE ur.user_id = :userId ORDER BY r.name', {
          replacements: { userId },
          type: QueryTypes.SELECT,
        })
      ).map((row) => row.name);

    it('gives idp_admin to every holder of admin, keeps admin as their application role, and nothing to others', async () => {
      const now = new Date();
      const adminRole = randomUUID();
      const otherRole = randomUUID();
      await db.sequelize.getQueryInterface().bulkInsert('roles', [
        { id: adminRole, name: 'admin', description: null, created_at: now, updated_at: now },
        { id: otherRole, name: 'pmc_admin', description: null, created_at: now, updated_at: now },
      ]);
      const oldAdmin = await insertUser('old-admin@example.com', 'oldadmin', 'oldadmin');
      const pmc = await insertUser('pmc@example.com', 'pmc', 'pmc');
      await db.sequelize.getQueryInterface().bulkInsert('user_roles', [
        { user_id: oldAdmin, role_id: adminRole, created_at: now },
        { user_id: pmc, role_id: otherRole, created_at: now },
      ]);
      // 0010's subjects: a full-width look-alike of an existing name, and a name with spaces to trim.
      await insertUser('real-alice@example.com', 'alice', 'alice');
      const lookalike = await insertUser('fake-alice@example.com', 'ａｌｉｃｅ', 'ａｌｉｃｅ');
      const spaced = await insertUser('spaced@example.com', ' Mary Smith ', ' mary smith ');
      const wide = await insertUser('wide@example.com', 'ＢＯＢ', 'ｂｏｂ');

      await createMigrator(db.sequelize).up({ to: '0010-normalize-usernames-nfkc' });

      expect(await rolesOf(oldAdmin)).to.deep.equal(['admin', 'idp_admin']);
      expect(await rolesOf(pmc)).to.deep.equal(['pmc_admin']);
      const row = async (id: string) =>
        (await db.sequelize.query<{ username: string; username_normalized: string }>('SELECT username, username_normalized FROM users WHERE id = :id', { replacements: { id }, type: QueryTypes.SELECT }))[0];
      expect(await row(spaced)).to.deep.equal({ username: 'Mary Smith', username_normalized: 'mary smith' });
      expect(await row(wide)).to.deep.equal({ username: 'BOB', username_normalized: 'bob' });
      // The look-alike cannot take the real name's form: it keeps its old one (its e-mail still signs it in).
      expect(await row(lookalike)).to.deep.equal({ username: 'ａｌｉｃｅ', username_normalized: 'ａｌｉｃｅ' });

      await createMigrator(db.sequelize).down({ to: '0009-grant-idp-admin-role' });
      expect(await rolesOf(oldAdmin)).to.deep.equal(['admin']);
    });
  });
}
