/**
 * Bulk import of users with their existing password hashes (CONTRACT §8 `import-users`). Fast because
 * it works in batches: per batch, two look-ups (taken e-mails and usernames) and one multi-row insert
 * per table (organizations, users, memberships, user roles) in one transaction. Every user gets what
 * registration gives (a personal organization and an owner membership), so imported and registered
 * users look alike. Idempotent on e-mail: an address that exists is skipped, never changed. Hashes are
 * kept as they are; bcrypt ones are replaced by argon2id at the user's first login (accounts.ts).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Op, UniqueConstraintError } from 'sequelize';
import type { Sequelize, Transaction } from 'sequelize';
import { z } from 'zod';
import type { Models } from '../db/models/index.ts';
import type { RoleService } from './roles.ts';

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
  email: string;
  username: string | null;
  fullName: string | null;
  passwordHash: string;
  emailVerified: boolean;
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

const rowSchema = z.object({
  email: z.string().trim().toLowerCase().pipe(z.email({ error: 'not a valid e-mail address' }).max(320)),
  username: z.preprocess(
    blankToNull,
    z
      .string()
      .trim()
      .min(3, 'username must have 3 to 64 characters')
      .max(64, 'username must have 3 to 64 characters')
      .regex(/^[^\s@]+$/, 'username must have no spaces and no @')
      .nullable()
      .optional(),
  ),
  full_name: text(255),
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
    email: row.email,
    username: row.username ?? null,
    fullName: row.full_name ?? null,
    passwordHash: row.password_hash,
    emailVerified: row.email_verified ?? false,
    roles: [...new Set(row.roles)],
  };
}

/** The same personal organization registration makes (accounts.ts): "<name> (personal)", a unique slug. */
function personalOrganization(user: ImportUser): { name: string; slug: string } {
  const display = user.fullName || user.username || user.email.split('@')[0] || user.email;
  const source = user.username ?? user.email.split('@')[0] ?? 'user';
  const base = source.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'user';
  return { name: `${display} (personal)`.slice(0, 255), slug: `${base}-${randomBytes(4).toString('hex')}` };
}

function takenField(error: UniqueConstraintError): 'email' | 'username' | undefined {
  const parent = error.parent as { constraint?: string; message?: string } | undefined;
  const detail = [...Object.keys(error.fields ?? {}), parent?.constraint, parent?.message, error.message].join(' ');
  if (/username/i.test(detail)) return 'username';
  if (/email/i.test(detail)) return 'email';
  return undefined;
}

export function createUserImporter(options: UserImportOptions) {
  const { User, Organization, Membership, UserRole } = options.models;
  const batchSize = options.batchSize ?? 500;

  async function insert(users: ImportUser[], roleIds: Map<string, string>, transaction: Transaction): Promise<void> {
    const rows = users.map((user) => ({ user, id: randomUUID(), organizationId: randomUUID(), org: personalOrganization(user) }));
    await Organization.bulkCreate(
      rows.map((row) => ({ id: row.organizationId, ...row.org })),
      { transaction, returning: false },
    );
    await User.bulkCreate(
      rows.map(({ user, id, organizationId }) => ({
        id,
        email: user.email,
        username: user.username,
        passwordHash: user.passwordHash,
        fullName: user.fullName,
        emailVerified: user.emailVerified,
        organizationId,
      })),
      { transaction, returning: false },
    );
    await Membership.bulkCreate(
      rows.map((row) => ({ userId: row.id, organizationId: row.organizationId, role: 'owner' as const })),
      { transaction, returning: false },
    );
    const links = rows.flatMap((row) => row.user.roles.map((name) => ({ userId: row.id, roleId: roleIds.get(name) as string })));
    if (links.length) await UserRole.bulkCreate(links, { transaction, returning: false });
  }

  /** One row in its own transaction, after a batch met a concurrent insert: classifies that row alone. */
  async function insertOne(user: ImportUser, roleIds: Map<string, string>, summary: ImportSummary): Promise<void> {
    try {
      await options.sequelize.transaction((transaction) => insert([user], roleIds, transaction));
      summary.created += 1;
    } catch (err) {
      if (!(err instanceof UniqueConstraintError)) throw err;
      if (takenField(err) === 'username') summary.rejected.push({ line: user.line, reason: `username ${user.username} is already taken` });
      else summary.skipped += 1;
    }
  }

  async function importBatch(batch: ImportUser[], roleIds: Map<string, string>, summary: ImportSummary): Promise<void> {
    const emails = batch.map((user) => user.email);
    const usernames = batch.flatMap((user) => (user.username ? [user.username.toLowerCase()] : []));
    const existing = await User.findAll({
      attributes: ['email', 'usernameNormalized'],
      where: { [Op.or]: [{ email: emails }, ...(usernames.length ? [{ usernameNormalized: usernames }] : [])] },
    });
    const takenEmails = new Set(existing.map((user) => user.email));
    const takenUsernames = new Set(existing.map((user) => user.usernameNormalized).filter(Boolean));
    const fresh: ImportUser[] = [];
    for (const user of batch) {
      if (takenEmails.has(user.email)) summary.skipped += 1;
      else if (user.username && takenUsernames.has(user.username.toLowerCase())) {
        summary.rejected.push({ line: user.line, reason: `username ${user.username} is already taken` });
      } else fresh.push(user);
    }
    if (fresh.length === 0) return;
    try {
      await options.sequelize.transaction((transaction) => insert(fresh, roleIds, transaction));
      summary.created += fresh.length;
    } catch (err) {
      // Someone registered one of these addresses meanwhile: go row by row for this batch only.
      if (!(err instanceof UniqueConstraintError)) throw err;
      for (const user of fresh) await insertOne(user, roleIds, summary);
    }
  }

  return {
    /**
     * Validates every row, then imports the valid ones batch by batch. A bad row is rejected with its
     * line and does not stop the import; a second run of the same file skips every row it created.
     */
    async run(rows: readonly RawImportRow[], onProgress: (done: number) => void = () => {}): Promise<ImportSummary> {
      const summary: ImportSummary = { created: 0, skipped: 0, rejected: [] };
      const valid: ImportUser[] = [];
      const emailLines = new Map<string, number>();
      const usernameLines = new Map<string, number>();
      for (const raw of rows) {
        const parsed = parseImportRow(raw);
        if (typeof parsed === 'string') {
          summary.rejected.push({ line: raw.line, reason: parsed });
          continue;
        }
        const sameEmail = emailLines.get(parsed.email);
        const sameUsername = parsed.username ? usernameLines.get(parsed.username.toLowerCase()) : undefined;
        if (sameEmail !== undefined) {
          summary.rejected.push({ line: parsed.line, reason: `e-mail ${parsed.email} already appears on line ${sameEmail}` });
        } else if (sameUsername !== undefined) {
          summary.rejected.push({ line: parsed.line, reason: `username ${parsed.username} already appears on line ${sameUsername}` });
        } else {
          emailLines.set(parsed.email, parsed.line);
          if (parsed.username) usernameLines.set(parsed.username.toLowerCase(), parsed.line);
          valid.push(parsed);
        }
      }
      onProgress(rows.length - valid.length);

      const roleIds = new Map<string, string>();
      for (const name of new Set(valid.flatMap((user) => user.roles))) roleIds.set(name, (await options.roles.ensureRole(name)).id);

      for (let start = 0; start < valid.length; start += batchSize) {
        const batch = valid.slice(start, start + batchSize);
        await importBatch(batch, roleIds, summary);
        onProgress(rows.length - valid.length + start + batch.length);
      }
      summary.rejected.sort((a, b) => a.line - b.line);
      return summary;
    },
  };
}
