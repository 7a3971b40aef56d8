/**
 * Child processes of the bench: servers pinned to one core, the load generator to the other
 * (`taskset -c N`, which execs the command, so the PID we hold is the program's own). Each one is
 * stopped by its PID; `cleanup` (see cleanup.ts) makes sure a failed run stops them too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { onCleanup } from './cleanup.ts';

export interface Managed {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Last 8 kB of output. */
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

let tasksetChecked: boolean | undefined;

/** Whether taskset works here (it needs the CPU to exist and the scheduler to allow it). */
export function canPin(): boolean {
  tasksetChecked ??= spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  return tasksetChecked;
}

/** Moves a running process (all its threads) to one CPU; a no-op where taskset does not work. */
export function pinRunning(pid: number, cpu: number): void {
  if (canPin()) spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** The command line, prefixed with `taskset -c <cpu>` when a CPU is given and pinning works. */
export function pinned(cpu: number | undefined, command: string, args: string[]): [string, string[]] {
  if (cpu === undefined || !canPin()) return [command, args];
  return ['taskset', ['-c', String(cpu), command, ...args]];
}

export interface StartOptions {
  cpu?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The process prints to this file instead of to the runner. */
  logFile?: string;
}

export function start(name: string, command: string, args: string[], options: StartOptions = {}): Managed {
  const [cmd, argv] = pinned(options.cpu, command, args);
  // A log file is handed to the child as its stdout: the server writes its log lines straight to it,
  // as it would to a log collector, without the runner relaying (and slowing) them.
  const fd = options.logFile ? openSync(options.logFile, 'a') : undefined;
  const child = spawn(cmd, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'],
  });
  if (fd !== undefined) closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  const pid = child.pid;
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stopping: Promise<void> | undefined;
  const managed: Managed = {
    name,
    pid,
    child,
    output: () => (options.logFile ? tailOf(options.logFile) : tail),
    exited,
    stop(graceMs = 15_000) {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        process.kill(pid, 'SIGTERM');
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
        }, graceMs);
        await exited;
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
  onCleanup(() => managed.stop(5000));
  return managed;
}

/** The last 8 kB of a (possibly large) log file. */
function tailOf(file: string): string {
  try {
    const fd = openSync(file, 'r');
    try {
      const size = fstatSync(fd).size;
      const buffer = Buffer.alloc(Math.min(size, 8192));
      readSync(fd, buffer, 0, buffer.length, size - buffer.length);
      return buffer.toString();
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

/** Polls `url` until it answers `status`, failing early when the process exits. */
export async function waitForHttp(proc: Managed, url: string, timeoutMs = 60_000, status = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited (${proc.child.exitCode}) before it was ready:\n${proc.output()}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === status) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${proc.name}: ${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})\n${proc.output()}`);
}

/** Runs a pinned command to completion and returns its stdout (stderr is passed through on failure). */
export async function runToCompletion(name: string, command: string, args: string[], options: StartOptions & { timeoutMs: number }): Promise<string> {
  const [cmd, argv] = pinned(options.cpu, command, args);
  const child = spawn(cmd, argv, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8192)));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
  const remove = onCleanup(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  clearTimeout(timer);
  remove();
  if (code !== 0) throw new Error(`${name} failed (exit ${code}):\n${stderr}`);
  return stdout;
}

/** Resident set size of a process in bytes (Linux /proc), or undefined once it has gone. */
export async function rssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process (all threads) or one of its threads has used so far, in seconds; undefined once gone. */
export async function cpuSeconds(pid: number, thread?: number): Promise<number | undefined> {
  try {
    const stat = await readFile(thread === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${thread}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at index 2 (state); utime and stime are 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * CPU time so far of each kind of thread of a process, in seconds: `main` (JavaScript), `libuv pool`
 * (argon2, WebCrypto, fs), `V8 workers` (concurrent and parallel garbage collection, compilation) and
 * `other`, so a cost can be told from where it is paid. Empty once the process is gone.
 */
export async function threadCpuSeconds(pid: number): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  let threads: string[];
  try {
    threads = await readdir(`/proc/${pid}/task`);
  } catch {
    return totals;
  }
  for (const tid of threads) {
    const seconds = await cpuSeconds(pid, Number(tid));
    if (seconds === undefined) continue;
    const comm = (await readFile(`/proc/${pid}/task/${tid}/comm`, 'utf8').catch(() => '')).trim();
    const kind = Number(tid) === pid ? 'main' : comm.startsWith('libuv-worker') ? 'libuv pool' : comm.startsWith('V8') ? 'V8 workers' : 'other';
    totals[kind] = (totals[kind] ?? 0) + seconds;
  }
  return totals;
}

/** USER_HZ: 100 on every Linux the bench runs on (getconf CLK_TCK). */
const CLOCK_TICKS = 100;
