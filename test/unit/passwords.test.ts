import { expect } from 'chai';
import bcrypt from 'bcryptjs';
import { createPasswordService, isSupportedHash } from '../../src/services/passwords.ts';
import { RequestAbandonedError, ServerBusyError } from '../../src/errors.ts';

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

describe('the password-hash queue (src/services/passwords.ts)', () => {
  /** An argon2 engine whose calls wait until released, counting how many started. */
  function gated() {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const state = {
      started: 0,
      release: () => release(),
      engine: {
        hash: async () => {
          state.started += 1;
          await gate;
          return '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA';
        },
        verify: async () => {
          state.started += 1;
          await gate;
          return false;
        },
        needsRehash: () => false,
      },
    };
    return state;
  }

  it('holds at most 4 × the hashing threads jobs, running or waiting; past that it refuses at once with 503 and Retry-After', async () => {
    const slow = gated();
    const passwords = createPasswordService({ memoryCost: 1024, timeCost: 1, parallelism: 1 }, { threads: 2, slots: 1, engine: slow.engine });
    const accepted = Array.from({ length: 8 }, (_, i) => passwords.hash(`password-${i}`));
    expect(passwords.queued()).to.equal(8);
    expect(slow.started, 'one running at a time').to.equal(1);
    for (const refused of [passwords.hash('one too many'), passwords.verify('$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA', 'x'), passwords.verifyDummy('x')]) {
      const err = await refused.then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(ServerBusyError);
      expect(err).to.include({ status: 503, message: 'Service temporarily unavailable', expose: true });
      expect(Number((err as ServerBusyError).headers['Retry-After'])).to.be.at.least(1);
    }
    slow.release();
    await Promise.all(accepted);
    expect(passwords.queued()).to.equal(0);
    // Room again: the dummy hash that was refused is made now.
    await passwords.verifyDummy('x');
  });

  it('drops a job whose client has gone: before it starts, and from its place in the line, which then moves on', async () => {
    const slow = gated();
    const passwords = createPasswordService({ memoryCost: 1024, timeCost: 1, parallelism: 1 }, { threads: 2, slots: 1, engine: slow.engine });
    const gone = new AbortController();
    gone.abort();
    expect(await passwords.hash('never', gone.signal).then(() => 'hashed', (e: unknown) => e)).to.be.instanceOf(RequestAbandonedError);
    expect(slow.started).to.equal(0);

    const running = passwords.hash('first');
    const leaving = new AbortController();
    const waiting = passwords.verify('$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA', 'second', leaving.signal);
    const behind = passwords.hash('third');
    expect(passwords.queued()).to.equal(3);
    leaving.abort();
    expect(await waiting.then(() => 'checked', (e: unknown) => e)).to.include({ status: 499 });
    expect(passwords.queued(), 'it left the line at once').to.equal(2);
    slow.release();
    await Promise.all([running, behind]);
    expect(slow.started, 'the first and the third ran; the second never did').to.equal(2);
    expect(passwords.queued()).to.equal(0);
  });

  it('sizes the queue from the default thread pool (4 threads → 16 jobs)', async () => {
    const slow = gated();
    const passwords = createPasswordService({ memoryCost: 1024, timeCost: 1, parallelism: 1 }, { engine: slow.engine });
    const accepted = Array.from({ length: 16 }, (_, i) => passwords.hash(`password-${i}`));
    expect(await passwords.hash('17th').then(() => 'hashed', (e: unknown) => e)).to.be.instanceOf(ServerBusyError);
    slow.release();
    await Promise.all(accepted);
  });
});
