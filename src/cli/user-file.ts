/**
 * Reads the rows of an `import-users` file with the line each starts on, so a rejected row can be
 * named: a `.json` array of objects, or a `.csv` with a header row. A row the CSV parser cannot read
 * is reported with its line and the rest of the file is still read.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import type { ImportRejection, RawImportRow } from '../services/admin/import.ts';

export interface UserFile {
  rows: RawImportRow[];
  /** Rows that could not be read at all (CSV syntax). */
  unreadable: ImportRejection[];
}

export class UserFileError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'UserFileError';
  }
}

/** The line (1-based) on which each element of a top-level JSON array starts. */
export function jsonElementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let expectingValue = false;
  for (const char of text) {
    if (char === '\n') line += 1;
    if (inString) {
      if (escaped) escaped = false;
      else if (char === '\\') escaped = true;
      else if (char === '"') inString = false;
      continue;
    }
    if (/\s/.test(char)) continue;
    if (depth === 1 && expectingValue && char !== ']') {
      lines.push(line);
      expectingValue = false;
    }
    if (char === '"') inString = true;
    else if (char === '[' || char === '{') {
      depth += 1;
      if (depth === 1) expectingValue = true;
    } else if (char === ']' || char === '}') depth -= 1;
    else if (char === ',' && depth === 1) expectingValue = true;
  }
  return lines;
}

function parseJson(file: string, text: string): UserFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new UserFileError(file, `not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(parsed)) throw new UserFileError(file, 'expected a JSON array of user objects');
  const lines = jsonElementLines(text);
  const rows: RawImportRow[] = [];
  const unreadable: ImportRejection[] = [];
  parsed.forEach((entry: unknown, index) => {
    const line = lines[index] ?? index + 1;
    if (entry && typeof entry === 'object' && !Array.isArray(entry)) rows.push({ line, fields: entry as Record<string, unknown> });
    else unreadable.push({ line, reason: 'expected an object' });
  });
  return { rows, unreadable };
}

interface CsvRecord {
  record: Record<string, string>;
  raw: string;
  info: { lines: number };
}

function parseCsv(file: string, text: string): UserFile {
  const unreadable: ImportRejection[] = [];
  let records: CsvRecord[];
  try {
    records = parse(text, {
      columns: (header: string[]) => {
        const names = header.map((name) => name.trim().toLowerCase());
        const missing = ['email', 'password_hash'].filter((name) => !names.includes(name));
        if (missing.length) throw new UserFileError(file, `the header row must name the columns ${missing.join(' and ')}`);
        return names;
      },
      bom: true,
      info: true,
      raw: true,
      skip_empty_lines: true,
      relax_column_count: true,
      skip_records_with_error: true,
      on_skip: (err) => {
        unreadable.push({ line: (err as { lines?: number } | undefined)?.lines ?? 0, reason: err?.message.split(':')[0] ?? 'unreadable row' });
        return undefined;
      },
    }) as unknown as CsvRecord[];
  } catch (err) {
    if (err instanceof UserFileError) throw err;
    throw new UserFileError(file, `not valid CSV (${(err as Error).message})`);
  }
  const rows = records.map(({ record, raw, info }) => {
    // `lines` is where the record ends; a quoted field may span lines.
    const inner = raw.replace(/\r?\n$/, '').split('\n').length - 1;
    return { line: info.lines - inner, fields: record };
  });
  return { rows, unreadable };
}

export async function readUserFile(file: string): Promise<UserFile> {
  const extension = path.extname(file).toLowerCase();
  if (extension !== '.json' && extension !== '.csv') throw new UserFileError(file, 'expected a .json or .csv file');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UserFileError(file, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message);
  }
  text = text.replace(/^\uFEFF/, '');
  return extension === '.json' ? parseJson(file, text) : parseCsv(file, text);
}
