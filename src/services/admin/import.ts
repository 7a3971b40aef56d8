/**
 * Bulk import of users with their existing password hashes (CONTRACT §8 `import-users`). Fast because
 * it works in batches: per batch, one look-up (taken e-mails, usernames, ids and numbers) and one
 * multi-row insert per table (organizations, users, memberships, user roles) in one transaction. Every
 * user gets what registration gives (a personal organization and an owner membership), or, with an
 * `organization` column, a membership in that organization. Idempotent on e-mail: an address that exists
 * is skipped, never changed. Hashes are kept as they are; bcrypt ones are replaced by argon2id at the
 * user's first login (accounts.ts).
 *
 * Identity is kept (CONTRACT §3 "Moving the users over"): `id` (the old UUID, so the OIDC `sub`) and
 * `number` (the old integer id, the auth-service `id`). A clash with another user's id or number
 * rejects the row. Rows with a number are written before rows without one, and the number sequence
 * is then moved past the largest (PostgreSQL; SQLite's AUTOINCREMENT follows the largest by itself),
 * so a user created afterwards never takes an imported number.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Op, QueryTypes, UniqueConstraintError } from 'sequelize';
import type { Sequelize, Transaction } from 'sequelize';
import { z } from 'zod';
import { USER_STATUSES, type Models, type UserStatus } from '../../db/models/index.ts';
import { isUuid } from '../../db/uuid.ts';
import { canonicalEmail, cleanUsername, normalizeUsername, usernameProblem } from '../identifiers.ts';
import type { RoleService } from '../roles.ts';

/** One row as read from the file, before validation; `line` is where it starts in the file. */
export interface RawImportRow {
  line: number;
  fields: Record<string, unknown>;
}

export interface ImportRejection {
  line: number;
  reason: string;
}

export interface ImportSummary {
  created: number;
  skipped: number;
  rejected: ImportRejection[];
}

interface ImportUser {
  line: number;
  id: string | null;
  number: number | null;
  email: string;
  username: string | null;
  fullName: string | null;
  phone: string | null;
  status: UserStatus;
  passwordHash: string;
  emailVerified: boolean;
  createdAt: Date | null;
  organization: string | null;
  roles: string[];
}

export interface UserImportOptions {
  models: Pick<Models, 'User' | 'Organization' | 'Membership' | 'UserRole'>;
  sequelize: Sequelize;
  roles: Pick<RoleService, 'ensureRole'>;
  batchSize?: number;
}

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
// PHC string format: parameters in any order (libargon2 writes m,t,p; node-argon2 m,p,t).
const ARGON2ID = /^\$argon2id\$v=\d+\$[a-z]=\d+(?:,[a-z]=\d+)*\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/;
const ROLE_NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

const blankToNull = (value: unknown) => (typeof value === 'string' && value.trim() === '' ? null : value);
const text = (max: number) => z.preprocess(blankToNull, z.string().trim().max(max, `at most ${max} characters`).nullable().optional());

/** The largest `number` PostgreSQL's INTEGER (and so the sequence) holds. */
const MAX_NUMBER = 2_147_483_647;

const rowSchema = z.object({
  id: z.preprocess(
    blankToNull,
    z
      .string()
      .trim()
      .refine(isUuid, 'id must be a UUID')
      .transform((id) => id.toLowerCase())
      .nullable()
      .optional(),
  ),
  number: z.preprocess(
    (value) => (typeof value === 'string' ? (value.trim() === '' ? null : Number(value.trim())) : value),
    z.number('number must be a positive integer').int('number must be a positive integer').min(1, 'number must be a positive integer').max(MAX_NUMBER, `number must be at most ${MAX_NUMBER}`).nullable().optional(),
  ),
  email: z.string().transform((value, ctx) => {
    const email = canonicalEmail(value);
    if (email !== undefined) return email;
    ctx.addIssue({ code: 'custom', message: 'not a valid e-mail address' });
    return z.NEVER;
  }),
  username: z.preprocess(
    blankToNull,
    z
      .string()
      .transform((value, ctx) => {
        const problem = usernameProblem(value);
        if (problem === undefined) return cleanUsername(value);
        ctx.addIssue({ code: 'custom', message: problem.replace(/^Username/, 'username') });
        return z.NEVER;
      })
      .nullable()
      .optional(),
  ),
  full_name: text(255),
  phone: text(64),
  status: z.preprocess(
    (value) => (typeof value === 'string' ? value.trim().toLowerCase() || undefined : (value ?? undefined)),
    z.enum(USER_STATUSES, `status must be one of ${USER_STATUSES.join(', ')}`).optional(),
  ),
  created_at: z.preprocess(
    blankToNull,
    z
      .string()
      .trim()
      .transform((value, ctx) => {
        const at = new Date(value);
        if (!Number.isNaN(at.getTime())) return at;
        ctx.addIssue({ code: 'custom', message: 'created_at must be a date (ISO 8601)' });
        return z.NEVER;
      })
      .nullable()
      .optional(),
  ),
  organization: text(255),
  password_hash: z
    .string({ error: 'password_hash is required' })
    .trim()
    .refine((hash) => BCRYPT.test(hash) || ARGON2ID.test(hash), 'password_hash must be a bcrypt ($2a$/$2b$/$2y$) or $argon2id$ hash'),
  roles: z
    .preprocess(
      (value) => (typeof value === 'string' ? value.split(';') : (value ?? [])),
      z.array(z.string().trim()).transform((names) => names.filter(Boolean)),
    )
    .pipe(z.array(z.string().regex(ROLE_NAME, 'role names are letters, digits and _ . : - (64 at most)')).max(50)),
  email_verified: z
    .preprocess((value) => (typeof value === 'string' ? ['true', '1', 'yes'].includes(value.trim().toLowerCase()) : (value ?? false)), z.boolean())
    .optional(),
});

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const field = issue.path.join('.');
      if (issue.code === 'invalid_type' && issue.input === undefined) return `${field} is required`;
      return field && !issue.message.includes(field) ? `${field}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

/** Checks one row; a string says why it is rejected. */
export function parseImportRow(raw: RawImportRow): ImportUser | string {
  const lowerKeys = Object.fromEntries(Object.entries(raw.fields).map(([key, value]) => [key.trim().toLowerCase(), value]));
  const result = rowSchema.safeParse(lowerKeys);
  if (!result.success) return describeIssues(result.error);
  const row = result.data;
  return {
    line: raw.line,
    id: row.id ?? null,
    number: row.number ?? null,
    email: row.email,
    username: row.username ?? null,
    fullName: row.full_name ?? null,
    phone: row.phone ?? null,
    status: row.status ?? 'active',
    passwordHash: row.password_hash,
    emailVerified: row.email_verified ?? false,
    createdAt: row.created_at ?? null,
    organization: row.organization ?? null,
    roles: [...new Set(row.roles)],
  };
}

/** The same personal organization registration makes (accounts.ts): "<name> (personal)", a unique slug. */
const slugOf = (source: string): string =>
  source.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'user';

function personalOrganization(user: ImportUser): { name: string; slug: string } {
  const display = user.fullName || user.username || user.email.split('@')[0] || user.email;
  const source = user.username ?? user.email.split('@')[0] ?? 'user';
  return { name: `${display} (personal)`.slice(0, 255), slug: `${slugOf(source)}-${randomBytes(4).toString('hex')}` };
}

/** The users a batch meets in the database (only the columns the checks need). */
interface Existing {
  id: string;
  number: number;
  email: string;
  usernameNormalized: string | null;
}

type Field = 'email' | 'username' | 'id' | 'number';

/** Which unique index a violation hit, on PostgreSQL (constraint names) and SQLite (column names) alike. */
function takenField(error: UniqueConstraintError): Field | undefined {
  const parent = error.parent as { constraint?: string; message?: string } | undefined;
  const detail = [...Object.keys(error.fields ?? {}), parent?.constraint, parent?.message, error.message].join(' ');
  if (/username/i.test(detail)) return 'username';
  if (/email/i.test(detail)) return 'email';
  if (/users_pkey|users\.number|\bnumber\b/i.test(detail)) return 'number';
  if (/users_id_unique|users\.id\b|\bid\b/i.test(detail)) return 'id';
  return undefined;
}

function takenReason(field: Field, user: ImportUser): string {
  if (field === 'id') return `id ${user.id} belongs to another user`;
  if (field === 'number') return `number ${user.number} belongs to another user`;
  if (field === 'username') return `username ${user.username} is already taken`;
  return `e-mail ${user.email} is already taken`;
}

/** Why this row clashes with the users that exist; 'skip' when it is already there (idempotent on e-mail). */
function clash(user: ImportUser, existing: readonly Existing[]): string | 'skip' | undefined {
  const sameEmail = existing.find((other) => other.email === user.email);
  if (sameEmail) {
    if (user.id && sameEmail.id !== user.id) return `e-mail ${user.email} exists with another id (${sameEmail.id})`;
    if (user.number && Number(sameEmail.number) !== user.number) return `e-mail ${user.email} exists with another number (${sameEmail.number})`;
    return 'skip';
  }
  if (user.id && existing.some((other) => other.id === user.id)) return takenReason('id', user);
  if (user.number && existing.some((other) => Number(other.number) === user.number)) return takenReason('number', user);
  const username = user.username ? normalizeUsername(user.username) : undefined;
  if (username && existing.some((other) => other.usernameNormalized === username)) return takenReason('username', user);
  if (username && existing.some((other) => other.email === username)) return `username ${user.username} is another user's e-mail`;
  if (existing.some((other) => other.usernameNormalized === normalizeUsername(user.email))) return `e-mail ${user.email} is another user's username`;
  return undefined;
}

export function createUserImporter(options: UserImportOptions) {
  const { User, Organization, Membership, UserRole } = options.models;
  const { sequelize } = options;
  const batchSize = options.batchSize ?? 500;

  /**
   * The organizations the file names, found or created: value → id. A UUID is an organization's id, kept
   * (the old `organization_id` the v2 profile answers): created with that id, and a name saying so, when
   * absent. Anything else is a name: the oldest organization with it, or a new one.
   */
  async function organizationIds(values: string[]): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    const uuids = values.filter(isUuid).map((value) => value.toLowerCase());
    const names = values.filter((value) => !isUuid(value));
    const created: { id: string; name: string; slug: string }[] = [];
    if (uuids.length) {
      const found = new Set((await Organization.findAll({ attributes: ['id'], where: { id: uuids } })).map((organization) => organization.id));
      for (const id of uuids) if (!found.has(id)) created.push({ id, name: `Organization ${id}`, slug: `org-${id.slice(0, 8)}-${randomBytes(4).toString('hex')}` });
      for (const value of values.filter(isUuid)) ids.set(value, value.toLowerCase());
    }
    if (names.length) {
      for (const organization of await Organization.findAll({ where: { name: names }, order: [['createdAt', 'ASC']] })) {
        if (!ids.has(organization.name)) ids.set(organization.name, organization.id);
      }
      for (const name of names.filter((value) => !ids.has(value))) {
        const row = { id: randomUUID(), name, slug: `${slugOf(name)}-${randomBytes(4).toString('hex')}` };
        created.push(row);
        ids.set(name, row.id);
      }
    }
    if (created.length) await Organization.bulkCreate(created, { returning: false });
    return ids;
  }

  async function insert(users: ImportUser[], roleIds: Map<string, string>, orgIds: Map<string, string>, transaction: Transaction): Promise<void> {
    const rows = users.map((user) => {
      const shared = user.organization ? orgIds.get(user.organization) : undefined;
      return { user, id: user.id ?? randomUUID(), organizationId: shared ?? randomUUID(), personal: shared === undefined };
    });
    const personal = rows.filter((row) => row.personal);
    if (personal.length) {
      await Organization.bulkCreate(
        personal.map((row) => ({ id: row.organizationId, ...personalOrganization(row.user) })),
        { transaction, returning: false },
      );
    }
    await User.bulkCreate(
      rows.map(({ user, id, organizationId }) => ({
        id,
        // Batches hold rows with a number or rows without one, never both (see run()).
        ...(user.number !== null ? { number: user.number } : {}),
        email: user.email,
        username: user.username,
        passwordHash: user.passwordHash,
        fullName: user.fullName,
        phone: user.phone,
        status: user.status,
        emailVerified: user.emailVerified,
        organizationId,
        ...(user.createdAt ? { createdAt: user.createdAt, updatedAt: user.createdAt } : {}),
      })),
      { transaction, returning: false },
    );
    await Membership.bulkCreate(
      rows.map((row) => ({ userId: row.id, organizationId: row.organizationId, role: row.personal ? ('owner' as const) : ('member' as const) })),
      { transaction, returning: false },
    );
    const links = rows.flatMap((row) => row.user.roles.map((name) => ({ userId: row.id, roleId: roleIds.get(name) as string })));
    if (links.length) await UserRole.bulkCreate(links, { transaction, returning: false });
  }

  /** One row in its own transaction, after a batch met a concurrent insert: classifies that row alone. */
  async function insertOne(user: ImportUser, roleIds: Map<string, string>, orgIds: Map<string, string>, summary: ImportSummary): Promise<void> {
    try {
      await sequelize.transaction((transaction) => insert([user], roleIds, orgIds, transaction));
      summary.created += 1;
    } catch (err) {
      if (!(err instanceof UniqueConstraintError)) throw err;
      const field = takenField(err) ?? 'email';
      if (field === 'email') summary.skipped += 1;
      else summary.rejected.push({ line: user.line, reason: takenReason(field, user) });
    }
  }

  async function importBatch(batch: ImportUser[], roleIds: Map<string, string>, orgIds: Map<string, string>, summary: ImportSummary): Promise<void> {
    const emails = batch.map((user) => user.email);
    const names = [...batch.flatMap((user) => (user.username ? [normalizeUsername(user.username)] : [])), ...emails.map(normalizeUsername)];
    const ids = batch.flatMap((user) => (user.id ? [user.id] : []));
    const numbers = batch.flatMap((user) => (user.number !== null ? [user.number] : []));
    const existing = (await User.findAll({
      attributes: ['id', 'number', 'email', 'usernameNormalized'],
      where: {
        [Op.or]: [
          { email: [...emails, ...names] },
          { usernameNormalized: names },
          ...(ids.length ? [{ id: ids }] : []),
          ...(numbers.length ? [{ number: numbers }] : []),
        ],
      },
      raw: true,
    })) as unknown as Existing[];
    const fresh: ImportUser[] = [];
    for (const user of batch) {
      const problem = clash(user, existing);
      if (problem === 'skip') summary.skipped += 1;
      else if (problem) summary.rejected.push({ line: user.line, reason: problem });
      else fresh.push(user);
    }
    if (fresh.length === 0) return;
    try {
      await sequelize.transaction((transaction) => insert(fresh, roleIds, orgIds, transaction));
      summary.created += fresh.length;
    } catch (err) {
      // Someone registered one of these addresses meanwhile: go row by row for this batch only.
      if (!(err instanceof UniqueConstraintError)) throw err;
      for (const user of fresh) await insertOne(user, roleIds, orgIds, summary);
    }
  }

  /**
   * PostgreSQL's sequence for `number` does not see explicit values: move it past the largest number (never
   * back), so the next registration gets a fresh one. SQLite's AUTOINCREMENT already follows the largest.
   */
  async function moveNumberSequence(): Promise<void> {
    if (sequelize.getDialect() !== 'postgres') return;
    const [row] = await sequelize.query<{ seq: string | null }>("SELECT pg_get_serial_sequence('users', 'number') AS seq", { type: QueryTypes.SELECT });
    if (!row?.seq) return;
    // The name comes from PostgreSQL's catalogue, already quoted where it needs to be.
    await sequelize.query(
      `SELECT setval(:seq, GREATEST((SELECT COALESCE(MAX(number), 1) FROM users), (SELECT last_value FROM ${row.seq})))`,
      { replacements: { seq: row.seq }, type: QueryTypes.SELECT },
    );
  }

  /** Rejects a row that repeats an e-mail, username, id or number of an earlier row, or uses another row's e-mail as its username. */
  function checkWithinFile(parsed: ImportUser[], summary: ImportSummary): ImportUser[] {
    const firstEmail = new Map<string, number>();
    for (const user of parsed) if (!firstEmail.has(user.email)) firstEmail.set(user.email, user.line);
    const seen = { email: new Map<string, number>(), username: new Map<string, number>(), id: new Map<string, number>(), number: new Map<number, number>() };
    const valid: ImportUser[] = [];
    for (const user of parsed) {
      const username = user.username ? normalizeUsername(user.username) : undefined;
      const emailLine = username !== undefined ? firstEmail.get(username) : undefined;
      let reason: string | undefined;
      if (seen.email.has(user.email)) reason = `e-mail ${user.email} already appears on line ${seen.email.get(user.email)}`;
      else if (username !== undefined && seen.username.has(username)) reason = `username ${user.username} already appears on line ${seen.username.get(username)}`;
      else if (user.id && seen.id.has(user.id)) reason = `id ${user.id} already appears on line ${seen.id.get(user.id)}`;
      else if (user.number !== null && seen.number.has(user.number)) reason = `number ${user.number} already appears on line ${seen.number.get(user.number)}`;
      else if (emailLine !== undefined && emailLine !== user.line) reason = `username ${user.username} is the e-mail on line ${emailLine}`;
      if (reason) {
        summary.rejected.push({ line: user.line, reason });
        continue;
      }
      seen.email.set(user.email, user.line);
      if (username !== undefined) seen.username.set(username, user.line);
      if (user.id) seen.id.set(user.id, user.line);
      if (user.number !== null) seen.number.set(user.number, user.line);
      valid.push(user);
    }
    return valid;
  }

  return {
    /**
     * Validates every row, then imports the valid ones batch by batch: those with a number first, then
     * the others. A bad row is rejected with its line and does not stop the import; a second run of the
     * same file skips every row it created.
     */
    async run(rows: readonly RawImportRow[], onProgress: (done: number) => void = () => {}): Promise<ImportSummary> {
      const summary: ImportSummary = { created: 0, skipped: 0, rejected: [] };
      const parsed: ImportUser[] = [];
      for (const raw of rows) {
        const result = parseImportRow(raw);
        if (typeof result === 'string') summary.rejected.push({ line: raw.line, reason: result });
        else parsed.push(result);
      }
      const valid = checkWithinFile(parsed, summary);
      let done = rows.length - valid.length;
      onProgress(done);

      const roleIds = new Map<string, string>();
      for (const name of new Set(valid.flatMap((user) => user.roles))) roleIds.set(name, (await options.roles.ensureRole(name)).id);
      const orgIds = await organizationIds([...new Set(valid.flatMap((user) => (user.organization ? [user.organization] : [])))]);

      const numbered = valid.filter((user) => user.number !== null);
      const unnumbered = valid.filter((user) => user.number === null);
      for (const group of [numbered, unnumbered]) {
        for (let start = 0; start < group.length; start += batchSize) {
          const batch = group.slice(start, start + batchSize);
          await importBatch(batch, roleIds, orgIds, summary);
          done += batch.length;
          onProgress(done);
        }
        if (group === numbered && numbered.length) await moveNumberSequence();
      }
      summary.rejected.sort((a, b) => a.line - b.line);
      return summary;
    },
  };
}
