import { DenialReason, RiskAssessment } from '@bulwark/contracts';
import { BTCUSDT_FILES, btcusdtRules } from '@bulwark/testing';
import { D, dec } from './money';
import { sizeEntry, type SizingDenial, type SizingInput } from './sizing';

/** Mainnet BTCUSDT filters (step 0.001, market max 120, min notional 5), taker 0.0005, 2025-11-20 brackets. */
const RULES = btcusdtRules();
const RULES_2023 = btcusdtRules(BTCUSDT_FILES.leverageBrackets2023);

const base: SizingInput = {
  side: 'BUY',
  entryPrice: dec(100000),
  stopPrice: dec(99000),
  takeProfitPrice: null,
  equity: dec(10000),
  availableMargin: dec(10000),
  riskFraction: dec('0.01'),
  requestedLeverage: 10,
  leverageCap: 20,
  maxMarginFraction: dec('0.5'),
  liquidationBufferFraction: dec('0.1'),
  maxFeeRiskFraction: null,
  rules: RULES,
};

/** Overrides of `base`; decimals may be given as strings. */
function input(over: Record<string, unknown> = {}): SizingInput {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = typeof v === 'string' && k !== 'side' ? dec(v) : v;
  return out as unknown as SizingInput;
}

function approved(i: SizingInput): RiskAssessment {
  const r = sizeEntry(i);
  if (!r.ok) throw new Error(`expected approval, got ${r.error.code}: ${r.error.message}`);
  expect(RiskAssessment.parse(r.value)).toEqual(r.value);
  return r.value;
}

function denied(i: SizingInput, code: SizingDenial['code']): SizingDenial {
  const r = sizeEntry(i);
  if (r.ok) throw new Error(`expected ${code}, got approval of ${r.value.quantity}`);
  expect(r.error.code).toBe(code);
  expect(DenialReason.parse(r.error.code)).toBe(code);
  // What an EntryDenied event carries must satisfy the contract.
  expect(RiskAssessment.partial().parse(r.error.assessment)).toEqual(r.error.assessment);
  return r.error;
}

describe('sizeEntry: worked examples', () => {
  it('long: equity 10,000, risk 1 %, entry 100,000, stop 99,000, 10x', () => {
    const a = approved(input());
    expect(a).toEqual({
      side: 'BUY',
      entryPrice: '100000',
      stopPrice: '99000',
      takeProfitPrice: null,
      equity: '10000',
      availableMargin: '10000',
      riskFraction: '0.01',
      riskAmount: '100', // 10,000 × 0.01
      stopDistance: '1000', // |100,000 − 99,000|
      feePerUnit: '99.5', // 0.0005 × (100,000 + 99,000)
      lossPerUnit: '1099.5', // 1,000 + 99.5
      rawQuantity: '0.09095043201455206912232833105957253296953', // 100 / 1,099.5 (rounded toward 0)
      marginCappedQuantity: '0.09095043201455206912232833105957253296953', // cap 5,000 × 10 / 100,000 = 0.5 does not bind
      quantity: '0.09', // down to the 0.001 step
      notional: '9000', // 0.09 × 100,000
      requestedLeverage: 10,
      leverageCap: 20,
      bracketMaxLeverage: 150, // bracket 1 (0–300,000)
      leverage: 10, // min(10, 20, 150)
      bracket: 1,
      maintMarginRatio: '0.004',
      maintAmount: '0',
      initialMargin: '900', // 9,000 / 10
      maxMargin: '5000', // 0.5 × 10,000
      // (9,000 − 900 − 0) / (0.09 × 0.996) = 8,100 / 0.08964
      liquidationPrice: '90361.44578313253012048192771084337349398',
      liquidationDistance: '9638.55421686746987951807228915662650602', // 100,000 − LP
      stopToLiquidation: '8638.55421686746987951807228915662650602', // 99,000 − LP
      requiredBuffer: '963.855421686746987951807228915662650602', // 0.1 × 9,638.55…
      lossAtStop: '98.955', // 0.09 × 1,099.5 <= 100
      takerFeeRate: '0.0005',
      feesAtStop: '8.955', // 0.09 × 99.5
      feeRiskShare: '0.08955', // 8.955 / 100
      maxFeeRiskFraction: null, // no cost guard in this input
    });
  });

  it('short: entry 100,000, stop 101,000, take-profit 97,000', () => {
    const a = approved(input({ side: 'SELL', stopPrice: '101000', takeProfitPrice: '97000' }));
    expect(a).toMatchObject({
      side: 'SELL',
      takeProfitPrice: '97000',
      feePerUnit: '100.5', // 0.0005 × (100,000 + 101,000)
      lossPerUnit: '1100.5',
      rawQuantity: '0.09086778736937755565651976374375283961835', // 100 / 1,100.5
      quantity: '0.09',
      initialMargin: '900',
      // (9,000 + 900 + 0) / (0.09 × 1.004) = 9,900 / 0.09036
      liquidationPrice: '109561.7529880478087649402390438247011952',
      liquidationDistance: '9561.7529880478087649402390438247011952',
      stopToLiquidation: '8561.7529880478087649402390438247011952', // LP − 101,000
      lossAtStop: '99.045', // 0.09 × 1,100.5
    });
  });

  it('caps leverage at the bracket max when the notional is large: 90.95 BTC × 100,000 = 9,095,000 is bracket 4 (3M–12M, 50x)', () => {
    // equity 10,000,000 × 1 % = 100,000; / 1,099.5 = 90.9504… → 90.95. Requested 125, cap 125.
    const a = approved(input({ equity: '10000000', availableMargin: '10000000', requestedLeverage: 125, leverageCap: 125 }));
    expect(a).toMatchObject({
      quantity: '90.95',
      notional: '9095000',
      bracket: 4,
      bracketMaxLeverage: 50,
      leverage: 50,
      maintMarginRatio: '0.01',
      maintAmount: '12000',
      initialMargin: '181900', // 9,095,000 / 50
      // (9,095,000 − 181,900 − 12,000) / (90.95 × 0.99) = 8,901,100 / 90.0405 = 98,856.63; Q·LP = 8.99M, bracket 4
      liquidationPrice: '98856.62562957780110061583398581749323915',
      stopToLiquidation: '143.37437042219889938416601418250676085', // >= 114.34 required
    });
  });

  it('the leverage cap applies before the bracket: requested 50, cap 20 → 20x', () => {
    expect(approved(input({ requestedLeverage: 50 })).leverage).toBe(20);
  });

  it('caps the quantity by margin: initial margin <= 50 % of available margin', () => {
    // risk 1,000 / (100 + 99.95) = 5.0012… BTC, but 2,000 available → max margin 1,000 → 1,000 × 10 / 100,000 = 0.1 BTC.
    const a = approved(input({ equity: '100000', availableMargin: '2000', stopPrice: '99900' }));
    expect(a).toMatchObject({ rawQuantity: expect.stringMatching(/^5\.0012/), marginCappedQuantity: '0.1', quantity: '0.1', initialMargin: '1000', maxMargin: '1000' });
  });

  it('margin cap and brackets together: 125x would reach 375,000 (bracket 2, 100x max), so 100x → 3 BTC, 300,000', () => {
    // max margin 3,000: at 125x 3,000 × 125 / 100,000 = 3.75 BTC = 375,000 → bracket 2 allows 100x only;
    // 124x..101x land in bracket 2 too; 100x: 3 BTC = 300,000 (bracket 2's floor) → allowed.
    const a = approved(input({ equity: '100000', availableMargin: '6000', stopPrice: '99900', requestedLeverage: 125, leverageCap: 125 }));
    expect(a).toMatchObject({ leverage: 100, bracket: 2, bracketMaxLeverage: 100, quantity: '3', notional: '300000', initialMargin: '3000' });
    // Bracket 2 at entry, but the liquidation notional 3 × 99,397.59 = 298,193 is bracket 1:
    // (300,000 − 3,000) / (3 × 0.996) = 297,000 / 2.988 = 99,397.59
    expect(a.liquidationPrice).toBe('99397.59036144578313253012048192771084337');
  });

  it('takes the largest leverage the bracket of its own notional allows, not the first bracket max it meets (2023 brackets)', () => {
    // entry 30,000, stop 29,950: risk 1,000 / (50 + 29.975) = 12.5 BTC; max margin 2,400.
    // 125x → 2,400 × 125 / 30,000 = 10 BTC = 300,000 → bracket 3 (50x). Jumping to 50x would
    // give 4 BTC; but 100x → 8 BTC = 240,000 stays in bracket 2 (100x), so 100x is allowed.
    const a = approved(
      input({ entryPrice: '30000', stopPrice: '29950', equity: '100000', availableMargin: '4800', requestedLeverage: 125, leverageCap: 125, rules: RULES_2023 }),
    );
    expect(a).toMatchObject({ leverage: 100, bracket: 2, quantity: '8', notional: '240000', initialMargin: '2400' });
    // (240,000 − 2,400 − 50) / (8 × 0.995) = 237,550 / 7.96 = 29,842.96
    expect(a.liquidationPrice).toBe('29842.96482412060301507537688442211055276');
  });

  it('allows a 1x long with no liquidation price', () => {
    // At 1x the margin cap binds: 5,000 × 1 / 100,000 = 0.05 BTC, margin 5,000.
    // LP = (5,000 − 5,000 − 0) / (0.05 × 0.996) = 0 → none.
    const a = approved(input({ requestedLeverage: 1 }));
    expect(a).toMatchObject({ leverage: 1, quantity: '0.05', initialMargin: '5000', liquidationPrice: null, liquidationDistance: null, stopToLiquidation: null, requiredBuffer: null });
  });
});

describe('sizeEntry: denials', () => {
  it('INVALID_INTENT: non-positive prices', () => {
    expect(denied(input({ entryPrice: '0' }), 'INVALID_INTENT').message).toContain('entry price');
    expect(denied(input({ stopPrice: '-1' }), 'INVALID_INTENT').message).toContain('stop price');
    denied(input({ takeProfitPrice: '0' }), 'INVALID_INTENT');
  });

  it('INVALID_INTENT: stop at the entry (zero stop distance)', () => {
    expect(denied(input({ stopPrice: '100000' }), 'INVALID_INTENT').message).toContain('zero stop distance');
  });

  it('INVALID_INTENT: take-profit on the losing side', () => {
    denied(input({ takeProfitPrice: '99500' }), 'INVALID_INTENT');
    denied(input({ side: 'SELL', stopPrice: '101000', takeProfitPrice: '100500' }), 'INVALID_INTENT');
  });

  it('INVALID_INTENT: leverage not an integer in 1..125', () => {
    for (const requestedLeverage of [0, 126, 2.5, NaN]) denied(input({ requestedLeverage }), 'INVALID_INTENT');
    denied(input({ leverageCap: 0 }), 'INVALID_INTENT');
  });

  it('INVALID_INTENT: fractions out of range', () => {
    denied(input({ riskFraction: '0' }), 'INVALID_INTENT');
    denied(input({ riskFraction: '1.01' }), 'INVALID_INTENT');
    denied(input({ maxMarginFraction: '0' }), 'INVALID_INTENT');
    denied(input({ maxMarginFraction: '1.5' }), 'INVALID_INTENT');
    denied(input({ liquidationBufferFraction: '1' }), 'INVALID_INTENT');
    denied(input({ liquidationBufferFraction: '-0.1' }), 'INVALID_INTENT');
    denied(input({ equity: new D(NaN) }), 'INVALID_INTENT');
    denied(input({ availableMargin: new D(Infinity) }), 'INVALID_INTENT');
  });

  it('STOP_ON_WRONG_SIDE: a BUY with its stop above entry, a SELL with its stop below', () => {
    expect(denied(input({ stopPrice: '101000' }), 'STOP_ON_WRONG_SIDE').message).toBe("a BUY's stop must be below the entry 100000, got 101000");
    denied(input({ side: 'SELL', stopPrice: '99000' }), 'STOP_ON_WRONG_SIDE');
  });

  it('NO_EQUITY: equity <= 0', () => {
    denied(input({ equity: '0' }), 'NO_EQUITY');
    denied(input({ equity: '-5' }), 'NO_EQUITY');
  });

  it('INSUFFICIENT_MARGIN: no available margin', () => {
    const d = denied(input({ availableMargin: '0' }), 'INSUFFICIENT_MARGIN');
    expect(d.assessment).toMatchObject({ equity: '10000', availableMargin: '0' });
  });

  it('BELOW_MIN_QTY: 50 × 1 % = 0.5 / 1,099.5 = 0.00045 BTC rounds down to 0 < 0.001 (never up)', () => {
    const d = denied(input({ equity: '50' }), 'BELOW_MIN_QTY');
    expect(d.assessment).toMatchObject({ riskAmount: '0.5', rawQuantity: expect.stringMatching(/^0\.000454/), leverage: 10 });
    expect(d.assessment.quantity).toBeUndefined();
  });

  it('BELOW_MIN_NOTIONAL: with MIN_NOTIONAL 100, 1 / 659.7 = 0.0015 → 0.001 BTC × 60,000 = 60 < 100', () => {
    // entry 60,000, stop 59,400: loss per unit 600 + 0.0005 × 119,400 = 659.7; equity 100 × 1 % = 1.
    const d = denied(input({ entryPrice: '60000', stopPrice: '59400', equity: '100', rules: { ...RULES, minNotional: dec(100) } }), 'BELOW_MIN_NOTIONAL');
    expect(d.message).toContain('= 60 is below the minimum notional 100');
  });

  it('ABOVE_MAX_QTY: 100,000,000 × 1 % / 1,099.5 = 909.5 BTC > MARKET_LOT_SIZE max 120', () => {
    denied(input({ equity: '100000000', availableMargin: '100000000' }), 'ABOVE_MAX_QTY');
  });

  it('STOP_TOO_CLOSE_TO_LIQUIDATION: stop beyond the liquidation price', () => {
    // 20x, stop 90,000: 100 / (10,000 + 95) = 0.0099 → 0.009 BTC, margin 45;
    // LP = (900 − 45) / (0.009 × 0.996) = 95,381.53 > stop.
    const d = denied(input({ stopPrice: '90000', requestedLeverage: 20 }), 'STOP_TOO_CLOSE_TO_LIQUIDATION');
    expect(d.assessment).toMatchObject({ quantity: '0.009', initialMargin: '45', liquidationPrice: expect.stringMatching(/^95381\.5/) });
    expect(d.assessment.stopToLiquidation!.startsWith('-')).toBe(true);
  });

  it('STOP_TOO_CLOSE_TO_LIQUIDATION: stop inside the buffer; just outside it is approved', () => {
    // 10x: LP = 100,000 × 0.9 / 0.996 = 90,361.45; buffer 0.1 × 9,638.55 = 963.86 → stop must be >= 91,325.30.
    const d = denied(input({ stopPrice: '91000' }), 'STOP_TOO_CLOSE_TO_LIQUIDATION');
    expect(d.assessment).toMatchObject({ quantity: '0.01', liquidationPrice: expect.stringMatching(/^90361\.445/), requiredBuffer: expect.stringMatching(/^963\.855/) });
    expect(d.assessment.stopToLiquidation).toMatch(/^638\.554/);
    expect(approved(input({ stopPrice: '91400' })).liquidationPrice).toMatch(/^90361\.445/);
  });

  it('STOP_TOO_CLOSE_TO_LIQUIDATION for a short', () => {
    // 10x short: LP = 100,000 × 1.1 / 1.004 = 109,561.75; stop 109,000 is inside the 956.18 buffer.
    denied(input({ side: 'SELL', stopPrice: '109000' }), 'STOP_TOO_CLOSE_TO_LIQUIDATION');
    approved(input({ side: 'SELL', stopPrice: '108500' }));
  });
});

describe('sizeEntry: cost guard (COST_TOO_HIGH)', () => {
  // Entry 100,000, taker 0.05 %: fees per unit at entry and stop = 0.0005 × (100,000 + stop).
  it('a 1,000 stop: fees 99.5 per unit of a 1,099.5 loss per unit, 9.05 % of the risk amount: passes a 25 % guard', () => {
    const a = approved(input({ maxFeeRiskFraction: '0.25' }));
    expect(a.feePerUnit).toBe('99.5');
    expect(a.quantity).toBe('0.09');
    expect(a.feesAtStop).toBe('8.955'); // 0.09 × 99.5
    expect(a.feeRiskShare).toBe('0.08955'); // of the 100 USDT risk amount
    expect(a.maxFeeRiskFraction).toBe('0.25');
  });

  it('a 100 stop: fees 99.95 per unit of a 199.95 loss per unit, about half the risk amount: denied at 25 %, approved at 50 %', () => {
    const tight = { stopPrice: '99900' };
    const d = denied(input({ ...tight, maxFeeRiskFraction: '0.25' }), 'COST_TOO_HIGH');
    expect(d.assessment.feeRiskShare).toBe('0.49975'); // 0.5 BTC × 99.95 = 49.975 of 100
    expect(d.assessment.feesAtStop).toBe('49.975');
    expect(d.message).toBe('taker fees at entry and stop 49.98 USDT are 50 % of the risk amount 100 USDT; at most 25 % allowed (widen the stop or raise the limit)');
    expect(approved(input({ ...tight, maxFeeRiskFraction: '0.5' })).quantity).toBe('0.5');
    // Exactly at the limit passes: the guard denies only above it.
    expect(approved(input({ ...tight, maxFeeRiskFraction: '0.49975' })).quantity).toBe('0.5');
  });

  it('refuses a guard outside (0, 1]', () => {
    denied(input({ maxFeeRiskFraction: '0' }), 'INVALID_INTENT');
    denied(input({ maxFeeRiskFraction: '1.01' }), 'INVALID_INTENT');
  });
});
