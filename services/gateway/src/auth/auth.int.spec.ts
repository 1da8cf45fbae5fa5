import { changeUserRole, createUser, disableUser, sha256Hex } from '@bulwark/messaging';
import { until } from '@bulwark/testing';
import { type GatewayKit, login, startGatewayKit } from '../gateway-test-kit';
import { MAX_FAILED_LOGINS } from './login-limiter';

jest.setTimeout(120_000);

describe('gateway auth (Fastify inject, in-memory log, isolated credentials bucket)', () => {
  let kit: GatewayKit;
  const secrets: string[] = [];
  beforeAll(async () => {
    kit = await startGatewayKit();
    secrets.push(...Object.values(kit.passwords));
  });
  afterAll(async () => {
    // No password, token or key ever reached the logs.
    const text = kit.logs.text();
    expect(text.length).toBeGreaterThan(0);
    for (const s of secrets) expect(text).not.toContain(s);
    await kit.close();
  });

  it('logs in with the right password: an access token, a refresh token and its lifetime; /me names the user', async () => {
    const t = await login(kit.app, 'tom', kit.passwords.tom);
    secrets.push(t.accessToken, t.refreshToken);
    expect(t.expiresIn).toBe(900);
    expect(t.accessToken.split('.')).toHaveLength(3);
    const me = await kit.app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${t.accessToken}` } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({ username: 'tom', role: 'trader', via: 'jwt' });
  });

  it('refuses a wrong password and an unknown user alike (401 INVALID_CREDENTIALS)', async () => {
    for (const payload of [{ username: 'tom', password: 'not-it' }, { username: 'nobody', password: 'x' }]) {
      const r = await kit.app.inject({ method: 'POST', url: '/api/auth/login', payload, remoteAddress: '10.9.9.9' });
      expect(r.statusCode).toBe(401);
      expect(r.json()).toEqual({ error: { code: 'INVALID_CREDENTIALS', message: 'wrong username or password' } });
    }
  });

  it('refuses a malformed login body with 400 naming the field', async () => {
    const r = await kit.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'tom' } });
    expect(r.statusCode).toBe(400);
    expect(r.json().error).toMatchObject({ code: 'INVALID_INPUT', field: 'password' });
    const notJson = await kit.app.inject({ method: 'POST', url: '/api/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"username":' });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error.code).toBe('INVALID_INPUT');
  });

  it('locks a user out from one address after five failures in 15 minutes (429 with Retry-After), not from another address', async () => {
    const from = (remoteAddress: string, password: string) => kit.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'vic', password }, remoteAddress });
    for (let i = 0; i < MAX_FAILED_LOGINS; i++) expect((await from('10.0.0.1', `guess-${i}`)).statusCode).toBe(401);
    const locked = await from('10.0.0.1', kit.passwords.vic); // even the right password
    expect(locked.statusCode).toBe(429);
    expect(locked.json().error.code).toBe('TOO_MANY_ATTEMPTS');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
    expect(Number(locked.headers['retry-after'])).toBeLessThanOrEqual(900);
    const elsewhere = await from('10.0.0.2', kit.passwords.vic);
    expect(elsewhere.statusCode).toBe(200);
    secrets.push(elsewhere.json().accessToken, elsewhere.json().refreshToken);
  });

  it('rotates refresh tokens: a refresh gives a new pair and spends the old token', async () => {
    const first = await login(kit.app, 'tom', kit.passwords.tom);
    secrets.push(first.accessToken, first.refreshToken);
    const r = await kit.app.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken: first.refreshToken } });
    expect(r.statusCode).toBe(200);
    const second = r.json();
    secrets.push(second.accessToken, second.refreshToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    const again = await kit.app.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken: first.refreshToken } });
    expect(again.statusCode).toBe(401);
    expect(again.json().error.code).toBe('INVALID_REFRESH_TOKEN');
    // Stored as a hash, never as the token.
    expect(await kit.creds.takeRefreshToken(sha256Hex(second.refreshToken))).toMatchObject({ username: 'tom' });
  });

  it('logout revokes the refresh token', async () => {
    const t = await login(kit.app, 'tom', kit.passwords.tom);
    secrets.push(t.accessToken, t.refreshToken);
    expect((await kit.app.inject({ method: 'POST', url: '/api/auth/logout', payload: { refreshToken: t.refreshToken } })).statusCode).toBe(204);
    expect((await kit.app.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken: t.refreshToken } })).statusCode).toBe(401);
  });

  it('401 without credentials or with a forged token; 403 for a viewer on a trader route and on admin routes', async () => {
    const none = await kit.app.inject({ method: 'GET', url: '/api/auth/me' });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('UNAUTHENTICATED');
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect((await kit.app.inject({ method: 'GET', url: '/api/accounts' })).statusCode).toBe(401);
    const t = await login(kit.app, 'tom', kit.passwords.tom);
    secrets.push(t.accessToken, t.refreshToken);
    const [h, p] = t.accessToken.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), role: 'admin' })).toString('base64url')}.${t.accessToken.split('.')[2]}`;
    expect((await kit.app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${forged}` } })).statusCode).toBe(401);

    const v = await kit.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'vic', password: kit.passwords.vic }, remoteAddress: '10.0.0.3' });
    const viewer = { authorization: `Bearer ${v.json().accessToken}` };
    secrets.push(v.json().accessToken, v.json().refreshToken);
    const command = await kit.app.inject({ method: 'POST', url: '/api/accounts/acc-1/flatten', headers: viewer, payload: { reason: 'test' } });
    expect(command.statusCode).toBe(403);
    expect(command.json().error.code).toBe('FORBIDDEN');
    expect((await kit.app.inject({ method: 'GET', url: '/api/auth/api-keys', headers: viewer })).statusCode).toBe(403);
    // A viewer may read.
    expect((await kit.app.inject({ method: 'GET', url: '/api/accounts', headers: viewer })).statusCode).toBe(200);
  });

  it('API keys: an admin creates one (shown once, stored hashed), it authenticates with its role, and revoking it ends it', async () => {
    const admin = await login(kit.app, 'ada', kit.passwords.ada);
    secrets.push(admin.accessToken, admin.refreshToken);
    const auth = { authorization: `Bearer ${admin.accessToken}` };
    const tooHigh = await kit.app.inject({ method: 'POST', url: '/api/auth/api-keys', headers: auth, payload: { username: 'vic', role: 'trader', label: 'x' } });
    expect(tooHigh.statusCode).toBe(422);
    expect(tooHigh.json().error).toMatchObject({ code: 'ROLE_ABOVE_USER', field: 'role' });
    const badRole = await kit.app.inject({ method: 'POST', url: '/api/auth/api-keys', headers: auth, payload: { username: 'tom', role: 'root', label: 'x' } });
    expect(badRole.statusCode).toBe(400);
    expect(badRole.json().error.field).toBe('role');

    const created = await kit.app.inject({ method: 'POST', url: '/api/auth/api-keys', headers: auth, payload: { username: 'tom', role: 'trader', label: 'backtest script' } });
    expect(created.statusCode).toBe(201);
    const { apiKey, id } = created.json();
    secrets.push(apiKey);
    expect(apiKey).toMatch(/^bwk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const stored = await kit.creds.apiKey(id);
    expect(stored).toMatchObject({ id, username: 'tom', role: 'trader', hash: sha256Hex(apiKey) });
    expect(JSON.stringify(stored)).not.toContain(apiKey.split('_').slice(2).join('_'));

    const me = await kit.app.inject({ method: 'GET', url: '/api/auth/me', headers: { 'x-api-key': apiKey } });
    expect(me.json()).toEqual({ username: 'tom', role: 'trader', via: 'api-key' });
    const list = await kit.app.inject({ method: 'GET', url: '/api/auth/api-keys', headers: auth });
    expect(list.json()).toEqual([expect.objectContaining({ id, username: 'tom', role: 'trader', label: 'backtest script', createdBy: 'ada' })]);
    expect(list.body).not.toContain('hash');
    const wrong = await kit.app.inject({ method: 'GET', url: '/api/auth/me', headers: { 'x-api-key': `${apiKey.slice(0, -1)}${apiKey.endsWith('A') ? 'B' : 'A'}` } });
    expect(wrong.statusCode).toBe(401);

    expect((await kit.app.inject({ method: 'DELETE', url: `/api/auth/api-keys/${id}`, headers: auth })).statusCode).toBe(204);
    expect((await kit.app.inject({ method: 'GET', url: '/api/auth/me', headers: { 'x-api-key': apiKey } })).statusCode).toBe(401);
    expect((await kit.app.inject({ method: 'DELETE', url: `/api/auth/api-keys/${id}`, headers: auth })).statusCode).toBe(404);
  });

  it('stores password hashes (Argon2id), never passwords', async () => {
    const phc = await kit.creds.passwordHash('tom');
    expect(phc).toMatch(/^\$argon2id\$/);
    expect(phc).not.toContain(kit.passwords.tom);
  });

  it('a role change and a disable recorded in the log act on the next request, whatever the token says', async () => {
    const password = `pw-${sha256Hex(String(Date.now())).slice(0, 16)}`;
    await createUser(kit.store, kit.creds, { username: 'eve', role: 'trader', password, by: 'spec' });
    secrets.push(password);
    const t = await login(kit.app, 'eve', password);
    secrets.push(t.accessToken, t.refreshToken);
    const me = () => kit.app.inject({ method: 'GET', url: '/api/auth/me', headers: { authorization: `Bearer ${t.accessToken}` } });
    expect((await me()).json().role).toBe('trader');
    await changeUserRole(kit.store, 'eve', 'viewer', 'spec');
    await until('the gateway to see eve as viewer', async () => (await me()).json().role === 'viewer');
    await disableUser(kit.store, 'eve', 'spec', 'left');
    await until('the gateway to refuse disabled eve', async () => (await me()).statusCode === 401);
    const again = await kit.app.inject({ method: 'POST', url: '/api/auth/login', payload: { username: 'eve', password }, remoteAddress: '10.0.0.7' });
    expect(again.statusCode).toBe(401);
    expect((await kit.app.inject({ method: 'POST', url: '/api/auth/refresh', payload: { refreshToken: t.refreshToken } })).statusCode).toBe(401);
  });

  it('every route of the OpenAPI document but the public ones refuses a request without a token (401); a viewer may read and calculate, never command (403)', async () => {
    const doc = (await kit.app.inject({ method: 'GET', url: '/api/docs-json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const PUBLIC = new Set(['POST /api/auth/login', 'POST /api/auth/refresh', 'POST /api/auth/logout', 'GET /api/stream']);
    // What a viewer may do beyond reading: calculate, validate a configuration, follow the stream, manage its own session.
    const VIEWER_WRITES = new Set(['POST /api/calc/liquidation', 'POST /api/calc/size', 'POST /api/accounts/validate', 'POST /api/auth/stream-ticket']);
    const viewer = await login(kit.app, 'vic', kit.passwords.vic);
    secrets.push(viewer.accessToken, viewer.refreshToken);
    const routes = Object.entries(doc.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => ({ method: m.toUpperCase(), url: p.replace(/\{[^}]+\}/g, 'x1') , key: `${m.toUpperCase()} ${p}` })));
    expect(routes.length).toBeGreaterThan(25);
    for (const r of routes.filter((x) => !PUBLIC.has(x.key))) {
      const anonymous = await kit.app.inject({ method: r.method as never, url: r.url, payload: {} });
      expect({ route: r.key, status: anonymous.statusCode }).toEqual({ route: r.key, status: 401 });
      if (r.method === 'GET' || VIEWER_WRITES.has(r.key)) continue;
      const asViewer = await kit.app.inject({ method: r.method as never, url: r.url, payload: {}, headers: { authorization: `Bearer ${viewer.accessToken}` } });
      expect({ route: r.key, status: asViewer.statusCode }).toEqual({ route: r.key, status: 403 });
    }
  });

  it('no route answers a malformed request with a 500: every documented route, as an admin, with a body and parameters of the wrong shape, is refused 4xx, and a 400 names the field', async () => {
    const doc = (await kit.app.inject({ method: 'GET', url: '/api/docs-json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const admin = await login(kit.app, 'ada', kit.passwords.ada);
    secrets.push(admin.accessToken, admin.refreshToken);
    const BODIES: unknown[] = [{ x: 1 }, { accountId: 42, leverage: 'ten', side: [], state: null, reason: 7, entry: '-1', qty: {}, from: 'yesterday' }, 'not json at all'];
    for (const [p, methods] of Object.entries(doc.paths)) {
      for (const m of Object.keys(methods)) {
        if (p === '/api/auth/logout') continue; // it ends the admin's session (checked on its own above)
        const url = p.replace(/\{[^}]+\}/g, '%00bad id%2F..') + (m === 'get' ? '?from=not-a-time&limit=-3&account=%00' : '');
        for (const payload of m === 'get' ? [undefined] : BODIES) {
          const r = await kit.app.inject({
            method: m.toUpperCase() as never,
            url,
            headers: { authorization: `Bearer ${admin.accessToken}`, ...(typeof payload === 'string' ? { 'content-type': 'application/json' } : {}) },
            ...(payload === undefined ? {} : { payload: payload as never }),
          });
          const where = `${m.toUpperCase()} ${p} ${JSON.stringify(payload)}`;
          expect({ where, server: r.statusCode >= 500 }).toEqual({ where, server: false });
          if (r.statusCode === 400) {
            const e = r.json().error as { code?: string; field?: string };
            expect({ where, code: e?.code }).toEqual({ where, code: 'INVALID_INPUT' });
            // Only unreadable JSON has no field to name.
            if (typeof payload !== 'string') expect({ where, field: typeof e.field }).toEqual({ where, field: 'string' });
          }
        }
      }
    }
  });
});
