/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time by function and
 * by package (node_modules/<name>, node: internals, our src/ folders), so a profile can be read
 * without a browser.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  byFunction: { name: string; ms: number; share: number }[];
  byPackage: { name: string; ms: number; share: number }[];
}

/** node_modules/<pkg> (scoped too), node:<module>, src/<folder>, or the special V8 frames. */
export function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (modules?.[1]) return modules[1];
  if (url.startsWith('node:')) return url;
  const src = /\/(src|bench|test)\/(.+?)(?:\/[^/]+)?$/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  return url;
}

/** `lastMs`: only the samples of the profile's last `lastMs` milliseconds (the load, not the start-up). */
export function summarizeProfile(file: string, top = 25, lastMs?: number): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  // Self time per node: sum of the time deltas of the samples that landed in it.
  const self = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const fromUs = lastMs === undefined ? profile.startTime : profile.endTime - lastMs * 1000;
  let at = profile.startTime;
  for (let i = 0; i < samples.length; i += 1) {
    const id = samples[i] as number;
    at += deltas[i] ?? 0;
    if (at < fromUs) continue;
    self.set(id, (self.get(id) ?? 0) + (deltas[i] ?? 0));
  }
  const totalUs = profile.endTime - Math.max(profile.startTime, fromUs);
  let idleUs = 0;
  const functions = new Map<string, number>();
  const packages = new Map<string, number>();
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const where = url ? `${url.replace(/^.*\/(node_modules|src|bench)\//, '$1/')}:${lineNumber + 1}` : '';
    const name = `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
    const pkg = packageOf(url, functionName);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  const rank = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / busyUs }));
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, byFunction: rank(functions), byPackage: rank(packages) };
}

export function renderProfile(summary: ProfileSummary): string {
  const pct = (share: number) => `${(share * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `profile: ${(summary.totalMs / 1000).toFixed(1)} s, idle ${(summary.idleMs / 1000).toFixed(1)} s; shares are of busy time`,
    '',
    'self time by package / module:',
    ...summary.byPackage.map((entry) => `  ${pct(entry.share)}  ${entry.name}`),
    '',
    'self time by function:',
    ...summary.byFunction.map((entry) => `  ${pct(entry.share)}  ${entry.name}`),
  ];
  return lines.join('\n');
}
