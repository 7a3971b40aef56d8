/**
 * Store keys of the OIDC side. Keys of one account carry the same hash tag `{u:<id>}` as the session
 * service's, so a user's sessions and grant index share a Redis Cluster slot.
 */
export const tokenKey = (model: string, id: string): string => `oidc:${model}:${id}`;
export const grantIndexKey = (grantId: string): string => `oidc:grant-members:${grantId}`;
export const accountGrantsKey = (accountId: string): string => `oidc:grants:{u:${accountId}}`;
export const sessionUidKey = (uid: string): string => `oidc:session-uid:${uid}`;
export const userCodeKey = (userCode: string): string => `oidc:user-code:${userCode}`;
/** Epoch seconds before which every access token of the grant counts as revoked. */
export const accessTokenCutoffKey = (grantId: string): string => `oidc:grant-at-cutoff:${grantId}`;
/** The shared session (session service) an SSO session belongs to. */
export const sessionLinkKey = (uid: string): string => `oidc:session-link:${uid}`;

/** A grant index member names the model too, so each model's revokeByGrantId deletes only its own. */
export const grantMember = (model: string, id: string): string => `${model}:${id}`;
