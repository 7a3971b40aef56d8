/**
 * The SQLite write queue (src/db/sqlite-writes.ts): every writer of the process waits its turn in
 * JavaScript instead of in a libuv thread, so concurrent transactions and write statements finish
 * promptly instead of stalling until SQLite's busy timeout; reads are not held up; a query made inside
 * a transaction's callback does not wait for that transaction.
 */
import { expect } from 'chai';
import { Transaction } from 'sequelize';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import { createWriteQueue } from '../../src/db/sqlite-writes.ts';
import { isConnectionError } from '../../src/db/sequelize.ts';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SQLite writes, one at a time (src/db/sqlite-writes.ts)', function () {
  this.timeout(20_000);
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase('sqlite');
  });
  after(async () => db?.drop());

  it('finishes 20 concurrent transactions and 20 concurrent write statements promptly, all of them', async () => {
    const { AuditEvent, Organization } = db.models;
    const started = performance.now();
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 20; i += 1) {
      work.push(
        db.sequelize.transaction(async (transaction) => {
          await Organization.create({ name: `t${i}`, slug: `t-${i}-${Date.now()}` }, { transaction });
          await pause(2);
          await Organization.create({ name: `u${i}`, slug: `u-${i}-${Date.now()}` }, { transaction });
        }),
      );
      work.push(AuditEvent.create({ type: 'race', outcome: 'success' }));
    }
    const settled = await Promise.allSettled(work);
    expect(settled.filter((s) => s.status === 'rejected').map((s) => String((s as PromiseRejectedResult).reason))).to.deep.equal([]);
    expect(performance.now() - started).to.be.below(3000);
    expect(await AuditEvent.count({ where: { type: 'race' } })).to.equal(20);
  });

  it('lets reads run while a transaction holds the write turn', async () => {
    const { Organization } = db.models;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const transaction = db.sequelize.transaction(async (t) => {
      await Organization.create({ name: 'held', slug: `held-${Date.now()}` }, { transaction: t });
      await held;
    });
    await pause(20);
    const started = performance.now();
    expect(await Organization.count()).to.be.a('number');
    expect(performance.now() - started).to.be.below(500);
    release();
    await transaction;
  });

  it('does not make a query inside a transaction callback wait for its own transaction', async () => {
    const { Organization } = db.models;
    const result = await db.sequelize.transaction(async (t) => {
      await Organization.create({ name: 'outer', slug: `outer-${Date.now()}` }, { transaction: t });
      // Without the transaction: a read (and the write queue is re-entrant here, so no deadlock either).
      return Organization.count();
    });
    expect(result).to.be.a('number');
  });

  it('holds the turn of an unmanaged transaction until it commits or rolls back', async () => {
    const { Organization } = db.models;
    const t = await db.sequelize.transaction({ type: Transaction.TYPES.IMMEDIATE });
    await Organization.create({ name: 'manual', slug: `manual-${Date.now()}` }, { transaction: t });
    let written = false;
    const waiting = Organization.create({ name: 'after', slug: `after-${Date.now()}` }).then(() => {
      written = true;
    });
    await pause(100);
    expect(written, 'a write waits for the open transaction').to.equal(false);
    await t.rollback();
    await waiting;
    expect(written).to.equal(true);
    expect(await Organization.count({ where: { name: 'manual' } })).to.equal(0);
  });

  it('runs queued tasks in order, goes on after a failure, and gives up waiting with a busy error', async () => {
    const queue = createWriteQueue(200);
    const log: string[] = [];
    const task = (name: string, ms: number, fail = false) => async () => {
      log.push(`start ${name}`);
      await pause(ms);
      log.push(`end ${name}`);
      if (fail) throw new Error(name);
      return name;
    };
    const results = await Promise.allSettled([queue.exclusive(task('a', 20)), queue.exclusive(task('b', 5, true)), queue.exclusive(task('c', 1))]);
    expect(log).to.deep.equal(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    expect(results.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);

    const long = queue.exclusive(task('long', 400));
    const starved = await queue.exclusive(task('starved', 1)).catch((err: unknown) => err);
    expect(starved).to.be.instanceOf(Error);
    expect(isConnectionError(starved), 'answered as a busy database (503)').to.equal(true);
    await long;
    expect(log).to.not.include('start starved');
  });
});
