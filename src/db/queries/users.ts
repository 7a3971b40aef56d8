/**
 * The account service's reads and writes of users, as plain rows: the service holds no model instance,
 * so its logic runs as well against an in-memory fake (test/unit/accounts.test.ts).
 */
import { Op, QueryTypes, UniqueConstraintError } from 'sequelize';
import type { Sequelize } from 'sequelize';
import type { JsonObject, Models, User, UserStatus } from '../models/index.ts';
import { primaryQuery } from '../primary-sql.ts';

/** A user as stored, password hash included; never shown to a client as such. */
export type UserRow = Pick<
  User,
  | 'id' | 'number' | 'username' | 'usernameNormalized' | 'email' | 'passwordHash' | 'fullName' | 'phone' | 'status'
  | 'emailVerified' | 'onboardingCompleted' | 'onboardingStep' | 'onboardingData' | 'organizationId' | 'createdAt' | 'updatedAt'
>;

export interface RoleRow {
  id: string;
  name: string;
  description: string | null;
}

/** A login's user with its roles. */
export interface LoginCandidate {
  user: UserRow;
  roles: RoleRow[];
}

/** What a user may change through the account service (the model's setters clean usernames and e-mails). */
export type UserChanges = Partial<
  Pick<User, 'fullName' | 'phone' | 'username' | 'onboardingCompleted' | 'onboardingStep' | 'onboardingData' | 'emailVerified' | 'status'>
>;

export interface NewUser {
  email: string;
  username: string | null;
  passwordHash: string;
  fullName: string | null;
  phone: string | null;
}

/** An e-mail or username already someone's: the unique index said so. */
export class UserTakenError extends Error {
  readonly field: 'email' | 'username';
  constructor(field: 'email' | 'username', options?: ErrorOptions) {
    super(`${field} taken`, options);
    this.name = 'UserTakenError';
    this.field = field;
  }
}

/** Which unique index a violation hit, on PostgreSQL and SQLite alike; undefined for any other constraint. */
function takenField(error: UniqueConstraintError): 'email' | 'username' | undefined {
  const parent = error.parent as { constraint?: string; message?: string } | undefined;
  const text = [
    ...Object.keys(error.fields ?? {}),
    ...(Array.isArray(error.fields) ? (error.fields as string[]) : []),
    parent?.constraint,
    parent?.message,
    error.message,
  ].join(' ');
  if (/username/i.test(text)) return 'username';
  if (/email/i.test(text)) return 'email';
  return undefined;
}

/** A violation of the e-mail or username index as UserTakenError; anything else unchanged. */
function asTaken(err: unknown): unknown {
  const field = err instanceof UniqueConstraintError ? takenField(err) : undefined;
  return field ? new UserTakenError(field, { cause: err }) : err;
}

/** Tries for a personal organization's random slug (suffix of 8 hex digits) before a collision is an error. */
const SLUG_ATTEMPTS = 3;

/**
 * A login's user and roles in one statement, read as plain rows (no model instances): the hottest
 * query of a login, at a third of the CPU of a model query plus getRoles (less again on PostgreSQL,
 * where it skips Sequelize's query layer: primary-sql.ts). At most two users match: e-mail and
 * normalized username are each unique. $1 is the identifier as an address, $2 as a username
 * (services/identifiers.ts). Plain SQL that PostgreSQL and SQLite both run.
 */
const LOGIN_QUERY = `
SELECT u.id, u.number, u.username, u.username_normalized, u.email, u.password_hash, u.full_name, u.phone, u.status,
       u.email_verified, u.onboarding_completed, u.onboarding_step, u.onboarding_data, u.organization_id, u.created_at,
       u.updated_at, r.id AS role_id, r.name AS role_name, r.description AS role_description
FROM users u
LEFT JOIN user_roles ur ON ur.user_id = u.id
LEFT JOIN roles r ON r.id = ur.role_id
WHERE u.email = $1 OR u.username_normalized = $2`;

interface LoginRow {
  id: string;
  number: number;
  username: string | null;
  username_normalized: string | null;
  email: string;
  password_hash: string;
  full_name: string | null;
  phone: string | null;
  status: UserStatus;
  email_verified: boolean | number;
  onboarding_completed: boolean | number;
  onboarding_step: number | null;
  onboarding_data: JsonObject | string | null;
  organization_id: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  role_id: string | null;
  role_name: string | null;
  role_description: string | null;
}

// SQLite hands back dates as text, booleans as 0/1 and JSON as text; PostgreSQL (pg) parses all three.
const toDate = (value: Date | string): Date => (value instanceof Date ? value : new Date(value));
const toJson = (value: JsonObject | string | null): JsonObject | null => (typeof value === 'string' ? (JSON.parse(value) as JsonObject) : value);

/** Groups the joined rows by user, in the order the users first appear. */
function loginCandidates(rows: readonly LoginRow[]): LoginCandidate[] {
  const byId = new Map<string, LoginCandidate>();
  for (const row of rows) {
    let candidate = byId.get(row.id);
    if (!candidate) {
      candidate = {
        user: {
          id: row.id,
          number: Number(row.number),
          username: row.username,
          usernameNormalized: row.username_normalized,
          email: row.email,
          passwordHash: row.password_hash,
          fullName: row.full_name,
          phone: row.phone,
          status: row.status,
          emailVerified: Boolean(row.email_verified),
          onboardingCompleted: Boolean(row.onboarding_completed),
          onboardingStep: row.onboarding_step,
          onboardingData: toJson(row.onboarding_data),
          organizationId: row.organization_id,
          createdAt: toDate(row.created_at),
          updatedAt: toDate(row.updated_at),
        },
        roles: [],
      };
      byId.set(row.id, candidate);
    }
    if (row.role_id !== null && row.role_name !== null) {
      candidate.roles.push({ id: row.role_id, name: row.role_name, description: row.role_description });
    }
  }
  return [...byId.values()];
}

export interface UserQueriesInput {
  sequelize: Sequelize;
  models: Pick<Models, 'User' | 'Organization' | 'Membership'>;
}

/**
 * `fresh` reads go to the primary: with read replicas (DATABASE_READ_URLS) a replica may lag, and a
 * read that decides on credentials or precedes a write must see the latest row.
 */
export function createUserQueries({ sequelize, models }: UserQueriesInput) {
  const { User, Organization, Membership } = models;
  const direct = primaryQuery(sequelize);
  const plain = (user: User): UserRow => user.get({ plain: true });
  const one = async (where: Record<string, unknown>, fresh: boolean): Promise<UserRow | undefined> => {
    const user = await User.findOne({ where, useMaster: fresh });
    return user ? plain(user) : undefined;
  };
  const idWhere = async (where: Record<string, unknown>): Promise<string | undefined> =>
    (await User.findOne({ where, attributes: ['id'] }))?.id;
  // An instance standing for a row just read: Sequelize then updates only the changed columns, runs the
  // model's setters and instance hooks (the account cache's), exactly as on a fetched instance.
  const fetched = (row: Pick<UserRow, 'id'>): User => User.build(row as User, { isNewRecord: false, raw: true });

  return {
    /** Every user a login identifier may name (its address form, its username form), from the primary. */
    async loginCandidates(forms: { email: string; username: string }): Promise<LoginCandidate[]> {
      const rows = direct
        ? await direct<LoginRow>(LOGIN_QUERY, [forms.email, forms.username])
        : await sequelize.query<LoginRow>(LOGIN_QUERY, { bind: [forms.email, forms.username], type: QueryTypes.SELECT, useMaster: true });
      return loginCandidates(rows);
    },

    findById: (id: string, fresh: boolean) => one({ id }, fresh),
    findByEmail: (email: string, fresh: boolean) => one({ email }, fresh),
    findByUsername: (usernameNormalized: string, fresh: boolean) => one({ usernameNormalized }, fresh),

    /** The users already holding this e-mail or normalized username (at most one each), from the primary. */
    async findHolders(email: string, usernameNormalized: string | undefined): Promise<Pick<UserRow, 'email' | 'usernameNormalized'>[]> {
      const users = await User.findAll({
        where: usernameNormalized ? { [Op.or]: [{ email }, { usernameNormalized }] } : { email },
        attributes: ['email', 'usernameNormalized'],
        limit: 2,
        useMaster: true,
      });
      return users.map((user) => ({ email: user.email, usernameNormalized: user.usernameNormalized }));
    },

    /** Ids for a legacy token's subject: by number, by normalized username, by e-mail of a user without a username. */
    idByNumber: (number: number) => idWhere({ number }),
    idByUsername: (usernameNormalized: string) => idWhere({ usernameNormalized }),
    idByEmailWithoutUsername: (email: string) => idWhere({ email, username: null }),

    async rolesOf(userId: string, fresh: boolean): Promise<RoleRow[]> {
      const roles = await fetched({ id: userId }).getRoles({ joinTableAttributes: [], useMaster: fresh });
      return roles.map((role) => ({ id: role.id, name: role.name, description: role.description ?? null }));
    },

    /**
     * The user, a personal organization (its slug `slugBase-<8 hex>`) and the owner membership in one
     * transaction. A taken e-mail or username → UserTakenError; a slug collision gets another slug.
     */
    async createWithOrganization(user: NewUser, organization: { name: string; slug: () => string }): Promise<UserRow> {
      for (let attempt = 1; ; attempt += 1) {
        try {
          // On SQLite the write queue of db/sqlite-writes.ts runs this after any write already in progress.
          return await sequelize.transaction(async (transaction) => {
            const created = await Organization.create({ name: organization.name, slug: organization.slug() }, { transaction });
            const row = await User.create({ ...user, organizationId: created.id }, { transaction });
            await Membership.create({ userId: row.id, organizationId: created.id, role: 'owner' }, { transaction });
            return plain(row);
          });
        } catch (err) {
          const translated = asTaken(err);
          if (translated !== err || !(err instanceof UniqueConstraintError) || attempt >= SLUG_ATTEMPTS) throw translated;
        }
      }
    },

    /** Applies `changes` to the row just read; returns the row as now stored. A taken username → UserTakenError. */
    async update(row: UserRow, changes: UserChanges): Promise<UserRow> {
      const user = fetched(row);
      try {
        await user.update(changes);
      } catch (err) {
        throw asTaken(err);
      }
      return plain(user);
    },

    /** Marks the e-mail verified without a link: an operator vouches for it (the CLI's and the first admin). */
    async markEmailVerified(id: string): Promise<void> {
      await User.update({ emailVerified: true }, { where: { id } });
    },

    /**
     * Replaces the password hash only while it is still `expected` (a password changed meanwhile is never
     * overwritten); `also` sets more columns in the same statement. Returns whether the row changed.
     */
    async replacePasswordHash(id: string, expected: string, next: string, also: Pick<UserChanges, 'emailVerified'> = {}): Promise<boolean> {
      const [changed] = await User.update({ passwordHash: next, ...also }, { where: { id, passwordHash: expected } });
      return changed > 0;
    },
  };
}

export type UserQueries = ReturnType<typeof createUserQueries>;
