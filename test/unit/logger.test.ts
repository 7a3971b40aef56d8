import { expect } from 'chai';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { pino } from 'pino';
import { captureLogs } from '../helpers/log-capture.ts';
import { isoTimeOncePerMillisecond } from '../../src/logger.ts';

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

  it('logs the code of an exit or an error, and redacts an authorization code in a query, body or parameters', () => {
    const logs = captureLogs('info');
    logs.logger.warn({ pid: 4242, code: 1, signal: null }, 'a worker exited unexpectedly; starting a replacement');
    logs.logger.warn({ code: 'METRICS_UNAUTHORIZED', err: { message: 'refused', code: 'ECONNREFUSED' } }, 'refused');
    logs.logger.info({ query: { code: 'authz-code-in-query', state: 'st' }, body: { code: 'authz-code-in-body' } }, 'callback');
    logs.logger.info({ req: { query: { code: 'authz-code-nested' } }, params: { code: 'authz-code-param', code_verifier: 'verifier-value' } }, 'nested');
    const [exit, error, callback, nested] = logs.lines();
    expect(exit).to.include({ code: 1 });
    expect(error).to.include({ code: 'METRICS_UNAUTHORIZED' });
    expect(error!.err).to.deep.include({ message: 'refused', code: 'ECONNREFUSED' });
    expect(callback).to.deep.include({ query: { code: '[redacted]', state: 'st' }, body: { code: '[redacted]' } });
    expect(nested).to.deep.include({ req: { query: { code: '[redacted]' } }, params: { code: '[redacted]', code_verifier: '[redacted]' } });
    expect(logs.text()).not.to.match(/authz-code|verifier-value/);
  });

  it('replaces the password of every URL with credentials, wherever the line has one', () => {
    const logs = captureLogs('info');
    logs.logger.info({ url: 'postgres://idp:pg-Secret%40x1@db.internal:5432/idp' }, 'connecting');
    logs.logger.error({ err: new Error('connect to redis://:r3dis-pass@cache:6379 failed') }, 'could not reach smtps://mailer:Sm7p:pw@smtp.example.com:465');
    logs.logger.info({ options: { replication: { write: { url: 'postgresql://u:nested-pw@h/d' } } } }, 'deep');
    logs.logger.info({ issuer: 'https://id.example.com:8443/oidc', url: 'http://user@host/path' }, 'no credentials here');
    // The access log's child logger skips the redaction pass, not this one.
    logs.logger.child({}, { redact: [] }).info({ url: 'redis://default:child-pw@cache:6379/0' }, 'child');
    const text = logs.text();
    for (const secret of ['pg-Secret', 'r3dis-pass', 'Sm7p:pw', 'nested-pw', 'child-pw']) expect(text, secret).not.to.include(secret);
    const [first, second, third, fourth] = logs.lines();
    expect(first).to.include({ url: 'postgres://idp:[redacted]@db.internal:5432/idp' });
    expect(second!.msg).to.equal('could not reach smtps://mailer:[redacted]@smtp.example.com:465');
    expect((second!.err as { message: string }).message).to.equal('connect to redis://:[redacted]@cache:6379 failed');
    expect(JSON.stringify(third)).to.include('postgresql://u:[redacted]@h/d');
    expect(fourth).to.include({ issuer: 'https://id.example.com:8443/oidc', url: 'http://user@host/path' });
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

describe('the log time (src/logger.ts isoTimeOncePerMillisecond)', () => {
  it("writes pino's isoTime text, formatted again only when the millisecond changes", () => {
    let now = Date.UTC(2026, 11, 7, 11, 45, 2, 412);
    const time = isoTimeOncePerMillisecond(() => now);
    const realNow = Date.now;
    try {
      Date.now = () => now; // pino's isoTime reads Date.now
      const first = time();
      expect(first).to.equal(pino.stdTimeFunctions.isoTime()).and.to.equal(',"time":"2026-12-07T11:45:02.412Z"');
      expect(time()).to.equal(first); // the same millisecond, the same text
      now += 1;
      expect(time()).to.equal(pino.stdTimeFunctions.isoTime()).and.to.equal(',"time":"2026-12-07T11:45:02.413Z"');
      now += 3_600_000 * 24 * 400;
      expect(time()).to.equal(pino.stdTimeFunctions.isoTime());
    } finally {
      Date.now = realNow;
    }
  });
});
