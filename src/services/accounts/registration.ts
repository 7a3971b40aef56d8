/**
 * Registration: a new user with its personal organization and owner membership, for every door that
 * creates accounts (self-service sign-up, the admin API and console, the CLI). The verification mail is
 * the account service's (accounts.ts), so this needs no store and the CLI can build it alone.
 */
import { randomBytes } from 'node:crypto';
import { UserTakenError, type UserQueries, type UserRow } from '../../db/queries/users.ts';
import { ValidationError } from '../../errors.ts';
import { PASSWORD_MAX_LENGTH, type PasswordService } from '../passwords.ts';
import type { AuditService } from '../audit.ts';
import { auditFrom, type RequestContext } from '../request-context.ts';
import { canonicalEmail, normalizeUsername } from '../identifiers.ts';
import { AccountExistsError } from './errors.ts';

export interface RegisterInput {
  email: string;
  password: string;
  username?: string | null;
  fullName?: string | null;
  phone?: string | null;
}

export interface RegistrationOptions {
  users: Pick<UserQueries, 'findById' | 'findByEmail' | 'findByUsername' | 'findHolders' | 'createWithOrganization'>;
  passwords: Pick<PasswordService, 'hash'>;
  audit: Pick<AuditService, 'record'>;
}

/** A password over PASSWORD_MAX_LENGTH, in the contract's 422 shape for `field`. */
export function passwordTooLong(field: string): ValidationError {
  return new ValidationError([
    { loc: ['body', field], msg: `String should have at most ${PASSWORD_MAX_LENGTH} characters`, type: 'string_too_long' },
  ]);
}

function slugBase(input: RegisterInput): string {
  const source = input.username ?? input.email.split('@')[0] ?? 'user';
  const slug = source.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return slug || 'user';
}

export function createRegistration(options: RegistrationOptions) {
  const { users, passwords, audit } = options;

  /**
   * A username equal to another user's e-mail (or an e-mail equal to another user's username) would make
   * one login identifier name two accounts: refused as taken. Each column's own uniqueness is the
   * database's; this cross-check is a look-up before the write.
   */
  async function assertNoCrossClash(input: { email?: string; username?: string | null }, exceptUserId?: string): Promise<void> {
    const other = (user: UserRow | undefined): boolean => user !== undefined && user.id !== exceptUserId;
    if (input.username && other(await users.findByEmail(normalizeUsername(input.username), true))) throw new AccountExistsError('username');
    if (input.email && other(await users.findByUsername(normalizeUsername(input.email), true))) throw new AccountExistsError('email');
  }

  /**
   * A taken e-mail or username, found before any hashing: a registration of a taken address must not
   * cost a hash (CONTRACT §6). The unique indexes stay the final word for concurrent registrations.
   */
  async function assertFree(input: RegisterInput, ctx: RequestContext): Promise<void> {
    const username = input.username ? normalizeUsername(input.username) : undefined;
    const taken = await users.findHolders(input.email, username);
    let field: 'email' | 'username' | undefined;
    if (taken.length) field = taken.some((user) => user.email === input.email) ? 'email' : 'username';
    else {
      try {
        await assertNoCrossClash(input);
        return;
      } catch (err) {
        if (!(err instanceof AccountExistsError)) throw err;
        field = err.field;
      }
    }
    await audit.record({ type: 'register', outcome: 'failure', ...auditFrom(ctx), detail: { reason: `${field}_taken`, door: ctx.door } });
    throw new AccountExistsError(field);
  }

  /** The user, its personal organization (named after the user, a random slug) and the owner membership. */
  function createRows(input: RegisterInput, passwordHash: string): Promise<UserRow> {
    const display = input.fullName || input.username || input.email.split('@')[0] || input.email;
    return users.createWithOrganization(
      { email: input.email, username: input.username ?? null, passwordHash, fullName: input.fullName ?? null, phone: input.phone ?? null },
      { name: `${display} (personal)`.slice(0, 255), slug: () => `${slugBase(input)}-${randomBytes(4).toString('hex')}` },
    );
  }

  return {
    assertNoCrossClash,

    /**
     * Creates the user, a personal organization and the owner membership in one transaction. A taken
     * e-mail or username is refused before the password is hashed; one taken meanwhile surfaces as the
     * database's unique violation, so of concurrent registrations of one address exactly one succeeds.
     */
    async register(input: RegisterInput, ctx: RequestContext): Promise<UserRow> {
      if (input.password.length > PASSWORD_MAX_LENGTH) throw passwordTooLong('password');
      const normalized: RegisterInput = { ...input, email: canonicalEmail(input.email) ?? input.email.trim().toLowerCase() };
      await assertFree(normalized, ctx);
      const passwordHash = await passwords.hash(input.password, ctx.abandoned);
      let user: UserRow;
      try {
        user = await createRows(normalized, passwordHash);
      } catch (err) {
        if (!(err instanceof UserTakenError)) throw err;
        await audit.record({ type: 'register', outcome: 'failure', ...auditFrom(ctx), detail: { reason: `${err.field}_taken`, door: ctx.door } });
        throw new AccountExistsError(err.field);
      }
      const created = (await users.findById(user.id, true)) ?? user;
      await audit.record({ type: 'register', outcome: 'success', userId: created.id, ...auditFrom(ctx), detail: { door: ctx.door } });
      return created;
    },
  };
}

export type Registration = ReturnType<typeof createRegistration>;
