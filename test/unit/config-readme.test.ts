import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { CONFIG_KEYS, configurationTable } from '../../src/config.ts';

const README = path.resolve(import.meta.dirname, '../../README.md');

/** The README's configuration table: from its header line to the first line that is not a table row. */
function readmeTable(): string[] {
  const lines = readFileSync(README, 'utf8').split('\n');
  const start = lines.indexOf('| variable | default | meaning |');
  expect(start, 'the README has a configuration table').to.be.at.least(0);
  const end = lines.findIndex((line, i) => i > start && !line.startsWith('|'));
  return lines.slice(start, end === -1 ? undefined : end);
}

describe('configuration keys: declared once (src/config.ts), listed in the README', () => {
  it('lists exactly the declared keys, each with its declared default and meaning, in the declared order', () => {
    // After adding or changing a key, paste `configurationTable()` over the README's table.
    expect(readmeTable()).to.deep.equal(configurationTable().split('\n'));
  });

  it('names every key once, with a default or what unset means, and a meaning', () => {
    const names = readmeTable().slice(2).map((row) => /^\| `([A-Z0-9_]+)` \|/.exec(row)?.[1]);
    expect(names).to.deep.equal(Object.keys(CONFIG_KEYS));
    for (const [key, declaration] of Object.entries(CONFIG_KEYS)) {
      expect(declaration.meaning, key).to.match(/\S/);
      if (declaration.default !== undefined) {
        // A declared default must pass its own check.
        expect(declaration.schema.safeParse(declaration.default).success, `${key} default`).to.equal(true);
      }
    }
  });
});
