/**
 * ccxt itself (4.5.84, unmodified `binanceusdm` and `ccxt.pro.binanceusdm`, urls pointed at the
 * local venue) trading real BTCUSDT candles: REST and WebSocket, while the test drives the clock.
 */
import * as ccxt from 'ccxt';
import { resolveDataDir } from '@bulwark/market-data';
import { until } from '@bulwark/testing';
import { binanceLocalUrls, ccxtFor } from './ccxt-urls';
import { localVenueInputs } from './data';
import { startBinanceLocal, type BinanceLocal } from './server';

const creds = { apiKey: 'ccxt-key-0123456789', apiSecret: 'ccxt-secret-abcdefghijklmnop' };
const START = Date.parse('2025-11-21T07:30:00Z'); // the 07:33–07:34 sell-off: 85,175.8 → 81,111
const SYMBOL = 'BTC/USDT:USDT';

let local: BinanceLocal;

beforeAll(async () => {
  const inputs = localVenueInputs(resolveDataDir());
  local = await startBinanceLocal({ ...inputs, startTime: START, accounts: [{ accountId: 'acc-ccxt', ...creds, balance: '10000' }] });
});
afterAll(async () => {
  await local?.close();
});

function rest() {
  const cfg = ccxtFor(local, creds);
  const ex = new ccxt.binanceusdm(cfg.config);
  ex.urls['api'] = cfg.urlsApi as typeof ex.urls['api'];
  return ex;
}

/**
 * ccxt.pro over plain ws:// needs an HTTP agent first (`loadHttpProxyAgent`, else NotSupported).
 * The listen key is kept alive (PUT /fapi/v1/listenKey) every 300 ms instead of 20 min, so the
 * keep-alive runs during the test and no 20-minute timer outlives it.
 */
async function pro() {
  const ex = new ccxt.pro.binanceusdm({ apiKey: creds.apiKey, secret: creds.apiSecret, enableRateLimit: false });
  ex.options['listenKeyRefreshRate'] = 300;
  ex.urls['api'] = binanceLocalUrls(local.url, local.wsUrl) as typeof ex.urls['api'];
  await ex.loadHttpProxyAgent();
  return ex;
}


describe('ccxt binanceusdm against the local venue', () => {
  it('sets up the account, trades an entry with algo stop and take-profit, and sees the stop fill over the websocket', async () => {
    const ex = rest();
    const ws = await pro();
    try {
      local.clock.advance(1); // 07:30 open 85,175.8
      const markets = await ex.loadMarkets();
      expect(markets[SYMBOL]).toMatchObject({ id: 'BTCUSDT', swap: true, linear: true, settle: 'USDT' });
      expect(markets[SYMBOL]!.precision).toMatchObject({ price: 0.1, amount: 0.001 });
      expect(markets[SYMBOL]!.limits.cost?.min).toBe(5);

      const tiers = await ex.fetchLeverageTiers([SYMBOL]);
      expect(tiers[SYMBOL][0]).toMatchObject({ tier: 1, maxLeverage: 150, maxNotional: 300000, maintenanceMarginRate: 0.004 });

      // ccxt's setPositionMode(false): the account is already one-way → Binance -4059, which ccxt raises.
      await expect(ex.setPositionMode(false, SYMBOL)).rejects.toThrow(/-4059|No need to change position side/);
      await expect(ex.fetchPositionMode(SYMBOL)).resolves.toMatchObject({ hedged: false });
      await expect(ex.setMarginMode('isolated', SYMBOL)).resolves.toMatchObject({ code: 200 });
      await expect(ex.setMarginMode('isolated', SYMBOL)).rejects.toThrow(/No need to change margin type/);
      await expect(ex.setLeverage(5, SYMBOL)).resolves.toMatchObject({ leverage: 5, symbol: 'BTCUSDT' });

      const trades: Array<{ id: string; price: number; amount: number; side: string }> = [];
      const orders: Array<{ clientOrderId: string; status: string; id: string }> = [];
      const wsErrors: string[] = [];
      let stop = false;
      const pumpTrades = (async () => {
        while (!stop) {
          try {
            const t = await ws.watchMyTrades(SYMBOL);
            trades.push(...(t as unknown as typeof trades)); // newUpdates: only what is new since the last call
          } catch (e) {
            wsErrors.push(String(e));
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      })();
      const pumpOrders = (async () => {
        while (!stop) {
          try {
            const o = await ws.watchOrders(SYMBOL);
            orders.push(...(o as unknown as typeof orders));
          } catch (e) {
            wsErrors.push(String(e));
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      })();
      await until('the user-data connection', () => local.wsConnections('user') === 1, { detail: () => `websocket errors: ${wsErrors.join('; ')}` });

      const entry = await ex.createOrder(SYMBOL, 'market', 'buy', 0.01, undefined, { clientOrderId: 'bwccxt000000-1E' });
      expect(entry).toMatchObject({ clientOrderId: 'bwccxt000000-1E', status: 'open', amount: 0.01, side: 'buy', type: 'market' });
      const byClientId = await ex.fetchOrder(entry.id!, SYMBOL);
      expect(byClientId.clientOrderId).toBe('bwccxt000000-1E');

      const r = local.clock.advance(1); // the order fills at the step's start: the 07:30 open
      expect(r.orderUpdates['acc-ccxt']).toBe(1);
      await until('the entry fill pushed', () => trades.length === 1 && orders.some((o) => o.status === 'closed'));
      expect(trades[0]).toMatchObject({ price: 85175.8, amount: 0.01, side: 'buy' });
      await expect(ex.fetchOrder('', SYMBOL, { clientOrderId: 'bwccxt000000-1E' })).resolves.toMatchObject({ status: 'closed', average: 85175.8, filled: 0.01 });

      const sl = await ex.createOrder(SYMBOL, 'STOP_MARKET', 'sell', 0.01, undefined, { triggerPrice: 84000, reduceOnly: true, clientOrderId: 'bwccxt000000-1S' });
      const tp = await ex.createOrder(SYMBOL, 'TAKE_PROFIT_MARKET', 'sell', 0.01, undefined, { triggerPrice: 90000, reduceOnly: true, clientOrderId: 'bwccxt000000-1T' });
      expect(sl).toMatchObject({ clientOrderId: 'bwccxt000000-1S', status: 'open', triggerPrice: 84000, reduceOnly: true });
      expect(tp).toMatchObject({ clientOrderId: 'bwccxt000000-1T', status: 'open', triggerPrice: 90000 });
      const openAlgo = await ex.fetchOpenOrders(SYMBOL, undefined, undefined, { trigger: true });
      expect(openAlgo.map((o) => o.clientOrderId).sort()).toEqual(['bwccxt000000-1S', 'bwccxt000000-1T']);
      await expect(ex.fetchOpenOrders(SYMBOL)).resolves.toEqual([]);
      await expect(ex.fetchOrder(sl.id!, SYMBOL, { trigger: true })).resolves.toMatchObject({ id: sl.id, status: 'open', triggerPrice: 84000, info: { orderType: 'STOP_MARKET', algoStatus: 'NEW' } });

      // A limit order rests, then is canceled.
      const limit = await ex.createOrder(SYMBOL, 'limit', 'buy', 0.002, 70000, { clientOrderId: 'bwccxt000000-2E' });
      await expect(ex.fetchOpenOrders(SYMBOL)).resolves.toHaveLength(1);
      await expect(ex.cancelOrder(limit.id!, SYMBOL)).resolves.toMatchObject({ status: 'canceled' });
      await expect(ex.cancelOrder(limit.id!, SYMBOL)).rejects.toThrow(/Unknown order sent/);

      const positions = await ex.fetchPositions([SYMBOL]);
      expect(positions).toHaveLength(1);
      expect(positions[0]).toMatchObject({ symbol: SYMBOL, side: 'long', contracts: 0.01, entryPrice: 85175.8 });
      const bal = await ex.fetchBalance();
      // ccxt's total is the margin balance: wallet (10,000 − taker fee) + unrealised PnL at the mark (the step's price, 85,147.2).
      expect(bal['USDT'].total).toBeCloseTo(10000 - 85175.8 * 0.01 * 0.0005 + (85147.2 - 85175.8) * 0.01, 6);
      expect(bal.info['totalWalletBalance']).toBe('9999.57412100');

      // 07:32 low 84,287.6, 07:33 low 83,090: the stop at 84,000 triggers on the 07:33 bar.
      const walk = local.clock.advance(4 * 4);
      expect(walk.orderUpdates['acc-ccxt']).toBe(1);
      await until('the close fill pushed', () => trades.length === 2);
      expect(trades[1]).toMatchObject({ side: 'sell', price: 84000, amount: 0.01 });
      await expect(ex.fetchPositions([SYMBOL])).resolves.toEqual([]);
      await expect(ex.fetchOrder(sl.id!, SYMBOL, { trigger: true })).resolves.toMatchObject({ status: 'closed' });
      // The take-profit stays armed (reduce-only, nothing to reduce when it triggers); cancel it through ccxt.
      await expect(ex.cancelOrder(tp.id!, SYMBOL, { trigger: true })).resolves.toMatchObject({ id: tp.id });
      await expect(ex.fetchOpenOrders(SYMBOL, undefined, undefined, { trigger: true })).resolves.toEqual([]);

      const myTrades = await ex.fetchMyTrades(SYMBOL);
      expect(myTrades.map((t) => [t.side, t.price, t.amount])).toEqual([['buy', 85175.8, 0.01], ['sell', 84000, 0.01]]);
      const pnl = (84000 - 85175.8) * 0.01;
      expect(Number(myTrades[1].info['realizedPnl'])).toBeCloseTo(pnl, 8);
      const income = (await ex.fetchFundingHistory(SYMBOL)) as unknown[];
      expect(income).toEqual([]);
      stop = true;
      await ws.close();
      await Promise.allSettled([pumpTrades, pumpOrders]);
    } finally {
      await ws.close();
    }
  }, 60_000);

  it('serves klines and funding history up to the clock, and streams klines and mark prices', async () => {
    const ex = rest();
    const ws = await pro();
    try {
      const now = local.clock.now();
      const bars = await ex.fetchOHLCV(SYMBOL, '1m', START - 5 * 60_000, 10);
      expect(bars[0]).toEqual([START - 5 * 60_000, expect.any(Number), expect.any(Number), expect.any(Number), expect.any(Number), expect.any(Number)]);
      expect(bars.every((b) => (b[0] ?? Infinity) <= now)).toBe(true);
      // History before the clock's start is the recorded file, volume included.
      expect(bars.find((b) => b[0] === START - 60_000)).toEqual([START - 60_000, 85266.1, 85266.2, 85160.8, 85175.9, 154.547]);
      const fr = await ex.fetchFundingRateHistory(SYMBOL, Date.parse('2025-11-20T00:00:00Z'));
      expect(fr.length).toBeGreaterThanOrEqual(3);
      expect(fr.every((f) => (f.timestamp ?? 0) <= now)).toBe(true);

      const ohlcv = ws.watchOHLCV(SYMBOL, '1m');
      const mark = ws.watchMarkPrice(SYMBOL);
      // Both SUBSCRIBE requests arrive before the clock moves: a push before them is not seen.
      await until('both SUBSCRIBE requests (kline, mark price): a push before them is not seen', () => local.wsSubscribers('btcusdt@kline_1m') >= 1 && local.wsSubscribers('btcusdt@markPrice') + local.wsSubscribers('btcusdt@markPrice@1s') >= 1);
      local.clock.advance(1);
      const [k, m] = await Promise.all([ohlcv, mark]);
      expect(k[k.length - 1][0]).toBe(local.clock.now() - (local.clock.now() % 60_000));
      expect(m).toMatchObject({ symbol: SYMBOL });
      expect(m.markPrice).toBeGreaterThan(0);
      const premium = await ex.fetchFundingRate(SYMBOL);
      expect(premium).toMatchObject({ symbol: SYMBOL, fundingTimestamp: Date.parse('2025-11-21T08:00:00Z'), fundingRate: 0.00004524 });
    } finally {
      await ws.close();
    }
  }, 60_000);
});
