import fc from 'fast-check';
import { btcusdtRules } from '@bulwark/testing';
import { D, dec, str } from './money';
import { normalizePrice, normalizeQuantity } from './normalize';
import type { Rules } from './rules';

// Mainnet BTCUSDT: tick 0.1, price 556.8..4529764, LOT_SIZE step 0.001 min 0.001 max 1000,
// MARKET_LOT_SIZE step 0.001 max 120, MIN_NOTIONAL 5.
const rules: Rules = btcusdtRules();
// PROVENANCE §7: later mainnet responses show MIN_NOTIONAL 100.
const rules100 = { ...rules, minNotional: dec(100) };

const qty = (q: string, p = '60000', t: 'MARKET' | 'LIMIT' = 'MARKET', r: Rules = rules) => normalizeQuantity(r, dec(q), dec(p), t);
const value = (res: ReturnType<typeof qty>) => (res.ok ? str(res.value) : `${res.error.code}: ${res.error.message}`);

describe('normalizeQuantity', () => {
  it('rounds down to the step, never up', () => {
    expect(value(qty('0.0019'))).toBe('0.001');
    expect(value(qty('0.0999999'))).toBe('0.099');
    expect(value(qty('1.5'))).toBe('1.5');
  });

  it('rejects a quantity that rounds below minQty, with the numbers', () => {
    const r = qty('0.0009');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('BELOW_MIN_QTY');
      expect(r.error.message).toContain('0.0009');
      expect(r.error.message).toContain('0.001');
    }
  });

  it('uses MARKET_LOT_SIZE max (120) for MARKET and LOT_SIZE max (1000) for LIMIT', () => {
    expect(value(qty('120.0009'))).toBe('120');
    expect(value(qty('120.001'))).toBe('ABOVE_MAX_QTY: quantity 120.001 is above the MARKET maximum 120');
    expect(value(qty('500', '60000', 'LIMIT'))).toBe('500');
    expect(value(qty('1000.001', '60000', 'LIMIT'))).toBe('ABOVE_MAX_QTY: quantity 1000.001 is above the LIMIT maximum 1000');
  });

  it('uses the MARKET step for MARKET orders and the LOT_SIZE step for LIMIT orders', () => {
    const coarse = { ...rules, marketStepSize: dec('0.01') };
    expect(value(qty('0.019', '60000', 'MARKET', coarse))).toBe('0.01');
    expect(value(qty('0.019', '60000', 'LIMIT', coarse))).toBe('0.019');
  });

  it('rejects a rounded notional below MIN_NOTIONAL: 0.001 × 60,000 = 60 < 100', () => {
    expect(value(qty('0.0015', '60000', 'MARKET', rules100))).toBe('BELOW_MIN_NOTIONAL: notional 0.001 × 60000 = 60 is below the minimum notional 100');
    expect(value(qty('0.002', '60000', 'MARKET', rules100))).toBe('0.002'); // 120 >= 100
    expect(value(qty('0.002', '50000', 'MARKET', rules100))).toBe('0.002'); // exactly 100 passes
  });

  it('judges the notional after rounding down: 0.00199 → 0.001, × 60,000 = 60 < 100', () => {
    expect(qty('0.00199', '60000', 'MARKET', rules100)).toMatchObject({ ok: false, error: { code: 'BELOW_MIN_NOTIONAL' } });
  });

  it('rejects zero, negative and non-finite quantities as INVALID_QUANTITY', () => {
    for (const q of [new D(0), new D(-1), new D(NaN), new D(Infinity)]) {
      const r = normalizeQuantity(rules, q, dec(60000), 'MARKET');
      expect(r).toMatchObject({ ok: false, error: { code: 'INVALID_QUANTITY' } });
    }
  });

  it('throws on a non-positive price (a caller bug, prices are normalised first)', () => {
    expect(() => normalizeQuantity(rules, dec(1), dec(0), 'MARKET')).toThrow(RangeError);
  });

  it('is exact with a step that is not a power of ten (0.3): 1 → 0.9, 0.9 → 0.9', () => {
    const r = { ...rules, stepSize: dec('0.3'), minQty: dec('0.3') };
    expect(value(qty('1', '60000', 'LIMIT', r))).toBe('0.9');
    expect(value(qty('0.9', '60000', 'LIMIT', r))).toBe('0.9');
    expect(value(qty('0.8999999999', '60000', 'LIMIT', r))).toBe('0.6');
  });

  it('property: a result is a multiple of the step, <= the input, and within one step of it', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 12n }), fc.integer({ min: 0, max: 9 }), fc.constantFrom<'MARKET' | 'LIMIT'>('MARKET', 'LIMIT'), (n, scale, t) => {
        const q = new D(n.toString()).div(new D(10).pow(scale));
        const r = normalizeQuantity(rules, q, dec(60000), t);
        if (!r.ok) return;
        const step = t === 'MARKET' ? rules.marketStepSize : rules.stepSize;
        expect(r.value.mod(step).isZero()).toBe(true);
        expect(r.value.lte(q)).toBe(true);
        expect(q.minus(r.value).lt(step)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('normalizePrice', () => {
  const price = (p: string, r: Rules = rules) => {
    const res = normalizePrice(r, dec(p));
    return res.ok ? str(res.value) : `${res.error.code}: ${res.error.message}`;
  };

  it('rounds to the nearest 0.1 tick, half-even', () => {
    expect(price('60000.04')).toBe('60000');
    expect(price('60000.06')).toBe('60000.1');
    expect(price('60000.05')).toBe('60000'); // 600000.5 ticks → 600000 (even)
    expect(price('60000.15')).toBe('60000.2'); // 600001.5 ticks → 600002 (even)
    expect(price('104587.7')).toBe('104587.7');
  });

  it('refuses prices outside PRICE_FILTER [556.8, 4529764]', () => {
    expect(price('556.8')).toBe('556.8');
    expect(price('556.74')).toBe('PRICE_OUT_OF_RANGE: price 556.74 rounds to 556.7 (tick 0.1), below the minimum price 556.8');
    expect(price('4529764.04')).toBe('4529764');
    expect(price('4529764.1')).toBe('PRICE_OUT_OF_RANGE: price 4529764.1 rounds to 4529764.1 (tick 0.1), above the maximum price 4529764');
  });

  it('treats a 0 bound as disabled (Binance convention)', () => {
    const open = { ...rules, minPrice: dec(0), maxPrice: dec(0) };
    expect(price('10', open)).toBe('10');
    expect(price('9999999', open)).toBe('9999999');
    expect(price('0.04', open)).toBe('INVALID_PRICE: price 0.04 rounds to 0 at tick 0.1');
  });

  it('rejects zero, negative and non-finite prices as INVALID_PRICE', () => {
    for (const p of [new D(0), new D(-60000), new D(NaN), new D(Infinity)]) {
      expect(normalizePrice(rules, p)).toMatchObject({ ok: false, error: { code: 'INVALID_PRICE' } });
    }
  });
});
