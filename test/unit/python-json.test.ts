/**
 * The Python `json` error locator behind FastAPI's 422 `json_invalid` (CONTRACT §3): positions and
 * messages as CPython 3.11's `json.loads` reports them (each row was produced by Python itself).
 */
import { expect } from 'chai';
import { pythonJsonError } from '../../src/http/middleware/python-json.ts';
import { validate } from '../../src/http/middleware/validate.ts';
import type { ValidationError } from '../../src/errors.ts';
import { z } from 'zod';

/** [text, e.pos, e.msg] from `json.loads(text)` in CPython 3.11. */
const PYTHON: [string, number, string][] = [
  ["{\"username\": ", 13, "Expecting value"],
  ["", 0, "Expecting value"],
  [" ", 1, "Expecting value"],
  ["{", 1, "Expecting property name enclosed in double quotes"],
  ["{\"a\"", 4, "Expecting ':' delimiter"],
  ["{\"a\":", 5, "Expecting value"],
  ["{\"a\" 1}", 5, "Expecting ':' delimiter"],
  ["{\"a\":1", 6, "Expecting ',' delimiter"],
  ["{\"a\":1,", 7, "Expecting property name enclosed in double quotes"],
  ["{\"a\":1,}", 7, "Expecting property name enclosed in double quotes"],
  ["{\"a\":1 \"b\":2}", 7, "Expecting ',' delimiter"],
  ["{a:1}", 1, "Expecting property name enclosed in double quotes"],
  ["[1,2", 4, "Expecting ',' delimiter"],
  ["[1,]", 3, "Expecting value"],
  ["[1 2]", 3, "Expecting ',' delimiter"],
  ["{\"a\":\"x", 5, "Unterminated string starting at"],
  ["{\"a\":\"x\n\"}", 7, "Invalid control character at"],
  ["{\"a\":\"\\q\"}", 6, "Invalid \\escape"],
  ["{\"a\":\"\\u12\"}", 7, "Invalid \\uXXXX escape"],
  ["{\"a\":\"\\u12zz\"}", 7, "Invalid \\uXXXX escape"],
  ["{\"a\":1}x", 7, "Extra data"],
  ["{\"é\":\"ü\", x}", 10, "Expecting property name enclosed in double quotes"],
  ["{\"a\":\"😀\", x}", 10, "Expecting property name enclosed in double quotes"],
  ["{\"a\":tru}", 5, "Expecting value"],
  ["{\"a\":-}", 5, "Expecting value"],
  ["{\"a\":1.}", 6, "Expecting ',' delimiter"],
  ["{\"a\":01}", 6, "Expecting ',' delimiter"],
  ["{\"a\":\"\\", 5, "Unterminated string starting at"],
  ["{\"a\":\"x\\\"", 5, "Unterminated string starting at"],
  ["[", 1, "Expecting value"],
  ["[]]", 2, "Extra data"],
  ["{\"a\":[1,{\"b\":}]}", 13, "Expecting value"],
  ["{\"a\":1e}", 6, "Expecting ',' delimiter"],
  ["{\"a\" : nul}", 7, "Expecting value"],
  ["{\"a\": \"\t\"}", 7, "Invalid control character at"],
];

describe('Python json errors (src/http/middleware/python-json.ts)', () => {
  it('reports the position and message CPython does', () => {
    for (const [text, pos, msg] of PYTHON) expect(pythonJsonError(text), JSON.stringify(text)).to.deep.equal({ pos, msg });
  });

  it('counts characters (code points), not UTF-16 units or bytes', () => {
    expect(pythonJsonError('{"a": "😀😀", x}')).to.deep.equal({ pos: 12, msg: 'Expecting property name enclosed in double quotes' });
  });

  it('accepts what Python accepts, a UTF-8 BOM included (FastAPI decodes the bytes), and survives hostile nesting', () => {
    for (const text of ['{}', ' [1, -2.5e+3, true, null, {"k": []}] ', '"x"', '\ufeff{"a": "\\u00e9"}']) expect(pythonJsonError(text), text).to.equal(undefined);
    expect(pythonJsonError('['.repeat(200_000))).to.deep.equal({ pos: 200_000, msg: 'Expecting value' });
    expect(pythonJsonError(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)).to.equal(undefined);
  });

  it('never echoes an input nested deeper than 32 levels (rendering it would overflow the stack)', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 5000; i += 1) deep = [deep];
    try {
      validate(z.object({ a: z.string() }), deep, 'body');
      expect.fail('expected a validation error');
    } catch (err) {
      expect((err as ValidationError).issues[0]).to.include({ type: 'model_attributes_type', input: null });
    }
  });
});
