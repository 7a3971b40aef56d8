/**
 * `<mount>/openapi.json` and `<mount>/docs`: Swagger UI from the installed swagger-ui-dist package,
 * served by us (no CDN), started by a small script file because the CSP forbids inline script.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type Router from '@koa/router';

const require = createRequire(import.meta.url);
const DIST = path.dirname(require.resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};
// Swagger UI sets inline styles and loads images as data: URIs; everything else stays 'self'.
const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

const cache = new Map<string, Promise<Buffer>>();
function asset(name: string): Promise<Buffer> {
  let content = cache.get(name);
  if (!content) {
    content = readFile(path.join(DIST, name));
    cache.set(name, content);
  }
  return content;
}

const escape = (text: string): string => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);

export function mountDocs(router: Router, options: { prefix: string; title: string; document: () => Record<string, unknown> }): void {
  const { prefix } = options;
  let document: string | undefined;

  router.get('/openapi.json', (ctx) => {
    document ??= JSON.stringify(options.document());
    ctx.type = 'application/json';
    ctx.body = document;
  });

  router.get('/docs', (ctx) => {
    ctx.set('Content-Security-Policy', DOCS_CSP);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(options.title)} - Swagger UI</title>
<link rel="stylesheet" href="${escape(prefix)}/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="${escape(prefix)}/docs/assets/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="${escape(prefix)}/docs/assets/swagger-ui-bundle.js"></script>
<script src="${escape(prefix)}/docs/init.js"></script>
</body>
</html>
`;
  });

  router.get('/docs/init.js', (ctx) => {
    ctx.type = 'application/javascript; charset=utf-8';
    ctx.body = `window.ui = SwaggerUIBundle(${JSON.stringify({ url: `${prefix}/openapi.json`, dom_id: '#swagger-ui', deepLinking: true })});\n`;
  });

  router.get('/docs/assets/:file', async (ctx) => {
    const type = ASSETS[ctx.params.file ?? ''];
    if (!type || !ctx.params.file) return;
    ctx.type = type;
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = await asset(ctx.params.file);
  });
}
