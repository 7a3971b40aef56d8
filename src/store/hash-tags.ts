/**
 * The part of a key Redis Cluster hashes: the text inside the first `{...}` when non-empty, else the
 * whole key (https://redis.io/docs/reference/cluster-spec/#hash-tags).
 */
export function hashTag(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/**
 * Groups keys that are certain to share a cluster slot (same hash tag once `keyPrefix` is prepended),
 * so a multi-key command per group never crosses slots. Keys without a tag each form their own group.
 */
export function groupByHashTag(keys: readonly string[], keyPrefix = ''): string[][] {
  const groups = new Map<string, string[]>();
  for (const key of new Set(keys)) {
    const tag = hashTag(keyPrefix + key);
    const group = groups.get(tag);
    if (group) group.push(key);
    else groups.set(tag, [key]);
  }
  return [...groups.values()];
}
