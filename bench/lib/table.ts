/** The one results table the bench prints (and writes as Markdown for the README). */
export interface Row {
  scenario: string;
  rps: number;
  p50: number;
  p99: number;
  /** Responses that were not 2xx, and connection errors. */
  failures: number;
  /** Server CPU time per response, µs. */
  cpuUs?: number;
  /** cpuUs by kind of thread (main, libuv pool, V8 workers, other). */
  threadCpuUs?: Record<string, number>;
  /** Server resident memory, peak during the scenario, bytes. */
  rssPeak?: number;
  baseline?: { name: string; rps: number; cpuUs?: number };
  /** Minimum ratio to the baseline. */
  target?: number;
}

const fmt = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : '—');

export function ratio(row: Row): number | undefined {
  return row.baseline && row.baseline.rps > 0 ? row.rps / row.baseline.rps : undefined;
}

export function met(row: Row): boolean | undefined {
  const r = ratio(row);
  if (row.target === undefined || r === undefined) return undefined;
  return row.failures === 0 && r >= row.target;
}

const HEADER = ['scenario', 'req/s', 'p50 ms', 'p99 ms', 'baseline', 'baseline req/s', 'ratio', 'target', 'met?', 'CPU µs/req', 'baseline CPU µs/req'];

function cells(row: Row): string[] {
  const r = ratio(row);
  const ok = met(row);
  return [
    row.scenario,
    fmt(row.rps),
    fmt(row.p50, 1),
    fmt(row.p99, 1),
    row.baseline?.name ?? '—',
    row.baseline ? fmt(row.baseline.rps) : '—',
    r === undefined ? '—' : `${fmt(r, 2)}×`,
    row.target === undefined ? '—' : `≥ ${fmt(row.target, 2)}×`,
    (ok === undefined ? '—' : ok ? 'yes' : 'NO') + (row.failures > 0 ? ` (${row.failures} non-2xx/errors)` : ''),
    row.cpuUs === undefined ? '—' : fmt(row.cpuUs),
    row.baseline?.cpuUs === undefined ? '—' : fmt(row.baseline.cpuUs),
  ];
}

export function renderText(rows: readonly Row[]): string {
  const body = rows.map(cells);
  const widths = HEADER.map((title, i) => Math.max(title.length, ...body.map((line) => (line[i] ?? '').length)));
  const line = (values: string[]) => values.map((value, i) => (i === 0 || i === 4 ? value.padEnd(widths[i] ?? 0) : value.padStart(widths[i] ?? 0))).join('  ');
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

export function renderMarkdown(rows: readonly Row[]): string {
  const escape = (value: string) => value.replace(/\|/g, '\\|');
  return [
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((_, i) => (i === 0 || i === 4 ? '---' : '---:')).join('|')}|`,
    ...rows.map((row) => `| ${cells(row).map(escape).join(' | ')} |`),
  ].join('\n');
}
