/**
 * The registered RFC 8707 resources: OIDC_RESOURCES merged with the `resources` table (CONTRACT §4, §7).
 * Several server processes share one database, so each keeps the table in a short cache (CACHE_MS):
 * a change made in this process applies at once (the admin service invalidates), one made in another
 * process within CACHE_MS. OIDC_RESOURCES wins over a row with the same indicator (the admin service
 * refuses to create one anyway).
 */
import type { Models, Resource } from '../db/models/index.ts';

export interface ResourceDefinition {
  indicator: string;
  /** The scopes the resource defines. */
  scopes: string[];
  /** Seconds; undefined: ACCESS_TOKEN_TTL. */
  accessTokenTtl?: number;
  /** The confidential client that runs the resource (it may exchange tokens minted for it, §11). */
  serverClientId?: string;
  source: 'config' | 'database';
}

export interface ConfiguredResource {
  scope: string;
  accessTokenTTL?: number;
  serverClientId?: string;
}

/** How long a process trusts its copy of the resources table. */
export const RESOURCE_CACHE_MS = 5000;

export function splitScope(scope: string): string[] {
  return [...new Set(scope.split(/\s+/).filter(Boolean))];
}

export function createResourceRegistry(options: {
  models: Pick<Models, 'Resource'>;
  configured: Record<string, ConfiguredResource>;
  cacheMs?: number;
  now?: () => number;
}) {
  const cacheMs = options.cacheMs ?? RESOURCE_CACHE_MS;
  const now = options.now ?? Date.now;
  const configured = new Map<string, ResourceDefinition>(
    Object.entries(options.configured).map(([indicator, entry]) => [
      indicator,
      { indicator, scopes: splitScope(entry.scope), accessTokenTtl: entry.accessTokenTTL, serverClientId: entry.serverClientId, source: 'config' },
    ]),
  );
  let cached: { at: number; byIndicator: Promise<Map<string, ResourceDefinition>> } | undefined;

  function fromRow(row: Resource): ResourceDefinition {
    return {
      indicator: row.indicator,
      scopes: splitScope(row.scope),
      accessTokenTtl: row.accessTokenTtl ?? undefined,
      serverClientId: row.serverClientId ?? undefined,
      source: 'database',
    };
  }

  async function load(): Promise<Map<string, ResourceDefinition>> {
    const rows = await options.models.Resource.findAll();
    const merged = new Map<string, ResourceDefinition>(rows.map((row) => [row.indicator, fromRow(row)]));
    for (const [indicator, definition] of configured) merged.set(indicator, definition);
    return merged;
  }

  function current(): Promise<Map<string, ResourceDefinition>> {
    if (!cached || now() - cached.at >= cacheMs) {
      const byIndicator = load();
      const entry = { at: now(), byIndicator };
      cached = entry;
      // A failed load is not kept: the next request tries again.
      byIndicator.catch(() => {
        if (cached === entry) cached = undefined;
      });
    }
    return cached.byIndicator;
  }

  return {
    async find(indicator: string): Promise<ResourceDefinition | undefined> {
      return (await current()).get(indicator);
    },
    async all(): Promise<ResourceDefinition[]> {
      return [...(await current()).values()];
    },
    isConfigured(indicator: string): boolean {
      return configured.has(indicator);
    },
    /** Forgets the cached table: this process sees a change at once. */
    invalidate(): void {
      cached = undefined;
    },
  };
}

export type ResourceRegistry = ReturnType<typeof createResourceRegistry>;
