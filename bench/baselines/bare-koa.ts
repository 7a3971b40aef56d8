/**
 * Baseline for GET /auth/me: the naive minimum a resource server does for a bearer token — a bare Koa
 * app that verifies the same ES256 JWT with jose (the key imported once) and does one Redis GET (the
 * session), with no logging, headers or error handling of ours.
 * Environment: PORT, REDIS_URL, JWKS_FILE (public JWKS), ISSUER, KEY_PREFIX (the product's store prefix).
 */
import { readFileSync } from 'node:fs';
import Koa from 'koa';
import { Redis } from 'ioredis';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { sessionKey } from '../../src/services/sessions.ts';

const env = process.env;
const jwks = createLocalJWKSet(JSON.parse(readFileSync(env.JWKS_FILE ?? '', 'utf8')) as JSONWebKeySet);
const issuer = env.ISSUER ?? '';
const redis = new Redis(env.REDIS_URL ?? 'redis://127.0.0.1:6379', { keyPrefix: env.KEY_PREFIX ?? '' });
const BEARER = /^Bearer (.+)$/;

const app = new Koa();
app.use(async (ctx) => {
  if (ctx.path === '/healthz') {
    ctx.body = 'ok';
    return;
  }
  if (ctx.path !== '/me') {
    ctx.status = 404;
    return;
  }
  const token = BEARER.exec(ctx.get('authorization'))?.[1];
  if (!token) {
    ctx.status = 401;
    return;
  }
  try {
    const { payload } = await jwtVerify(token, jwks, { issuer, algorithms: ['ES256'] });
    const session = await redis.get(sessionKey(String(payload.sub), String(payload.sid)));
    if (!session) {
      ctx.status = 401;
      return;
    }
    ctx.body = { id: payload.sub, username: payload.preferred_username, email: payload.email, is_active: true };
  } catch {
    ctx.status = 401;
  }
});
app.listen(Number(env.PORT), '127.0.0.1');
