/**
 * What a user granted to applications (CONTRACT §7 `/users/:id/grants`, §10 "Connected apps"), as the
 * services see it. Grants are oidc-provider data, so the implementation lives in src/oidc/user-grants.ts;
 * this port lets the admin and account services use it without importing the OIDC layer.
 */

/** One grant as every door lists it: times are ISO-8601, `last_used_at` null when no token came from it yet. */
export interface UserGrantView {
  id: string;
  client_id: string;
  /** The client's `client_name`, or null (no name, or the client is gone). */
  client_name: string | null;
  /** OpenID scopes and every resource's scopes, each once, in the order first granted. */
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
}

/** What a listener of a revoked grant is told (the lead connects back-channel logout to it). */
export interface GrantRevokedEvent {
  accountId: string;
  clientId: string;
  grantId: string;
  /** The `sid` the client knows the user's SSO session by, when the grant was made in one still alive. */
  sid?: string;
}

export type GrantRevokedListener = (grant: GrantRevokedEvent) => void | Promise<void>;

export interface UserGrants {
  /** The user's live grants, newest first. */
  list(userId: string): Promise<UserGrantView[]>;
  /** Revokes the grant and every code and token minted from it; false when it is not this user's (or gone). */
  revoke(userId: string, grantId: string): Promise<boolean>;
  /** Called after each revocation; a listener that throws or rejects never fails the revocation. */
  onGrantRevoked(listener: GrantRevokedListener): void;
}
