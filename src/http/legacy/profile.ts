/**
 * What a legacy profile is: how it reads each operation's input (zod schemas that both validate and
 * document) and how it renders each result and error. Adding a profile is one file built from these.
 */
import type { z } from 'zod';
import type { ProfileName } from '../../config.ts';
import type { ErrorRenderer } from '../context.ts';
import type { AccountView } from '../../services/accounts/view.ts';
import { validate, type Location } from '../middleware/validate.ts';
import type { OperationInputs, OperationName, OperationResults } from './operations.ts';

export interface RequestSpec<I> {
  location: Location | 'none';
  /** Validates and documents the raw input (body, query or path parameters). */
  schema: z.ZodType;
  /** Validates (422 on failure) and maps to the operation's input. */
  parse(raw: unknown): I;
}

export function request<S extends z.ZodType, I>(location: Location | 'none', schema: S, map: (value: z.output<S>) => I): RequestSpec<I> {
  return { location, schema, parse: (raw) => map(validate(schema, raw, location === 'none' ? 'body' : location)) };
}

export interface Reply<R> {
  status: number;
  /** The response body, for the OpenAPI document. */
  schema: z.ZodType;
  render(result: R): unknown;
  /** Set on replies that are only a message: the envelope profile moves it to its `message` member. */
  message?: (result: R) => string;
}

/** A body described by `schema`; the renderer's return type is the schema's, so the two cannot drift apart. */
export function dataReply<S extends z.ZodType, R>(status: number, schema: S, render: (result: R) => z.input<S>): Reply<R> {
  return { status, schema, render };
}

export type Requests = { [K in OperationName]: RequestSpec<OperationInputs[K]> } & {
  /** GET <mount>/verify-email?token=…: the link in the verification e-mail. */
  verifyEmailLink: RequestSpec<OperationInputs['verifyEmail']>;
};

export type Replies = { [K in OperationName]: Reply<OperationResults[K]> };

export interface Profile {
  name: ProfileName;
  title: string;
  description: string;
  /** Where a form-encoded login's `username` field goes (OAuth2 password forms always say `username`). */
  loginField: 'username' | 'email';
  requests: Requests;
  replies: Replies;
  renderError: ErrorRenderer;
  /** Error bodies, for the OpenAPI document: every error but 422, and the 422. */
  errorSchemas: { error: z.ZodType; validation: z.ZodType; enveloped?: z.ZodType };
  /** Error codes rendered in the `enveloped` shape rather than `error` (envelope's two). */
  isEnveloped?: (code: string) => boolean;
  /** Status a given error code is answered with when the profile differs from the service's (envelope: 409). */
  errorStatus?: (code: string, status: number) => number;
  /** Claims its access tokens carry beyond CONTRACT §5's (v2: `organization_id`). */
  tokenClaims?: (account: AccountView) => Record<string, unknown>;
  /** Logout needs a bearer token (seed 002's logout depends on the verified current user); default optional. */
  logoutRequiresBearer?: boolean;
  /** A missing bearer under `missing_bearer: 401`: FastAPI's "Not authenticated" (HTTPBearer services), else the bad-token 401. */
  httpBearer?: boolean;
  /** How the `/mfa` routes' bodies are sent (envelope: inside `{success, data, message: null}`); as they are by default. */
  wrapData?: (data: unknown) => unknown;
}
