import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ensurePrivateDir, ensurePrivateFile, securePrivateDir, writePrivateFile } from '../../src/private-files.ts';

const mode = (file: string) => (statSync(file).mode & 0o777).toString(8);

describe('private files (src/private-files.ts)', () => {
  let dir: string;
  let umask: number;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'idp-private-'));
    // The most permissive umask: the modes must come from the code, not from the process's umask.
    umask = process.umask(0);
  });
  afterEach(() => {
    process.umask(umask);
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates folders 0700 and writes files 0600, also over a file that was readable by anyone', () => {
    ensurePrivateDir(path.join(dir, 'data', 'outbox'));
    expect([mode(path.join(dir, 'data')), mode(path.join(dir, 'data', 'outbox'))]).to.deep.equal(['700', '700']);
    const file = path.join(dir, 'data', 'cookie-keys.json');
    writeFileSync(file, 'old', { mode: 0o644 });
    writePrivateFile(file, 'new');
    expect(mode(file)).to.equal('600');
    expect(readFileSync(file, 'utf8')).to.equal('new');
    writePrivateFile(path.join(dir, 'fresh', 'admin-password.txt'), 'pw\n');
    expect([mode(path.join(dir, 'fresh')), mode(path.join(dir, 'fresh', 'admin-password.txt'))]).to.deep.equal(['700', '600']);
  });

  it('makes a database file and its existing companions 0600 before anything opens them', () => {
    const db = path.join(dir, 'idp.sqlite');
    ensurePrivateFile(db, ['-wal', '-shm']);
    expect(mode(db)).to.equal('600');
    writeFileSync(`${db}-wal`, '', { mode: 0o644 });
    chmodSync(db, 0o644);
    ensurePrivateFile(db, ['-wal', '-shm']);
    expect([mode(db), mode(`${db}-wal`)]).to.deep.equal(['600', '600']);
  });

  it('brings a whole folder an older version left open to 0700/0600, through a linked root but not through links inside', () => {
    const data = path.join(dir, 'real-data');
    mkdirSync(path.join(data, 'outbox'), { recursive: true, mode: 0o755 });
    chmodSync(data, 0o755);
    writeFileSync(path.join(data, 'idp.sqlite'), '', { mode: 0o644 });
    writeFileSync(path.join(data, 'outbox', 'mail.eml'), '', { mode: 0o644 });
    const outside = path.join(dir, 'outside.txt');
    writeFileSync(outside, '', { mode: 0o644 });
    symlinkSync(outside, path.join(data, 'link.txt'));
    const linkedRoot = path.join(dir, 'data');
    symlinkSync(data, linkedRoot);

    securePrivateDir(linkedRoot);
    expect([data, path.join(data, 'outbox')].map(mode)).to.deep.equal(['700', '700']);
    expect([path.join(data, 'idp.sqlite'), path.join(data, 'outbox', 'mail.eml')].map(mode)).to.deep.equal(['600', '600']);
    expect(mode(outside), 'a link target is not ours').to.equal('644');
    expect(() => securePrivateDir(path.join(dir, 'missing'))).not.to.throw();
  });
});
