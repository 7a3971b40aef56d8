/**
 * A per-process memo of bounded size: oldest entry out first (a Map keeps insertion order), so its memory
 * stays bounded whatever the traffic. For values derived from a token's exact text (its verified claims,
 * the user its `sub` names) that cannot change during the token's life.
 */
export function createBoundedMap<V>(maxSize: number) {
  const entries = new Map<string, V>();
  return {
    get: (key: string): V | undefined => entries.get(key),
    set(key: string, value: V): V {
      if (entries.size >= maxSize) entries.delete(entries.keys().next().value as string);
      entries.set(key, value);
      return value;
    },
    delete: (key: string): boolean => entries.delete(key),
  };
}
