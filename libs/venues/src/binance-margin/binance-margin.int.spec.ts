/**
 * BinanceMarginVenue (unmodified ccxt 4.5.84 `binance` REST + ccxt.pro `binance` user data)
 * against the local spot isolated-margin venue (@bulwark/binance-local startBinanceMarginLocal)
 * over HTTP and the WebSocket API, priced by the recorded BTCUSDT spot 1m candles of
 * 2024-07-26 … 2024-08-25 from ../shared/data, with the pair's recorded rules (data/venues).
 */
import { startBinanceMarginLocal, type BinanceMarginLocal } from '@bulwark/binance-local';
import { ceilToStep, dec, floorToStep, str, ZERO, type D } from '@bulwark/domain';
import { loadMarginPair } from '@bulwark/market-data';
import { SPOT_BTCUSDT_FILES, until } from '@bulwark/testing';
import { classifyVenueError } from '../binance/errors';
import { VenueCallError } from '../binance/requests';
import { BinanceMarginVenue, type MarginOrderSnapshot, type MarginUserDataMessage } from './index';

jest.setTimeout(120_000);

const KEY = 'margin-int-key-bm9MZWFrc0luTG9nc09yRXJyb3Jz';
const SECRET = 'margin-int-secret-U2VjcmV0TmV2ZXJJbkFueU1lc3NhZ2U';
const ACC = 'acc-margin-int';
const SYMBOL = 'BTCUSDT';
/** 2024-08-04 22:00 UTC: the evening before the 2024-08-05 crash. */
const START = Date.parse('2024-08-04T22:00:00Z');
const CANDLES = SPOT_BTCUSDT_FILES.candles1mAugust2024;
const STEP = dec('0.00001'); // LOT_SIZE stepSize of the recorded exchangeInfo
const STEPS_PER_HOUR = 4 * 60; // the clock walks 4 path steps a 1m candle

const pair = loadMarginPair('BTCUSDT');
let local: BinanceMarginLocal;
let venue: BinanceMarginVenue;
const logs: string[] = [];

beforeEach(async () => {
  local = await startBinanceMarginLocal({
    port: 0,
    accounts: [{ accountId: ACC, apiKey: KEY, apiSecret: SECRET }],
    pair,
    candlesFile: CANDLES,
    startTime: START,
    // Binance limits each /sapi endpoint on its own; the local venue counts them all in one
    // window, where one transfer (900) and one borrow (1500) would already fill 2400.
    limits: { weightPerMinute: 1_000_000, ordersPer10s: 10_000, ordersPerMinute: 100_000 },
  });
  local.clock.advance(1);
  venue = new BinanceMarginVenue({
    accountId: ACC, apiKey: KEY, apiSecret: SECRET, mode: 'local', restBase: local.url, wsBase: local.wsUrl, symbols: [SYMBOL], timeoutMs: 5_000,
    log: (l) => (logs.push(l), process.env['VENUE_DEBUG'] && console.log(l)), random: () => 0.5,
  });
  if (process.env['CCXT_VERBOSE']) venue.exchange.verbose = true;
}, 120_000);

afterEach(async () => {
  await venue?.close();
  await local?.close();
}, 120_000);

afterAll(() => {
  for (const l of logs) {
    expect(l).not.toContain(KEY);
    expect(l).not.toContain(SECRET);
    expect(l).not.toMatch(/signature=[0-9a-f]/);
  }
});

const price = (): D => local.engine.priceOf(SYMBOL)!;

function value<T>(r: { ok: true; value: T } | { ok: false; error: { code: string; message: string } }): T {
  if (!r.ok) throw new Error(`unexpected rejection ${r.error.code} ${r.error.message}`);
  return r.value;
}

const sum = (xs: D[]) => xs.reduce((a, b) => a.plus(b), ZERO);

/** The fills of an order, in BTC: what a BUY received after a commission charged in BTC. */
function netBase(o: MarginOrderSnapshot): D {
  return sum(o.fills.map((f) => (f.commissionAsset === 'BTC' ? f.qty.minus(f.commission) : f.qty)));
}

describe('BinanceMarginVenue against the local spot isolated-margin venue (BTCUSDT, 2024-08-04/05)', () => {
  it('deposit, transfer in, MARGIN_BUY long, the loan on the account, interest, AUTO_REPAY close, transfer out; the fill on the user-data stream', async () => {
    local.engine.deposit(ACC, 'USDT', dec('1000'));
    const events: MarginUserDataMessage[] = [];
    const stop = await venue.watchUserData(SYMBOL, (m) => events.push(m));

    const tin = value(await venue.transferToMargin(SYMBOL, 'USDT', dec('1000')));
    expect(tin.tranId).toMatch(/^\d+$/);
    let acct = await venue.isolatedAccount(SYMBOL);
    expect(acct.symbol).toBe(SYMBOL);
    expect(str(acct.quote.free)).toBe('1000');
    expect(acct.quote.borrowed.isZero()).toBe(true);
    expect(acct.base.asset).toBe('BTC');
    await until('a balanceUpdate on the user-data stream', () => events.some((e) => e.e === 'balanceUpdate'));

    const room = await venue.maxBorrowable(SYMBOL, 'USDT');
    expect(room.amount.gt(1000)).toBe(true);
    expect(room.borrowLimit.gt(0)).toBe(true);

    // A 2.5× long: 2500 USDT of BTC on 1000 USDT of equity, the rest borrowed by the order.
    const qty = floorToStep(dec(2500).div(price()), STEP);
    const buy = value(await venue.placeOrder({ symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: qty, sideEffectType: 'MARGIN_BUY', clientOrderId: 'int-long-1' }));
    expect(buy).toMatchObject({ symbol: SYMBOL, clientOrderId: 'int-long-1', side: 'BUY', type: 'MARKET', status: 'FILLED', marginBuyBorrowAsset: 'USDT' });
    expect(buy.executedQty.eq(qty)).toBe(true);
    expect(buy.fills.length).toBeGreaterThan(0);
    expect(sum(buy.fills.map((f) => f.qty)).eq(qty)).toBe(true);
    expect(sum(buy.fills.map((f) => f.price.mul(f.qty))).eq(buy.cummulativeQuoteQty)).toBe(true);
    const borrowed = buy.marginBuyBorrowAmount!;
    expect(borrowed.gt(1000)).toBe(true);
    expect(buy.cummulativeQuoteQty.minus(borrowed).lte(1000)).toBe(true);

    // The fill arrives on the user-data stream as Binance's executionReport.
    await until('the executionReport TRADE of int-long-1', () => events.some((e) => e.e === 'executionReport' && e['c'] === 'int-long-1' && e['x'] === 'TRADE'));
    const report = events.find((e) => e.e === 'executionReport' && e['c'] === 'int-long-1' && e['x'] === 'TRADE')!;
    expect(report).toMatchObject({ s: SYMBOL, S: 'BUY', o: 'MARKET', i: Number(buy.orderId) });
    expect(dec(String(report['l'])).gt(0)).toBe(true);
    await until('an outboundAccountPosition', () => events.some((e) => e.e === 'outboundAccountPosition'));

    acct = await venue.isolatedAccount(SYMBOL);
    expect(acct.quote.borrowed.eq(borrowed)).toBe(true);
    expect(acct.quote.interest.gt(0)).toBe(true); // the first hour, charged at borrowing
    expect(acct.base.free.eq(netBase(buy))).toBe(true);
    expect(acct.marginLevel.gt(1)).toBe(true);
    expect(['EXCESSIVE', 'NORMAL']).toContain(acct.marginLevelStatus);
    expect(acct.indexPrice.gt(0)).toBe(true);
    expect(acct.liquidatePrice.gt(0)).toBe(true);
    expect(acct.liquidatePrice.lt(acct.indexPrice)).toBe(true);

    // Two hours later: periodic interest at each full hour.
    local.clock.advance(2 * STEPS_PER_HOUR);
    acct = await venue.isolatedAccount(SYMBOL);
    const rows = await venue.interestHistory(SYMBOL, 'USDT');
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const r of rows) expect(r).toMatchObject({ asset: 'USDT', isolatedSymbol: SYMBOL });
    expect(rows.map((r) => r.type)).toContain('ON_BORROW');
    expect(rows.map((r) => r.type)).toContain('PERIODIC');
    expect(sum(rows.map((r) => r.interest)).eq(acct.quote.interest)).toBe(true);
    expect(rows.every((r) => r.principal.eq(borrowed) && r.interestRate.gt(0))).toBe(true);

    // Close: sell everything held, the proceeds repay interest and loan (AUTO_REPAY).
    const closeQty = floorToStep(acct.base.free, STEP);
    const sell = value(await venue.placeOrder({ symbol: SYMBOL, side: 'SELL', type: 'MARKET', quantity: closeQty, sideEffectType: 'AUTO_REPAY', clientOrderId: 'int-long-1-close' }));
    expect(sell.status).toBe('FILLED');
    expect(sell.marginBuyBorrowAmount).toBeNull();
    acct = await venue.isolatedAccount(SYMBOL);
    expect(acct.quote.borrowed.isZero()).toBe(true);
    expect(acct.quote.interest.isZero()).toBe(true);
    expect(acct.base.borrowed.isZero()).toBe(true);

    // Everything that may leave goes back to the spot wallet.
    const out = await venue.maxTransferable(SYMBOL, 'USDT');
    expect(out.amount.gt(0)).toBe(true);
    value(await venue.transferToSpot(SYMBOL, 'USDT', out.amount));
    expect(local.engine.spotBalance(ACC, 'USDT').eq(out.amount)).toBe(true);

    const trades = await venue.trades(SYMBOL);
    expect([...new Set(trades.map((t) => t.orderId))].sort()).toEqual([buy.orderId, sell.orderId].sort());
    expect(sum(trades.filter((t) => t.side === 'BUY').map((t) => t.qty)).eq(qty)).toBe(true);
    expect(sum(trades.filter((t) => t.side === 'SELL').map((t) => t.qty)).eq(closeQty)).toBe(true);
    expect((await venue.order(SYMBOL, { clientOrderId: 'int-long-1' }))?.status).toBe('FILLED');
    expect(await venue.openOrders(SYMBOL)).toEqual([]);
    stop();
  });

  it('a short on borrowed BTC: explicit borrow and repay, MARGIN_BUY sell, AUTO_REPAY buy-back', async () => {
    local.engine.deposit(ACC, 'USDT', dec('1000'));
    value(await venue.transferToMargin(SYMBOL, 'USDT', dec('1000')));

    // Borrow and repay explicitly (amount = principal + interest: the whole debt).
    const small = dec('0.001');
    value(await venue.borrow(SYMBOL, 'BTC', small));
    let acct = await venue.isolatedAccount(SYMBOL);
    expect(acct.base.borrowed.eq(small)).toBe(true);
    expect(acct.base.free.eq(small)).toBe(true);
    expect(acct.base.netAsset.eq(acct.base.interest.neg())).toBe(true);
    // Repaying principal + interest needs a little more BTC than was borrowed: bring the interest in from spot.
    local.engine.deposit(ACC, 'BTC', acct.base.interest);
    value(await venue.transferToMargin(SYMBOL, 'BTC', acct.base.interest));
    value(await venue.repay(SYMBOL, 'BTC', acct.base.borrowed.plus(acct.base.interest)));
    acct = await venue.isolatedAccount(SYMBOL);
    expect(acct.base.borrowed.isZero()).toBe(true);
    expect(acct.base.interest.isZero()).toBe(true);

    // Short 1.5× equity: the sell borrows the BTC it sells (MARGIN_BUY on a SELL borrows base).
    const qty = floorToStep(dec(1500).div(price()), STEP);
    const sell = value(await venue.placeOrder({ symbol: SYMBOL, side: 'SELL', type: 'MARKET', quantity: qty, sideEffectType: 'MARGIN_BUY', clientOrderId: 'int-short-1' }));
    expect(sell).toMatchObject({ status: 'FILLED', marginBuyBorrowAsset: 'BTC' });
    expect(sell.marginBuyBorrowAmount!.eq(qty)).toBe(true);
    acct = await venue.isolatedAccount(SYMBOL);
    expect(acct.base.borrowed.eq(qty)).toBe(true);
    expect(acct.base.netAsset.isNegative()).toBe(true);
    expect(acct.liquidatePrice.gt(acct.indexPrice)).toBe(true);

    local.clock.advance(STEPS_PER_HOUR);
    acct = await venue.isolatedAccount(SYMBOL);
    // Buy back the debt plus the BTC commission of the buy itself (taker 0.1 %), on the lot step.
    const debt = acct.base.borrowed.plus(acct.base.interest).minus(acct.base.free);
    const buyQty = ceilToStep(debt.div(dec(1).minus(pair.rules.takerFeeRate)), STEP);
    const buy = value(await venue.placeOrder({ symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: buyQty, sideEffectType: 'AUTO_REPAY', clientOrderId: 'int-short-1-close' }));
    expect(buy.status).toBe('FILLED');
    acct = await venue.isolatedAccount(SYMBOL);
    expect(acct.base.borrowed.isZero()).toBe(true);
    expect(acct.base.interest.isZero()).toBe(true);
    expect(acct.quote.borrowed.isZero()).toBe(true);
    const rows = await venue.interestHistory(SYMBOL, 'BTC');
    expect(rows.length).toBeGreaterThanOrEqual(3); // the explicit loan's first hour, the short's first hour, one full hour
  });

  it('each venue refusal ends as its typed rejection', async () => {
    local.engine.deposit(ACC, 'USDT', dec('1000'));
    value(await venue.transferToMargin(SYMBOL, 'USDT', dec('1000')));
    const reasonOf = (r: { ok: boolean; error?: { code: string; message: string } }) => (r.error ? classifyVenueError(r.error.code, r.error.message).reason : 'OK');

    // -3006: more than maxBorrowable.
    const room = await venue.maxBorrowable(SYMBOL, 'USDT');
    const over = await venue.borrow(SYMBOL, 'USDT', room.amount.plus(1));
    expect(over.ok).toBe(false);
    expect(!over.ok && over.error.code).toBe('-3006');
    expect(reasonOf(over)).toBe('BORROW_LIMIT');

    // -3020: with a loan outstanding, more than maxTransferable may not leave.
    value(await venue.borrow(SYMBOL, 'USDT', dec('2000')));
    const most = await venue.maxTransferable(SYMBOL, 'USDT');
    expect(most.amount.lt(3000)).toBe(true);
    const out = await venue.transferToSpot(SYMBOL, 'USDT', most.amount.plus(1));
    expect(!out.ok && out.error.code).toBe('-3020');
    expect(reasonOf(out)).toBe('TRANSFER_OUT_LIMIT');

    // -2010 "Account has insufficient balance for requested action.": a buy beyond the free USDT, no borrowing.
    const big = floorToStep(dec(10_000).div(price()), STEP);
    const poor = await venue.placeOrder({ symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: big, sideEffectType: 'NO_SIDE_EFFECT', clientOrderId: 'int-poor' });
    expect(!poor.ok && poor.error.code).toBe('-2010');
    expect(!poor.ok && poor.error.message).toMatch(/^Account has insufficient balance for requested action\./);
    expect(reasonOf(poor)).toBe('INSUFFICIENT_BALANCE');

    // -1013: below the NOTIONAL filter (5 USDT), and off the lot step.
    const tiny = await venue.placeOrder({ symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: dec('0.00001'), sideEffectType: 'NO_SIDE_EFFECT', clientOrderId: 'int-tiny' });
    expect(!tiny.ok && tiny.error.code).toBe('-1013');
    expect(reasonOf(tiny)).toBe('INVALID');
    const offStep = await venue.placeOrder({ symbol: SYMBOL, side: 'BUY', type: 'LIMIT', quantity: dec('0.0010001'), price: floorToStep(price().mul(0.9), dec('0.01')), sideEffectType: 'NO_SIDE_EFFECT', clientOrderId: 'int-off-step' });
    expect(!offStep.ok && offStep.error.code).toBe('-1013');

    // -2011: cancel an order the venue does not know.
    const unknown = await venue.cancelOrder(SYMBOL, { orderId: '424242' });
    expect(!unknown.ok && unknown.error.code).toBe('-2011');
    expect(reasonOf(unknown)).toBe('UNKNOWN_ORDER');
    const unknownByClient = await venue.cancelOrder(SYMBOL, { clientOrderId: 'never-placed' });
    expect(!unknownByClient.ok && unknownByClient.error.code).toBe('-2011');
    expect(await venue.order(SYMBOL, { clientOrderId: 'never-placed' })).toBeNull();

    // Reads throw the typed rejection; a pair this adapter was not given is refused before sending.
    await expect(venue.isolatedAccount('ETHUSDT')).rejects.toThrow(VenueCallError);
    const other = await venue.borrow('ETHUSDT', 'USDT', dec(1));
    expect(!other.ok && other.error.code).toBe('PAIR_NOT_CONFIGURED');
    for (const r of [over, out, poor, tiny, unknown]) {
      if (r.ok) continue;
      expect(r.error.message).not.toContain(KEY);
      expect(r.error.message).not.toContain(SECRET);
    }
  });

  it('resting LIMIT_MAKER: open orders, query, cancel by client id', async () => {
    local.engine.deposit(ACC, 'USDT', dec('1000'));
    value(await venue.transferToMargin(SYMBOL, 'USDT', dec('1000')));
    const bid = floorToStep(price().mul(0.8), dec('0.01'));
    const placed = value(await venue.placeOrder({ symbol: SYMBOL, side: 'BUY', type: 'LIMIT_MAKER', quantity: dec('0.001'), price: bid, sideEffectType: 'NO_SIDE_EFFECT', clientOrderId: 'int-maker' }));
    expect(placed).toMatchObject({ status: 'NEW', type: 'LIMIT_MAKER' });
    expect(placed.price.eq(bid)).toBe(true);
    const open = await venue.openOrders(SYMBOL);
    expect(open.map((o) => o.clientOrderId)).toEqual(['int-maker']);
    expect((await venue.order(SYMBOL, { orderId: placed.orderId }))?.clientOrderId).toBe('int-maker');
    const canceled = value(await venue.cancelOrder(SYMBOL, { clientOrderId: 'int-maker' }));
    expect(canceled.status).toBe('CANCELED');
    expect(await venue.openOrders(SYMBOL)).toEqual([]);
  });

  it('an order whose answer is lost (HTTP 503 after processing) is found by its client id, fills included, never placed twice', async () => {
    local.engine.deposit(ACC, 'USDT', dec('1000'));
    value(await venue.transferToMargin(SYMBOL, 'USDT', dec('1000')));
    local.faults.add({ method: 'POST', path: '/sapi/v1/margin/order', action: '503', when: 'after' });
    const qty = floorToStep(dec(500).div(price()), STEP);
    const r = value(await venue.placeOrder({ symbol: SYMBOL, side: 'BUY', type: 'MARKET', quantity: qty, sideEffectType: 'NO_SIDE_EFFECT', clientOrderId: 'int-lost' }));
    expect(r).toMatchObject({ clientOrderId: 'int-lost', status: 'FILLED' });
    expect(sum(r.fills.map((f) => f.qty)).eq(qty)).toBe(true);
    const trades = await venue.trades(SYMBOL);
    expect(trades.filter((t) => t.orderId === r.orderId).length).toBe(r.fills.length);
    expect(new Set(trades.map((t) => t.orderId)).size).toBe(1);

    // Not processed at all (503 before): the venue has no such order, so the same client id is sent once more.
    local.faults.add({ method: 'POST', path: '/sapi/v1/margin/order', action: '503', when: 'before' });
    const again = value(await venue.placeOrder({ symbol: SYMBOL, side: 'SELL', type: 'MARKET', quantity: qty.div(2).toDecimalPlaces(5, 1), sideEffectType: 'NO_SIDE_EFFECT', clientOrderId: 'int-resent' }));
    expect(again.status).toBe('FILLED');
    expect(new Set((await venue.trades(SYMBOL)).map((t) => t.orderId)).size).toBe(2);
  });

  it('a user-data stream that cannot start is a typed rejection, and leaves no unhandled rejection behind', async () => {
    const unhandled: unknown[] = [];
    const spy = (e: unknown) => void unhandled.push(e);
    process.on('unhandledRejection', spy);
    try {
      local.faults.add({ method: 'POST', path: '/sapi/v1/userListenToken', action: 'error', code: -2015, msg: 'Invalid API-key, IP, or permissions for action.', status: 401 });
      const failed = venue.watchUserData(SYMBOL, () => undefined);
      await expect(failed).rejects.toThrow(VenueCallError);
      await expect(failed).rejects.toMatchObject({ rejection: { code: '-2015' } });
      await new Promise((r) => setTimeout(r, 200));
      expect(unhandled).toEqual([]);
      // The next attempt starts a fresh stream.
      const events: MarginUserDataMessage[] = [];
      const stop = await venue.watchUserData(SYMBOL, (m) => events.push(m));
      local.engine.deposit(ACC, 'USDT', dec('100'));
      value(await venue.transferToMargin(SYMBOL, 'USDT', dec('100')));
      await until('a USDT balanceUpdate on the fresh stream', () => events.some((e) => e.e === 'balanceUpdate' && e['a'] === 'USDT'));
      stop();
    } finally {
      process.off('unhandledRejection', spy);
    }
  });

  it('refuses mode live without the explicit BULWARK_LIVE_TRADING=yes opt-in', () => {
    expect(() => new BinanceMarginVenue({ accountId: ACC, apiKey: KEY, apiSecret: SECRET, mode: 'live', liveTrading: 'no' })).toThrow(/BULWARK_LIVE_TRADING=yes/);
    expect(() => new BinanceMarginVenue({ accountId: ACC, apiKey: KEY, apiSecret: SECRET, mode: 'local' })).toThrow(/restBase and wsBase/);
    const live = new BinanceMarginVenue({ accountId: ACC, apiKey: KEY, apiSecret: SECRET, mode: 'live', liveTrading: 'yes' });
    expect(String((live.exchange.urls['api'] as Record<string, unknown>)['sapi'])).toBe('https://api.binance.com/sapi/v1');
  });
});
