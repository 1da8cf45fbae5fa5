import fc from 'fast-check';
import { RiskAssessment, type OrderSide } from '@bulwark/contracts';
import { BTCUSDT_FILES, btcusdtRules } from '@bulwark/testing';
import { D, dec } from './money';
import { sizeEntry, type SizingDenialCode, type SizingInput } from './sizing';
import { RECOMMENDED_DENIALS } from './sizing-recommend';

// Recommendations on a denial, over the real BTCUSDT rules (mainnet filters, both recorded
// bracket snapshots). Decision: a recommended value is only given once the sizer has approved
// it, so asking again with it is APPROVED, never "denied for another reason"; null says that
// no value of that kind passes with the other inputs unchanged.

const RULE_SETS = [BTCUSDT_FILES.leverageBrackets, BTCUSDT_FILES.leverageBrackets2023].map((file) => btcusdtRules(file));

const RUNS = 1000;
const FIELDS = ['maxQuantity', 'recommendedStop', 'maxLeverage'] as const;
/** n / scale as a decimal. */
const ratio = (lo: number, hi: number, scale: number) => fc.integer({ min: lo, max: hi }).map((n) => new D(n).div(scale));

/**
 * Requests that break the rules often: leverage up to 125, stops 0.01 % .. 30 % away, cost
 * guards from 1 % of the risk amount, equities from 10 to 100,000,000 USDT (in cents).
 */
const request: fc.Arbitrary<SizingInput> = fc
  .tuple(
    fc.constantFrom<OrderSide>('BUY', 'SELL'),
    fc.integer({ min: 10_000, max: 2_000_000 }), // entry in tenths: 1,000.0 .. 200,000.0
    fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 3000 })), // stop, basis points from the entry
    fc.tuple(fc.integer({ min: 1000, max: 9999 }), fc.integer({ min: 0, max: 6 })).map(([m, k]) => new D(m).mul(new D(10).pow(k)).div(100)),
    ratio(1, 100, 100), // available margin as a share of equity
    fc.record({
      riskFraction: ratio(1, 500, 10_000),
      requestedLeverage: fc.integer({ min: 1, max: 125 }),
      leverageCap: fc.oneof(fc.constant(125), fc.integer({ min: 1, max: 125 })),
      maxMarginFraction: ratio(1, 100, 100),
      liquidationBufferFraction: ratio(0, 50, 100),
      maxFeeRiskFraction: fc.option(ratio(1, 100, 100), { nil: null }),
      rules: fc.constantFrom(...RULE_SETS),
    }),
  )
  .map(([side, tenths, bp, equity, marginShare, rest]) => ({
    ...rest,
    side,
    entryPrice: new D(tenths).div(10),
    stopPrice: new D(tenths + (side === 'BUY' ? -1 : 1) * Math.max(1, Math.floor((tenths * bp) / 10_000))).div(10),
    takeProfitPrice: null,
    equity,
    availableMargin: equity.mul(marginShare),
  }));

const approvedOrNull = (i: SizingInput): RiskAssessment | null => {
  const r = sizeEntry(i);
  return r.ok ? r.value : null;
};

describe('recommendEntry properties (through sizeEntry)', () => {
  it('every recommendation, asked again, is approved; the stop keeps the buffer and is the nearest, the leverage the highest; approvals and other denials carry none', () => {
    const seen: Record<string, number> = {};
    const count = (k: string) => (seen[k] = (seen[k] ?? 0) + 1);
    fc.assert(
      fc.property(request, (input) => {
        const r = sizeEntry(input);
        const a: Partial<RiskAssessment> = r.ok ? r.value : r.error.assessment;
        if (r.ok || !RECOMMENDED_DENIALS.includes(r.error.code)) {
          for (const f of FIELDS) expect(a).not.toHaveProperty(f); // the event logs of approvals do not change
          return;
        }
        const code: SizingDenialCode = r.error.code;
        count(code);
        const { rules, side, entryPrice: entry } = input;
        const toward = side === 'BUY' ? 1 : -1;
        RiskAssessment.partial().parse(a);

        if (a.recommendedStop !== null && a.recommendedStop !== undefined) {
          count(`stop ${code}`);
          expect(code).not.toBe('ABOVE_MAX_QTY');
          const stop = dec(a.recommendedStop);
          expect(stop.mod(rules.tickSize).isZero()).toBe(true);
          // Liquidation: nearer the entry than asked; cost: farther from it.
          expect(stop.minus(input.stopPrice).mul(toward).mul(code === 'COST_TOO_HIGH' ? -1 : 1).gt(0)).toBe(true);
          const again = approvedOrNull({ ...input, stopPrice: stop });
          expect(again).not.toBeNull();
          // The nearest: one tick back toward the requested stop (on the grid here) is denied.
          expect(approvedOrNull({ ...input, stopPrice: stop.minus(rules.tickSize.mul(toward).mul(code === 'COST_TOO_HIGH' ? -1 : 1)) })).toBeNull();
          if (again!.liquidationPrice !== null) {
            // Never closer to liquidation than the required buffer: stop − LP ≥ f × (entry − LP) (sign by side), and ahead of LP.
            const lp = dec(again!.liquidationPrice);
            expect(stop.minus(lp).mul(toward).gt(0)).toBe(true);
            expect(stop.minus(lp).mul(toward).gte(input.liquidationBufferFraction.mul(entry.minus(lp).abs()))).toBe(true);
          }
        }

        const granted = a.leverage!;
        const approvedAt = (requestedLeverage: number) => approvedOrNull({ ...input, requestedLeverage }) !== null;
        if (a.maxLeverage !== null && a.maxLeverage !== undefined) {
          count(`leverage ${code}`);
          expect(a.maxLeverage).toBeGreaterThanOrEqual(1);
          expect(a.maxLeverage).toBeLessThan(granted);
          expect(approvedAt(a.maxLeverage)).toBe(true);
        }
        // The highest: nothing above it (up to the granted leverage, which was denied) passes; null: nothing at all.
        for (let lev = (a.maxLeverage ?? 0) + 1; lev < granted; lev++) expect(approvedAt(lev)).toBe(false);

        if (a.maxQuantity !== null && a.maxQuantity !== undefined) {
          count(`quantity ${code}`);
          const q = dec(a.maxQuantity);
          expect(q.mod(rules.marketStepSize).isZero()).toBe(true);
          expect(q.gte(rules.minQty) && q.lte(rules.marketMaxQty)).toBe(true);
          if (code === 'COST_TOO_HIGH') expect(q.mul(dec(a.feePerUnit!)).lte(input.maxFeeRiskFraction!.mul(dec(a.riskAmount!)))).toBe(true);
          // A margin cap that sizes exactly that quantity at the granted leverage passes; one step more does not.
          const sizedAt = (x: D) => {
            const cap = x.plus(rules.marketStepSize.div(2)).mul(entry).div(input.availableMargin.mul(granted));
            return cap.gt(1) ? null : approvedOrNull({ ...input, requestedLeverage: granted, maxMarginFraction: cap })?.quantity;
          };
          expect(sizedAt(q)).toBe(a.maxQuantity);
          expect(sizedAt(q.plus(rules.marketStepSize))).toBeFalsy();
        } else if (code === 'STOP_TOO_CLOSE_TO_LIQUIDATION') {
          expect(a.maxQuantity).toBeNull();
        }
      }),
      { numRuns: RUNS },
    );
    // The generator reaches each kind of recommendation.
    const kinds = ['stop STOP_TOO_CLOSE_TO_LIQUIDATION', 'stop COST_TOO_HIGH', 'leverage STOP_TOO_CLOSE_TO_LIQUIDATION', 'leverage COST_TOO_HIGH', 'quantity COST_TOO_HIGH', 'quantity ABOVE_MAX_QTY'];
    expect(kinds.filter((k) => !seen[k])).toEqual([]);
  }, 120_000);
});
