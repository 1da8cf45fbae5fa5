import * as fc from 'fast-check';
import { btcusdtRules } from '@bulwark/testing';
import { dec, str } from './money';
import { MAX_CHILDREN, maxChildQuantity, nextSplitStep, splitQuantity, type SplitPolicy } from './order-split';
import type { Rules } from './rules';

// Real BTCUSDT filters: LOT_SIZE step 0.001 max 1000, MARKET_LOT_SIZE step 0.001 max 120, min qty 0.001, min notional 5.
const RULES: Rules = btcusdtRules();
const PRICE = dec('104587.7'); // the close of 2025-11-10 00:00
const policy = (p: Partial<SplitPolicy> = {}): SplitPolicy => ({ maxOrderNotional: null, maxVolumeShare: null, style: 'SLICES', intervalMs: 60_000, ...p });

describe('maxChildQuantity', () => {
  it('is the venue maximum of the order type without other limits', () => {
    expect(str(maxChildQuantity(RULES, 'MARKET', PRICE, null, policy()))).toBe(str(RULES.marketMaxQty));
    expect(str(maxChildQuantity(RULES, 'LIMIT', PRICE, null, policy()))).toBe(str(RULES.maxQty));
  });
  it('takes the smallest of the venue max, the notional limit and the volume share, floored to the step', () => {
    // 50,000 USDT at 104,587.7 = 0.47806… → 0.478
    expect(str(maxChildQuantity(RULES, 'MARKET', PRICE, dec('200'), policy({ maxOrderNotional: dec('50000') })))).toBe('0.478');
    // 0.1 % of a 312.5 BTC bar = 0.3125 → 0.312
    expect(str(maxChildQuantity(RULES, 'MARKET', PRICE, dec('312.5'), policy({ maxOrderNotional: dec('50000'), maxVolumeShare: dec('0.001') })))).toBe('0.312');
    // An unknown bar volume leaves the volume limit out.
    expect(str(maxChildQuantity(RULES, 'MARKET', PRICE, null, policy({ maxVolumeShare: dec('0.001') })))).toBe('120');
  });
});

describe('splitQuantity', () => {
  it('leaves a parent that fits as one child', () => {
    expect(splitQuantity(dec('0.478'), dec('0.478'), RULES, 'MARKET', PRICE)).toEqual({ ok: true, value: [dec('0.478')] });
  });
  it('splits into the fewest children, differing by at most one step, summing exactly to the parent', () => {
    const r = splitQuantity(dec('1.001'), dec('0.478'), RULES, 'MARKET', PRICE);
    expect(r.ok && r.value.map(str)).toEqual(['0.334', '0.334', '0.333']);
  });
  it('refuses a split whose children would be below the venue minimum notional', () => {
    const r = splitQuantity(dec('0.01'), dec('0.0005'), RULES, 'MARKET', PRICE);
    expect(!r.ok && r.error.code).toBe('SPLIT_BELOW_MINIMUM');
  });
  it(`refuses more than ${MAX_CHILDREN} children`, () => {
    const r = splitQuantity(dec('10'), dec('0.1'), RULES, 'MARKET', PRICE);
    expect(!r.ok && r.error).toEqual({ code: 'TOO_MANY_CHILDREN', message: '10 in children of at most 0.1 needs 100 orders; at most 50' });
  });
  it('property: children sum to the parent, each on the step, within the max and the venue minimums', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_000_000 }), fc.integer({ min: 2, max: 120_000 }), (parentSteps, maxSteps) => {
        const step = RULES.marketStepSize;
        const parent = step.mul(parentSteps);
        const maxChild = step.mul(maxSteps);
        const r = splitQuantity(parent, maxChild, RULES, 'MARKET', PRICE);
        if (!r.ok) return r.error.code === 'TOO_MANY_CHILDREN' || r.error.code === 'SPLIT_BELOW_MINIMUM';
        const sum = r.value.reduce((a, b) => a.plus(b), dec(0));
        return (
          sum.eq(parent) &&
          r.value.length <= MAX_CHILDREN &&
          r.value.every((c) => c.div(step).isInteger() && c.lte(maxChild) && c.gte(RULES.minQty) && c.mul(PRICE).gte(RULES.minNotional)) &&
          r.value[0].minus(r.value[r.value.length - 1]).lte(step)
        );
      }),
      { numRuns: 500 },
    );
  });
});

describe('nextSplitStep', () => {
  const plan = { style: 'SLICES' as const, intervalMs: 60_000, deadline: 1_000_000, children: [{ clientOrderId: 'p-1', quantity: '0.1' }, { clientOrderId: 'p-2', quantity: '0.1' }, { clientOrderId: 'p-3', quantity: '0.05' }] };
  const fresh = { plan, sent: 0, lastSentAt: null, lastChildFilled: false, filledQuantity: dec(0), filledNotional: dec(0), fees: dec(0) };
  // A long at 104,587.7 with the stop 1,000 below: 0.25 × (1,000 + fees 104.09) ≈ 276.02 USDT; the approval allowed 280.
  const risk = { side: 'BUY' as const, stopPrice: dec('103587.7'), riskAmount: dec('280'), entryFeeRate: dec('0.0005'), takerFeeRate: dec('0.0005') };

  it('sends the first child at once, the next after the interval and on a later step', () => {
    expect(nextSplitStep(fresh, 0, PRICE, risk)).toEqual({ kind: 'SEND', clientOrderId: 'p-1', quantity: dec('0.1') });
    const one = { ...fresh, sent: 1, lastSentAt: 100, filledQuantity: dec('0.1'), filledNotional: dec('0.1').mul(PRICE), fees: dec('0.1').mul(PRICE).mul('0.0005') };
    expect(nextSplitStep(one, 60_099, PRICE, risk)).toEqual({ kind: 'WAIT' });
    expect(nextSplitStep(one, 60_100, PRICE, risk)).toEqual({ kind: 'SEND', clientOrderId: 'p-2', quantity: dec('0.1') });
  });

  it('ICEBERG waits until the child before has filled whole', () => {
    const one = { ...fresh, plan: { ...plan, style: 'ICEBERG' as const }, sent: 1, lastSentAt: 100 };
    expect(nextSplitStep(one, 500_000, PRICE, risk)).toEqual({ kind: 'WAIT' });
    expect(nextSplitStep({ ...one, lastChildFilled: true }, 500_000, PRICE, risk).kind).toBe('SEND');
  });

  it('ends at the deadline with what was not sent, and when every child is sent', () => {
    expect(nextSplitStep({ ...fresh, sent: 1, lastSentAt: 0 }, 1_000_000, PRICE, risk)).toEqual({ kind: 'END', reason: 'DEADLINE', detail: '2 children (0.15) not sent by 1970-01-01T00:16:40.000Z' });
    expect(nextSplitStep({ ...fresh, sent: 3 }, 0, PRICE, risk)).toMatchObject({ kind: 'END', reason: 'COMPLETED' });
  });

  it('ends RISK_LIMIT when the next child at the market price would take the loss at the stop past the approved risk', () => {
    const two = { ...fresh, sent: 2, lastSentAt: 0, filledQuantity: dec('0.2'), filledNotional: dec('0.2').mul(PRICE), fees: dec('0.2').mul(PRICE).mul('0.0005') };
    expect(nextSplitStep(two, 60_000, PRICE, risk).kind).toBe('SEND');
    // The market ran 300 up: the last 0.05 would now cost 0.05 × 1,300 more at the stop.
    const ran = nextSplitStep(two, 60_000, PRICE.plus(300), risk);
    expect(ran).toMatchObject({ kind: 'END', reason: 'RISK_LIMIT' });
    // At or below the stop the child would open into its own stop.
    expect(nextSplitStep(two, 60_000, risk.stopPrice, risk)).toMatchObject({ kind: 'END', reason: 'RISK_LIMIT' });
  });
});
