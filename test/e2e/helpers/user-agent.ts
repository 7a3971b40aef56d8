/**
 * A minimal browser for protocol tests: a cookie jar (path-scoped, one host), manual redirects and HTML
 * forms read with regular expressions. Enough to drive the login and consent pages the way a browser
 * without JavaScript would; the Chromium test covers a real browser.
 */
export interface Page {
  url: string;
  status: number;
  headers: Headers;
  body: string;
}

interface Cookie {
  name: string;
  value: string;
  path: string;
}

export interface FormField {
  name: string;
  value: string;
}

export interface HtmlForm {
  action: string;
  method: string;
  fields: FormField[];
}

function decodeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attribute(tag: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag);
  return match?.[1] === undefined ? undefined : decodeHtml(match[1]);
}

/** The forms of a page with their hidden inputs (and the value of named inputs). */
export function formsOf(html: string, base: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  for (const match of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const [, attrs = '', inner = ''] = match;
    const fields: FormField[] = [];
    for (const input of inner.matchAll(/<input\b[^>]*>/gi)) {
      const name = attribute(input[0], 'name');
      if (name) fields.push({ name, value: attribute(input[0], 'value') ?? '' });
    }
    forms.push({ action: new URL(attribute(`<form ${attrs}`, 'action') ?? base, base).href, method: (attribute(`<form ${attrs}`, 'method') ?? 'get').toLowerCase(), fields });
  }
  return forms;
}

export class UserAgent {
  private cookies: Cookie[] = [];

  /** The value of a cookie the jar would send to `url` (for assertions). */
  cookieValue(url: string, name: string): string | undefined {
    return this.matching(url).find((cookie) => cookie.name === name)?.value;
  }

  /** Cookies the jar would send to `url` (for assertions). */
  cookieNames(url: string): string[] {
    return this.matching(url).map((cookie) => cookie.name);
  }

  private matching(url: string): Cookie[] {
    const { pathname } = new URL(url);
    return this.cookies.filter((cookie) => pathname === cookie.path || pathname.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`));
  }

  private store(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let path = '/';
      let expired = value === '';
      for (const attr of attributes) {
        const [key = '', val = ''] = attr.split('=');
        if (key.toLowerCase() === 'path') path = val || '/';
        if (key.toLowerCase() === 'expires' && Date.parse(val) <= Date.now()) expired = true;
        if (key.toLowerCase() === 'max-age' && Number(val) <= 0) expired = true;
      }
      this.cookies = this.cookies.filter((cookie) => !(cookie.name === name && cookie.path === path));
      if (!expired) this.cookies.push({ name, value, path });
    }
  }

  async request(url: string, init: { method?: string; form?: Record<string, string> | FormField[]; headers?: Record<string, string> } = {}): Promise<Page> {
    const headers: Record<string, string> = { ...init.headers };
    const jar = this.matching(url);
    if (jar.length) headers.cookie = jar.map((cookie) => `${cookie.name}=${cookie.value}`).join('; ');
    let body: string | undefined;
    if (init.form) {
      const params = new URLSearchParams();
      const entries = Array.isArray(init.form) ? init.form.map((field) => [field.name, field.value] as const) : Object.entries(init.form);
      for (const [name, value] of entries) params.append(name, value);
      body = params.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const response = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    this.store(response.headers);
    return { url, status: response.status, headers: response.headers, body: await response.text() };
  }

  /**
   * Follows redirects from `page` until a page that is not a redirect, or a redirect to a URL starting
   * with `stopAt` (the relying party's callback), which is returned without being requested.
   */
  async follow(page: Page, stopAt?: string): Promise<Page> {
    let current = page;
    for (let hops = 0; hops < 20; hops += 1) {
      const location = current.headers.get('location');
      if (current.status < 300 || current.status >= 400 || !location) return current;
      const next = new URL(location, current.url).href;
      if (stopAt && next.startsWith(stopAt)) return { url: next, status: 0, headers: new Headers(), body: '' };
      current = await this.request(next);
    }
    throw new Error('too many redirects');
  }

  async open(url: string, stopAt?: string): Promise<Page> {
    return this.follow(await this.request(url), stopAt);
  }

  /** Submits the page's form whose action contains `actionPart`, with `values` and optionally the named button. */
  async submit(page: Page, actionPart: string, values: Record<string, string> = {}, stopAt?: string): Promise<Page> {
    const form = formsOf(page.body, page.url).find((candidate) => candidate.action.includes(actionPart));
    if (!form) throw new Error(`no form posting to ${actionPart} on ${page.url} (status ${page.status}):\n${page.body.slice(0, 2000)}`);
    const fields = form.fields.filter((field) => !(field.name in values)).concat(Object.entries(values).map(([name, value]) => ({ name, value })));
    return this.follow(await this.request(form.action, { form: fields }), stopAt);
  }
}
