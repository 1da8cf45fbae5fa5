import { RiskAssessment } from '@bulwark/contracts';
import { btcusdtRules } from '@bulwark/testing';
import { dec } from './money';
import type { Rules } from './rules';
import { sizeEntry, type SizingDenial, type SizingInput } from './sizing';
import { recommendEntry } from './sizing-recommend';

/** Mainnet BTCUSDT filters (tick 0.1, market step 0.001, market max 120), taker 0.0005, 2025-11-20 brackets. */
const RULES: Rules = btcusdtRules();

/**
 * A request: entry 100,000, stop 99,000, equity and available margin 10,000, risk 1 %, 10x of a
 * 20x cap, margin 50 %, buffer 0.1, no cost guard; `over` replaces any of it (decimals as strings).
 */
function input(over: Partial<Record<keyof SizingInput, unknown>> = {}): SizingInput {
  const fields = { side: 'BUY', entryPrice: '100000', stopPrice: '99000', takeProfitPrice: null, equity: '10000', availableMargin: '10000', riskFraction: '0.01',
    requestedLeverage: 10, leverageCap: 20, maxMarginFraction: '0.5', liquidationBufferFraction: '0.1', maxFeeRiskFraction: null, rules: RULES, ...over };
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === 'string' && k !== 'side' ? dec(v) : v])) as unknown as SizingInput;
}
const base = input();

const fail = (message: string): never => {
  throw new Error(message);
};

/** The approval of `i`, or a failure naming the denial. */
const approved = (i: SizingInput): RiskAssessment => {
  const r = sizeEntry(i);
  return r.ok ? r.value : fail(`expected approval, got ${r.error.code}: ${r.error.message}`);
};

/** The denial of `i` with `code`, whose assessment (recommendations included) satisfies the event contract. */
function denied(i: SizingInput, code: SizingDenial['code']): SizingDenial {
  const r = sizeEntry(i);
  const d = r.ok ? fail(`expected ${code}, got approval of ${r.value.quantity}`) : r.error;
  expect([d.code, RiskAssessment.partial().parse(d.assessment)]).toEqual([code, d.assessment]);
  return d;
}

describe('recommendations on a STOP_TOO_CLOSE_TO_LIQUIDATION denial', () => {
  // 50x long, entry 60,000, stop 57,000 (5 %), equity 10,000, risk 1 %, cap 50:
  // 100 ÷ (3,000 + 0.0005 × 117,000) = 0.0327 → 0.032 BTC, notional 1,920, margin 38.4;
  // LP = (1,920 − 38.4) ÷ (0.032 × 0.996) = 59,036.14: the stop is 2,036.14 beyond it.
  const fifty = input({ entryPrice: '60000', stopPrice: '57000', requestedLeverage: 50, leverageCap: 50 });

  it('50x with a 5 % stop: the denial (message to the cent) carries the nearest passing stop and the highest passing leverage', () => {
    const d = denied(fifty, 'STOP_TOO_CLOSE_TO_LIQUIDATION');
    expect(d.message).toBe(
      'stop 57000 is -2036.14 from the liquidation price 59036.14 at 50x; at least 96.39 (0.1 of the entry-to-liquidation distance 963.86) is required',
    );
    expect(d.assessment.stopToLiquidation).toBe('-2036.1445783132530120481927710843373494'); // full precision stays in the assessment
    // Stop: LP + 0.1 × (60,000 − LP) = 59,036.14 + 96.39 = 59,132.53 → up to the tick (toward the entry): 59,132.6.
    // The stop sizes 0.107 BTC; still bracket 1 (cum 0), so LP at 50x does not move.
    // Leverage: LP ≤ P = (57,000 − 0.1 × 60,000) ÷ 0.9 = 56,666.67; LP = 60,000 × (1 − 1/L) ÷ 0.996
    // → 1/L ≥ 1 − 56,666.67 × 0.996 ÷ 60,000 = 0.0593 → L ≤ 16.85 → 16.
    // A smaller position at 50x keeps the same LP: no quantity helps.
    expect(d.assessment).toMatchObject({ maxQuantity: null, recommendedStop: '59132.6', maxLeverage: 16 });
  });

  it('asking again with the recommended stop is approved; a tick closer to liquidation is not', () => {
    const a = approved({ ...fifty, stopPrice: dec('59132.6') });
    expect(a).toMatchObject({ leverage: 50, quantity: '0.107', liquidationPrice: '59036.1445783132530120481927710843373494' });
    expect(dec(a.stopToLiquidation!).gte(dec(a.requiredBuffer!))).toBe(true); // 96.46 ≥ 96.39
    expect(a).not.toHaveProperty('recommendedStop'); // approvals carry no recommendation
    denied({ ...fifty, stopPrice: dec('59132.5') }, 'STOP_TOO_CLOSE_TO_LIQUIDATION');
  });

  it('asking again at the max leverage is approved; one more is not', () => {
    // 16x: LP = 60,000 × 15/16 ÷ 0.996 = 56,475.90, buffer 352.41: the stop is 524.10 ahead of it.
    expect(approved({ ...fifty, requestedLeverage: 16 })).toMatchObject({ leverage: 16, liquidationPrice: expect.stringMatching(/^56475\.903/) });
    // 17x: LP 56,697.38, the stop 302.62 ahead of it, 330.26 required.
    expect(denied({ ...fifty, requestedLeverage: 17 }, 'STOP_TOO_CLOSE_TO_LIQUIDATION').assessment.maxLeverage).toBe(16);
  });

  it('a short: the stop moves down toward the entry (rounded down to the tick)', () => {
    // 10x short: LP = 100,000 × 1.1 ÷ 1.004 = 109,561.75; the stop at LP − 0.1 × (LP − 100,000) = 108,605.58 → 108,605.5.
    const short = input({ side: 'SELL', stopPrice: '109000' });
    const d = denied(short, 'STOP_TOO_CLOSE_TO_LIQUIDATION');
    expect(d.assessment.recommendedStop).toBe('108605.5');
    approved({ ...short, stopPrice: dec('108605.5') });
    denied({ ...short, stopPrice: dec('108605.6') }, 'STOP_TOO_CLOSE_TO_LIQUIDATION');
    approved({ ...short, requestedLeverage: d.assessment.maxLeverage! });
  });

  it('no leverage below 1x: a 1x request (none below it to offer) gets a stop only', () => {
    // 1x short can be liquidated (LP = 2 × entry ÷ 1.004 = 199,203.19); a stop at 195,000 is inside the 9,920.32 buffer:
    // LP − 9,920.32 = 189,282.87 → down to the tick, 189,282.8.
    const d = denied(input({ side: 'SELL', stopPrice: '195000', requestedLeverage: 1 }), 'STOP_TOO_CLOSE_TO_LIQUIDATION');
    expect(d.assessment.maxLeverage).toBeNull();
    expect(d.assessment.recommendedStop).toBe('189282.8');
    approved(input({ side: 'SELL', stopPrice: '189282.8', requestedLeverage: 1 }));
  });
});

describe('recommendations on a COST_TOO_HIGH denial', () => {
  // Entry 100,000, stop 99,900, equity 10,000, risk 1 %, 10x, cap 20, margin 50 %, buffer 0.1, guard 25 %:
  // 0.5 BTC (margin-capped), fees 0.5 × 99.95 = 49.975 = 50 % of the 100 risk amount.
  const tight = input({ stopPrice: '99900', maxFeeRiskFraction: '0.25' });

  it('recommends a wider stop, the largest quantity and the leverage whose margin cap sizes it', () => {
    const d = denied(tight, 'COST_TOO_HIGH');
    expect(d.message).toBe('taker fees at entry and stop 49.98 USDT are 50 % of the risk amount 100 USDT; at most 25 % allowed (widen the stop or raise the limit)');
    // Stop: 0.0005 × (100,000 + S) ÷ (100,000 − S + 0.0005 × (100,000 + S)) ≤ 0.25
    // ⇔ 100,000 − S ≥ 2 × 0.0005 × 100,000 × 0.75 ÷ (0.25 + 0.0005 × 0.75) = 75 ÷ 0.250375 = 299.55 → S ≤ 99,700.45 → 99,700.4,
    // where 0.2503 BTC rounds down to 0.25; 0.25 BTC (fees 0.25 × 99.85 = 24.96) holds while 100 ÷ loss per unit < 0.251,
    // i.e. 100,000 − S + 0.0005 × (100,000 + S) > 398.41 ⇔ S < 99,701.41: bisected back, 99,701.4.
    // Quantity: 0.25 × 100 ÷ 99.95 = 0.2501 → 0.25 BTC. Leverage: the 5,000 margin cap sizes 5,000 × L ÷ 100,000 ≤ 0.2501 → 5x.
    expect(d.assessment).toMatchObject({ recommendedStop: '99701.4', maxQuantity: '0.25', maxLeverage: 5 });
  });

  it('asking again with the recommended stop is approved: 0.25 BTC whose fees take 24.96 of the 100 risk amount; a tick nearer is not', () => {
    const a = approved({ ...tight, stopPrice: dec('99701.4') });
    expect(a).toMatchObject({ quantity: '0.25', feePerUnit: '99.8507', feesAtStop: '24.962675', feeRiskShare: '0.24962675' });
    expect(denied({ ...tight, stopPrice: dec('99701.5') }, 'COST_TOO_HIGH').assessment).toMatchObject({ quantity: '0.251', recommendedStop: '99701.4' });
    approved({ ...tight, stopPrice: dec('99700.4') }); // the closed form's stop passes too
  });

  it('asking again at 5x (or with a margin cap that sizes 0.25 BTC) is approved; 6x is not', () => {
    expect(approved({ ...tight, requestedLeverage: 5 })).toMatchObject({ leverage: 5, quantity: '0.25', feesAtStop: '24.9875' });
    expect(approved({ ...tight, maxMarginFraction: dec('0.25') })).toMatchObject({ leverage: 10, quantity: '0.25' });
    denied({ ...tight, requestedLeverage: 6 }, 'COST_TOO_HIGH');
  });
});

describe('recommendations on an ABOVE_MAX_QTY denial', () => {
  it('the venue maximum (120 BTC) as the largest quantity and the leverage whose margin cap stays within it', () => {
    // 100,000,000 × 1 % ÷ 1,099.5 = 909.5 BTC; margin cap 2,500,000 × 10 ÷ 100,000 = 250 BTC > 120.
    // 4x: 2,500,000 × 4 ÷ 100,000 = 100 BTC passes; 5x: 125 BTC does not.
    const big = input({ equity: '100000000', availableMargin: '5000000' });
    const d = denied(big, 'ABOVE_MAX_QTY');
    expect(d.assessment).toMatchObject({ maxQuantity: '120', recommendedStop: null, maxLeverage: 4 });
    expect(approved({ ...big, requestedLeverage: 4 }).quantity).toBe('100');
    denied({ ...big, requestedLeverage: 5 }, 'ABOVE_MAX_QTY');
  });

  it('no leverage helps when even 1x sizes above the maximum', () => {
    const d = denied(input({ equity: '100000000', availableMargin: '100000000' }), 'ABOVE_MAX_QTY');
    expect(d.assessment).toMatchObject({ maxQuantity: '120', maxLeverage: null }); // 1x: 50,000,000 ÷ 100,000 = 500 BTC
  });
});

describe('recommendEntry', () => {
  it('says nothing about the other denials, which keep their assessment as before', () => {
    const d = denied(input({ equity: '50' }), 'BELOW_MIN_QTY');
    expect(d.assessment).not.toHaveProperty('maxQuantity');
    expect(recommendEntry(input({ equity: '50' }), d, () => fail('not sized again'))).toBeNull();
  });

  it('throws on an assessment that lacks what its code implies (a programming error)', () => {
    expect(() => recommendEntry(base, { code: 'COST_TOO_HIGH', message: '', assessment: { leverage: 10 } }, () => fail('not sized again'))).toThrow(RangeError);
  });
});
