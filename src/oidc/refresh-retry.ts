/**
 * REFRESH_REUSE_INTERVAL for OIDC refresh tokens (CONTRACT §5, §11): agents and single-page apps refresh
 * in parallel, and strict replay detection would log them out. A refresh token presented again within the
 * interval after its rotation gets the same successor pair as the request that rotated it; after the
 * interval a replay still revokes the grant (oidc-provider's own handling).
 *
 * The refresh_token grant is oidc-provider's own handler, wrapped through the public registerGrantType
 * (it runs after client authentication). Each presented token gets one coordination record in the Store:
 *  - `pending` while one request (the one that set it, atomically with set-if-absent) runs the handler;
 *    requests with the same token meanwhile wait for it instead of racing it into a replay;
 *  - `done` once that request rotated the token: the answer it gave, encrypted (AES-256-GCM) with a key
 *    derived from the presented token, so reading the Store yields no usable token; kept for the interval.
 * The window opens once per rotation, for the rotated token only: every presentation of it inside the
 * window (10 parallel ones included) gets that one answer; the successor opens its own window when it is
 * rotated in turn. A request whose handler did not rotate (or failed) removes `pending`, and the waiting
 * requests then run the handler themselves.
 */
import { hash } from 'node:crypto';
import { openUnderToken, sealUnderToken } from '../services/token-sealed.ts';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { handler as refreshTokenHandler, parameters as refreshTokenParameters } from 'oidc-provider/lib/actions/grants/refresh_token.js';
import * as grantHelpers from 'oidc-provider/lib/helpers/grants.js';
import type { Store } from '../store/store.ts';
import type { AuditService } from '../services/audit.ts';

/** How long a request may hold `pending` (and others wait for it) before the record expires on its own. */
const PENDING_SECONDS = 10;
const POLL_MS = 20;

interface PendingRecord {
  state: 'pending';
  at: number;
}

interface DoneRecord {
  state: 'done';
  /** Epoch milliseconds of the rotation. */
  at: number;
  clientId: string;
  grantId: string;
  accountId: string | null;
  /** The token response, encrypted with the presented token's key: base64url(iv | tag | ciphertext). */
  box: string;
}

type RetryRecord = PendingRecord | DoneRecord;

const recordKey = (token: string): string => `oidc:rt-retry:${hash('sha256', `record|${token}`, 'base64url')}`;
const BOX = 'oidc-refresh-retry';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface RefreshRetryOptions {
  store: Store;
  /** REFRESH_REUSE_INTERVAL in seconds; 0 leaves oidc-provider's handler alone. */
  intervalSeconds: number;
  audit: Pick<AuditService, 'record'>;
  now?: () => number;
}

export function useRefreshRetryWindow(provider: Provider, options: RefreshRetryOptions): void {
  const { store, intervalSeconds, audit } = options;
  if (intervalSeconds <= 0) return;
  const now = options.now ?? Date.now;
  const boundHelpers = Object.fromEntries(Object.entries(grantHelpers).map(([name, helper]) => [name, helper.bind(undefined, provider)]));
  const original = (ctx: KoaContextWithOIDC) => refreshTokenHandler(provider, boundHelpers, ctx);

  /** Runs the handler as the one request for this token; records the answer when it rotated. */
  async function rotate(ctx: KoaContextWithOIDC, token: string, key: string): Promise<void> {
    try {
      await original(ctx);
    } catch (err) {
      await store.delete(key).catch(() => undefined);
      throw err;
    }
    const rotated = ctx.oidc.entities.RotatedRefreshToken;
    if (!rotated || !ctx.body) {
      await store.delete(key);
      return;
    }
    const record: DoneRecord = {
      state: 'done',
      at: now(),
      clientId: ctx.oidc.client?.clientId ?? '',
      grantId: rotated.grantId ?? '',
      accountId: rotated.accountId ?? null,
      box: sealUnderToken(BOX, token, ctx.body),
    };
    await store.set(key, record, intervalSeconds + 1);
  }

  /** The recorded answer, if it may be given to this request: same client, inside the window, grant alive. */
  async function replay(ctx: KoaContextWithOIDC, token: string, record: DoneRecord): Promise<boolean> {
    const elapsed = now() - record.at;
    if (elapsed > intervalSeconds * 1000 || record.clientId !== ctx.oidc.client?.clientId) return false;
    if (!(await provider.Grant.find(record.grantId))) return false;
    const body = openUnderToken<Record<string, unknown>>(BOX, token, record.box);
    if (!body) return false;
    if (typeof body.expires_in === 'number') body.expires_in = Math.max(1, body.expires_in - Math.floor(elapsed / 1000));
    ctx.body = body;
    void audit.record({
      type: 'refresh_retry',
      outcome: 'success',
      userId: record.accountId,
      clientId: record.clientId,
      ip: ctx.ip,
      userAgent: ctx.get('user-agent') || null,
      detail: { door: 'oidc', elapsed_ms: elapsed },
    });
    return true;
  }

  async function handler(ctx: KoaContextWithOIDC): Promise<void> {
    const token = ctx.oidc.params?.refresh_token;
    if (typeof token !== 'string' || token.length === 0) return original(ctx);
    const key = recordKey(token);
    const deadline = now() + PENDING_SECONDS * 1000;
    while (now() < deadline) {
      const record = await store.get<RetryRecord>(key);
      if (record === undefined) {
        const claim: PendingRecord = { state: 'pending', at: now() };
        if (await store.compareAndSet<RetryRecord>(key, undefined, claim, PENDING_SECONDS)) return rotate(ctx, token, key);
        continue;
      }
      if (record.state === 'done') {
        if (await replay(ctx, token, record)) return;
        break;
      }
      await sleep(POLL_MS);
    }
    // Outside the window (or another client's token): oidc-provider decides, and a replay revokes the grant.
    return original(ctx);
  }

  const parameters = new Set([...refreshTokenParameters, 'resource']);
  provider.registerGrantType('refresh_token', handler, parameters, new Set(['resource']));
}
