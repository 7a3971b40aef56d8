/**
 * Deleting a user, the same way whoever asks (the admin's DELETE /users/:id, the user's own "delete
 * account"): every session ends and, through the session service's revokeAll listeners, every OIDC grant
 * with its tokens; then the user row goes with what hangs on it by ON DELETE CASCADE (memberships, roles,
 * second factors), and their personal organization when no one else is in it. Organizations with other
 * members stay (they are the others' too). The audit trail keeps its events; the caller records its own.
 */
import type { Sequelize } from 'sequelize';
import type { Models } from '../../db/models/index.ts';
import type { EndReason, SessionService } from '../sessions.ts';

export interface UserDeletionOptions {
  models: Pick<Models, 'User' | 'Organization' | 'Membership'>;
  sequelize: Sequelize;
  sessions: Pick<SessionService, 'revokeAll' | 'forget'>;
}

export function createUserDeletion(options: UserDeletionOptions) {
  const { User, Organization, Membership } = options.models;
  const { sessions } = options;

  /** `user.organizationId`: the personal (primary) organization, removed when the user was its last member. */
  return async function deleteUser(user: { id: string; organizationId: string | null }, reason: EndReason): Promise<void> {
    await sessions.revokeAll(user.id, { reason });
    await options.sequelize.transaction(async (transaction) => {
      await User.destroy({ where: { id: user.id }, transaction });
      if (user.organizationId) {
        const members = await Membership.count({ where: { organizationId: user.organizationId }, transaction });
        if (members === 0) await Organization.destroy({ where: { id: user.organizationId }, transaction });
      }
    });
    // A login that slipped in between the revocation and the delete has a session without a user: end it too.
    await sessions.revokeAll(user.id, { reason });
    // Ended sessions of a deleted user are no one's to list: drop them now rather than in 7 days.
    await sessions.forget(user.id);
  };
}

export type DeleteUser = ReturnType<typeof createUserDeletion>;
