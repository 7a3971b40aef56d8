/**
 * How deep a JSON text nests, read from the text itself before it is parsed: a 100 kB body of `[[[[…`
 * costs JSON.parse tens of milliseconds and leaves a structure that any recursive walk after it (a
 * serializer, a database driver) would overflow the stack on. One pass over the characters, stopping at
 * the first bracket too deep; brackets inside strings do not count.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/** The index of the first `[` or `{` that opens level `maxDepth + 1` (the text itself is level 1), or -1. */
export function tooDeepAt(text: string, maxDepth: number): number {
  // Nesting past maxDepth needs more than maxDepth opening brackets.
  if (text.length <= maxDepth) return -1;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i += 1;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      depth += 1;
      if (depth > maxDepth) return i;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) {
      depth -= 1;
    }
  }
  return -1;
}

/** `index` in characters (code points), as Python's json module counts a position: a surrogate pair is one. */
export function characterOffset(text: string, index: number): number {
  let offset = index;
  for (let i = 1; i < index; i += 1) {
    const c = text.charCodeAt(i);
    const before = text.charCodeAt(i - 1);
    if (c >= 0xdc00 && c <= 0xdfff && before >= 0xd800 && before <= 0xdbff) offset -= 1;
  }
  return offset;
}

/** How deep a parsed value nests (a scalar is 0, `[]` is 1), stopping once past `limit`; iterative. */
export function depthOver(value: unknown, limit: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth + 1 > limit) return true;
    for (const item of Array.isArray(current) ? current : Object.values(current)) {
      if (item !== null && typeof item === 'object') pending.push([item, depth + 1]);
    }
  }
  return false;
}
