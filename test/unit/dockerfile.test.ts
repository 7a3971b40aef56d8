/**
 * Docker does not run on the development machine, so the image is checked by reading: the runtime stage
 * must carry every folder the server reads at run time (a missing one, e.g. the message catalogues, would
 * stop the container at start).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('Dockerfile', () => {
  it('copies every folder the server reads at run time into the runtime stage', () => {
    const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const stages = text.split(/^FROM /m);
    const runtime = stages.at(-1) ?? '';
    const copied = [...runtime.matchAll(/^COPY (?:--\S+ )*(\S+) \.\/(\S+)$/gm)].map((m) => m[2]);
    for (const folder of ['src', 'views', 'locales', 'public', 'config']) expect(copied, folder).to.include(folder);
  });
});
