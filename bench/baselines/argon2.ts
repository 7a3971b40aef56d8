/**
 * Baseline: how many argon2id verifications per second one core does at the configured parameters —
 * the ceiling of password logins. Run pinned to the server's core by the runner.
 * Usage: node bench/baselines/argon2.ts '{"hash": "...", "password": "...", "seconds": 5}'
 * Prints {"verifies": n, "seconds": s, "rate": n/s, "cpuUs": CPU µs per verification}.
 */
import argon2 from 'argon2';

interface Args {
  hash: string;
  password: string;
  seconds: number;
  /** Verifications in flight: enough to keep the one core busy while the event loop hands out work. */
  concurrency?: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const concurrency = args.concurrency ?? 2;
if (!(await argon2.verify(args.hash, args.password))) throw new Error('the hash does not match the password');

// Warm-up: the first verifications allocate the memory arenas.
for (let i = 0; i < 3; i += 1) await argon2.verify(args.hash, args.password);

const started = performance.now();
const cpuBefore = process.cpuUsage();
const deadline = started + args.seconds * 1000;
let verifies = 0;
async function lane(): Promise<void> {
  while (performance.now() < deadline) {
    await argon2.verify(args.hash, args.password);
    verifies += 1;
  }
}
await Promise.all(Array.from({ length: concurrency }, lane));
const seconds = (performance.now() - started) / 1000;
// Process-wide CPU (the verifications run on libuv's threads), per verification.
const cpu = process.cpuUsage(cpuBefore);
const cpuUs = (cpu.user + cpu.system) / Math.max(1, verifies);
process.stdout.write(`${JSON.stringify({ verifies, seconds, rate: verifies / seconds, cpuUs })}\n`);
