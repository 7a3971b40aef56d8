/**
 * The audit trail of the OIDC door (CONTRACT §6): the replay of a used refresh token or authorization
 * code (its grant is revoked) and RP-initiated logout. Logins are audited by the account service the
 * login page calls. Recording never fails a request (the audit service swallows its own errors).
 */
import { errors } from 'oidc-provider';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { AuditService } from '../services/audit.ts';
import { clientIp } from '../http/client-ip.ts';

const REPLAY = /already (used|consumed)/;

function requestFacts(ctx: KoaContextWithOIDC) {
  return { ip: clientIp(ctx), userAgent: ctx.get('user-agent') || null, clientId: ctx.oidc?.client?.clientId ?? null };
}

export function auditProviderEvents(provider: Provider, audit: Pick<AuditService, 'record'>): void {
  provider.on('grant.error', (ctx: KoaContextWithOIDC, err: Error) => {
    if (!(err instanceof errors.InvalidGrant)) return;
    const detail = String((err as { error_detail?: unknown }).error_detail ?? '');
    if (!REPLAY.test(detail)) return;
    const grantType = String(ctx.oidc.params?.grant_type ?? '');
    const source = ctx.oidc.entities.RefreshToken ?? ctx.oidc.entities.AuthorizationCode;
    void audit.record({
      type: grantType === 'authorization_code' ? 'code_reuse' : 'refresh_reuse',
      outcome: 'failure',
      userId: source?.accountId ?? null,
      ...requestFacts(ctx),
      detail: { door: 'oidc', grant_type: grantType, grant_revoked: true },
    });
  });

  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    void audit.record({
      type: 'logout',
      outcome: 'success',
      userId: ctx.oidc.session?.accountId ?? null,
      ...requestFacts(ctx),
      detail: { door: 'oidc' },
    });
  });
}
