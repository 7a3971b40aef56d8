/**
 * The role `admin` used to grant the admin API and console; now only ADMIN_ROLE (default `idp_admin`)
 * does, and `admin` is an application role like any other (Aurora's dashboard admins hold it). So
 * nobody loses access at upgrade, every holder of `admin` also gets `idp_admin` here and keeps `admin`
 * for the applications. Operators then take `idp_admin` away from those who were only application
 * admins (README, "Upgrading: ADMIN_ROLE"). A deployment that sets ADMIN_ROLE to another name grants
 * that role itself: migrations do not read the configuration.
 */
import { randomUUID } from 'node:crypto';
import { QueryTypes } from 'sequelize';
import type { QueryInterface } from 'sequelize';

const OLD = 'admin';
const NEW = 'idp_admin';

async function roleId(queryInterface: QueryInterface, name: string): Promise<string | undefined> {
  const rows = await queryInterface.sequelize.query<{ id: string }>('SELECT id FROM roles WHERE name = :name', {
    replacements: { name },
    type: QueryTypes.SELECT,
  });
  return rows[0]?.id;
}

export async function up(queryInterface: QueryInterface): Promise<void> {
  const oldId = await roleId(queryInterface, OLD);
  if (!oldId) return;
  let newId = await roleId(queryInterface, NEW);
  if (!newId) {
    newId = randomUUID();
    const now = new Date();
    await queryInterface.bulkInsert('roles', [
      { id: newId, name: NEW, description: 'Full access to the admin API and console of the identity provider', created_at: now, updated_at: now },
    ]);
  }
  const holders = await queryInterface.sequelize.query<{ user_id: string }>(
    `SELECT ur.user_id FROM user_roles ur
     WHERE ur.role_id = :oldId AND NOT EXISTS (SELECT 1 FROM user_roles x WHERE x.user_id = ur.user_id AND x.role_id = :newId)`,
    { replacements: { oldId, newId }, type: QueryTypes.SELECT },
  );
  if (holders.length === 0) return;
  const now = new Date();
  await queryInterface.bulkInsert('user_roles', holders.map((row) => ({ user_id: row.user_id, role_id: newId, created_at: now })));
}

/** Takes `idp_admin` back from the holders of `admin` (the others got it some other way). */
export async function down(queryInterface: QueryInterface): Promise<void> {
  const oldId = await roleId(queryInterface, OLD);
  const newId = await roleId(queryInterface, NEW);
  if (!oldId || !newId) return;
  await queryInterface.sequelize.query(
    'DELETE FROM user_roles WHERE role_id = :newId AND user_id IN (SELECT user_id FROM user_roles WHERE role_id = :oldId)',
    { replacements: { oldId, newId } },
  );
}
