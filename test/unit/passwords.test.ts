import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import { createPasswordService, isSupportedHash } from '../../src/services/passwords.ts';

describe('password hashing (src/services/passwords.ts)', () => {
  const passwords = createPasswordService({ memoryCost: 1024, timeCost: 1, parallelism: 1 });

  it('hashes with argon2id and verifies', async () => {
    const hash = await passwords.hash('correct horse');
    expect(hash).to.match(/^\$argon2id\$v=19\$m=1024,p=1,t=1\$/);
    expect(await passwords.verify(hash, 'correct horse')).to.deep.equal({ ok: true, needsRehash: false });
    expect(await passwords.verify(hash, 'wrong horse')).to.deep.equal({ ok: false, needsRehash: false });
  });

  it('uses at least OWASP argon2id parameters by default configuration', async () => {
    const strong = createPasswordService({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
    expect(await strong.hash('x'.repeat(8))).to.match(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
  });

  it('flags hashes made with weaker parameters for re-hashing', async () => {
    const weak = await createPasswordService({ memoryCost: 1024, timeCost: 1, parallelism: 1 }).hash('pw-123456');
    const stronger = createPasswordService({ memoryCost: 2048, timeCost: 2, parallelism: 1 });
    expect(await stronger.verify(weak, 'pw-123456')).to.deep.equal({ ok: true, needsRehash: true });
  });

  for (const prefix of ['$2a$', '$2b$', '$2y$']) {
    it(`verifies an imported bcrypt ${prefix} hash and asks for a re-hash`, async () => {
      const hash = bcrypt.hashSync('imported-pass', 4).replace(/^\$2[ab]\$/, prefix);
      expect(isSupportedHash(hash)).to.equal(true);
      expect(await passwords.verify(hash, 'imported-pass')).to.deep.equal({ ok: true, needsRehash: true });
      expect(await passwords.verify(hash, 'other-pass')).to.deep.equal({ ok: false, needsRehash: false });
    });
  }

  it('refuses unknown hash formats without throwing', async () => {
    expect(isSupportedHash('plaintext')).to.equal(false);
    expect(await passwords.verify('plaintext', 'plaintext')).to.deep.equal({ ok: false, needsRehash: false });
    expect(await passwords.verify('$argon2id$garbage', 'x')).to.deep.equal({ ok: false, needsRehash: false });
  });

  it('verifies a dummy hash for unknown users without failing', async () => {
    await passwords.verifyDummy('anything');
  });
});
