import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { authenticate, type ApiCredential, type SecurityType } from './auth';
import { BinanceApiError, BinanceErrors } from './errors';
import { parseFaultRule, type FaultInjector, type FaultRule } from './faults';
import type { RateLimiter } from './limits';

/** What a route handler receives: the merged parameters (query wins), the caller's account, the fault to apply. */
export interface BinanceRequest<A> {
  params: Record<string, string>;
  acct: A | null;
  fault: FaultRule | null;
  rawBody: string;
}

/** One endpoint: its security type, its request weight, whether it counts as an order, and its handler. */
export interface BinanceRoute<A> {
  security: SecurityType;
  weight: (p: Record<string, string>) => number;
  orders?: boolean;
  handler: (c: BinanceRequest<A>) => unknown;
}

/** A running HTTP server of a local venue. */
export interface LocalHttp {
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

/**
 * Serve Binance-style REST routes (`"METHOD /path"` → route) the way Binance answers them:
 * parameters from the query and a urlencoded body (the query wins), the fault injector's rule
 * for the call applied before or after the handler, request weight admitted per IP
 * (`X-MBX-USED-WEIGHT-1M`), signatures checked (`authenticate`), order counts per account
 * (`X-MBX-ORDER-COUNT-*`), errors as `{code, msg}` with the venue's HTTP status. WebSocket
 * upgrades go to `upgrade`.
 * @returns the server's urls and `close()` (drops open sockets and pending fault timers).
 */
export async function serveBinanceRoutes<A>(o: {
  routes: ReadonlyMap<string, BinanceRoute<A>>;
  keys: ReadonlyMap<string, ApiCredential>;
  accountOf: (accountId: string) => A;
  limiter: RateLimiter;
  faults: FaultInjector;
  wall: () => number;
  recvWindowMaxMs: number;
  accountIdOf: (a: A) => string;
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  port?: number;
  host?: string;
}): Promise<LocalHttp> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    timers.add(t);
  };
  const sleep = (ms: number) => new Promise<void>((r) => later(ms, r));

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string>) => {
    if (res.destroyed || res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const ch of req) chunks.push(ch as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://local');
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const rawQuery = url.search.startsWith('?') ? url.search.slice(1) : '';
    const params: Record<string, string> = {};
    if (rawBody && !rawBody.trimStart().startsWith('{')) for (const [k, v] of new URLSearchParams(rawBody)) params[k] = v;
    for (const [k, v] of url.searchParams) params[k] = v; // the query string wins, as on Binance
    const ip = req.socket.remoteAddress ?? 'unknown';
    const keyHeader = req.headers['x-mbx-apikey'];
    const apiKey = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader;
    const hintAccount = apiKey ? o.keys.get(apiKey)?.accountId ?? null : null;
    const route = o.routes.get(`${method} ${path}`);
    const headers: Record<string, string> = {};
    const fault = o.faults.take(method, path, hintAccount);
    const weightHeader = () => (headers['X-MBX-USED-WEIGHT-1M'] = String(o.limiter.usedWeight(ip)));
    try {
      if (fault && (fault.when ?? 'before') === 'before') {
        switch (fault.action) {
          case 'delay':
            await sleep(fault.ms ?? 0);
            break;
          case 'drop':
            later(fault.ms ?? 0, () => req.socket.destroy());
            return;
          case '503':
            throw BinanceErrors.timeout();
          case '429':
            throw new BinanceApiError(429, -1003, BinanceErrors.tooManyRequests(o.limiter.limits.weightPerMinute, 1).msg, { 'Retry-After': String(fault.retryAfterSec ?? 1) });
          case '418': {
            const sec = fault.retryAfterSec ?? 120;
            throw BinanceErrors.banned(ip, o.wall() + sec * 1000, sec);
          }
          case 'error':
            throw new BinanceApiError(fault.status ?? 400, fault.code ?? -1000, fault.msg ?? (fault.code === -1021 ? BinanceErrors.timestampOutside().msg : 'An unknown error occurred while processing the request.'));
          default:
            break;
        }
      }
      o.limiter.admit(ip, route ? route.weight(params) : 1);
      weightHeader();
      if (!route) throw BinanceErrors.notFound(method, path);
      let acct: A | null = null;
      if (route.security !== 'NONE') {
        const cred = authenticate({ security: route.security, apiKeyHeader: apiKey, rawQuery, rawBody, params, keys: o.keys, now: o.wall(), recvWindowMaxMs: o.recvWindowMaxMs });
        acct = o.accountOf(cred.accountId);
      }
      if (route.orders && acct) {
        const id = o.accountIdOf(acct);
        try {
          o.limiter.admitOrder(id);
        } finally {
          const n = o.limiter.orderCounts(id);
          headers['X-MBX-ORDER-COUNT-10S'] = String(n.s10);
          headers['X-MBX-ORDER-COUNT-1M'] = String(n.m1);
        }
      }
      const body = route.handler({ params, acct, fault, rawBody });
      if (fault && fault.when === 'after') {
        if (fault.action === '503') throw BinanceErrors.timeout();
        if (fault.action === 'drop') {
          later(fault.ms ?? 0, () => req.socket.destroy());
          return;
        }
      }
      send(res, 200, body, headers);
    } catch (e) {
      if (!headers['X-MBX-USED-WEIGHT-1M']) weightHeader();
      if (e instanceof BinanceApiError) send(res, e.status, e.body(), { ...headers, ...e.headers });
      else send(res, 500, { code: -1000, msg: 'An unknown error occurred while processing the request.' }, headers);
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req, socket, head) => o.upgrade(req, socket, head));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    wsUrl: `ws://${host}:${addr.port}`,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The fault injector's admin endpoints (local only, signed with an account's key):
 * `POST /bulwark/v1/faults` adds a rule (JSON body, `parseFaultRule`; a bad rule is -1130),
 * `DELETE /bulwark/v1/faults` clears them.
 */
export function faultAdminRoutes<A>(faults: FaultInjector): Array<[string, BinanceRoute<A>]> {
  return [
    ['POST /bulwark/v1/faults', {
      security: 'SIGNED', weight: () => 0,
      handler: (c) => {
        let rule: FaultRule;
        try {
          rule = parseFaultRule(JSON.parse(c.rawBody || 'null'));
        } catch (e) {
          throw new BinanceApiError(400, -1130, (e as Error).message);
        }
        faults.add(rule);
        return { pending: faults.pending().length };
      },
    }],
    ['DELETE /bulwark/v1/faults', { security: 'SIGNED', weight: () => 0, handler: () => (faults.clear(), { pending: 0 }) }],
  ];
}
