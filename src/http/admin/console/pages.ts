/**
 * Rendering for the console: its own templates (views/admin, with their own layout and stylesheet), the
 * signed-in admin and the form token on every page, fixed notices after a change (never text from the
 * URL), and the small helpers the page handlers share.
 */
import path from 'node:path';
import type { Context } from 'koa';
import { VIEWS_DIR, createViews } from '../../interactions/views.ts';
import type { ValidationIssue } from '../../../errors.ts';
import { setNoStore } from '../../middleware/no-store.ts';

const NOTICES: Record<string, string> = {
  'user-created': 'The user was created.',
  'user-deactivated': 'The user was deactivated: every session and grant has ended.',
  'user-suspended': 'The user was suspended: every session and grant has ended.',
  'user-activated': 'The user was activated.',
  'user-deleted': 'The user was deleted.',
  'roles-saved': 'The roles were saved.',
  'reset-sent': 'A password reset link is on its way to the user.',
  'session-revoked': 'The session was revoked.',
  'sessions-revoked': 'Every session of the user was revoked.',
  'grant-revoked': 'The app\'s access was revoked, with every token it held.',
  'mfa-removed': 'Every second factor of the user was removed; their next sign-in needs the password only.',
  'role-created': 'The role was created.',
  'role-deleted': 'The role was deleted.',
  'organization-created': 'The organization was created.',
  'member-saved': 'The membership was saved.',
  'member-removed': 'The member was removed.',
  'client-deleted': 'The client was deleted.',
  'resource-created': 'The resource was added.',
  'resource-deleted': 'The resource was deleted.',
};

const FIELD_LABELS: Record<string, string> = {
  email: 'E-mail',
  password: 'Password',
  username: 'Username',
  full_name: 'Full name',
  name: 'Name',
  slug: 'Slug',
  description: 'Description',
  roles: 'Roles',
  user_id: 'User',
  role: 'Role',
  redirect_uris: 'Redirect URIs',
  backchannel_logout_uri: 'Back-channel logout URI',
  grant_types: 'Grant types',
  client_name: 'Name',
  since: 'From',
  until: 'Until',
  type: 'Type',
};

export interface MessageLocals {
  title: string;
  heading: string;
  message: string;
  link?: { href: string; label: string };
  tone?: 'error';
  /** A sign-out button with this form token. */
  signOut?: string;
}

/** Issues of a 422 in words for a form: "E-mail: value is not a valid email address…". */
export function issueMessages(issues: readonly ValidationIssue[]): string[] {
  return issues.map((issue) => {
    const field = issue.loc.find((part, index) => index > 0 && typeof part === 'string');
    const label = typeof field === 'string' ? (FIELD_LABELS[field] ?? field) : undefined;
    return label ? `${label}: ${issue.msg}` : issue.msg;
  });
}

/** Dates as the console shows them: UTC, to the minute. */
export function when(value: Date | string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '—' : `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A form field as a string (a repeated field gives its first value). */
export function field(form: Record<string, unknown>, name: string): string {
  const value = form[name];
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : '';
  return typeof value === 'string' ? value : '';
}

/** A repeated form field (checkboxes) as a list. */
export function fieldList(form: Record<string, unknown>, name: string): string[] {
  const value = form[name];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return typeof value === 'string' ? [value] : [];
}

export function formOf(ctx: Context): Record<string, unknown> {
  const body = (ctx.request as { body?: unknown }).body;
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

export interface Pager {
  previous?: string;
  next?: string;
  label: string;
}

/** Previous/next links that keep the page's other query parameters. */
export function pager(base: string, query: Record<string, string | undefined>, offset: number, limit: number, total: number): Pager {
  const link = (at: number) => {
    const params = new URLSearchParams(Object.entries({ ...query, offset: at ? String(at) : undefined }).filter((e): e is [string, string] => Boolean(e[1])));
    const text = params.toString();
    return text ? `${base}?${text}` : base;
  };
  const last = Math.min(offset + limit, total);
  return {
    previous: offset > 0 ? link(Math.max(0, offset - limit)) : undefined,
    next: offset + limit < total ? link(offset + limit) : undefined,
    label: total ? `${offset + 1}–${last} of ${total}` : '',
  };
}

/** Sends the browser on after a change (303, so a reload does not post again), with a fixed notice. */
export function seeOther(ctx: Context, location: string, notice?: keyof typeof NOTICES): void {
  ctx.status = 303;
  ctx.redirect(notice ? `${location}${location.includes('?') ? '&' : '?'}notice=${notice}` : location);
}

export function createConsolePages(options: { dir?: string } = {}) {
  const views = createViews({ dir: options.dir ?? path.join(VIEWS_DIR, 'admin'), siteName: 'Admin console' });

  async function render(ctx: Context, status: number, name: string, locals: Record<string, unknown> & { title: string }): Promise<void> {
    const state = ctx.state.console;
    const notice = typeof ctx.query.notice === 'string' ? NOTICES[ctx.query.notice] : undefined;
    ctx.status = status;
    setNoStore(ctx);
    ctx.type = 'html';
    ctx.body = await views.render(name, {
      admin: state?.account,
      csrf: state?.session.csrf ?? '',
      notice,
      errors: [],
      when,
      ...locals,
    });
  }

  return {
    render,
    message: (ctx: Context, status: number, locals: MessageLocals) => render(ctx, status, 'message', { ...locals }),
  };
}

export type ConsolePages = ReturnType<typeof createConsolePages>;
