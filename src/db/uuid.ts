const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * PostgreSQL rejects a malformed value compared with a UUID column (an error, hence a 500),
 * while SQLite just finds nothing: check client-supplied ids with this first and answer 404.
 */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}
