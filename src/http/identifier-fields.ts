/**
 * The e-mail and username request fields of every door (legacy profiles, admin API, console), per
 * CONTRACT §2. The rules live in services/identifiers.ts; here they become zod fields whose refusals
 * read as pydantic's (validate.ts): an address → `value_error` "value is not a valid email address: …",
 * a username → `value_error` "Value error, …".
 */
import { z } from 'zod';
import { canonicalEmail, cleanUsername, usernameProblem } from '../services/identifiers.ts';

/** pydantic `EmailStr`: the value answered and stored is the canonical address (lower-case, Unicode domain). */
export const emailField = z
  .string()
  .meta({ format: 'email', description: 'An e-mail address; `Name <addr>` and surrounding spaces are accepted' })
  .transform((value, ctx) => {
    const email = canonicalEmail(value);
    if (email !== undefined) return email;
    ctx.addIssue({ code: 'invalid_format', format: 'email', input: value, message: 'value is not a valid email address' });
    return z.NEVER;
  });

/** 1–150 characters after NFKC and trimming; letters, digits, spaces and `@ . + - _ '`. */
export const usernameField = z
  .string()
  .meta({ description: "1–150 characters after NFKC and trimming: letters, digits, spaces and @ . + - _ '" })
  .transform((value, ctx) => {
    const problem = usernameProblem(value);
    if (problem === undefined) return cleanUsername(value);
    ctx.addIssue({ code: 'custom', input: value, message: problem });
    return z.NEVER;
  });
