/**
 * ccxt itself (4.5.84, unmodified `bitget` and `ccxt.pro.bitget`, urls pointed at the local
 * Bitget venue) trading Bitget's recorded BTCUSDT rules on the recorded Binance BTCUSDT candles
 * (there are no Bitget candles in this project), REST and WebSocket, while the test drives the clock.
 */
import * as ccxt from 'ccxt';
import { resolveDataDir } from '@bulwark/market-data';
import { until } from '@bulwark/testing';
import { bitgetLocalAdmin } from './bitget-admin';
import { bitgetSignedHeaders } from './bitget-auth';
import { bitgetCcxtFor, useBitgetLocal } from './bitget-ccxt-urls';
import { bitgetLocalInputs, startBitgetLocal, type BitgetLocal } from './bitget-server';

const creds = { apiKey: 'bg-key-0123456789', apiSecret: 'bg-secret-abcdefghijklmnop', passphrase: 'bg-pass-42' };
const START = Date.parse('2025-11-21T07:30:00Z'); // 07:30 open 85,175.8; 07:32 low 84,287.6; 07:33 low 83,090
const SYMBOL = 'BTC/USDT:USDT';

let local: BitgetLocal;

beforeAll(async () => {
  local = await startBitgetLocal({ ...bitgetLocalInputs(resolveDataDir()), startTime: START, accounts: [{ accountId: 'acc-bg', ...creds, balance: '10000' }], limits: { scale: 100 } });
  local.clock.advance(1); // the 07:30 open
}, 60_000);
afterAll(async () => {
  await local?.close();
});

function rest(c = creds) {
  const cfg = bitgetCcxtFor(local, c);
  return useBitgetLocal(new ccxt.bitget(cfg.config), cfg);
}

async function raw(method: string, path: string, o: { query?: string; body?: unknown; secret?: string; passphrase?: string; ts?: number } = {}) {
  const body = o.body === undefined ? '' : JSON.stringify(o.body);
  const headers = bitgetSignedHeaders({ ...creds, apiSecret: o.secret ?? creds.apiSecret, passphrase: o.passphrase ?? creds.passphrase }, method, path, o.query ?? '', body, o.ts ?? Date.now());
  const res = await fetch(`${local.url}${path}${o.query ? `?${o.query}` : ''}`, { method, headers, body: body || undefined });
  return { status: res.status, body: (await res.json()) as { code: string; msg: string; data: unknown; requestTime: number } };
}


describe('ccxt bitget against the local Bitget venue', () => {
  it('loads the recorded contract, sets isolated / one-way / leverage, rests a post-only entry that fills, and a TP/SL stop triggers', async () => {
    const ex = rest();
    const markets = await ex.loadMarkets();
    expect(markets[SYMBOL]).toMatchObject({ id: 'BTCUSDT', swap: true, linear: true, settle: 'USDT', maker: 0.0002, taker: 0.0006, active: true });
    expect(markets[SYMBOL]!.precision).toMatchObject({ price: 0.1, amount: 0.0001 });
    expect(markets[SYMBOL]!.limits).toMatchObject({ amount: { min: 0.0001 }, cost: { min: 5 }, leverage: { min: 1, max: 150 } });
    const tiers = await ex.fetchMarketLeverageTiers(SYMBOL);
    expect(tiers[0]).toMatchObject({ tier: 1, minNotional: 0, maxNotional: 200000, maxLeverage: 150, maintenanceMarginRate: 0.004 });

    await expect(ex.setMarginMode('isolated', SYMBOL)).resolves.toMatchObject({ code: '00000', data: { marginMode: 'isolated' } });
    await expect(ex.setMarginMode('cross', SYMBOL)).rejects.toThrow(ccxt.BadRequest);
    await expect(ex.setPositionMode(false, SYMBOL)).resolves.toMatchObject({ data: { posMode: 'one_way_mode' } });
    await expect(ex.setLeverage(5, SYMBOL)).resolves.toMatchObject({ data: { longLeverage: '5', shortLeverage: '5', marginMode: 'isolated' } });
    await expect(ex.setLeverage(151, SYMBOL)).rejects.toThrow(/40797/);
    await expect(ex.fetchLeverage(SYMBOL)).resolves.toMatchObject({ marginMode: 'isolated', longLeverage: 5, shortLeverage: 5 });
    const bal = await ex.fetchBalance();
    expect(bal['USDT']).toMatchObject({ free: 10000, total: 10000 });

    // A post-only buy below the market rests as a maker…
    const entry = await ex.createOrder(SYMBOL, 'limit', 'buy', 0.01, 84500, { postOnly: true, clientOrderId: 'bwbitget0001-1E' });
    expect(entry).toMatchObject({ id: expect.any(String), clientOrderId: 'bwbitget0001-1E' });
    await expect(ex.fetchOrder(entry.id!, SYMBOL)).resolves.toMatchObject({ status: 'open', postOnly: true, price: 84500, amount: 0.01, filled: 0, side: 'buy', type: 'limit', reduceOnly: false });
    await expect(ex.fetchOpenOrders(SYMBOL)).resolves.toHaveLength(1);
    // …and fills when the 07:32 bar falls through 84,500.
    const r = local.clock.advance(11);
    expect(r.orderUpdates['acc-bg']).toBe(1);
    await expect(ex.fetchOrder(entry.id!, SYMBOL)).resolves.toMatchObject({ status: 'closed', filled: 0.01, average: 84500, fee: { cost: 84500 * 0.01 * 0.0002, currency: 'USDT' } });
    const [pos] = await ex.fetchPositions([SYMBOL]);
    expect(pos).toMatchObject({ symbol: SYMBOL, side: 'long', contracts: 0.01, entryPrice: 84500, marginMode: 'isolated', leverage: 5, hedged: false, markPrice: 84779.9 });
    expect(pos.initialMargin).toBeCloseTo(84500 * 0.01 / 5, 8);

    // An exchange stop: ccxt's stopLossPrice → place-tpsl-order pos_loss, read back among trigger orders.
    const sl = await ex.createOrder(SYMBOL, 'market', 'sell', 0.01, undefined, { stopLossPrice: 83500, clientOrderId: 'bwbitget0001-1S' });
    const open = await ex.fetchOpenOrders(SYMBOL, undefined, undefined, { trigger: true, planType: 'profit_loss' });
    expect(open.map((o) => [o.id, o.clientOrderId, o.triggerPrice, o.status, o.side])).toEqual([[sl.id, 'bwbitget0001-1S', 83500, 'open', 'sell']]);
    await expect(ex.fetchOpenOrders(SYMBOL, undefined, undefined, { trigger: true })).resolves.toEqual([]); // normal_plan: none
    // A stop above the mark for a long is refused as Bitget does (40917 → InvalidOrder).
    await expect(ex.createOrder(SYMBOL, 'market', 'sell', 0.01, undefined, { stopLossPrice: 90000 })).rejects.toThrow(ccxt.InvalidOrder);

    local.clock.advance(4); // 07:33: low 83,090 — the stop triggers at 83,500
    await expect(ex.fetchPositions([SYMBOL])).resolves.toEqual([]);
    const done = await ex.fetchCanceledAndClosedOrders(SYMBOL, undefined, undefined, { trigger: true, planType: 'profit_loss' });
    expect(done.map((o) => [o.id, o.status])).toEqual([[sl.id, 'closed']]);
    const trades = await ex.fetchMyTrades(SYMBOL);
    expect(trades.map((t) => [t.side, t.price, t.amount, t.takerOrMaker])).toEqual([['buy', 84500, 0.01, 'maker'], ['sell', 83500, 0.01, 'taker']]);
    expect(Number((trades[1].info as Record<string, string>)['profit'])).toBeCloseTo((83500 - 84500) * 0.01, 8);
  }, 60_000);

  it('places and cancels batches, cancels all, lists history, and flash-closes a position', async () => {
    const ex = rest();
    await ex.loadMarkets();
    const batch = await ex.createOrders([
      { symbol: SYMBOL, type: 'limit', side: 'buy', amount: 0.002, price: 70000, params: { clientOrderId: 'bwbitget0002-2E' } },
      { symbol: SYMBOL, type: 'limit', side: 'buy', amount: 0.002, price: 71000, params: { clientOrderId: 'bwbitget0002-3E' } },
      { symbol: SYMBOL, type: 'limit', side: 'buy', amount: 3, price: 71000 },
    ]);
    // The refused third order is in Bitget's failureList (ccxt 4.5.84 leaves it out of its result).
    expect(batch.map((o) => o.clientOrderId)).toEqual(['bwbitget0002-2E', 'bwbitget0002-3E']);
    expect(JSON.parse(String(ex.last_http_response))).toMatchObject({ data: { failureList: [{ orderId: '', errorCode: '40762', errorMsg: 'The order amount exceeds the balance' }] } });
    expect(await ex.fetchOpenOrders(SYMBOL)).toHaveLength(2);
    const canceled = await ex.cancelOrders([batch[0].id!], SYMBOL);
    expect(canceled.map((o) => o.id)).toEqual([batch[0].id]);
    await expect(ex.cancelOrder(batch[0].id!, SYMBOL)).rejects.toThrow(/22001/);
    await expect(ex.cancelOrder('999999', SYMBOL)).rejects.toThrow(ccxt.OrderNotFound);
    await ex.createOrder(SYMBOL, 'limit', 'buy', 0.002, 72000);
    const all = await ex.cancelAllOrders(SYMBOL);
    expect(all).toHaveLength(2);
    await expect(ex.fetchOpenOrders(SYMBOL)).resolves.toEqual([]);
    const history = await ex.fetchCanceledAndClosedOrders(SYMBOL);
    expect(history.filter((o) => o.status === 'canceled').map((o) => o.price).sort()).toEqual([70000, 71000, 72000]);

    // Flash close: a market entry fills on the next step, close-positions sells it on the one after.
    const buy = await ex.createOrder(SYMBOL, 'market', 'buy', 0.01);
    local.clock.advance(1);
    await expect(ex.fetchOrder(buy.id!, SYMBOL)).resolves.toMatchObject({ status: 'closed', filled: 0.01 });
    const close = await ex.closePosition(SYMBOL);
    expect(close.id).toEqual(expect.any(String));
    await expect(ex.fetchOrder(close.id!, SYMBOL)).resolves.toMatchObject({ status: 'open', reduceOnly: true, side: 'sell', amount: 0.01 });
    local.clock.advance(1);
    await expect(ex.fetchPositions([SYMBOL])).resolves.toEqual([]);
    await expect(ex.closePosition(SYMBOL)).rejects.toThrow(/22002/);
  }, 60_000);

  it('ends IOC / FOK that cannot fill and a post-only that would take as canceled, never open; a marketable IOC fills at once', async () => {
    const ex = rest();
    await ex.loadMarkets();
    const mark = Number((await ex.fetchMarkPrice(SYMBOL)).markPrice);
    const ioc = await ex.createOrder(SYMBOL, 'limit', 'buy', 0.002, 60000, { timeInForce: 'IOC' });
    const fok = await ex.createOrder(SYMBOL, 'limit', 'sell', 0.002, 99000, { timeInForce: 'FOK' });
    const po = await ex.createOrder(SYMBOL, 'limit', 'buy', 0.002, 99000, { postOnly: true });
    for (const [o, tif] of [[ioc, 'IOC'], [fok, 'FOK'], [po, 'PO']] as const) {
      await expect(ex.fetchOrder(o.id!, SYMBOL)).resolves.toMatchObject({ status: 'canceled', filled: 0, timeInForce: tif });
    }
    await expect(ex.fetchOpenOrders(SYMBOL)).resolves.toEqual([]);
    const take = await ex.createOrder(SYMBOL, 'limit', 'buy', 0.002, 99000, { timeInForce: 'IOC' });
    await expect(ex.fetchOrder(take.id!, SYMBOL)).resolves.toMatchObject({ status: 'closed', filled: 0.002, average: mark });
    await ex.createOrder(SYMBOL, 'market', 'sell', 0.002, undefined, { reduceOnly: true });
    local.clock.advance(1);
    await expect(ex.fetchPositions([SYMBOL])).resolves.toEqual([]);

    // A trigger order (ccxt triggerPrice → place-plan-order normal_plan): read back, canceled through ccxt.
    const plan = await ex.createOrder(SYMBOL, 'market', 'buy', 0.002, undefined, { triggerPrice: 90000, clientOrderId: 'bwbitget0003-4E' });
    await expect(ex.fetchOpenOrders(SYMBOL, undefined, undefined, { trigger: true })).resolves.toMatchObject([{ id: plan.id, triggerPrice: 90000, status: 'open', side: 'buy' }]);
    await expect(ex.cancelOrder(plan.id!, SYMBOL, { trigger: true })).resolves.toMatchObject({ id: plan.id });
    await expect(ex.fetchOpenOrders(SYMBOL, undefined, undefined, { trigger: true })).resolves.toEqual([]);
  }, 60_000);

  it("limits requests per endpoint as Bitget documents (429 'Too Many Requests' → ccxt DDoSProtection)", async () => {
    const strict = await startBitgetLocal({ ...bitgetLocalInputs(resolveDataDir()), startTime: START, accounts: [{ accountId: 'acc-rl', ...creds }] });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 12; i++) codes.push((await fetch(`${strict.url}/api/v2/mix/market/query-position-lever?symbol=BTCUSDT&productType=USDT-FUTURES`)).status);
      expect(codes).toContain(429); // 10 requests / s / IP
      const r = await fetch(`${strict.url}/api/v2/mix/market/query-position-lever?symbol=BTCUSDT&productType=USDT-FUTURES`);
      if (r.status === 429) expect(await r.json()).toMatchObject({ code: '429', msg: 'Too Many Requests', data: null });
    } finally {
      await strict.close();
    }
  }, 60_000);

  it('refuses bad signatures, passphrases and stale timestamps with Bitget codes, and the unified-account API', async () => {
    const path = '/api/v2/mix/account/accounts';
    const query = 'productType=USDT-FUTURES';
    await expect(raw('GET', path, { query })).resolves.toMatchObject({ status: 200, body: { code: '00000', msg: 'success', data: [{ marginCoin: 'USDT' }] } });
    await expect(raw('GET', path, { query, secret: 'wrong' })).resolves.toMatchObject({ status: 400, body: { code: '40009', data: null } });
    await expect(raw('GET', path, { query, passphrase: 'wrong' })).resolves.toMatchObject({ status: 400, body: { code: '40012' } });
    await expect(raw('GET', path, { query, ts: Date.now() - 120_000 })).resolves.toMatchObject({ status: 400, body: { code: '40008' } });
    await expect(raw('GET', '/api/v3/account/settings')).resolves.toMatchObject({ status: 400, body: { code: '40084' } });
    await expect(raw('GET', '/api/v2/mix/nothing')).resolves.toMatchObject({ status: 404, body: { code: '40404' } });

    await expect(rest({ ...creds, passphrase: 'wrong' }).fetchBalance()).rejects.toThrow(ccxt.AuthenticationError);
    await expect(rest({ ...creds, apiSecret: 'wrong' }).fetchBalance()).rejects.toThrow(ccxt.AuthenticationError);
    // ccxt's own probe: without options.uta, handleUTAAndParams asks /api/v3/account/settings and concludes a classic account.
    const cfg = bitgetCcxtFor(local, creds);
    const probing = useBitgetLocal(new ccxt.bitget(cfg.config), { urlsApi: cfg.urlsApi, options: { defaultType: 'swap', fetchMarkets: { types: ['swap'] } } });
    await expect(probing.fetchBalance()).resolves.toMatchObject({ USDT: { total: expect.any(Number) } });
    expect(probing.options['uta']).toBe(false);
    await expect(rest().fetchBalance({ uta: true })).rejects.toThrow(/40084/);
  }, 60_000);

  it('answers an injected fault with its Bitget code, which ccxt raises as the matching exception', async () => {
    const ex = rest();
    await ex.loadMarkets();
    const admin = bitgetLocalAdmin(local.url, creds);
    await admin.addFault({ method: 'POST', path: '/api/v2/mix/order/place-order', action: 'error', code: 40762, msg: 'The order amount exceeds the balance' });
    await expect(ex.createOrder(SYMBOL, 'market', 'buy', 0.01)).rejects.toThrow(ccxt.InsufficientFunds);
    await admin.addFault({ method: 'GET', path: '/api/v2/mix/order/detail', action: '429' });
    await expect(ex.fetchOrder('1', SYMBOL)).rejects.toThrow(ccxt.DDoSProtection);
    await admin.addFault({ method: 'POST', path: '/api/v2/mix/order/place-order', action: '503' });
    await expect(ex.createOrder(SYMBOL, 'market', 'buy', 0.01)).rejects.toThrow(ccxt.ExchangeError);
    await expect(admin.addFault({ method: 'GET', path: '/x', action: 'nope' } as never)).rejects.toThrow(/40017/);
    expect(local.faults.pending()).toEqual([]);
    // A real rejection: too big for the balance at 5x.
    await expect(ex.createOrder(SYMBOL, 'market', 'buy', 5)).rejects.toThrow(ccxt.InsufficientFunds);
    await expect(ex.createOrder(SYMBOL, 'limit', 'buy', 0.0001, 40000)).rejects.toThrow(ccxt.InvalidOrder); // 4 USDT < 5
  }, 60_000);

  it('pushes orders, fills and positions to ccxt.pro over the private websocket', async () => {
    const cfg = bitgetCcxtFor(local, creds);
    const ws = useBitgetLocal(new ccxt.pro.bitget(cfg.config), cfg);
    await ws.loadHttpProxyAgent();
    const ex = rest();
    try {
      await ws.loadMarkets();
      const orders: Array<{ id: string; status: string }> = [];
      const trades: Array<{ side: string; amount: number; price: number }> = [];
      const positions: Array<{ side: string; contracts: number }> = [];
      let stop = false;
      const pump = <T>(f: () => Promise<T[]>, into: T[]) =>
        (async () => {
          while (!stop) {
            try {
              into.push(...(await f()));
            } catch {
              await new Promise((r) => setTimeout(r, 20));
            }
          }
        })();
      const pumps = [
        pump(() => ws.watchOrders(SYMBOL) as unknown as Promise<typeof orders>, orders),
        pump(() => ws.watchMyTrades(SYMBOL) as unknown as Promise<typeof trades>, trades),
        pump(() => ws.watchPositions([SYMBOL]) as unknown as Promise<typeof positions>, positions),
      ];
      await until('the private connection with its 3 subscriptions (orders, fill, positions): a push before its subscribe is not seen', () => local.wsConnections('private') === 1 && local.wsSubscriptions('private') === 3); // orders, fill, positions: a push before its subscribe is not seen
      const o = await ex.createOrder(SYMBOL, 'market', 'buy', 0.01);
      await until('the open order pushed', () => orders.some((x) => x.id === o.id && x.status === 'open'));
      local.clock.advance(1);
      await until('the fill, closed order and position pushed', () => orders.some((x) => x.id === o.id && x.status === 'closed') && trades.length > 0 && positions.length > 0);
      expect(trades[trades.length - 1]).toMatchObject({ side: 'buy', amount: 0.01 });
      expect(positions[positions.length - 1]).toMatchObject({ side: 'long', contracts: 0.01 });
      await ex.closePosition(SYMBOL);
      local.clock.advance(1);
      await until('the closing sell pushed', () => trades.some((t) => t.side === 'sell'));
      stop = true;
      await ws.close();
      await Promise.allSettled(pumps);
    } finally {
      await ws.close();
    }
  }, 60_000);
});
