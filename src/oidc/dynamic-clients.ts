/**
 * Housekeeping of dynamically registered clients (CONTRACT §11): each token request marks its client as
 * used (at most one write per client per process per hour), and clients unused for 30 days are removed.
 *
 * The clean-up runs in every server process, hourly (timer unref'd, stopped on close). It is one
 * idempotent DELETE with a date condition, so several processes running it at once only repeat a no-op;
 * no coordination is needed.
 */
import { Op } from 'sequelize';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Models } from '../db/models/index.ts';
import type { Logger } from '../logger.ts';
import { DYNAMIC_METADATA } from './client-metadata.ts';

export const DYNAMIC_CLIENT_IDLE_DAYS = 30;
const TOUCH_EVERY_MS = 3600_000;
const CLEANUP_EVERY_MS = 3600_000;

export function trackDynamicClientUse(provider: Provider, models: Pick<Models, 'OidcClient'>, logger: Logger, now: () => number = Date.now): void {
  const touched = new Map<string, number>();
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const client = ctx.oidc.client;
    if (!client || client[DYNAMIC_METADATA] !== true) return;
    const last = touched.get(client.clientId);
    if (last !== undefined && now() - last < TOUCH_EVERY_MS) return;
    touched.set(client.clientId, now());
    models.OidcClient.update({ lastUsedAt: new Date(now()) }, { where: { clientId: client.clientId, source: 'dynamic' } }).catch((err: unknown) => {
      touched.delete(client.clientId);
      logger.warn({ err, clientId: client.clientId }, 'could not record the use of a dynamic client');
    });
  });
}

/** Removes dynamic clients without a token request for 30 days; returns how many. */
export async function removeIdleDynamicClients(models: Pick<Models, 'OidcClient'>, now: Date = new Date()): Promise<number> {
  const cutoff = new Date(now.getTime() - DYNAMIC_CLIENT_IDLE_DAYS * 24 * 3600_000);
  return models.OidcClient.destroy({
    where: {
      source: 'dynamic',
      [Op.or]: [{ lastUsedAt: { [Op.lt]: cutoff } }, { lastUsedAt: null, createdAt: { [Op.lt]: cutoff } }],
    },
  });
}

/** Starts the hourly clean-up; the returned function stops it. */
export function scheduleDynamicClientCleanup(models: Pick<Models, 'OidcClient'>, logger: Logger, everyMs = CLEANUP_EVERY_MS): () => void {
  const run = () => {
    removeIdleDynamicClients(models)
      .then((removed) => {
        if (removed) logger.info({ removed }, 'removed dynamic clients unused for 30 days');
      })
      .catch((err: unknown) => logger.warn({ err }, 'dynamic client clean-up failed'));
  };
  const timer = setInterval(run, everyMs);
  timer.unref();
  const first = setTimeout(run, 1000);
  first.unref();
  return () => {
    clearInterval(timer);
    clearTimeout(first);
  };
}
