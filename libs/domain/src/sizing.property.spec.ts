import fc from 'fast-check';
import { RiskAssessment, type OrderSide } from '@bulwark/contracts';
import { BTCUSDT_FILES, btcusdtRules } from '@bulwark/testing';
import { D, dec, floorToStep, min } from './money';
import { bracketForNotional } from './rules';
import { sizeEntry, type SizingDenialCode, type SizingInput } from './sizing';

// Money invariants of position sizing over the real BTCUSDT rules (mainnet filters and
// both recorded bracket snapshots). Every decimal is built from integers, so it is exact.

const RULE_SETS = [btcusdtRules(BTCUSDT_FILES.leverageBrackets), btcusdtRules(BTCUSDT_FILES.leverageBrackets2023)];

const RUNS = 1000;

/** A positive amount in cents with a spread of magnitudes: mantissa × 10^k cents, 0.01 .. ~100,000,000 USDT. */
const usdt = fc.tuple(fc.integer({ min: 1, max: 9999 }), fc.integer({ min: 0, max: 6 })).map(([m, k]) => new D(m).mul(new D(10).pow(k)).div(100));
/** A fraction n / scale with n in [lo, hi]. */
const fraction = (lo: number, hi: number, scale: number) => fc.integer({ min: lo, max: hi }).map((n) => new D(n).div(scale));

const sizingInput: fc.Arbitrary<SizingInput> = fc
  .record({
    side: fc.constantFrom<OrderSide>('BUY', 'SELL'),
    entryTenths: fc.integer({ min: 10_000, max: 2_000_000 }), // 1,000.0 .. 200,000.0 USDT
    stopBp: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 5000 })), // stop 0.01 % .. 50 % away
    tpBp: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: null }),
    equity: usdt,
    availableMargin: usdt,
    riskFraction: fc.oneof(fraction(1, 300, 10_000), fraction(1, 10_000, 10_000)), // (0, 1]
    requestedLeverage: fc.integer({ min: 1, max: 125 }),
    leverageCap: fc.integer({ min: 1, max: 125 }),
    maxMarginFraction: fraction(1, 100, 100),
    liquidationBufferFraction: fc.oneof(fraction(0, 30, 100), fraction(0, 99, 100)),
    maxFeeRiskFraction: fc.option(fraction(1, 100, 100), { nil: null }),
    rules: fc.constantFrom(...RULE_SETS),
  })
  .map(({ side, entryTenths, stopBp, tpBp, ...rest }) => {
    const sign = side === 'BUY' ? -1 : 1;
    const offset = (bp: number) => Math.max(1, Math.floor((entryTenths * bp) / 10_000));
    const entryPrice = new D(entryTenths).div(10);
    return {
      ...rest,
      side,
      entryPrice,
      stopPrice: new D(entryTenths + sign * offset(stopBp)).div(10),
      takeProfitPrice: tpBp === null ? null : new D(entryTenths - sign * offset(tpBp)).div(10),
    };
  });

type Approved = { input: SizingInput; a: RiskAssessment };
/** Run a check on approved entries only. */
const forApproved = (check: (x: Approved) => void) =>
  fc.assert(
    fc.property(sizingInput, (input) => {
      const r = sizeEntry(input);
      if (r.ok) check({ input, a: r.value });
    }),
    { numRuns: RUNS },
  );

describe('sizeEntry properties', () => {
  it('returns a valid RiskAssessment or a typed denial with a valid partial assessment; approves a fair share', () => {
    const allowed: SizingDenialCode[] = ['INVALID_INTENT', 'STOP_ON_WRONG_SIDE', 'NO_EQUITY', 'BELOW_MIN_QTY', 'BELOW_MIN_NOTIONAL', 'ABOVE_MAX_QTY', 'INSUFFICIENT_MARGIN', 'STOP_TOO_CLOSE_TO_LIQUIDATION', 'COST_TOO_HIGH'];
    let approvals = 0;
    fc.assert(
      fc.property(sizingInput, (input) => {
        const r = sizeEntry(input);
        if (r.ok) {
          approvals += 1;
          RiskAssessment.parse(r.value);
        } else {
          expect(allowed).toContain(r.error.code);
          expect(r.error.code).not.toBe('INVALID_INTENT'); // the generator only builds valid intents
          RiskAssessment.partial().parse(r.error.assessment);
        }
      }),
      { numRuns: RUNS },
    );
    expect(approvals).toBeGreaterThan(RUNS / 5);
  });

  it('(1) quantity × (|entry − stop| + taker fee on entry and exit) <= riskAmount', () => {
    forApproved(({ input, a }) => {
      const lossPerUnit = input.entryPrice.minus(input.stopPrice).abs().plus(input.rules.takerFeeRate.mul(input.entryPrice.plus(input.stopPrice)));
      const riskAmount = input.equity.mul(input.riskFraction);
      expect(dec(a.quantity).mul(lossPerUnit).lte(riskAmount)).toBe(true);
      expect(dec(a.lossAtStop).eq(dec(a.quantity).mul(lossPerUnit))).toBe(true);
    });
  });

  it('(2) the stop stays on the entry side of liquidation + buffer × (entry − liquidation)', () => {
    forApproved(({ input, a }) => {
      if (a.liquidationPrice === null) return;
      const liq = dec(a.liquidationPrice);
      const threshold = liq.plus(input.liquidationBufferFraction.mul(input.entryPrice.minus(liq)));
      if (input.side === 'BUY') {
        expect(input.stopPrice.gt(liq)).toBe(true);
        expect(input.stopPrice.gte(threshold)).toBe(true);
      } else {
        expect(input.stopPrice.lt(liq)).toBe(true);
        expect(input.stopPrice.lte(threshold)).toBe(true);
      }
    });
  });

  it("(3) a long's liquidation price is below entry, a short's above", () => {
    forApproved(({ input, a }) => {
      if (input.side === 'BUY') expect(a.liquidationPrice === null || dec(a.liquidationPrice).lt(input.entryPrice)).toBe(true);
      else expect(a.liquidationPrice !== null && dec(a.liquidationPrice).gt(input.entryPrice)).toBe(true);
    });
  });

  it('(4) initial margin <= maxMarginFraction × availableMargin', () => {
    forApproved(({ input, a }) => {
      const maxMargin = input.maxMarginFraction.mul(input.availableMargin);
      expect(dec(a.initialMargin).lte(maxMargin)).toBe(true);
      // and exactly, without the division: quantity × entry <= maxMargin × leverage
      expect(dec(a.quantity).mul(input.entryPrice).lte(maxMargin.mul(a.leverage))).toBe(true);
    });
  });

  it('(5) the bracket used contains the notional, and the leverage respects it, the request and the cap', () => {
    forApproved(({ input, a }) => {
      const brackets = input.rules.brackets;
      const b = brackets.find((x) => x.bracket === a.bracket)!;
      const notional = dec(a.notional);
      expect(notional.eq(dec(a.quantity).mul(input.entryPrice))).toBe(true);
      expect(notional.gte(b.notionalFloor)).toBe(true);
      if (b !== brackets[brackets.length - 1]) expect(notional.lt(b.notionalCap)).toBe(true);
      expect(a.bracketMaxLeverage).toBe(b.initialLeverage);
      expect(a.leverage).toBeLessThanOrEqual(Math.min(input.requestedLeverage, input.leverageCap, b.initialLeverage));
      expect(a.leverage).toBeGreaterThanOrEqual(1);
    });
  });

  it('(6) quantities are multiples of the step, within the venue limits, and never exceed the raw or margin-capped quantity', () => {
    forApproved(({ input, a }) => {
      const q = dec(a.quantity);
      const { rules } = input;
      expect(q.mod(rules.marketStepSize).isZero()).toBe(true);
      expect(q.lte(dec(a.rawQuantity))).toBe(true);
      expect(q.lte(dec(a.marginCappedQuantity))).toBe(true);
      expect(dec(a.marginCappedQuantity).minus(q).lt(rules.marketStepSize)).toBe(true); // rounded down by less than a step
      expect(q.gte(rules.minQty)).toBe(true);
      expect(q.lte(rules.marketMaxQty)).toBe(true);
      expect(q.mul(input.entryPrice).gte(rules.minNotional)).toBe(true);
    });
  });

  it('(7) the leverage is the largest the bracket of its own notional allows: one more would not be', () => {
    forApproved(({ input, a }) => {
      if (a.leverage >= Math.min(input.requestedLeverage, input.leverageCap)) return;
      const more = a.leverage + 1;
      const maxMargin = input.maxMarginFraction.mul(input.availableMargin);
      const q = floorToStep(min(dec(a.rawQuantity), maxMargin.mul(more).div(input.entryPrice)), input.rules.marketStepSize);
      expect(bracketForNotional(input.rules.brackets, q.mul(input.entryPrice)).initialLeverage).toBeLessThan(more);
    });
  });

  it('(8) cost guard: the same request is approved exactly when its fees at entry and stop take at most the allowed share of the risk amount', () => {
    let denials = 0;
    fc.assert(
      fc.property(sizingInput, (input) => {
        // Without the guard: what the fees of the sized quantity would be.
        const open = sizeEntry({ ...input, maxFeeRiskFraction: null });
        const guarded = sizeEntry(input);
        if (!open.ok || input.maxFeeRiskFraction === null) {
          // The guard changes nothing else: no guard, or an earlier denial, is the same answer.
          expect(guarded.ok ? 'ok' : guarded.error.code).toBe(open.ok ? 'ok' : open.error.code);
          return;
        }
        const fees = dec(open.value.quantity).mul(dec(open.value.feePerUnit));
        const share = fees.div(input.equity.mul(input.riskFraction));
        expect(dec(open.value.feesAtStop!).eq(fees)).toBe(true);
        if (share.lte(input.maxFeeRiskFraction)) {
          expect(guarded.ok).toBe(true);
          if (guarded.ok) expect(guarded.value.quantity).toBe(open.value.quantity);
        } else {
          denials++;
          expect(guarded.ok ? 'ok' : guarded.error.code).toBe('COST_TOO_HIGH');
        }
      }),
      { numRuns: RUNS },
    );
    expect(denials).toBeGreaterThan(0);
  });
});
