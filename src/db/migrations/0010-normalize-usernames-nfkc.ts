/**
 * Usernames are now compared in Unicode NFKC, trimmed and lower-cased (CONTRACT §2), so full-width,
 * ligature and other compatibility forms of a name are the same name. This recomputes
 * `username_normalized` (and trims `username`) for existing rows. A row whose new form would equal
 * another user's keeps its old form: it cannot be found by the look-alike any more (a login with it
 * finds the other user, as the look-alike was meant to be refused), but it still signs in by e-mail.
 */
import { QueryTypes } from 'sequelize';
import type { QueryInterface } from 'sequelize';

const BATCH = 1000;

const clean = (username: string): string => username.normalize('NFKC').trim();
const normalize = (username: string): string => clean(username).toLowerCase().normalize('NFKC');

interface Row {
  number: number;
  username: string;
  username_normalized: string | null;
}

export async function up(queryInterface: QueryInterface): Promise<void> {
  const { sequelize } = queryInterface;
  const taken = new Set(
    (await sequelize.query<{ n: string }>('SELECT username_normalized AS n FROM users WHERE username_normalized IS NOT NULL', { type: QueryTypes.SELECT })).map(
      (row) => row.n,
    ),
  );
  let after = 0;
  for (;;) {
    const rows = await sequelize.query<Row>(
      'SELECT number, username, username_normalized FROM users WHERE username IS NOT NULL AND number > :after ORDER BY number LIMIT :limit',
      { replacements: { after, limit: BATCH }, type: QueryTypes.SELECT },
    );
    if (rows.length === 0) return;
    for (const row of rows) {
      const spelled = clean(row.username);
      const normalized = normalize(row.username);
      if (normalized === row.username_normalized && spelled === row.username) continue;
      if (normalized !== row.username_normalized && taken.has(normalized)) continue;
      await sequelize.query('UPDATE users SET username = :spelled, username_normalized = :normalized WHERE number = :number', {
        replacements: { spelled: spelled || row.username, normalized, number: row.number },
      });
      if (row.username_normalized) taken.delete(row.username_normalized);
      taken.add(normalized);
    }
    after = Number(rows.at(-1)?.number ?? after);
  }
}

/** Nothing to undo: the old form (lower case only) of a plain name is the same, and look-alikes stay folded. */
export async function down(): Promise<void> {}
