/**
 * The local venue's Binance request security, rate limits and fault injection, over raw HTTP
 * (signed like a Binance client: HMAC-SHA256 of query + body).
 */
import { resolveDataDir } from '@bulwark/market-data';
import { binanceLocalAdmin } from './admin';
import { hmacSha256Hex, signQuery } from './auth';
import { localVenueInputs } from './data';
import { startBinanceLocal, type BinanceLocal, type BinanceLocalOptions } from './server';

const KEY = 'http-key-0123456789';
const SECRET = 'http-secret-0123456789abcdef';
const START = Date.parse('2025-11-21T07:30:00Z');
let inputs: Omit<BinanceLocalOptions, 'accounts'>;
const open: BinanceLocal[] = [];

beforeAll(() => {
  inputs = { ...localVenueInputs(resolveDataDir()), startTime: START };
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
});

async function venue(extra: Partial<BinanceLocalOptions> = {}): Promise<BinanceLocal> {
  const l = await startBinanceLocal({ ...inputs, accounts: [{ accountId: 'acc-http', apiKey: KEY, apiSecret: SECRET, balance: '5000' }], ...extra });
  open.push(l);
  return l;
}

interface Answer {
  status: number;
  body: { code?: number; msg?: string } & Record<string, unknown>;
  headers: Headers;
}

async function call(l: BinanceLocal, method: string, path: string, params: Record<string, string | number> = {}, o: { key?: string | null; secret?: string; ts?: number; inBody?: boolean } = {}): Promise<Answer> {
  const qs = signQuery(params, o.secret ?? SECRET, o.ts ?? Date.now());
  const headers: Record<string, string> = {};
  if (o.key !== null) headers['X-MBX-APIKEY'] = o.key ?? KEY;
  const init: RequestInit = { method, headers };
  let url = `${l.url}${path}`;
  if (o.inBody) {
    init.body = qs;
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
  } else url += `?${qs}`;
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as Answer['body'], headers: res.headers };
}

describe('request security (HMAC-SHA256, timestamp, recvWindow, API key)', () => {
  it('accepts a signed request in the query or in the body, and refuses bad keys, signatures and timestamps with Binance codes', async () => {
    const l = await venue();
    l.clock.advance(1);
    await expect(call(l, 'GET', '/fapi/v2/balance')).resolves.toMatchObject({ status: 200, body: [{ asset: 'USDT', balance: '5000.00000000' }] });
    await expect(call(l, 'POST', '/fapi/v1/leverage', { symbol: 'BTCUSDT', leverage: 7 }, { inBody: true })).resolves.toMatchObject({ status: 200, body: { leverage: 7, symbol: 'BTCUSDT' } });

    await expect(call(l, 'GET', '/fapi/v2/balance', {}, { key: null })).resolves.toMatchObject({ status: 401, body: { code: -2014, msg: 'API-key format invalid.' } });
    await expect(call(l, 'GET', '/fapi/v2/balance', {}, { key: 'unknown-key' })).resolves.toMatchObject({ status: 401, body: { code: -2015, msg: 'Invalid API-key, IP, or permissions for action.' } });
    await expect(call(l, 'GET', '/fapi/v2/balance', {}, { secret: 'wrong-secret' })).resolves.toMatchObject({ status: 400, body: { code: -1022, msg: 'Signature for this request is not valid.' } });
    await expect(call(l, 'GET', '/fapi/v2/balance', {}, { ts: Date.now() - 10_000 })).resolves.toMatchObject({ status: 400, body: { code: -1021, msg: 'Timestamp for this request is outside of the recvWindow.' } });
    await expect(call(l, 'GET', '/fapi/v2/balance', { recvWindow: 20_000 }, { ts: Date.now() - 10_000 })).resolves.toMatchObject({ status: 200 });
    await expect(call(l, 'GET', '/fapi/v2/balance', {}, { ts: Date.now() + 5_000 })).resolves.toMatchObject({ status: 400, body: { code: -1021 } });
    await expect(call(l, 'GET', '/fapi/v2/balance', { recvWindow: 70_000 })).resolves.toMatchObject({ status: 400, body: { code: -1131 } });
    // A tampered parameter breaks the signature.
    const qs = signQuery({ symbol: 'BTCUSDT', leverage: 5 }, SECRET).replace('leverage=5', 'leverage=50');
    const res = await fetch(`${l.url}/fapi/v1/leverage?${qs}`, { method: 'POST', headers: { 'X-MBX-APIKEY': KEY } });
    expect(await res.json()).toEqual({ code: -1022, msg: 'Signature for this request is not valid.' });
    // No signature at all.
    const unsigned = await fetch(`${l.url}/fapi/v2/balance?timestamp=${Date.now()}`, { headers: { 'X-MBX-APIKEY': KEY } });
    expect(await unsigned.json()).toEqual({ code: -1102, msg: "Mandatory parameter 'signature' was not sent, was empty/null, or malformed." });
    // Public endpoints need nothing; the listen key needs the key only.
    await expect(fetch(`${l.url}/fapi/v1/time`).then((r) => r.json())).resolves.toMatchObject({ serverTime: expect.any(Number) });
    const lk = await fetch(`${l.url}/fapi/v1/listenKey`, { method: 'POST', headers: { 'X-MBX-APIKEY': KEY } });
    expect(await lk.json()).toMatchObject({ listenKey: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // Binance's documented example (HMAC SHA256 signature section of the API docs).
    const example = 'symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559';
    expect(hmacSha256Hex('NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j', example)).toBe('c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71');
  });

  it('answers venue rejections as Binance error JSON with HTTP 400 and the exact message', async () => {
    const l = await venue();
    l.clock.advance(1);
    await expect(call(l, 'POST', '/fapi/v1/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '2' })).resolves.toMatchObject({ status: 400, body: { code: -2019, msg: 'Margin is insufficient.' } });
    await expect(call(l, 'POST', '/fapi/v1/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.0001' })).resolves.toMatchObject({ status: 400, body: { code: -1111 } });
    await expect(call(l, 'POST', '/fapi/v1/order', { symbol: 'BTCUSDT', side: 'SELL', type: 'STOP_MARKET', quantity: '0.001', stopPrice: '80000' })).resolves.toMatchObject({
      status: 400, body: { code: -4120, msg: 'Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.' },
    });
    await expect(call(l, 'POST', '/fapi/v1/algoOrder', { algoType: 'CONDITIONAL', symbol: 'BTCUSDT', side: 'SELL', type: 'STOP_MARKET', quantity: '0.001', triggerPrice: '90000' })).resolves.toMatchObject({
      status: 400, body: { code: -2021, msg: 'Order would immediately trigger.' },
    });
    await expect(call(l, 'GET', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: 'nope' })).resolves.toMatchObject({ status: 400, body: { code: -2013, msg: 'Order does not exist.' } });
    await expect(call(l, 'DELETE', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: 'nope' })).resolves.toMatchObject({ status: 400, body: { code: -2011, msg: 'Unknown order sent.' } });
    await expect(call(l, 'POST', '/fapi/v1/marginType', { symbol: 'BTCUSDT', marginType: 'CROSSED' })).resolves.toMatchObject({ status: 400, body: { code: -4046, msg: 'No need to change margin type.' } });
    await expect(call(l, 'POST', '/fapi/v1/positionSide/dual', { dualSidePosition: 'false' })).resolves.toMatchObject({ status: 400, body: { code: -4059 } });
    await expect(call(l, 'GET', '/fapi/v1/nothing')).resolves.toMatchObject({ status: 404 });
    // Quantities and prices are strings formatted like Binance's.
    const placed = await call(l, 'POST', '/fapi/v1/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.01', price: '80000', timeInForce: 'GTC', newClientOrderId: 'bwhttp0000000-1E' });
    expect(placed.body).toMatchObject({ status: 'NEW', clientOrderId: 'bwhttp0000000-1E', origQty: '0.010', price: '80000.00', type: 'LIMIT', positionSide: 'BOTH' });
    await expect(call(l, 'POST', '/fapi/v1/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: '0.01', price: '80000', timeInForce: 'GTC', newClientOrderId: 'bwhttp0000000-1E' })).resolves.toMatchObject({ status: 400, body: { code: -4015 } });
  });
});

describe('rate limits', () => {
  it('reports used weight and order counts in headers, answers 429 -1003 with Retry-After over the limit, then 418 to an IP that keeps calling', async () => {
    let now = Date.parse('2026-01-01T00:00:10Z');
    const l = await venue({ limits: { weightPerMinute: 12, ordersPer10s: 2, now: () => now } });
    l.clock.advance(1);
    const a = await call(l, 'GET', '/fapi/v2/balance'); // weight 5
    expect(a.headers.get('x-mbx-used-weight-1m')).toBe('5');
    const o1 = await call(l, 'POST', '/fapi/v1/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.001' }); // weight 0, 1 order
    expect(o1.status).toBe(200);
    expect([o1.headers.get('x-mbx-used-weight-1m'), o1.headers.get('x-mbx-order-count-10s'), o1.headers.get('x-mbx-order-count-1m')]).toEqual(['5', '1', '1']);
    await call(l, 'POST', '/fapi/v1/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.001' });
    const o3 = await call(l, 'POST', '/fapi/v1/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.001' });
    expect(o3).toMatchObject({ status: 429, body: { code: -1015, msg: 'Too many new orders; current limit is 2 orders per 10SECOND.' } });
    expect(o3.headers.get('retry-after')).toBe('10');
    now += 10_000; // next 10 s window: orders allowed again
    await expect(call(l, 'POST', '/fapi/v1/order', { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.001' })).resolves.toMatchObject({ status: 200 });

    await call(l, 'GET', '/fapi/v2/balance'); // 10
    const over = await call(l, 'GET', '/fapi/v2/balance'); // 15 > 12
    expect(over).toMatchObject({ status: 429, body: { code: -1003 } });
    expect(over.body.msg).toMatch(/^Too many requests; current limit is 12 requests per minute/);
    expect(over.headers.get('retry-after')).toBe('40');
    expect(over.headers.get('x-mbx-used-weight-1m')).toBe('15');
    const banned = await call(l, 'GET', '/fapi/v1/time');
    expect(banned).toMatchObject({ status: 418, body: { code: -1003 } });
    expect(banned.body.msg).toMatch(/^Way too many requests; IP\(.+\) banned until \d+/);
    expect(banned.headers.get('retry-after')).toBe('120');
    now += 60_000; // still banned in the next minute
    await expect(call(l, 'GET', '/fapi/v1/time')).resolves.toMatchObject({ status: 418 });
    now += 61_000;
    await expect(call(l, 'GET', '/fapi/v1/time')).resolves.toMatchObject({ status: 200 });
  });
});

describe('fault injection', () => {
  const market = { symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.002' };

  it('delays, drops, answers 503 before or after processing, 429, 418 and a Binance error', async () => {
    const l = await venue();
    l.clock.advance(1);
    const id = (n: number) => ({ ...market, newClientOrderId: `bwfault000000-${n}E` });

    l.faults.add({ method: 'GET', path: '/fapi/v1/time', action: 'delay', ms: 150 });
    const t0 = Date.now();
    await expect(fetch(`${l.url}/fapi/v1/time`).then((r) => r.status)).resolves.toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);

    l.faults.add({ method: 'POST', path: '/fapi/v1/order', action: '503' });
    await expect(call(l, 'POST', '/fapi/v1/order', id(1))).resolves.toMatchObject({
      status: 503, body: { code: -1007, msg: 'Timeout waiting for response from backend server. Send status unknown; execution status unknown.' },
    });
    expect(l.engine.order('acc-http', { clientOrderId: 'bwfault000000-1E' })).toBeNull();

    // 503 after processing: the order IS placed; the client learns it by querying its client id.
    l.faults.add({ method: 'POST', path: '/fapi/v1/order', action: '503', when: 'after' });
    await expect(call(l, 'POST', '/fapi/v1/order', id(2))).resolves.toMatchObject({ status: 503, body: { code: -1007 } });
    await expect(call(l, 'GET', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: 'bwfault000000-2E' })).resolves.toMatchObject({ status: 200, body: { status: 'NEW' } });
    expect(l.engine.orders('acc-http').map((o) => o.clientOrderId)).toEqual(['bwfault000000-2E']);

    // Dropped: no answer, the connection is cut (a client timeout); 'after' = processed.
    l.faults.add({ method: 'POST', path: '/fapi/v1/order', action: 'drop', ms: 50, when: 'after' });
    await expect(call(l, 'POST', '/fapi/v1/order', id(3))).rejects.toThrow();
    expect(l.engine.order('acc-http', { clientOrderId: 'bwfault000000-3E' })?.status).toBe('NEW');
    l.faults.add({ method: 'POST', path: '/fapi/v1/order', action: 'drop', ms: 20 });
    await expect(call(l, 'POST', '/fapi/v1/order', id(4))).rejects.toThrow();
    expect(l.engine.order('acc-http', { clientOrderId: 'bwfault000000-4E' })).toBeNull();

    l.faults.add({ method: 'POST', path: '/fapi/v1/order', action: '429', retryAfterSec: 7 });
    const r429 = await call(l, 'POST', '/fapi/v1/order', id(5));
    expect([r429.status, r429.body.code, r429.headers.get('retry-after')]).toEqual([429, -1003, '7']);
    l.faults.add({ method: '*', path: '/fapi/v1/order', action: '418', retryAfterSec: 30 });
    const r418 = await call(l, 'GET', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: 'bwfault000000-2E' });
    expect([r418.status, r418.body.code, r418.headers.get('retry-after')]).toEqual([418, -1003, '30']);
    l.faults.add({ method: 'POST', path: '/fapi/v1/order', action: 'error', code: -1021, count: 2 });
    await expect(call(l, 'POST', '/fapi/v1/order', id(6))).resolves.toMatchObject({ status: 400, body: { code: -1021, msg: 'Timestamp for this request is outside of the recvWindow.' } });
    await expect(call(l, 'POST', '/fapi/v1/order', id(6))).resolves.toMatchObject({ status: 400, body: { code: -1021 } });
    await expect(call(l, 'POST', '/fapi/v1/order', id(6))).resolves.toMatchObject({ status: 200 });
    expect(l.faults.pending()).toEqual([]);
  });

  it('fills an order before its cancel (-2011), and drives faults, deposits and steps through the signed admin endpoints', async () => {
    const l = await venue();
    const admin = binanceLocalAdmin(l.url, { apiKey: KEY, apiSecret: SECRET });
    await expect(admin.advance(1)).resolves.toEqual({ orderUpdates: 0, events: [] });
    await expect(admin.deposit('1000')).resolves.toMatchObject({ walletBalance: '6000.00000000' });
    await call(l, 'POST', '/fapi/v1/order', { ...market, newClientOrderId: 'bwfbc00000000-1E' });
    await admin.addFault({ method: 'DELETE', path: '/fapi/v1/order', action: 'fillBeforeCancel' });
    await expect(call(l, 'DELETE', '/fapi/v1/order', { symbol: 'BTCUSDT', origClientOrderId: 'bwfbc00000000-1E' })).resolves.toMatchObject({ status: 400, body: { code: -2011, msg: 'Unknown order sent.' } });
    expect(l.engine.order('acc-http', { clientOrderId: 'bwfbc00000000-1E' })).toMatchObject({ status: 'FILLED' });
    const trades = await call(l, 'GET', '/fapi/v1/userTrades', { symbol: 'BTCUSDT' });
    expect(trades.body).toEqual([expect.objectContaining({ price: '85175.80', qty: '0.002', side: 'BUY', buyer: true, maker: false, commission: '0.08517580', commissionAsset: 'USDT' })]);

    // An explicit step with funding, as Bulwark's replay clock drives it.
    const r = await admin.step('BTCUSDT', { from: '85175.8', to: '85100', gap: false, ts: START + 30_000 }, '0.0001');
    expect(r.orderUpdates).toBe(0);
    expect(r.events).toEqual([{ kind: 'funding', accountId: 'acc-http', symbol: 'BTCUSDT', amount: '-0.01703516', rate: '0.0001', markPrice: '85175.8', ts: START + 30_000 }]);
    const income = await call(l, 'GET', '/fapi/v1/income', { incomeType: 'FUNDING_FEE' });
    expect(income.body).toEqual([expect.objectContaining({ symbol: 'BTCUSDT', incomeType: 'FUNDING_FEE', income: '-0.01703516', asset: 'USDT', time: START + 30_000 })]);

    await admin.addFault({ method: 'GET', path: '/fapi/v1/ping', action: 'error', code: -1000, status: 500, count: -1 });
    await expect(fetch(`${l.url}/fapi/v1/ping`).then((x) => x.status)).resolves.toBe(500);
    await expect(fetch(`${l.url}/fapi/v1/ping`).then((x) => x.status)).resolves.toBe(500);
    await admin.clearFaults();
    await expect(fetch(`${l.url}/fapi/v1/ping`).then((x) => x.status)).resolves.toBe(200);
    await expect(admin.addFault({ method: 'GET', path: '/x', action: 'explode' as never })).rejects.toThrow(/action must be one of/);
  });

  it('disconnects websockets of a kind and expires listen keys with listenKeyExpired', async () => {
    const { WebSocket } = await import('ws');
    const l = await venue({ listenKeyTtlMs: 300 });
    const lk = (await (await fetch(`${l.url}/fapi/v1/listenKey`, { method: 'POST', headers: { 'X-MBX-APIKEY': KEY } })).json()) as { listenKey: string };
    const user = new WebSocket(`${l.wsUrl}/private/ws?listenKey=${lk.listenKey}`);
    const market = new WebSocket(`${l.wsUrl}/market/ws/0`);
    const userMsgs: Array<{ e?: string }> = [];
    user.on('message', (d) => userMsgs.push(JSON.parse(d.toString())));
    await Promise.all([user, market].map((s) => new Promise((r) => s.once('open', r))));
    const ack = new Promise((r) => market.once('message', (d) => r(JSON.parse(d.toString()))));
    market.send(JSON.stringify({ method: 'SUBSCRIBE', params: ['btcusdt@markPrice@1s'], id: 7 }));
    await expect(ack).resolves.toEqual({ result: null, id: 7 });
    const closed = new Promise((r) => market.once('close', r));
    const admin = binanceLocalAdmin(l.url, { apiKey: KEY, apiSecret: SECRET });
    await expect(admin.disconnectWs('market')).resolves.toEqual({ closed: 1 });
    await closed;
    expect(l.wsConnections('user')).toBe(1);
    // No keep-alive: the key expires, the stream says so and closes.
    await new Promise((r) => user.once('close', r));
    expect(userMsgs).toEqual([{ e: 'listenKeyExpired', E: expect.any(Number), listenKey: lk.listenKey }]);
    const res = await fetch(`${l.url}/fapi/v1/listenKey`, { method: 'PUT', headers: { 'X-MBX-APIKEY': KEY } });
    expect(await res.json()).toEqual({ code: -1125, msg: 'This listenKey does not exist.' });
  });
});
