import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const SRC = path.resolve(import.meta.dirname, '../../src');

/** The npm packages a fresh process has loaded (imported or required) after importing `modules` and running `then`. */
function packagesLoadedBy(modules: string[], then = ''): string[] {
  const imports = modules.map((module) => `await import(${JSON.stringify(path.join(SRC, module))});`).join('\n');
  const script = `import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({ resolve(specifier, context, next) { const resolved = next(specifier, context); seen.add(resolved.url); return resolved; } });
${imports}
${then}
const loaded = [...seen].map((url) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(url)?.[1]);
console.log(JSON.stringify([...new Set(loaded.filter(Boolean))]));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(run.status, run.stderr).to.equal(0);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '[]') as string[];
}

describe('what a server process carries from its start (heap the garbage collector marks, bench/README.md)', () => {
  it('loads neither nodemailer nor umzug with the server and its composition root', () => {
    const loaded = packagesLoadedBy(['server.ts', 'dependencies.ts', 'app.ts']);
    expect(loaded).to.include('koa');
    expect(loaded).not.to.include('nodemailer');
    expect(loaded).not.to.include('umzug');
  });

  it('loads nodemailer with the first mail', () => {
    const loaded = packagesLoadedBy(
      ['services/mail.ts'],
      `const { createMailService } = await import(${JSON.stringify(path.join(SRC, 'services/mail.ts'))});
const { mkdtempSync } = await import('node:fs');
const { tmpdir } = await import('node:os');
const logger = { child: () => logger, info() {} };
const mail = createMailService({ from: 'idp@example.test', outboxDir: mkdtempSync(tmpdir() + '/mail-'), logger });
await mail.send({ to: 'someone@example.test', subject: 'hello', text: 'hello' });
mail.close();`,
    );
    expect(loaded).to.include('nodemailer');
  });

  it('scores a password in a child process: the server never carries zxcvbn and its dictionaries', function () {
    this.timeout(60_000);
    const module = JSON.stringify(path.join(SRC, 'services/password-strength.ts'));
    const loaded = packagesLoadedBy(
      ['services/password-strength.ts'],
      `const { passwordScore } = await import(${module});
if (passwordScore('correct horse battery staple', ['admin']) < 3 || passwordScore('Password1', ['admin']) > 2) throw new Error('wrong scores');`,
    );
    expect(loaded.filter((name) => name.startsWith('@zxcvbn-ts/'))).to.deep.equal([]);
  });
});
