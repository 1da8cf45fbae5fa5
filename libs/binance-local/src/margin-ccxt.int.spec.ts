/**
 * ccxt itself (4.5.84, unmodified `binance` / `ccxt.pro.binance`, urls pointed at the local
 * spot-margin venue) trading BTCUSDT isolated margin on the real 2024-08-05 crash (spot 1m
 * candles): transfers, an auto-borrow long sized by the 1 % rule and closed at its internal
 * stop with auto-repay, interest to the cent, a short on borrowed BTC, the venue's refusals.
 */
import * as ccxt from 'ccxt';
import { D, floorToStep, sizeSpotMarginEntry, str } from '@bulwark/domain';
import { loadMarginPair } from '@bulwark/market-data';
import { SPOT_BTCUSDT_FILES, until } from '@bulwark/testing';
import { startBinanceMarginLocal, type BinanceMarginLocal } from './margin-server';

jest.setTimeout(120_000);

const creds = { apiKey: 'margin-key-0123456789', apiSecret: 'margin-secret-abcdefghijklmnop' };
const START = Date.parse('2024-08-04T22:00:00Z');
const SYMBOL = 'BTC/USDT';
const CANDLES = SPOT_BTCUSDT_FILES.candles1mAugust2024;
const HOUR = 3_600_000;
type ProBinance = InstanceType<typeof ccxt.pro.binance>;

let local: BinanceMarginLocal;
const pair = loadMarginPair('BTCUSDT');

beforeEach(async () => {
  local = await startBinanceMarginLocal({ pair, candlesFile: CANDLES, startTime: START, accounts: [{ accountId: 'acc-m', ...creds, spot: { USDT: '1000' } }] });
});
afterEach(async () => {
  await local?.close();
});

/** One ccxt.pro `binance` for REST and the user-data websocket, pointed at the local venue (see the spec notes in margin-server.ts). */
async function client(): Promise<ProBinance> {
  const ex = new ccxt.pro.binance({ apiKey: creds.apiKey, secret: creds.apiSecret, enableRateLimit: false });
  // Spot markets only (the futures exchangeInfo urls are not served); set after construction so
  // the rest of ccxt's options (fetchMargins, fetchCurrencies) stay as they are.
  ex.options['fetchMarkets'] = { ...ex.options['fetchMarkets'], types: ['spot'] };
  const r = local.url;
  ex.urls['api'] = {
    public: `${r}/api/v3`, private: `${r}/api/v3`, v1: `${r}/api/v1`, sapi: `${r}/sapi/v1`, sapiV2: `${r}/sapi/v2`, sapiV3: `${r}/sapi/v3`, sapiV4: `${r}/sapi/v4`,
    ws: { spot: `${local.wsUrl}/ws`, margin: `${local.wsUrl}/ws`, 'ws-api': { spot: `${local.wsUrl}/ws-api/v3` } },
  } as unknown as typeof ex.urls['api'];
  // ccxt applies Binance's margin error classes only to api.binance.com urls.
  ex.exceptions['exact'] = { ...ex.exceptions['exact'], ...ex.exceptions['spot']['exact'] };
  trackDelays(ex);
  await ex.loadHttpProxyAgent();
  await ex.loadMarkets();
  return ex;
}

/**
 * Close a ccxt.pro client. ccxt 4.5.84's margin user stream leaves a future nobody awaits
 * (`margin:fetchPositionsSnapshot`); `close()` rejects it, an unhandled rejection. Each pending
 * future gets a handler first.
 */
async function closeClient(ex: ProBinance): Promise<void> {
  for (const c of Object.values(ex.clients) as Array<{ futures: Record<string, Promise<unknown>> }>) for (const f of Object.values(c.futures)) f.catch(() => undefined);
  await ex.close();
  for (const t of timers.get(ex) ?? []) clearTimeout(t);
}

/** ccxt.pro schedules the listen-token renewal (~24 h) with a bare setTimeout its close() never clears: track them. */
const timers = new WeakMap<object, Set<NodeJS.Timeout>>();
function trackDelays(ex: ProBinance): void {
  const set = new Set<NodeJS.Timeout>();
  timers.set(ex, set);
  ex.delay = (timeout: number, method: unknown, ...args: unknown[]) => {
    const t = setTimeout(() => {
      set.delete(t);
      ex.spawn(method as never, ...args);
    }, timeout);
    set.add(t);
  };
}

const isolated = { marginMode: 'isolated' };
const price = () => local.engine.priceOf('BTCUSDT')!;


describe('ccxt binance against the local spot isolated-margin venue, 2024-08-05', () => {
  it('transfers in, opens a sized auto-borrow long, closes it at the internal stop with auto-repay, charges interest to the cent, transfers out', async () => {
    const ex = await client();
    const orders: ccxt.Order[] = [];
    let watching: Promise<void> = Promise.resolve();
    try {
      local.clock.advance(1); // 22:00 open
      expect(ex.markets?.[SYMBOL]?.marginModes).toEqual({ cross: true, isolated: true });
      await ex.transfer('USDT', 1000, 'spot', SYMBOL);
      let bal = await ex.fetchBalance(isolated);
      expect(bal['USDT']).toMatchObject({ free: 1000, used: 0, debt: 0 });

      // The user-data stream (listen token + WebSocket API).
      watching = (async () => {
        for (;;) {
          try {
            orders.push(...(await ex.watchOrders(SYMBOL, undefined, undefined, { type: 'margin', marginMode: 'isolated' })));
          } catch {
            return;
          }
        }
      })();
      await until('the margin user stream', () => local.userStreams() === 1);

      // 1 % of 1000 at risk, stop 0.5 % below, 5x, at most 50 % of the account as margin.
      const entry = price();
      const stop = floorToStep(entry.mul('0.995'), pair.rules.tickSize);
      const sized = sizeSpotMarginEntry({
        side: 'BUY', entryPrice: entry, stopPrice: stop, equity: new D(1000), availableMargin: new D(500), riskFraction: new D('0.01'), leverage: 5,
        takerFeeRate: pair.rules.takerFeeRate, stepSize: pair.rules.stepSize, minQty: pair.rules.minQty, minNotional: pair.rules.minNotional,
      });
      if (!sized.ok) throw new Error(sized.error.message);
      const qty = new D(sized.value.quantity);
      expect(qty.mul(entry).gt(1000)).toBe(true); // more than the account holds: the venue lends the rest
      const opened = await ex.createOrder(SYMBOL, 'market', 'buy', Number(str(qty)), undefined, { ...isolated, sideEffectType: 'MARGIN_BUY', newClientOrderId: 'bw-long-1E' });
      expect(opened.status).toBe('closed');
      const borrowed = new D(String(opened.info['marginBuyBorrowAmount']));
      expect(str(borrowed)).toBe(str(qty.mul(entry).minus(1000)));
      const openedAt = local.clock.now();
      await until('the entry order\'s close pushed', () => orders.some((o) => o.clientOrderId === 'bw-long-1E' && o.status === 'closed'));

      // While the loan is open the transfer-out bar (2.0) holds the collateral in: one step more than the venue's maximum is refused (-3020).
      const maxOut = new D(String(((await ex.sapiGetMarginMaxTransferable({ asset: 'BTC', isolatedSymbol: 'BTCUSDT' })) as { amount: string }).amount));
      await expect(ex.transfer('BTC', Number(str(maxOut.plus('0.00001'))), SYMBOL, 'spot')).rejects.toThrow(ccxt.BadRequest);

      // The Iron Exit: the internal stop is watched on every path step; the close sells what is held with AUTO_REPAY.
      let steps = 0;
      while (price().gt(stop)) {
        expect(local.clock.advance(1)).toBe(1);
        steps++;
      }
      const exitAt = local.clock.now();
      bal = await ex.fetchBalance(isolated);
      const held = floorToStep(new D(String(bal.info['assets'][0].baseAsset.free)), pair.rules.stepSize);
      const closed = await ex.createOrder(SYMBOL, 'market', 'sell', Number(str(held)), undefined, { ...isolated, sideEffectType: 'AUTO_REPAY', newClientOrderId: 'bw-long-1C' });
      expect(closed.status).toBe('closed');
      await until('the close order pushed', () => orders.some((o) => o.clientOrderId === 'bw-long-1C'));

      // Interest: charged at borrowing and at each full hour held, each hour = principal × 0.000475 / 24 up to 8 decimals.
      const hours = 1 + Math.floor(exitAt / HOUR) - Math.floor(openedAt / HOUR);
      const hourly = borrowed.mul('0.000475').div(24).toDecimalPlaces(8, D.ROUND_UP);
      const rows = await ex.fetchBorrowInterest('USDT', SYMBOL);
      expect(rows).toHaveLength(hours);
      expect(rows.map((r) => r.info['type'])).toEqual(['ON_BORROW', ...Array(hours - 1).fill('PERIODIC')]);
      const charged = rows.reduce((s, r) => s.plus(String(r.info['interest'])), new D(0));
      expect(str(charged)).toBe(str(hourly.mul(hours)));

      // Everything repaid, interest first.
      bal = await ex.fetchBalance(isolated);
      expect(bal['USDT']!.debt).toBe(0);
      const repaid = local.engine.loanHistory('acc-m').filter((l) => l.type === 'REPAY');
      expect(repaid.map((l) => [l.source, str(l.interest), str(l.principal)])).toEqual([['AUTO', str(charged), str(borrowed)]]);

      // Out again: the account's result is the two trades, their fees and the interest, to the 8th decimal.
      const free = new D(String(bal.info['assets'][0].quoteAsset.free));
      await ex.transfer('USDT', Number(str(free)), SYMBOL, 'spot');
      const trades = await ex.fetchMyTrades(SYMBOL, undefined, undefined, isolated);
      expect(trades).toHaveLength(2);
      const [buy, sell] = trades.map((t) => t.info);
      const result = new D(String(sell['quoteQty'])).minus(String(sell['commission'])).minus(String(buy['quoteQty'])).minus(charged);
      const spot = await ex.fetchBalance();
      expect(str(new D(String(spot.info['balances'].find((b: { asset: string }) => b.asset === 'USDT').free)).minus(1000))).toBe(str(result));
      expect(steps).toBeGreaterThan(0);
    } finally {
      await closeClient(ex);
      await watching;
    }
  });

  it('shorts on borrowed BTC and buys it back with auto-repay', async () => {
    const ex = await client();
    try {
      local.clock.advance(1);
      await ex.transfer('USDT', 1000, 'spot', SYMBOL);
      const sold = await ex.createOrder(SYMBOL, 'market', 'sell', 0.02, undefined, { ...isolated, sideEffectType: 'MARGIN_BUY' });
      expect(sold.info['marginBuyBorrowAsset']).toBe('BTC');
      expect(sold.info['marginBuyBorrowAmount']).toBe('0.02000000');
      local.clock.advance(4 * 90); // 90 minutes later: one or two full hours
      const bal = await ex.fetchBalance(isolated);
      const owed = new D(String(bal.info['assets'][0].baseAsset.borrowed)).plus(String(bal.info['assets'][0].baseAsset.interest));
      const qty = floorToStep(owed.div(new D(1).minus(pair.rules.takerFeeRate)), pair.rules.stepSize).plus(pair.rules.stepSize);
      await ex.createOrder(SYMBOL, 'market', 'buy', Number(str(qty)), undefined, { ...isolated, sideEffectType: 'AUTO_REPAY' });
      const after = await ex.fetchBalance(isolated);
      expect(after['BTC']!.debt).toBe(0);
      expect(after['USDT']!.debt).toBe(0);
    } finally {
      await closeClient(ex);
    }
  });

  it("answers ccxt with Binance's own errors and loses nothing", async () => {
    const ex = await client();
    try {
      local.clock.advance(1);
      await expect(ex.transfer('USDT', 5000, 'spot', SYMBOL)).rejects.toThrow(ccxt.InsufficientFunds); // -3041
      await ex.transfer('USDT', 1000, 'spot', SYMBOL);
      await expect(ex.borrowIsolatedMargin(SYMBOL, 'USDT', 1_000_000)).rejects.toThrow(ccxt.BadRequest); // -3006
      await expect(ex.createOrder(SYMBOL, 'market', 'buy', 1, undefined, isolated)).rejects.toThrow(ccxt.InsufficientFunds); // -2010
      await expect(ex.createOrder(SYMBOL, 'market', 'buy', 0.00001, undefined, isolated)).rejects.toThrow(/Filter failure: NOTIONAL/); // -1013: ccxt makes only LOT_SIZE / PRICE_FILTER an InvalidOrder
      await expect(ex.cancelOrder('424242', SYMBOL, isolated)).rejects.toThrow(ccxt.OrderNotFound); // -2011
      await expect(ex.repayIsolatedMargin(SYMBOL, 'USDT', 1)).rejects.toThrow(ccxt.BadRequest); // -3015
      const bal = await ex.fetchBalance(isolated);
      expect(bal['USDT']).toMatchObject({ free: 1000, used: 0, debt: 0 });
      expect(local.engine.ordersOf('acc-m', 'BTCUSDT')).toHaveLength(0);
    } finally {
      await closeClient(ex);
    }
  });
});
