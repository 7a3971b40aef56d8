/**
 * Where and why Python's `json` module would reject a body, because FastAPI answers malformed JSON with
 * `{"type": "json_invalid", "loc": ["body", <e.pos>], "msg": "JSON decode error", "ctx": {"error": <e.msg>}}`
 * and legacy clients show it (CONTRACT §3). Positions count characters (code points), as Python's `str`
 * does, not UTF-16 units. Messages and positions are CPython's C scanner's (3.8–3.12). Iterative, linear in
 * the body (already bounded by the body limit), so hostile nesting cannot overflow the stack.
 * NaN and Infinity, which Python accepts but JSON and JavaScript do not, are reported as "Expecting value".
 */
export interface PythonJsonError {
  pos: number;
  msg: string;
}

class Fail {
  readonly pos: number;
  readonly msg: string;
  constructor(pos: number, msg: string) {
    this.pos = pos;
    this.msg = msg;
  }
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r']);
const ESCAPES = new Set(['"', '\\', '/', 'b', 'f', 'n', 'r', 't']);
const HEX4 = /^[0-9a-fA-F]{4}$/;
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

/** The error Python's `json.loads` raises for `text`, or undefined when Python would parse it. */
export function pythonJsonError(text: string): PythonJsonError | undefined {
  // FastAPI decodes the request bytes with json's own detection, which drops a UTF-8 BOM.
  const s = Array.from(text.startsWith('\ufeff') ? text.slice(1) : text);
  const n = s.length;
  const ws = (from: number): number => {
    let i = from;
    while (i < n && WHITESPACE.has(s[i] as string)) i += 1;
    return i;
  };

  /** `start` is the opening quote; returns the index after the closing one. */
  function string(start: number): number {
    let i = start + 1;
    for (;;) {
      if (i >= n) throw new Fail(start, 'Unterminated string starting at');
      const c = s[i] as string;
      if (c === '"') return i + 1;
      if (c === '\\') {
        const escape = s[i + 1];
        if (escape === undefined) throw new Fail(start, 'Unterminated string starting at');
        if (escape === 'u') {
          // CPython also refuses four digits that end the input (its bounds check needs one more character).
          if (i + 6 >= n || !HEX4.test(s.slice(i + 2, i + 6).join(''))) throw new Fail(i + 1, 'Invalid \\uXXXX escape');
          i += 6;
          continue;
        }
        if (!ESCAPES.has(escape)) throw new Fail(i, 'Invalid \\escape');
        i += 2;
        continue;
      }
      if (c < ' ') throw new Fail(i, 'Invalid control character at');
      i += 1;
    }
  }

  /** A number, true, false, null or string at `start`; returns its end. */
  function scalar(start: number): number {
    const c = s[start];
    if (c === '"') return string(start);
    for (const word of ['null', 'true', 'false']) if (s.slice(start, start + word.length).join('') === word) return start + word.length;
    let i = start;
    if (s[i] === '-') i += 1;
    if (s[i] === '0') i += 1;
    else if (isDigit(s[i]) && s[i] !== '0') while (isDigit(s[i])) i += 1;
    else throw new Fail(start, 'Expecting value');
    if (s[i] === '.' && isDigit(s[i + 1])) {
      i += 2;
      while (isDigit(s[i])) i += 1;
    }
    if (s[i] === 'e' || s[i] === 'E') {
      let j = i + 1;
      if (s[j] === '+' || s[j] === '-') j += 1;
      if (isDigit(s[j])) {
        while (isDigit(s[j])) j += 1;
        i = j;
      }
    }
    return i;
  }

  /** After `"key"` at `i`: the colon, and the index where the member's value starts. */
  function member(at: number): number {
    if (s[at] !== '"') throw new Fail(at, 'Expecting property name enclosed in double quotes');
    const i = ws(string(at));
    if (s[i] !== ':') throw new Fail(i, "Expecting ':' delimiter");
    return ws(i + 1);
  }

  try {
    const stack: ('}' | ']')[] = [];
    let i = ws(0);
    for (;;) {
      // A value starts at i.
      if (i >= n) throw new Fail(i, 'Expecting value');
      if (s[i] === '{') {
        i = ws(i + 1);
        if (s[i] === '}') i += 1;
        else {
          i = member(i);
          stack.push('}');
          continue;
        }
      } else if (s[i] === '[') {
        i = ws(i + 1);
        if (s[i] === ']') i += 1;
        else {
          stack.push(']');
          continue;
        }
      } else {
        i = scalar(i);
      }
      // After a value: close containers, or find the next member or element.
      let next = false;
      while (stack.length && !next) {
        const close = stack[stack.length - 1];
        i = ws(i);
        if (s[i] === close) {
          stack.pop();
          i += 1;
        } else if (s[i] !== ',') {
          throw new Fail(i, "Expecting ',' delimiter");
        } else {
          i = ws(i + 1);
          if (close === '}') i = member(i);
          next = true;
        }
      }
      if (next) continue;
      i = ws(i);
      return i === n ? undefined : { pos: i, msg: 'Extra data' };
    }
  } catch (err) {
    if (err instanceof Fail) return { pos: err.pos, msg: err.msg };
    throw err;
  }
}
