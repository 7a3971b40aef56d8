/**
 * A tiny cookie-keeping HTTP client for page tests without a browser: follows nothing by itself (each
 * redirect is visible to the test), keeps cookies per host and path like a browser would.
 */
export interface PageResponse {
  status: number;
  location: string | null;
  text: string;
  headers: Headers;
  url: string;
}

export function createBrowserFetch(base: string) {
  const jar = new Map<string, { value: string; path: string }>();

  function cookieHeader(url: URL): string {
    return [...jar.entries()]
      .filter(([, cookie]) => url.pathname === cookie.path || url.pathname.startsWith(cookie.path.endsWith('/') ? cookie.path : `${cookie.path}/`) || cookie.path === '/')
      .map(([name, cookie]) => `${name}=${cookie.value}`)
      .join('; ');
  }

  function remember(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
      const index = pair.indexOf('=');
      const name = pair.slice(0, index);
      const value = pair.slice(index + 1);
      const path = attributes.find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/';
      const expired = attributes.some((a) => /^expires=Thu, 01 Jan 1970/i.test(a)) || attributes.some((a) => /^max-age=0$/i.test(a)) || value === '';
      if (expired) jar.delete(name);
      else jar.set(name, { value, path });
    }
  }

  async function request(method: string, target: string, form?: Record<string, string | string[]>): Promise<PageResponse> {
    const url = new URL(target, base);
    const headers: Record<string, string> = { cookie: cookieHeader(url), accept: 'text/html' };
    let body: string | undefined;
    if (form) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(form)) for (const one of Array.isArray(value) ? value : [value]) params.append(key, one);
      body = params.toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    remember(res.headers);
    return { status: res.status, location: res.headers.get('location'), text: await res.text(), headers: res.headers, url: url.toString() };
  }

  return {
    jar,
    get: (target: string) => request('GET', target),
    post: (target: string, form: Record<string, string | string[]>) => request('POST', target, form),
    /** GET, then follow redirects (as GETs) until a page answers. */
    async follow(target: string, first?: PageResponse): Promise<PageResponse> {
      let res = first ?? (await request('GET', target));
      for (let hops = 0; res.location && res.status >= 300 && res.status < 400 && hops < 10; hops += 1) {
        res = await request('GET', new URL(res.location, res.url).toString());
      }
      return res;
    },
  };
}

/** The value of a hidden input in a page. */
export function hiddenValue(html: string, name: string): string {
  const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!match?.[1]) throw new Error(`no hidden input ${name} in the page`);
  return match[1];
}

/** The action of the first form whose action matches. */
export function formAction(html: string, pattern: RegExp): string {
  for (const match of html.matchAll(/<form[^>]*action="([^"]+)"/g)) if (match[1] && pattern.test(match[1])) return match[1].replace(/&amp;/g, '&');
  throw new Error(`no form with an action matching ${pattern}`);
}
