/**
 * The margin-level guard against the venue on the real 2024-08-05 spot crash: a long opened
 * outside Bulwark's sizing with a high borrow (margin level 1.22) is adopted by the guard,
 * which reduces it before the venue's margin call; the same position left alone is
 * liquidated by the venue. Engine and recorded BTCUSDT rules as the local venue runs them.
 */
import type { DomainEvent } from '@bulwark/contracts';
import { D, PaperMarginVenue, pathSteps, spotMarginGuardDecider, spotMarginGuardEvolve, type IsolatedMarginBalances, type MarginVenueEvent, type SpotMarginGuardState } from '@bulwark/domain';
import { loadMarginPair, readCandles, resolveDataDir } from '@bulwark/market-data';
import * as path from 'node:path';
import type { Candle } from '@bulwark/contracts';

jest.setTimeout(120_000);

const FILE = () => path.join(resolveDataDir(), 'binance-spot', 'BTCUSDT', 'klines-1m', 'BTCUSDT-1m-2024-07-26_2024-08-25.csv');
const FROM = Date.parse('2024-08-04T22:00:00Z');
const TO = Date.parse('2024-08-05T18:00:00Z');
const { rules } = loadMarginPair('BTCUSDT');

const candles: Candle[] = [];
beforeAll(async () => {
  for await (const c of readCandles(FILE())) if (c.openTime >= FROM && c.openTime < TO) candles.push(c);
});

function balancesOf(v: PaperMarginVenue): IsolatedMarginBalances {
  const a = v.account('acc', 'BTCUSDT')!;
  return {
    baseFree: a.base.free, baseLocked: a.base.locked, baseBorrowed: a.base.borrowed, baseInterest: a.base.interest,
    quoteFree: a.quote.free, quoteLocked: a.quote.locked, quoteBorrowed: a.quote.borrowed, quoteInterest: a.quote.interest,
  };
}

/** Open the high-borrow long at the first price, then walk the crash; with the guard, act on its reductions. */
function run(guarded: boolean) {
  const v = new PaperMarginVenue(new Map([['BTCUSDT', rules]]));
  v.deposit('acc', 'USDT', new D(1000));
  v.transfer({ accountId: 'acc', symbol: 'BTCUSDT', asset: 'USDT', amount: new D(1000), direction: 'TO_MARGIN' });
  const steps = candles.flatMap((c, i) => pathSteps(c, i === 0 ? null : candles[i - 1]!.close));
  v.step('BTCUSDT', steps[0]!);
  // Outside Bulwark's sizing: 0.094 BTC (about 5,500 USDT) on 1,000 of own money.
  const opened = v.placeOrder({ accountId: 'acc', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: new D('0.094'), sideEffectType: 'MARGIN_BUY', clientOrderId: 'outside-1' });
  if (!opened.ok) throw new Error(opened.error.message);
  const venue: MarginVenueEvent[] = [];
  const guard: DomainEvent[] = [];
  const timeline: string[] = [];
  let state: SpotMarginGuardState = spotMarginGuardDecider.initialState();
  let minLevel = new D(1000);
  for (const s of steps) {
    v.step('BTCUSDT', s);
    for (const e of v.drain()) {
      venue.push(e);
      if (e.type === 'MARGIN_CALL' || e.type === 'LIQUIDATION') timeline.push(`venue ${e.type}`);
    }
    const price = v.priceOf('BTCUSDT')!;
    const level = v.account('acc', 'BTCUSDT')!.equity!.marginLevel;
    if (level && level.lt(minLevel)) minLevel = level;
    if (!guarded) continue;
    const r = spotMarginGuardDecider.decide(
      { kind: 'ObserveMarginLevel', accountId: 'acc', symbol: 'BTCUSDT', autoReduce: true, side: 'LONG', balances: balancesOf(v), price, takerFeeRate: rules.takerFeeRate, stepSize: rules.stepSize },
      state,
    );
    if (!r.ok) throw new Error(r.error.message);
    for (const e of r.value) {
      guard.push(e);
      state = spotMarginGuardEvolve(state, e);
      if (e.type === 'MarginLevelAlert') timeline.push(`guard ${e.data.bar} ${e.data.direction}`);
      if (e.type === 'MarginCallReductionTriggered') {
        timeline.push('guard REDUCE');
        const sold = v.placeOrder({ accountId: 'acc', symbol: 'BTCUSDT', side: 'SELL', type: 'MARKET', quantity: new D(e.data.quantity), sideEffectType: 'AUTO_REPAY', clientOrderId: `reduce-${guard.length}` });
        if (!sold.ok) throw new Error(sold.error.message);
      }
    }
  }
  return { v, venue, guard, timeline, minLevel };
}

describe('the spot-margin guard on the 2024-08-05 crash', () => {
  it('left alone, the high-borrow long is liquidated by the venue', () => {
    const { venue, timeline } = run(false);
    // A margin call at each fall through the venue's bar (the level swings around it), then the liquidation.
    expect(timeline.at(-1)).toBe('venue LIQUIDATION');
    expect([...new Set(timeline.slice(0, -1))]).toEqual(['venue MARGIN_CALL']);
    expect(venue.filter((e) => e.type === 'LIQUIDATION')).toHaveLength(1);
  });

  it('guarded, its alerts fire in order, it is reduced before the venue margin call, and it is never liquidated', () => {
    const { v, venue, guard, timeline, minLevel } = run(true);
    expect(venue.filter((e) => e.type === 'MARGIN_CALL' || e.type === 'LIQUIDATION')).toEqual([]);
    // The first observation finds the adopted position below three of the guard's bars, highest first, then reduces.
    expect(timeline.slice(0, 4)).toEqual(['guard transferOut DOWN', 'guard borrow DOWN', 'guard marginCall DOWN', 'guard REDUCE']);
    expect(guard.filter((e) => e.type === 'MarginCallReductionTriggered').length).toBeGreaterThanOrEqual(1);
    // Never as low as the venue's margin-call bar.
    expect(minLevel.gt(rules.bars.marginCall)).toBe(true);
    const a = v.account('acc', 'BTCUSDT')!;
    expect(a.base.free.gt(0)).toBe(true); // still holding BTC: reduced, not closed
  });
});
