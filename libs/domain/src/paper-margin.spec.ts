import { D, str } from './money';
import { DEFAULT_MARGIN_LEVEL_BARS } from './spot-margin';
import { isolatedLiquidationPrice, PaperMarginVenue, type MarginPairRules, type MarginVenueEvent } from './paper-margin';

// Round rates so every expected number below can be worked by hand: hourly quote rate
// 0.00024 / 24 = 0.00001, hourly base rate 0.000048 / 24 = 0.000002.
const RULES: MarginPairRules = {
  symbol: 'BTCUSDT',
  baseAsset: 'BTC',
  quoteAsset: 'USDT',
  tickSize: new D('0.01'),
  stepSize: new D('0.00001'),
  minQty: new D('0.00001'),
  maxQty: new D('9000'),
  minNotional: new D('5'),
  makerFeeRate: new D('0.001'),
  takerFeeRate: new D('0.001'),
  bars: DEFAULT_MARGIN_LEVEL_BARS,
  maxBorrowable: { base: new D('10'), quote: new D('1000000') },
  dailyInterestRate: { base: new D('0.000048'), quote: new D('0.00024') },
  liquidationFeeRate: new D('0'),
};
const T0 = Date.UTC(2024, 7, 5, 0, 10); // 2024-08-05 00:10 UTC
const MIN = 60_000;

function venue(usdt = '1000'): PaperMarginVenue {
  const v = new PaperMarginVenue(new Map([['BTCUSDT', RULES]]));
  v.deposit('a', 'USDT', new D(usdt));
  return v;
}
const at = (v: PaperMarginVenue, price: string, ts: number, from?: string) => v.step('BTCUSDT', { from: from ?? str(v.priceOf('BTCUSDT') ?? new D(price)), to: price, gap: false, ts });
const s = (d: D | null | undefined) => (d ? str(d) : String(d));
const types = (e: MarginVenueEvent[]) => e.map((x) => (x.type === 'ORDER' ? `ORDER:${x.execution}` : x.type === 'LOAN' ? `LOAN:${x.loan.type}` : x.type));

describe('PaperMarginVenue: a long on borrowed quote, closed with auto-repay', () => {
  it('transfers in, borrows at placement, charges interest at borrowing and each full hour, repays interest first, transfers out', () => {
    const v = venue();
    expect(v.transfer({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('1000'), direction: 'TO_MARGIN' }).ok).toBe(true);
    expect(s(v.spotBalance('a', 'USDT'))).toBe('0');
    at(v, '50000', T0);
    // Most that may be borrowed: (1000 − 1.5 × 0) / (1.5 − 1) = 2000.
    const room = v.maxBorrowable('a', 'BTCUSDT', 'USDT');
    expect(room.ok && s(room.value)).toBe('2000');
    v.drain();
    const buy = v.placeOrder({ accountId: 'a', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: new D('0.05'), sideEffectType: 'MARGIN_BUY', clientOrderId: 'e1' });
    if (!buy.ok) throw new Error(buy.error.message);
    expect(buy.value.status).toBe('FILLED');
    expect(s(buy.value.marginBuyBorrowAmount)).toBe('1500');
    expect(buy.value.marginBuyBorrowAsset).toBe('USDT');
    expect(s(buy.value.fills[0]!.commission)).toBe('0.00005');
    expect(buy.value.fills[0]!.commissionAsset).toBe('BTC');
    expect(types(v.drain())).toEqual(['LOAN:BORROW', 'INTEREST', 'ORDER:TRADE', 'BALANCE']);
    let acct = v.account('a', 'BTCUSDT')!;
    expect(s(acct.base.free)).toBe('0.04995');
    expect(s(acct.quote.free)).toBe('0');
    expect(s(acct.quote.borrowed)).toBe('1500');
    expect(s(acct.quote.interest)).toBe('0.015');
    // 0.04995 × 50000 / 1500.015
    expect(acct.equity!.marginLevel!.toFixed(6)).toBe('1.664983');
    // (1.1 × 1500.015 − 0) / 0.04995
    expect(s(acct.liquidationPrice)).toBe(s(new D('1650.0165').div('0.04995')));

    // While anything is owed, the transfer-out bar (2.0) holds the bought BTC in (the level is
    // 1.66); there is no free USDT at all.
    const out = v.transfer({ accountId: 'a', symbol: 'BTCUSDT', asset: 'BTC', amount: new D('0.01'), direction: 'TO_SPOT' });
    expect(!out.ok && out.error.code).toBe('-3020');
    expect(!out.ok && out.error.message).toContain('at most 0 BTC keeps the margin level above 2');
    const noQuote = v.transfer({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('1'), direction: 'TO_SPOT' });
    expect(!noQuote.ok && noQuote.error.code).toBe('-3041');

    // 00:10 → 02:00:20: the full hours 01:00 and 02:00 charge 1500 × 0.00001 each.
    at(v, '49500', T0 + 50 * MIN);
    at(v, '49000', T0 + 110 * MIN + 20_000);
    const hist = v.interestHistory('a');
    expect(hist.map((h) => [h.type, s(h.interest), new Date(h.time).toISOString()])).toEqual([
      ['ON_BORROW', '0.015', '2024-08-05T00:10:00.000Z'],
      ['PERIODIC', '0.015', '2024-08-05T01:00:00.000Z'],
      ['PERIODIC', '0.015', '2024-08-05T02:00:00.000Z'],
    ]);
    acct = v.account('a', 'BTCUSDT')!;
    expect(s(acct.quote.interest)).toBe('0.045');

    // The close: sell everything held with AUTO_REPAY at 49000: 2447.55 − 2.44755 fee = 2445.10245 in,
    // 1500.045 owed, interest first.
    const close = v.placeOrder({ accountId: 'a', symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: new D('0.04995'), sideEffectType: 'AUTO_REPAY', clientOrderId: 'c1' });
    expect(close.ok).toBe(true);
    const repay = v.loanHistory('a').at(-1)!;
    expect([repay.type, repay.source, s(repay.amount), s(repay.interest), s(repay.principal)]).toEqual(['REPAY', 'AUTO', '1500.045', '0.045', '1500']);
    acct = v.account('a', 'BTCUSDT')!;
    expect(s(acct.quote.free)).toBe('945.05745');
    expect(acct.equity!.marginLevel).toBeNull();
    expect(acct.liquidationPrice).toBeNull();
    // Nothing owed: everything may leave.
    const max = v.maxTransferOut('a', 'BTCUSDT', 'USDT');
    expect(max.ok && s(max.value)).toBe('945.05745');
    expect(v.transfer({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('945.05745'), direction: 'TO_SPOT' }).ok).toBe(true);
    // 1000 − 945.05745 = 54.94255 = 49.95 price loss + 2.5 + 2.44755 fees + 0.045 interest.
    expect(s(new D('1000').minus(v.spotBalance('a', 'USDT')))).toBe('54.94255');
  });
});

describe('PaperMarginVenue: a short on borrowed base', () => {
  it('borrows BTC to sell, repays it (interest first) with what the closing buy brings in', () => {
    const v = venue();
    v.transfer({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('1000'), direction: 'TO_MARGIN' });
    at(v, '50000', T0);
    const sell = v.placeOrder({ accountId: 'a', symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: new D('0.03'), sideEffectType: 'MARGIN_BUY', clientOrderId: 's1' });
    if (!sell.ok) throw new Error(sell.error.message);
    expect([s(sell.value.marginBuyBorrowAmount), sell.value.marginBuyBorrowAsset]).toEqual(['0.03', 'BTC']);
    let acct = v.account('a', 'BTCUSDT')!;
    expect(s(acct.base.borrowed)).toBe('0.03');
    expect(s(acct.base.interest)).toBe('0.00000006');
    expect(s(acct.quote.free)).toBe('2498.5');
    at(v, '48000', T0 + 55 * MIN); // 01:05: one periodic charge
    expect(s(v.account('a', 'BTCUSDT')!.base.interest)).toBe('0.00000012');
    // Owed 0.03000012 BTC; a buy receives qty × 0.999: 0.03004 is the smallest step that covers it.
    const buy = v.placeOrder({ accountId: 'a', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: new D('0.03004'), sideEffectType: 'AUTO_REPAY', clientOrderId: 's2' });
    expect(buy.ok).toBe(true);
    acct = v.account('a', 'BTCUSDT')!;
    expect(s(acct.base.borrowed)).toBe('0');
    expect(s(acct.base.interest)).toBe('0');
    // 0.03004 × 0.999 − 0.03000012 = 0.00000984 BTC left; 2498.5 − 0.03004 × 48000 = 1056.58 USDT.
    expect(s(acct.base.free)).toBe('0.00000984');
    expect(s(acct.quote.free)).toBe('1056.58');
  });
});

describe('PaperMarginVenue: the venue margin call and liquidation', () => {
  it('calls once at the margin-call bar and liquidates at the liquidation bar, repaying with the sale', () => {
    const v = venue();
    v.transfer({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('1000'), direction: 'TO_MARGIN' });
    at(v, '50000', T0);
    // 0.059 BTC costs 2950: 1950 borrowed; level 0.058941 × 50000 / 1950.0195 = 1.5113
    const r = v.placeOrder({ accountId: 'a', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: new D('0.059'), sideEffectType: 'MARGIN_BUY', clientOrderId: 'x' });
    expect(r.ok).toBe(true);
    v.drain();
    // Margin call at <= 1.3: price <= 1.3 × 1950.0195 / 0.058941 = 43009.0…
    at(v, '43500', T0 + MIN);
    at(v, '43000', T0 + 2 * MIN);
    at(v, '42900', T0 + 3 * MIN);
    let e = v.drain();
    expect(e.filter((x) => x.type === 'MARGIN_CALL')).toHaveLength(1);
    expect(e.filter((x) => x.type === 'LIQUIDATION')).toHaveLength(0);
    // Liquidation at <= 1.1: price <= 1.1 × 1950.0195 / 0.058941 = 36392.9…
    at(v, '36300', T0 + 4 * MIN);
    e = v.drain();
    expect(types(e)).toEqual(['ORDER:TRADE', 'LOAN:REPAY', 'LIQUIDATION', 'BALANCE']);
    const liq = e.find((x) => x.type === 'LIQUIDATION')!;
    expect(liq.type === 'LIQUIDATION' && s(liq.shortfall)).toBe('0');
    const acct = v.account('a', 'BTCUSDT')!;
    expect(s(acct.quote.borrowed)).toBe('0');
    // 0.05894 sold (step) at 36300 less 0.1 %: 2137.3750 … − 1950.0195 owed
    expect(s(acct.quote.free)).toBe(s(new D('0.05894').mul('36300').mul('0.999').minus('1950.0195')));
    expect(s(acct.base.free)).toBe('0.000001');
    expect(v.ordersOf('a', 'BTCUSDT').at(-1)!.origin).toBe('LIQUIDATION');
  });
});

describe('PaperMarginVenue: limit orders', () => {
  it('rests a GTC limit with its funds locked and fills it as maker when the path reaches its price', () => {
    const v = venue();
    v.transfer({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('1000'), direction: 'TO_MARGIN' });
    at(v, '50000', T0);
    const r = v.placeOrder({ accountId: 'a', symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', quantity: new D('0.01'), price: new D('49000'), clientOrderId: 'l1' });
    expect(r.ok && r.value.status).toBe('NEW');
    expect(s(v.account('a', 'BTCUSDT')!.quote.locked)).toBe('490');
    at(v, '49200', T0 + MIN);
    expect(v.order('a', 'BTCUSDT', { clientOrderId: 'l1' })!.status).toBe('NEW');
    at(v, '48900', T0 + 2 * MIN);
    const o = v.order('a', 'BTCUSDT', { clientOrderId: 'l1' })!;
    expect([o.status, s(o.fills[0]!.price), o.fills[0]!.isMaker]).toEqual(['FILLED', '49000', true]);
    const acct = v.account('a', 'BTCUSDT')!;
    expect([s(acct.quote.locked), s(acct.quote.free), s(acct.base.free)]).toEqual(['0', '510', '0.00999']);
  });

  it('expires an IOC limit that cannot trade, rejects a LIMIT_MAKER that would take, and a cancel unlocks', () => {
    const v = venue();
    v.transfer({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('1000'), direction: 'TO_MARGIN' });
    at(v, '50000', T0);
    const ioc = v.placeOrder({ accountId: 'a', symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'IOC', quantity: new D('0.01'), price: new D('49000'), clientOrderId: 'i1' });
    expect(ioc.ok && ioc.value.status).toBe('EXPIRED');
    const maker = v.placeOrder({ accountId: 'a', symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT_MAKER', quantity: new D('0.01'), price: new D('50001'), clientOrderId: 'm1' });
    expect(!maker.ok && maker.error.message).toContain('immediately match');
    const rest = v.placeOrder({ accountId: 'a', symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT_MAKER', quantity: new D('0.01'), price: new D('49999.99'), clientOrderId: 'm2' });
    expect(rest.ok && rest.value.status).toBe('NEW');
    expect(v.ordersOf('a', 'BTCUSDT', true)).toHaveLength(1);
    expect(v.cancelOrder('a', 'BTCUSDT', { clientOrderId: 'm2' }).ok).toBe(true);
    expect(s(v.account('a', 'BTCUSDT')!.quote.free)).toBe('1000');
    const again = v.cancelOrder('a', 'BTCUSDT', { clientOrderId: 'm2' });
    expect(!again.ok && again.error.code).toBe('-2011');
  });
});

describe('PaperMarginVenue: refusals change nothing', () => {
  it('answers each bad request with the venue code and leaves the books as they were', () => {
    const v = venue();
    const t = (amount: string, direction: 'TO_MARGIN' | 'TO_SPOT', asset = 'USDT') => v.transfer({ accountId: 'a', symbol: 'BTCUSDT', asset, amount: new D(amount), direction });
    const code = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? 'ok' : r.error!.code);
    expect(code(t('2000', 'TO_MARGIN'))).toBe('-3041');
    expect(code(t('0', 'TO_MARGIN'))).toBe('-1100');
    expect(code(t('1.000000001', 'TO_MARGIN'))).toBe('-1100');
    expect(code(t('1', 'TO_MARGIN', 'ETH'))).toBe('-3027');
    expect(code(t('1', 'TO_SPOT'))).toBe('-11001');
    expect(code(v.transfer({ accountId: 'a', symbol: 'ETHUSDT', asset: 'USDT', amount: new D('1'), direction: 'TO_MARGIN' }))).toBe('-1121');
    expect(code(t('1000', 'TO_MARGIN'))).toBe('ok');
    // No price yet: nothing that needs the margin level.
    expect(code(v.borrow({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('1') }))).toBe('-3044');
    at(v, '50000', T0);
    expect(code(v.borrow({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('2000.00000001') }))).toBe('-3006');
    expect(code(v.repay({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: 'ALL' }))).toBe('-3015');
    const order = (q: Partial<Parameters<PaperMarginVenue['placeOrder']>[0]>) =>
      code(v.placeOrder({ accountId: 'a', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', clientOrderId: `c${Math.random()}`, ...q }));
    expect(order({ quantity: new D('0.000015') })).toBe('-1013');
    expect(order({ quantity: new D('0.00009') })).toBe('-1013'); // 4.5 USDT < 5
    expect(order({ quantity: new D('0.03') })).toBe('-2010'); // 1500 > 1000 without MARGIN_BUY
    expect(order({ quantity: new D('0.05'), sideEffectType: 'MARGIN_BUY', type: 'LIMIT', price: new D('50000.001') })).toBe('-1013');
    expect(order({ quantity: new D('1'), sideEffectType: 'MARGIN_BUY' })).toBe('-3006');
    expect(order({})).toBe('-1102');
    expect(v.ordersOf('a', 'BTCUSDT')).toHaveLength(0);
    expect(v.loanHistory('a')).toHaveLength(0);
    const acct = v.account('a', 'BTCUSDT')!;
    expect([s(acct.quote.free), s(acct.quote.borrowed), s(acct.base.free)]).toEqual(['1000', '0', '0']);
    // A duplicate client order id is refused after the first order with it.
    expect(code(v.placeOrder({ accountId: 'a', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: new D('0.001'), clientOrderId: 'dup' }))).toBe('ok');
    expect(code(v.placeOrder({ accountId: 'a', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: new D('0.001'), clientOrderId: 'dup' }))).toBe('-2010');
    expect(() => at(v, '50000', T0 - 1)).toThrow(RangeError);
  });

  it('repays a given amount interest first, and ALL clears the loan', () => {
    const v = venue();
    v.transfer({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('1000'), direction: 'TO_MARGIN' });
    at(v, '50000', T0);
    expect(v.borrow({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('500') }).ok).toBe(true);
    const part = v.repay({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: new D('100') });
    expect(part.ok && [s(part.value.interest), s(part.value.principal)]).toEqual(['0.005', '99.995']);
    const all = v.repay({ accountId: 'a', symbol: 'BTCUSDT', asset: 'USDT', amount: 'ALL' });
    expect(all.ok && s(all.value.amount)).toBe('400.005');
    expect(s(v.account('a', 'BTCUSDT')!.quote.free)).toBe('999.995');
  });
});

describe('isolatedLiquidationPrice', () => {
  it('solves level(p) = bar for a long and a short, and has none without debt', () => {
    const zero = new D(0);
    const long = { baseFree: new D('0.1'), baseLocked: zero, baseBorrowed: zero, baseInterest: zero, quoteFree: zero, quoteLocked: zero, quoteBorrowed: new D('4000'), quoteInterest: zero };
    expect(s(isolatedLiquidationPrice(long, new D('1.1')))).toBe('44000');
    const short = { baseFree: zero, baseLocked: zero, baseBorrowed: new D('0.1'), baseInterest: zero, quoteFree: new D('6000'), quoteLocked: zero, quoteBorrowed: zero, quoteInterest: zero };
    // 6000 / (1.1 × 0.1 × p) = 1 … level = 6000 / (0.1 p) = 1.1 → p = 54545.45…
    expect(isolatedLiquidationPrice(short, new D('1.1'))!.toFixed(2)).toBe('54545.45');
    expect(isolatedLiquidationPrice({ ...long, quoteBorrowed: zero }, new D('1.1'))).toBeNull();
  });
});
