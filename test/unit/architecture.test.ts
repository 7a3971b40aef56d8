import path from 'node:path';
import { expect } from 'chai';
import { ESLint } from 'eslint';

const ROOT = path.resolve(import.meta.dirname, '../..');
const RULE = '@typescript-eslint/no-restricted-imports';

/** Lints `code` as if it were the file at `file` (relative to the repository), without writing it. */
async function restrictedImports(file: string, code: string): Promise<string[]> {
  const [result] = await new ESLint({ cwd: ROOT }).lintText(code, { filePath: path.join(ROOT, file) });
  return (result?.messages ?? []).filter((message) => message.ruleId === RULE).map((message) => message.message);
}

// The layer rules of the README's Layout section live in eslint.config.js; these cases make sure they
// still catch what they are for, so the check cannot silently vanish.
describe('layer rules (eslint.config.js, README "Layout")', function () {
  this.timeout(120_000);

  it('refuses a door importing the models, even for a type', async () => {
    const errors = await restrictedImports('src/http/admin/layer-probe.ts', [
      "import { initModels } from '../../db/models/index.ts';",
      "import type { Store } from '../../store/store.ts';",
      'export const probe: [typeof initModels, Store | undefined] = [initModels, undefined];',
      '',
    ].join('\n'));
    expect(errors).to.have.length(2);
    expect(errors[0]).to.contain("'../../db/models/index.ts' import is restricted");
    expect(errors[1]).to.contain("'../../store/store.ts' import is restricted");
  });

  it('refuses the CLI importing the database, services importing oidc or http, and db or store importing services', async () => {
    // Re-exports and side-effect imports are imports too.
    expect(await restrictedImports('src/cli/layer-probe.ts', "export { runMigrations } from '../db/migrate.ts';\nimport '../db/sequelize.ts';\n")).to.have.length(2);
    expect(await restrictedImports('src/services/layer-probe.ts', "import type { Oidc } from '../oidc/index.ts';\nexport type Probe = Oidc;\n")).to.have.length(1);
    expect(await restrictedImports('src/services/admin/layer-probe.ts', "import type { Views } from '../../http/interactions/views.ts';\nexport type Probe = Views;\n")).to.have.length(1);
    expect(await restrictedImports('src/db/models/layer-probe.ts', "import type { AuditService } from '../../services/audit.ts';\nexport type Probe = AuditService;\n")).to.have.length(1);
    expect(await restrictedImports('src/store/layer-probe.ts', "import type { SessionService } from '../services/sessions.ts';\nexport type Probe = SessionService;\n")).to.have.length(1);
  });

  it('lets each layer import the one below it', async () => {
    expect(await restrictedImports('src/http/layer-probe.ts', "import type { AuditService } from '../services/audit.ts';\nexport type Probe = AuditService;\n")).to.deep.equal([]);
    expect(await restrictedImports('src/services/layer-probe.ts', "import type { Models } from '../db/models/index.ts';\nexport type Probe = Models;\n")).to.deep.equal([]);
    expect(await restrictedImports('src/oidc/layer-probe.ts', "import type { Store } from '../store/store.ts';\nexport type Probe = Store;\n")).to.deep.equal([]);
  });

  it('holds for the whole of src today', async () => {
    const results = await new ESLint({ cwd: ROOT }).lintFiles(['src']);
    const broken = results.flatMap((result) =>
      result.messages.filter((message) => message.ruleId === RULE).map((message) => `${path.relative(ROOT, result.filePath)}:${message.line} ${message.message}`),
    );
    expect(broken).to.deep.equal([]);
  });
});
