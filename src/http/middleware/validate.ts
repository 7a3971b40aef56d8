/**
 * Request validation with zod, reported the way FastAPI (pydantic v2) does, because legacy clients
 * parse it: 422 `{"detail": [{"loc": ["body", "email"], "msg": "Field required", "type": "missing"}]}`.
 */
import type { z } from 'zod';
import { ValidationError, type ValidationIssue } from '../../errors.ts';

export type Location = 'body' | 'query' | 'path';

type Issue = z.core.$ZodIssue;

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

const TYPE_NAMES: Record<string, [type: string, msg: string]> = {
  string: ['string_type', 'Input should be a valid string'],
  boolean: ['bool_type', 'Input should be a valid boolean'],
  int: ['int_type', 'Input should be a valid integer'],
  number: ['float_type', 'Input should be a valid number'],
  object: ['dict_type', 'Input should be a valid dictionary'],
  record: ['dict_type', 'Input should be a valid dictionary'],
  array: ['list_type', 'Input should be a valid list'],
};

const plural = (n: number | bigint, word: string): string => `${n} ${word}${Number(n) === 1 ? '' : 's'}`;

/** One zod issue in pydantic's words. */
function describe(issue: Issue, input: unknown, location: Location): ValidationIssue {
  const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
  const loc = [location, ...path];
  const value = valueAt(input, issue.path);
  switch (issue.code) {
    case 'invalid_type': {
      if (value === undefined) return { loc, msg: 'Field required', type: 'missing' };
      if (path.length === 0 && location === 'body') {
        return { loc, msg: 'Input should be a valid dictionary or object to extract fields from', type: 'model_attributes_type' };
      }
      const [type, msg] = TYPE_NAMES[issue.expected] ?? ['value_error', `Input should be a valid ${issue.expected}`];
      return { loc, msg, type };
    }
    case 'too_small':
      if (issue.origin === 'string') return { loc, msg: `String should have at least ${plural(issue.minimum, 'character')}`, type: 'string_too_short' };
      if (issue.origin === 'array') return { loc, msg: `List should have at least ${plural(issue.minimum, 'item')}`, type: 'too_short' };
      return { loc, msg: `Input should be greater than or equal to ${issue.minimum}`, type: 'greater_than_equal' };
    case 'too_big':
      if (issue.origin === 'string') return { loc, msg: `String should have at most ${plural(issue.maximum, 'character')}`, type: 'string_too_long' };
      if (issue.origin === 'array') return { loc, msg: `List should have at most ${plural(issue.maximum, 'item')}`, type: 'too_long' };
      return { loc, msg: `Input should be less than or equal to ${issue.maximum}`, type: 'less_than_equal' };
    case 'invalid_format':
      if (issue.format === 'email') return { loc, msg: 'value is not a valid email address: The email address is not valid.', type: 'value_error' };
      if (issue.format === 'regex') return { loc, msg: issue.message, type: 'string_pattern_mismatch' };
      return { loc, msg: `Input should be a valid ${issue.format}`, type: `${issue.format}_parsing` };
    case 'invalid_value':
      if ((issue as { expected?: unknown }).expected === 'stringbool') {
        return { loc, msg: 'Input should be a valid boolean, unable to interpret input', type: 'bool_parsing' };
      }
      return { loc, msg: `Input should be ${issue.values.map((v) => `'${String(v)}'`).join(' or ')}`, type: 'literal_error' };
    case 'custom':
      // A cross-field rule ("username or email") that found neither: the same words as a missing field.
      if (issue.message === 'Field required') return { loc, msg: issue.message, type: 'missing' };
      return { loc, msg: `Value error, ${issue.message}`, type: 'value_error' };
    default:
      return { loc, msg: issue.message, type: 'value_error' };
  }
}

const EMAIL_ERROR = 'value is not a valid email address: ';

/** pydantic's `ctx` for the error types that have one. */
function contextOf(issue: Issue, described: ValidationIssue): Record<string, unknown> | undefined {
  switch (described.type) {
    case 'string_too_short':
      return { min_length: Number((issue as { minimum?: number | bigint }).minimum) };
    case 'string_too_long':
      return { max_length: Number((issue as { maximum?: number | bigint }).maximum) };
    case 'greater_than_equal':
      return { ge: Number((issue as { minimum?: number | bigint }).minimum) };
    case 'less_than_equal':
      return { le: Number((issue as { maximum?: number | bigint }).maximum) };
    case 'string_pattern_mismatch':
      return { pattern: String((issue as { pattern?: unknown }).pattern ?? '') };
    case 'literal_error':
      return { expected: described.msg.replace(/^Input should be /, '') };
    case 'value_error':
      // EmailStr's own error names a reason; a validator's ValueError is echoed as an (empty) object.
      if (described.msg.startsWith(EMAIL_ERROR)) return { reason: described.msg.slice(EMAIL_ERROR.length) };
      return described.msg.startsWith('Value error, ') ? { error: {} } : undefined;
    default:
      return undefined;
  }
}

/** Nesting the echoed `input` may have: rendering a deeper value would recurse without bound. */
const ECHO_MAX_DEPTH = 32;

/** True when `value` nests no deeper than ECHO_MAX_DEPTH (an iterative walk, so a hostile body cannot overflow it). */
function shallow(value: unknown): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (current === null || typeof current !== 'object') continue;
    if (depth > ECHO_MAX_DEPTH) return false;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return true;
}

/** The issue in pydantic v2's member order, with `input` (the object a missing field is missing from) and `ctx`. */
function complete(issue: Issue, described: ValidationIssue, input: unknown): ValidationIssue {
  const path = described.type === 'missing' ? issue.path.slice(0, -1) : issue.path;
  const ctx = described.ctx ?? contextOf(issue, described);
  const value = valueAt(input, path) ?? null;
  return { type: described.type, loc: described.loc, msg: described.msg, input: shallow(value) ? value : null, ...(ctx ? { ctx } : {}) };
}

export function toFastApiIssues(issues: readonly Issue[], input: unknown, location: Location): ValidationIssue[] {
  return issues.map((issue) => complete(issue, describe(issue, input, location), input));
}

/** Parses `input` or throws a ValidationError (422) carrying FastAPI-shaped issues. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, location: Location): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(toFastApiIssues(result.error.issues, input, location));
  return result.data;
}
