import type { Sequelize } from 'sequelize';
import type { Config } from '../config.ts';
import { createSequelize } from '../db/sequelize.ts';

/** Opens the configured database for one command and always closes it afterwards. */
export async function withDatabase<T>(config: Pick<Config, 'database'>, work: (sequelize: Sequelize) => Promise<T>): Promise<T> {
  // Commands only write: replicas are not needed, and two connections cover the migration lock.
  const sequelize = createSequelize({ url: config.database.url, poolMax: 2 });
  try {
    return await work(sequelize);
  } finally {
    await sequelize.close();
  }
}
