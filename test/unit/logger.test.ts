import { expect } from 'chai';
import { spawn } from 'node:child_process';
import path from 'node:path';

const LOGGER = path.resolve(import.meta.dirname, '../../src/logger.ts');

/** Runs a script that logs through createLogger's default destination (batched stdout); resolves with what reached stdout and when. */
function run(script: string): Promise<{ lines: { msg: string; at: number }[]; code: number | null }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', `import { createLogger } from ${JSON.stringify(LOGGER)};\n${script}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const started = Date.now();
    const lines: { msg: string; at: number }[] = [];
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const complete = pending.split('\n');
      pending = complete.pop() ?? '';
      for (const line of complete) lines.push({ msg: (JSON.parse(line) as { msg: string }).msg, at: Date.now() - started });
    });
    child.once('close', (code) => resolve({ lines, code }));
  });
}

describe('the logger (src/logger.ts)', () => {
  it('writes every line still in the batch when the process exits, also by process.exit()', async () => {
    const { lines, code } = await run(`const log = createLogger({ level: 'info' });
for (let i = 0; i < 50; i += 1) log.info('line ' + i);
log.error('last words');
process.exit(3);`);
    expect(code).to.equal(3);
    expect(lines.map((line) => line.msg)).to.deep.equal([...Array.from({ length: 50 }, (_, i) => `line ${i}`), 'last words']);
  });

  it('writes a lone line within a fraction of a second while the process keeps running', async () => {
    const { lines } = await run(`const log = createLogger({ level: 'info' });
log.info('alone');
setTimeout(() => log.info('done'), 1500);`);
    expect(lines.map((line) => line.msg)).to.deep.equal(['alone', 'done']);
    // Written by the periodic flush (100 ms), long before the process ends.
    expect(lines[0]!.at).to.be.below(1000);
  });
});

describe('log format: pretty at a terminal, JSON elsewhere (src/logger.ts stdoutFor)', () => {
  /** Logs one line through stdoutFor(nodeEnv), under a pseudo-terminal (util-linux `script`) or a pipe. */
  function logOnce(nodeEnv: string, tty: boolean): Promise<string> {
    const code = `import { createLogger, stdoutFor } from ${JSON.stringify(LOGGER)};
createLogger({ level: 'info', destination: stdoutFor(${JSON.stringify(nodeEnv)}) }).info({ password: 'hunter22secret' }, 'hello there');`;
    const argv = [process.execPath, '--input-type=module', '-e', code];
    const quoted = argv.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(' ');
    const [command, args] = tty ? ['script', ['-qec', quoted, '/dev/null']] : [argv[0], argv.slice(1)];
    return new Promise((resolve) => {
      const child = spawn(command as string, args as string[], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.once('close', () => resolve(out));
    });
  }

  it('writes readable lines (not JSON) to a terminal in development, still redacted', async () => {
    const out = await logOnce('development', true);
    expect(out).to.include('hello there').and.include('INFO');
    expect(out).not.to.match(/^\{"level"/m);
    expect(out).to.include('[redacted]').and.not.include('hunter22secret');
  });

  it('writes JSON lines to a terminal in production, and to a pipe in development', async () => {
    for (const [nodeEnv, tty] of [['production', true], ['development', false]] as const) {
      const line = (await logOnce(nodeEnv, tty)).trim();
      const entry = JSON.parse(line) as { level: string; msg: string; password: string };
      expect(entry).to.include({ level: 'info', msg: 'hello there', password: '[redacted]' });
    }
  });
});
