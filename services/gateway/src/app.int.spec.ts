import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Controller, Get, Module } from '@nestjs/common';
import { createGatewayApp } from './app';
import { Public } from './auth/roles';
import { gatewayConfigFromEnv, GatewayConfigError } from './config';
import { type GatewayKit, startGatewayKit } from './gateway-test-kit';

jest.setTimeout(120_000);

/** A route that fails the way a bug would: its message holds something that must not leak. */
@Controller('api/test-boom')
class BoomController {
  @Public()
  @Get()
  boom(): never {
    throw new Error('connection string postgres://user:hunter2@db');
  }
}
@Module({ controllers: [BoomController] })
class BoomModule {}

describe('gateway app (security headers, CORS, OpenAPI, dashboard, errors)', () => {
  let kit: GatewayKit;
  beforeAll(async () => {
    kit = await startGatewayKit();
  });
  afterAll(async () => {
    await kit.close();
  });

  it('sets security headers and keeps CORS closed by default', async () => {
    const r = await kit.app.inject({ method: 'GET', url: '/api/auth/me', headers: { origin: 'https://evil.example' } });
    expect(r.headers['x-content-type-options']).toBe('nosniff');
    expect(r.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(r.headers['content-security-policy']).toContain("default-src 'self'");
    expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(r.headers['referrer-policy']).toBe('no-referrer');
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
    const preflight = await kit.app.inject({ method: 'OPTIONS', url: '/api/auth/login', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('serves the OpenAPI document from the code, listing the auth, stream and API routes', async () => {
    const r = await kit.app.inject({ method: 'GET', url: '/api/docs-json' });
    expect(r.statusCode).toBe(200);
    const doc = r.json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/api/auth/login', '/api/auth/refresh', '/api/auth/logout', '/api/auth/me', '/api/auth/api-keys', '/api/auth/api-keys/{id}', '/api/auth/stream-ticket', '/api/stream', '/api/accounts']) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
    expect(doc.paths['/api/auth/login'].post.requestBody.content['application/json'].schema).toMatchObject({ properties: { username: { type: 'string' }, password: { type: 'string' } }, required: ['username', 'password'] });
    expect(doc.components.securitySchemes).toMatchObject({ bearer: { scheme: 'bearer' }, 'api-key': { in: 'header', name: 'X-API-Key' } });
    const page = await kit.app.inject({ method: 'GET', url: '/api/docs' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
  });

  it('answers 503 with how to build when the dashboard is missing, and 404 refusals for unknown /api paths', async () => {
    const r = await kit.app.inject({ method: 'GET', url: '/' });
    expect(r.statusCode).toBe(503);
    expect(r.body).toContain('The dashboard is not built');
    expect((await kit.app.inject({ method: 'GET', url: '/positions/BTCUSDT' })).statusCode).toBe(503);
    const api = await kit.app.inject({ method: 'GET', url: '/api/nothing-here' });
    expect(api.statusCode).toBe(404);
    expect(api.json()).toEqual({ error: { code: 'NOT_FOUND', message: 'no route GET /api/nothing-here' } });
    const post = await kit.app.inject({ method: 'POST', url: '/api/nothing-here', payload: {} });
    expect(post.statusCode).toBe(404);
    expect(post.json().error.code).toBe('NOT_FOUND');
  });

  it('serves a built dashboard with the SPA fallback to index.html, and CORS for configured origins only', async () => {
    const dist = path.join(kit.tmp, 'dist');
    mkdirSync(path.join(dist, 'assets'), { recursive: true });
    writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>Bulwark</title><div id="root"></div>');
    writeFileSync(path.join(dist, 'assets', 'app.js'), 'console.log("bulwark")');
    const config = { ...kit.config, dashboardDir: dist, corsOrigins: ['https://ops.example.com'] };
    const app = await createGatewayApp({ nc: kit.nc, store: kit.store, config, credentials: kit.creds, logger: false });
    try {
      const root = await app.inject({ method: 'GET', url: '/' });
      expect(root.statusCode).toBe(200);
      expect(root.body).toContain('<title>Bulwark</title>');
      const asset = await app.inject({ method: 'GET', url: '/assets/app.js' });
      expect(asset.statusCode).toBe(200);
      expect(asset.body).toContain('bulwark');
      const deep = await app.inject({ method: 'GET', url: '/accounts/acc-1/positions' });
      expect(deep.statusCode).toBe(200);
      expect(deep.body).toContain('<div id="root">');
      expect((await app.inject({ method: 'GET', url: '/api/nope' })).statusCode).toBe(404);
      const allowed = await app.inject({ method: 'OPTIONS', url: '/api/auth/login', headers: { origin: 'https://ops.example.com', 'access-control-request-method': 'POST' } });
      expect(allowed.headers['access-control-allow-origin']).toBe('https://ops.example.com');
      const other = await app.inject({ method: 'GET', url: '/api/auth/me', headers: { origin: 'https://evil.example' } });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it('answers an unexpected error with 500 and no internals, and logs it', async () => {
    const app = await createGatewayApp({ nc: kit.nc, store: kit.store, config: kit.config, credentials: kit.creds, logger: kit.logs, imports: [BoomModule] });
    try {
      const r = await app.inject({ method: 'GET', url: '/api/test-boom' });
      expect(r.statusCode).toBe(500);
      expect(r.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
      expect(kit.logs.text()).toContain('postgres://');
    } finally {
      await app.close();
    }
  });

  it('refuses unusable settings with the variable named: a missing JWT secret, a short one, a public host without TLS', () => {
    expect(() => gatewayConfigFromEnv({ BULWARK_JWT_SECRET_FILE: path.join(kit.tmp, 'missing') })).toThrow(/BULWARK_JWT_SECRET_FILE: cannot read .*missing \(ENOENT\)/);
    const short = path.join(kit.tmp, 'short.secret');
    writeFileSync(short, 'tooshort');
    expect(() => gatewayConfigFromEnv({ BULWARK_JWT_SECRET_FILE: short })).toThrow(/at least 32/);
    const env = { BULWARK_JWT_SECRET_FILE: path.join(kit.tmp, 'jwt.secret') };
    expect(() => gatewayConfigFromEnv({ ...env, BULWARK_GATEWAY_HOST: '0.0.0.0' })).toThrow(GatewayConfigError);
    expect(() => gatewayConfigFromEnv({ ...env, BULWARK_GATEWAY_HOST: '0.0.0.0' })).toThrow(/TLS only/);
    expect(() => gatewayConfigFromEnv({ ...env, BULWARK_GATEWAY_PORT: '70000' })).toThrow(/BULWARK_GATEWAY_PORT/);
    expect(() => gatewayConfigFromEnv({ ...env, BULWARK_CORS_ORIGINS: 'not a url' })).toThrow(/BULWARK_CORS_ORIGINS/);
    const c = gatewayConfigFromEnv(env);
    expect(c).toMatchObject({ host: '127.0.0.1', port: 8080, tls: null, corsOrigins: [], accessTokenTtlSeconds: 900 });
  });
});
