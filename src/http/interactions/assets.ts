/**
 * Serves our own stylesheet(s) from public/ under /assets: a fixed list read at start, never a path
 * from the request, so nothing outside public/ can be reached.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';

export const PUBLIC_DIR = path.resolve(import.meta.dirname, '../../../public');

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon' };

export function assetsRouter(dir = PUBLIC_DIR): Router {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[path.extname(name)];
    if (type) files.set(name, { body: readFileSync(path.join(dir, name)), type });
  }
  // The WebAuthn browser library, served from our own origin (CSP script-src 'self'), for the passkey pages.
  const webauthn = fileURLToPath(new URL('../dist/bundle/index.umd.min.js', import.meta.resolve('@simplewebauthn/browser')));
  files.set('webauthn.js', { body: readFileSync(webauthn), type: 'text/javascript; charset=utf-8' });
  const router = new Router({ prefix: '/assets' });
  router.get('/:name', (ctx, next) => {
    const file = files.get(ctx.params.name ?? '');
    if (!file) return next();
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.type = file.type;
    ctx.body = file.body;
  });
  return router;
}
