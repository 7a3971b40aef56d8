/**
 * Usernames and e-mail addresses as CONTRACT §2 defines them, for every door (legacy schemas, admin
 * API, login page, import). Pure functions: the doors turn a refusal into their own error dialect.
 */
import { domainToUnicode } from 'node:url';
import validator from 'validator';
import { cleanUsername, normalizeUsername } from '../db/models/user.ts';

export const USERNAME_MAX_LENGTH = 150;
export const EMAIL_MAX_LENGTH = 320;

/** Letters, digits (any script), spaces and `@ . + - _ '`. Marks (\p{M}) belong to letters in many scripts. */
const USERNAME_CHARS = /^[\p{L}\p{M}\p{N} @.+\-_']+$/u;
/** Control, format (Cf: zero-width, bidi controls, BOM, …) and the remaining separators. */
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
/** Half of a surrogate pair on its own: not text (JSON can carry it as `\ud800`). */
const LONE_SURROGATE = /\p{Cs}/u;

// The model owns the stored forms (its setter applies them on every write); re-exported for the doors.
export { cleanUsername, normalizeUsername };
// Ids the doors accept are checked before any query (db/uuid.ts says why); re-exported for the doors.
export { isUuid } from '../db/uuid.ts';

/** Why a username is refused, in words a client can show; undefined when it is acceptable. */
export function usernameProblem(raw: string): string | undefined {
  if (LONE_SURROGATE.test(raw)) return 'Username must be well-formed Unicode';
  if (FORBIDDEN.test(raw)) return 'Username must not contain control, format or bidirectional-control characters';
  const value = cleanUsername(raw);
  if (value.length < 1) return 'Username should have at least 1 character';
  if ([...value].length > USERNAME_MAX_LENGTH) return `Username should have at most ${USERNAME_MAX_LENGTH} characters`;
  if (!USERNAME_CHARS.test(value)) return "Username may contain only letters, digits, spaces and @ . + - _ '";
  return undefined;
}

const DISPLAY_NAME = /^[^<>]*<([^<>]+)>$/;

/**
 * pydantic's `EmailStr`: surrounding whitespace stripped, `Name <addr>` reduced to `addr`, UTF-8 local
 * parts, internationalised domains (given in Unicode or punycode, answered in Unicode) and RFC 5322
 * atext accepted. Returns the stored form (NFC, lower-case), or undefined when it is not an address.
 */
export function canonicalEmail(raw: string): string | undefined {
  const trimmed = raw.trim();
  // A lone surrogate is no address (and validator.js's byte count would throw on it).
  if (trimmed.length === 0 || trimmed.length > EMAIL_MAX_LENGTH * 2 || LONE_SURROGATE.test(trimmed)) return undefined;
  const named = DISPLAY_NAME.exec(trimmed);
  if (named && !validator.isEmail(trimmed, { allow_display_name: true, allow_utf8_local_part: true })) return undefined;
  const address = (named ? named[1]! : trimmed).trim();
  if (FORBIDDEN.test(address) || !validator.isEmail(address, { allow_utf8_local_part: true, allow_ip_domain: false })) return undefined;
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at).normalize('NFC');
  const domain = domainToUnicode(address.slice(at + 1).toLowerCase());
  if (!domain) return undefined;
  const email = `${local}@${domain}`.toLowerCase();
  return email.length <= EMAIL_MAX_LENGTH ? email : undefined;
}

/**
 * The two forms a login identifier is looked up by (CONTRACT §2: e-mails first, then usernames, both
 * case-insensitive): the address it names if it is one, and its username form.
 */
export function identifierForms(raw: string): { email: string; username: string } {
  const username = normalizeUsername(raw);
  return { email: canonicalEmail(raw) ?? username, username };
}
