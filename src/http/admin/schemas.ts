/**
 * What the admin API accepts. Field limits match the legacy doors' (CONTRACT §2): passwords 8–256,
 * e-mail addresses as pydantic's `EmailStr`, usernames per §2 (identifier-fields.ts).
 */
import { z } from 'zod';
import { emailField, usernameField } from '../identifier-fields.ts';
import { USER_STATUSES } from '../../services/admin/users.ts';
import { MEMBERSHIP_ROLES } from '../../services/admin/organizations.ts';
import { isUuid } from '../../services/identifiers.ts';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../services/passwords.ts';

export const MAX_PAGE = 200;

const roleName = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, "String should match pattern '^[A-Za-z0-9_.:-]{1,64}$'");
const username = usernameField;
const queryBoolean = z.enum(['true', 'false', '1', '0']).transform((value) => value === 'true' || value === '1');

export const pagination = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
  offset: z.coerce.number().int().min(0).max(10_000_000).default(0),
};

export const userSearchQuery = z.object({
  q: z.string().max(320).optional(),
  status: z.enum(USER_STATUSES).optional(),
  ...pagination,
});

export const createUserBody = z.object({
  email: emailField,
  password: z.string().min(PASSWORD_MIN_LENGTH).max(PASSWORD_MAX_LENGTH),
  username: username.nullable().optional(),
  full_name: z.string().max(255).nullable().optional(),
  roles: z.array(roleName).max(50).optional(),
});

export const updateUserBody = z.object({
  status: z.enum(USER_STATUSES).optional(),
  roles: z.array(roleName).max(50).optional(),
  full_name: z.string().max(255).nullable().optional(),
  phone: z.string().max(64).nullable().optional(),
  username: username.optional(),
  email_verified: z.boolean().optional(),
});

export const sessionsQuery = z.object({ include_expired: queryBoolean.optional() });

export const createRoleBody = z.object({
  name: roleName,
  description: z.string().max(1000).nullable().optional(),
});

export const organizationsQuery = z.object({ q: z.string().max(255).optional(), ...pagination });

export const createOrganizationBody = z.object({
  name: z.string().trim().min(1).max(255),
  slug: z.string().max(255).regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "String should match pattern '^[a-z0-9]+(-[a-z0-9]+)*$'").optional(),
});

export const memberBody = z.object({
  user_id: z.string().max(64),
  role: z.enum(MEMBERSHIP_ROLES).default('member'),
});

const isoInstant = z
  .union([z.iso.datetime({ offset: true }), z.iso.date()], { error: 'Input should be a valid datetime or date' })
  .transform((value) => new Date(value));

export const auditQuery = z.object({
  user_id: z.string().refine(isUuid, 'Input should be a valid UUID').optional(),
  type: z.string().min(1).max(64).optional(),
  since: isoInstant.optional(),
  until: isoInstant.optional(),
  ...pagination,
});

const uri = z.string().min(1).max(2000);
const uris = z.array(uri).max(50);

/** The client metadata the admin API manages; everything else keeps the provider's defaults. */
export const clientMetadataShape = {
  client_name: z.string().min(1).max(255),
  redirect_uris: uris,
  post_logout_redirect_uris: uris,
  /** OIDC Back-Channel Logout 1.0: where logout tokens are POSTed, and whether the client needs `sid` in them (it always gets it). */
  backchannel_logout_uri: uri,
  backchannel_logout_session_required: z.boolean(),
  grant_types: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code'])).max(4),
  response_types: z.array(z.enum(['code'])).max(1),
  token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']),
  application_type: z.enum(['web', 'native']),
  scope: z.string().max(1000),
  web_origins: uris,
  client_uri: uri,
  logo_uri: uri,
  policy_uri: uri,
  tos_uri: uri,
  jwks_uri: uri,
  // Inline public keys for private_key_jwt (RFC 7591); oidc-provider checks each key and refuses private ones.
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1).max(20) }).strict(),
  contacts: z.array(z.string().max(320)).max(20),
  id_token_signed_response_alg: z.enum(['RS256', 'ES256']),
  /** May exchange tokens minted for the resources it runs (RFC 8693, CONTRACT §11). */
  token_exchange: z.boolean(),
};

export const CLIENT_METADATA_KEYS = Object.keys(clientMetadataShape);

export const createClientBody = z
  .object({
    client_id: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'client_id must be 1 to 255 printable ASCII characters').optional(),
    first_party: z.boolean().optional(),
    ...Object.fromEntries(Object.entries(clientMetadataShape).map(([key, schema]) => [key, schema.optional()])),
  })
  .strict();

export const updateClientBody = z
  .object({
    first_party: z.boolean().optional(),
    rotate_secret: z.boolean().optional(),
    // null removes a member (back to the provider's default).
    ...Object.fromEntries(Object.entries(clientMetadataShape).map(([key, schema]) => [key, schema.nullable().optional()])),
  })
  .strict();

export const createResourceBody = z
  .object({
    indicator: z.string().min(1).max(2000),
    scope: z.string().min(1).max(1000),
    access_token_ttl: z.number().int().min(60).max(86_400).nullable().optional(),
    server_client_id: z.string().regex(/^[\x21-\x7e]{1,255}$/, 'server_client_id must be 1 to 255 printable ASCII characters').nullable().optional(),
  })
  .strict();

export const initialAccessTokenBody = z
  .object({ expires_in: z.number().int().min(60).max(30 * 86_400).optional() })
  .strict();
