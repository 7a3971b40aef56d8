import { expect } from 'chai';
import type { Models } from '../../src/db/models/index.ts';
import { createResourceRegistry } from '../../src/services/resources.ts';

/** A resources table another process writes to: only findAll is used by the registry. */
function fakeTable() {
  const rows: { indicator: string; scope: string; accessTokenTtl: number | null; serverClientId: string | null }[] = [];
  let reads = 0;
  const Resource = {
    async findAll() {
      reads += 1;
      return rows.map((row) => ({ ...row }));
    },
  } as unknown as Models['Resource'];
  return { rows, Resource, reads: () => reads };
}

describe('resource registry (OIDC_RESOURCES merged with the resources table)', () => {
  it('merges the table with OIDC_RESOURCES, the configuration winning for one indicator', async () => {
    const table = fakeTable();
    table.rows.push({ indicator: 'https://a.example', scope: 'a:read a:read a:write', accessTokenTtl: 300, serverClientId: 'a-api' });
    table.rows.push({ indicator: 'https://cfg.example', scope: 'other', accessTokenTtl: null, serverClientId: null });
    const registry = createResourceRegistry({ models: table, configured: { 'https://cfg.example': { scope: 'cfg:read', accessTokenTTL: 600 } } });
    expect(await registry.find('https://a.example')).to.deep.equal({
      indicator: 'https://a.example', scopes: ['a:read', 'a:write'], accessTokenTtl: 300, serverClientId: 'a-api', source: 'database',
    });
    expect((await registry.find('https://cfg.example'))?.scopes).to.deep.equal(['cfg:read']);
    expect(await registry.find('https://none.example')).to.equal(undefined);
    expect((await registry.all()).length).to.equal(2);
  });

  it("sees another process's change after the cache time, and its own at once after invalidate()", async () => {
    const table = fakeTable();
    let clock = 0;
    const registry = createResourceRegistry({ models: table, configured: {}, cacheMs: 5000, now: () => clock });
    expect(await registry.find('https://b.example')).to.equal(undefined);
    table.rows.push({ indicator: 'https://b.example', scope: 'b', accessTokenTtl: null, serverClientId: null });
    clock = 4999;
    expect(await registry.find('https://b.example'), 'still cached').to.equal(undefined);
    expect(table.reads()).to.equal(1);
    clock = 5000;
    expect(await registry.find('https://b.example')).to.not.equal(undefined);
    table.rows.length = 0;
    registry.invalidate();
    expect(await registry.find('https://b.example')).to.equal(undefined);
  });
});
