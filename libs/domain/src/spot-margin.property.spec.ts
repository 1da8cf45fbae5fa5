import * as fs from 'node:fs';
import fc from 'fast-check';
import { SPOT_BTCUSDT_FILES } from '@bulwark/testing';
import { D, dec, ONE, str } from './money';
import {
  DEFAULT_MARGIN_LEVEL_BARS,
  decideMarginCallReduction,
  isolatedMarginEquity,
  marginLevelCrossings,
  marginLevelZone,
  sizeSpotMarginEntry,
  type IsolatedMarginBalances,
  type MarginLevelBars,
  type MarginLevelZone,
  type SpotMarginSizingInput,
} from './spot-margin';

// Money invariants of spot isolated margin. Entry prices are real Binance SPOT BTCUSDT 1m
// closes (shared/data/binance-spot: the 2021-05-19 and 2024-08-05 crash months); every other
// decimal is built from integers, so it is exact.

const RUNS = 1000;
const closesOf = (file: string): string[] =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.split(',')[4])
    .filter((c): c is string => c !== undefined && c.length > 0);
const CLOSES = [...closesOf(SPOT_BTCUSDT_FILES.candles1mApril2021), ...closesOf(SPOT_BTCUSDT_FILES.candles1mAugust2024)];
const realClose = fc.integer({ min: 0, max: CLOSES.length - 1 }).map((i) => dec(CLOSES[i]!));

/** mantissa × 10^k cents: 0.01 .. ~100,000,000 quote. */
const amount = fc.tuple(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 0, max: 6 })).map(([m, k]) => new D(m).mul(new D(10).pow(k)).div(100));
const isMultiple = (x: D, step: D) => x.div(step).isInteger();

describe('sizeSpotMarginEntry: properties', () => {
  const sizingInput: fc.Arbitrary<SpotMarginSizingInput> = fc
    .record({
      side: fc.constantFrom<'BUY' | 'SELL'>('BUY', 'SELL'),
      entry: realClose,
      stopBp: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 5000 })),
      equity: amount,
      availableMargin: amount,
      riskFraction: fc.integer({ min: 1, max: 10_000 }).map((n) => new D(n).div(10_000)),
      leverage: fc.integer({ min: 1, max: 10 }),
      takerFeeRate: fc.constantFrom('0', '0.00075', '0.001').map(dec),
      stepSize: fc.constantFrom('0.00001', '0.0001', '0.001').map(dec),
      minQtySteps: fc.integer({ min: 0, max: 3 }),
      minNotional: fc.constantFrom('0', '5', '10').map(dec),
    })
    .map(({ side, entry, stopBp, minQtySteps, ...rest }) => {
      const offset = D.max(dec('0.01'), entry.mul(stopBp).div(10_000).toDecimalPlaces(2, D.ROUND_DOWN));
      return {
        ...rest,
        side,
        entryPrice: entry,
        stopPrice: side === 'BUY' ? entry.minus(offset) : entry.plus(offset),
        minQty: rest.stepSize.mul(minQtySteps),
      };
    });

  it('the loss at the stop never exceeds the risk amount; margin required never exceeds the available margin', () => {
    fc.assert(
      fc.property(sizingInput, (i) => {
        const r = sizeSpotMarginEntry(i);
        if (!r.ok) {
          // Valid inputs are only ever denied by the venue minimums.
          expect(['BELOW_MIN_QTY', 'BELOW_MIN_NOTIONAL']).toContain(r.error.code);
          return;
        }
        const a = r.value;
        const q = dec(a.quantity);
        // Independent recomputation from the inputs.
        const lossPerUnit = i.entryPrice.minus(i.stopPrice).abs().plus(i.takerFeeRate.mul(i.entryPrice.plus(i.stopPrice)));
        const risk = i.equity.mul(i.riskFraction);
        expect(q.mul(lossPerUnit).lte(risk)).toBe(true);
        expect(dec(a.lossAtStop).lte(dec(a.riskAmount))).toBe(true);
        expect(str(q.mul(lossPerUnit))).toBe(a.lossAtStop);
        const margin = q.mul(i.entryPrice).div(i.leverage);
        expect(margin.lte(i.availableMargin)).toBe(true);
        expect(dec(a.marginRequired).lte(i.availableMargin)).toBe(true);
        // On the step grid, within the minimums.
        expect(isMultiple(q, i.stepSize)).toBe(true);
        expect(q.gt(0) && q.gte(i.minQty)).toBe(true);
        expect(dec(a.notional).gte(i.minNotional)).toBe(true);
        // As large as allowed: one more step would break the risk budget or the margin.
        const next = q.plus(i.stepSize);
        expect(next.mul(lossPerUnit).gt(risk) || next.mul(i.entryPrice).div(i.leverage).gt(i.availableMargin)).toBe(true);
        // reducedForMargin exactly when the unreduced quantity needs more margin than is available.
        expect(a.reducedForMargin).toBe(dec(a.rawQuantity).mul(i.entryPrice).div(i.leverage).gt(i.availableMargin));
        // The loan: a BUY borrows the quote it does not put up, a SELL the base it sells.
        expect(a.borrowAmount).toBe(i.side === 'BUY' ? str(dec(a.notional).minus(dec(a.marginRequired))) : a.quantity);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('margin level zones and crossings: properties', () => {
  const ZONE_INDEX: Record<MarginLevelZone, number> = { SAFE: 0, NO_TRANSFER_OUT: 1, NO_BORROW: 2, MARGIN_CALL: 3, LIQUIDATION: 4 };
  const barsArb: fc.Arbitrary<MarginLevelBars> = fc.oneof(
    fc.constant(DEFAULT_MARGIN_LEVEL_BARS),
    fc.uniqueArray(fc.integer({ min: 1, max: 40_000 }), { minLength: 4, maxLength: 4 }).map((xs) => {
      const [transferOut, borrow, marginCall, liquidation] = [...xs].sort((a, b) => b - a).map((n) => new D(n).div(10_000));
      return { transferOut: transferOut!, borrow: borrow!, marginCall: marginCall!, liquidation: liquidation! };
    }),
  );
  // A level: none (no debt), exactly on a bar, or anywhere in 0 .. 4.
  const levelArb = (bars: MarginLevelBars) =>
    fc.oneof(
      fc.constant(null),
      fc.constantFrom(bars.transferOut, bars.borrow, bars.marginCall, bars.liquidation),
      fc.integer({ min: 0, max: 40_000 }).map((n) => new D(n).div(10_000)),
    );
  const scenario = barsArb.chain((bars) => fc.record({ bars: fc.constant(bars), previous: levelArb(bars), next: levelArb(bars) }));
  const above = (level: D | null, bar: D) => level === null || level.gt(bar);

  it('the zone moves by one per crossing: +1 down, −1 up; crossings run in the order crossed', () => {
    fc.assert(
      fc.property(scenario, ({ bars, previous, next }) => {
        const cs = marginLevelCrossings(previous, next, bars);
        const from = ZONE_INDEX[marginLevelZone(previous, bars)];
        const to = ZONE_INDEX[marginLevelZone(next, bars)];
        const downs = cs.filter((c) => c.direction === 'DOWN').length;
        const ups = cs.length - downs;
        expect(from + downs - ups).toBe(to);
        expect(downs === 0 || ups === 0).toBe(true); // one direction per move
        expect(cs.length).toBe(Math.abs(to - from));
        for (const [k, c] of cs.entries()) {
          expect(c.threshold).toBe(bars[c.bar]);
          // Each crossed bar lies between the two observations, on the right side of each.
          expect(above(previous, c.threshold)).toBe(c.direction === 'DOWN');
          expect(above(next, c.threshold)).toBe(c.direction === 'UP');
          const prev = cs[k - 1];
          if (prev) expect(c.direction === 'DOWN' ? prev.threshold.gt(c.threshold) : prev.threshold.lt(c.threshold)).toBe(true);
        }
        // Crossing back undoes it, in reverse order.
        expect(marginLevelCrossings(next, previous, bars).map((c) => c.bar)).toEqual([...cs].reverse().map((c) => c.bar));
      }),
      { numRuns: RUNS },
    );
  });
});

describe('isolatedMarginEquity and decideMarginCallReduction: properties', () => {
  const qty = fc.integer({ min: 1, max: 10_000_000 }).map((n) => new D(n).div(100_000)); // 0.00001 .. 100 BTC
  const cents = fc.integer({ min: 0, max: 100_000_000 }).map((n) => new D(n).div(100));
  const Z = dec(0);

  it('equity = total asset value − total liability; margin level = assets ÷ liability', () => {
    fc.assert(
      fc.property(fc.tuple(qty, qty, qty, qty, cents, cents, cents, cents, realClose), ([bf, bl, bb, bi, qf, ql, qb, qi, price]) => {
        const e = isolatedMarginEquity({ baseFree: bf, baseLocked: bl, baseBorrowed: bb, baseInterest: bi, quoteFree: qf, quoteLocked: ql, quoteBorrowed: qb, quoteInterest: qi, price });
        expect(str(e.equity)).toBe(str(e.totalAssetValue.minus(e.totalLiabilityValue)));
        expect(str(e.equity)).toBe(str(e.quoteNetAsset.plus(e.baseNetAsset.mul(price))));
        expect(str(e.marginLevel!)).toBe(str(e.totalAssetValue.div(e.totalLiabilityValue)));
      }),
      { numRuns: RUNS },
    );
  });

  // An account in the margin-call zone: 0.01 .. 100 BTC, level drawn in [1.002, 1.3] (above
  // 1 ÷ (1 − fee) even after the loan is rounded to cents), the loan sized to it.
  const FEE = dec('0.001');
  const STEP = dec('0.00001');
  const size = fc.integer({ min: 1_000, max: 10_000_000 }).map((n) => new D(n).div(100_000));
  const account = fc
    .record({ side: fc.constantFrom<'LONG' | 'SHORT'>('LONG', 'SHORT'), size, price: realClose, level: fc.integer({ min: 10_020, max: 13_000 }).map((n) => new D(n).div(10_000)) })
    .map(({ side, size, price, level }): { side: 'LONG' | 'SHORT'; price: D; balances: IsolatedMarginBalances } => {
      const value = size.mul(price);
      const b: IsolatedMarginBalances =
        side === 'LONG'
          ? { baseFree: size, baseLocked: Z, baseBorrowed: Z, baseInterest: Z, quoteFree: Z, quoteLocked: Z, quoteBorrowed: value.div(level).toDecimalPlaces(2, D.ROUND_UP), quoteInterest: Z }
          : { baseFree: Z, baseLocked: Z, baseBorrowed: size, baseInterest: Z, quoteFree: value.mul(level).toDecimalPlaces(2, D.ROUND_DOWN), quoteLocked: Z, quoteBorrowed: Z, quoteInterest: Z };
      return { side, price, balances: b };
    });

  it('reduces to at least the borrow bar with the fewest steps, never more than the position', () => {
    const target = DEFAULT_MARGIN_LEVEL_BARS.borrow;
    fc.assert(
      fc.property(account, ({ side, price, balances }) => {
        const r = decideMarginCallReduction({ side, balances, price, takerFeeRate: FEE, stepSize: STEP });
        if (!r.ok) throw new Error(r.error.message);
        const d = r.value;
        if (d.action === 'NONE') throw new Error(`expected REDUCE at level ${d.marginLevel}, got ${d.reason}`);
        const q = dec(d.quantity);
        const position = dec(d.positionQuantity);
        expect(['MARGIN_CALL', 'LIQUIDATION']).toContain(d.zone);
        expect(q.gt(0) && q.lte(position)).toBe(true);
        expect(isMultiple(q, STEP) || q.eq(position)).toBe(true);
        // Independent: the level after trading x and repaying with the proceeds (no cap binds here).
        const e = isolatedMarginEquity({ ...balances, price });
        const levelAfter = (x: D) => e.totalAssetValue.minus(x.mul(price)).div(e.totalLiabilityValue.minus(x.mul(price).mul(ONE.minus(FEE))));
        expect(d.raisesLevel).toBe(true); // every level drawn is above 1 ÷ (1 − 0.001)
        if (!d.closesPosition) {
          expect(d.reachesTarget).toBe(true);
          expect(dec(d.expectedMarginLevel!).gte(target)).toBe(true);
          expect(str(levelAfter(q))).toBe(d.expectedMarginLevel);
          // Fewest steps: one step less stays below the target.
          if (q.gt(STEP)) expect(levelAfter(q.minus(STEP)).lt(target)).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });
});
