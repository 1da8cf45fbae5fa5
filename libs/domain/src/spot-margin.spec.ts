import * as fs from 'node:fs';
import { SPOT_BTCUSDT_FILES } from '@bulwark/testing';
import { D, dec, str } from './money';
import {
  DEFAULT_MARGIN_LEVEL_BARS,
  SPOT_ISOLATED_MAX_LEVERAGE,
  decideMarginCallReduction,
  isolatedMarginEquity,
  marginLevel,
  marginLevelCrossings,
  marginLevelZone,
  sizeSpotMarginEntry,
  validateMarginLevelBars,
  type IsolatedMarginBalances,
  type MarginLevelBars,
  type MarginCallReduction,
  type SpotMarginDenialCode,
  type SpotMarginSizing,
  type SpotMarginSizingInput,
} from './spot-margin';

// Margin level: Binance FAQ "Binance Margin Level and Margin Call", "Margin Level of Isolated
// Margin": total asset value ÷ (total liabilities + outstanding interest).
//
// Prices are real Binance SPOT BTCUSDT 1m closes (shared/data/binance-spot, 2024-07-26 ..
// 2024-08-25, the 2024-08-05 crash); the first test checks each against the file.
// Rules: Binance spot BTCUSDT LOT_SIZE step 0.00001 / minQty 0.00001, NOTIONAL min 5, taker
// fee 0.1 % (VIP 0). shared/data holds no spot exchangeInfo, so these are stated here.

/** Real closes used below: UTC bar open time → close. */
const CLOSES = {
  '2024-08-04T00:00': '60663.57',
  '2024-08-05T00:00': '58208.01',
  '2024-08-05T06:24': '49338.49', // the crash bar: low 49,000
  '2024-08-05T12:00': '51145.99',
  '2024-08-06T00:00': '54012',
} as const;
const close = (t: keyof typeof CLOSES) => dec(CLOSES[t]);

const STEP = dec('0.00001');
const MIN_QTY = dec('0.00001');
const MIN_NOTIONAL = dec(5);
const FEE = dec('0.001');
const Z = dec(0);

const balances = (over: Partial<Record<keyof IsolatedMarginBalances, string>>): IsolatedMarginBalances => ({
  baseFree: dec(over.baseFree ?? 0),
  baseLocked: dec(over.baseLocked ?? 0),
  baseBorrowed: dec(over.baseBorrowed ?? 0),
  baseInterest: dec(over.baseInterest ?? 0),
  quoteFree: dec(over.quoteFree ?? 0),
  quoteLocked: dec(over.quoteLocked ?? 0),
  quoteBorrowed: dec(over.quoteBorrowed ?? 0),
  quoteInterest: dec(over.quoteInterest ?? 0),
});
const s = (x: D | null) => (x === null ? null : str(x));

describe('the real prices used here', () => {
  it('are the closes of the spot BTCUSDT 1m file', () => {
    const byTime = new Map<number, string>();
    for (const line of fs.readFileSync(SPOT_BTCUSDT_FILES.candles1mAugust2024, 'utf8').split('\n').slice(1)) {
      const c = line.split(',');
      if (c.length >= 6) byTime.set(Number(c[0]), c[4]!);
    }
    for (const [t, c] of Object.entries(CLOSES)) expect([t, byTime.get(Date.parse(`${t}:00Z`))]).toEqual([t, c]);
  });
});

describe('marginLevel', () => {
  it('= total asset value ÷ (borrowed + interest): 2,466.9245 ÷ (2,000 + 0.5) = 1.23315…', () => {
    expect(str(marginLevel(dec('2466.9245'), dec(2000), dec('0.5'))!)).toBe('1.233153961509622594351412146963259185204');
  });

  it('counts outstanding interest as a liability: 100 ÷ (0 + 50) = 2', () => {
    expect(str(marginLevel(dec(100), Z, dec(50))!)).toBe('2');
  });

  it('is null when nothing is owed', () => {
    expect(marginLevel(dec(1000), Z, Z)).toBeNull();
  });

  it('throws on a negative or non-finite amount (a programming error)', () => {
    expect(() => marginLevel(dec(-1), dec(1), Z)).toThrow(RangeError);
    expect(() => marginLevel(dec(1), dec(-1), Z)).toThrow(RangeError);
    expect(() => marginLevel(dec(1), Z, new D(NaN))).toThrow(RangeError);
  });
});

describe('margin level bars and zones', () => {
  it('defaults to Binance 2.0 / 1.5 / 1.3 / 1.1', () => {
    const b = DEFAULT_MARGIN_LEVEL_BARS;
    expect([b.transferOut, b.borrow, b.marginCall, b.liquidation].map(str)).toEqual(['2', '1.5', '1.3', '1.1']);
    expect(validateMarginLevelBars(b).ok).toBe(true);
  });

  it.each([
    [null, 'SAFE'], // nothing borrowed
    ['2.0001', 'SAFE'],
    ['2', 'NO_TRANSFER_OUT'], // a bar belongs to the zone below it ("1.5 < level ≤ 2")
    ['1.5001', 'NO_TRANSFER_OUT'],
    ['1.5', 'NO_BORROW'],
    ['1.3001', 'NO_BORROW'],
    ['1.3', 'MARGIN_CALL'],
    ['1.1001', 'MARGIN_CALL'],
    ['1.1', 'LIQUIDATION'],
    ['0.5', 'LIQUIDATION'],
  ])('level %s → %s', (level, zone) => {
    expect(marginLevelZone(level === null ? null : dec(level))).toBe(zone);
  });

  it("uses the venue's bars when given: a 10x tier (initialRiskRatio 1.111, liquidationRiskRatio 1.05)", () => {
    const tier: MarginLevelBars = { transferOut: dec(2), borrow: dec('1.111'), marginCall: dec('1.08'), liquidation: dec('1.05') };
    expect(marginLevelZone(dec('1.2'), tier)).toBe('NO_TRANSFER_OUT'); // NO_BORROW with the defaults
    expect(marginLevelZone(dec('1.2'))).toBe('MARGIN_CALL');
    expect(marginLevelZone(dec('1.1'), tier)).toBe('NO_BORROW');
    expect(marginLevelZone(dec('1.05'), tier)).toBe('LIQUIDATION');
  });

  it('refuses bars that are not strictly decreasing and positive', () => {
    const bad = { ...DEFAULT_MARGIN_LEVEL_BARS, marginCall: dec('1.5') };
    const v = validateMarginLevelBars(bad);
    expect(v).toEqual({ ok: false, error: { code: 'INVALID_MARGIN_LEVEL_BARS', message: 'borrow (1.5) must be above marginCall (1.5)' } });
    expect(validateMarginLevelBars({ transferOut: dec(3), borrow: dec(2), marginCall: dec(1), liquidation: dec(0) }).ok).toBe(false);
    expect(() => marginLevelZone(dec(1), bad)).toThrow('marginLevelZone: borrow (1.5) must be above marginCall (1.5)');
    expect(() => marginLevelCrossings(dec(1), dec(2), bad)).toThrow(RangeError);
  });
});

describe('marginLevelCrossings', () => {
  const cross = (a: string | null, b: string | null) =>
    marginLevelCrossings(a === null ? null : dec(a), b === null ? null : dec(b)).map((c) => `${c.direction} ${c.bar} ${str(c.threshold)}`);

  it('falling 2.5 → 1.2 crosses transfer-out, borrow and margin call, in that order', () => {
    expect(cross('2.5', '1.2')).toEqual(['DOWN transferOut 2', 'DOWN borrow 1.5', 'DOWN marginCall 1.3']);
  });

  it('rising 1.2 → 2.5 crosses them back, lowest first', () => {
    expect(cross('1.2', '2.5')).toEqual(['UP marginCall 1.3', 'UP borrow 1.5', 'UP transferOut 2']);
  });

  it('no debt (null) → 1.05 crosses all four down; repaying everything crosses them up', () => {
    expect(cross(null, '1.05')).toEqual(['DOWN transferOut 2', 'DOWN borrow 1.5', 'DOWN marginCall 1.3', 'DOWN liquidation 1.1']);
    expect(cross('1.05', null)).toEqual(['UP liquidation 1.1', 'UP marginCall 1.3', 'UP borrow 1.5', 'UP transferOut 2']);
  });

  it('reaching a bar exactly is a crossing down; leaving it upward is a crossing up', () => {
    expect(cross('1.6', '1.5')).toEqual(['DOWN borrow 1.5']);
    expect(cross('1.5', '1.5')).toEqual([]);
    expect(cross('1.5', '1.50001')).toEqual(['UP borrow 1.5']);
  });

  it('moves inside one zone cross nothing', () => {
    expect(cross('1.4', '1.35')).toEqual([]);
    expect(cross(null, '2.5')).toEqual([]);
    expect(cross(null, null)).toEqual([]);
  });
});

describe('isolatedMarginEquity', () => {
  it('long: 0.03 BTC free + 0.02 locked, 2,000 USDT borrowed, 0.5 interest, at 49,338.49 (2024-08-05 06:24)', () => {
    const e = isolatedMarginEquity({ ...balances({ baseFree: '0.03', baseLocked: '0.02', quoteBorrowed: '2000', quoteInterest: '0.5' }), price: close('2024-08-05T06:24') });
    expect(s(e.baseNetAsset)).toBe('0.05'); // 0.03 + 0.02 − 0 − 0
    expect(s(e.quoteNetAsset)).toBe('-2000.5'); // 0 + 0 − 2,000 − 0.5
    expect(s(e.totalAssetValue)).toBe('2466.9245'); // 0.05 × 49,338.49
    expect(s(e.totalBorrowedValue)).toBe('2000');
    expect(s(e.totalInterestValue)).toBe('0.5');
    expect(s(e.totalLiabilityValue)).toBe('2000.5');
    expect(s(e.equity)).toBe('466.4245'); // −2,000.5 + 0.05 × 49,338.49
    expect(s(e.marginLevel)).toBe('1.233153961509622594351412146963259185204'); // 2,466.9245 ÷ 2,000.5: MARGIN_CALL
  });

  it('short: 3,264.45 USDT, 0.05 BTC borrowed + 0.00002 interest, at 54,012 (2024-08-06 00:00)', () => {
    const e = isolatedMarginEquity({ ...balances({ quoteFree: '3264.45', baseBorrowed: '0.05', baseInterest: '0.00002' }), price: close('2024-08-06T00:00') });
    expect(s(e.baseNetAsset)).toBe('-0.05002');
    expect(s(e.quoteNetAsset)).toBe('3264.45');
    expect(s(e.totalAssetValue)).toBe('3264.45');
    expect(s(e.totalBorrowedValue)).toBe('2700.6'); // 0.05 × 54,012
    expect(s(e.totalInterestValue)).toBe('1.08024'); // 0.00002 × 54,012
    expect(s(e.totalLiabilityValue)).toBe('2701.68024');
    expect(s(e.equity)).toBe('562.76976'); // 3,264.45 − 0.05002 × 54,012
    expect(s(e.marginLevel)).toBe('1.208303614790475722619194934778810093381'); // 3,264.45 ÷ 2,701.68024
  });

  it('no debt: margin level null, equity = assets', () => {
    const e = isolatedMarginEquity({ ...balances({ baseFree: '0.01', quoteFree: '100' }), price: close('2024-08-04T00:00') });
    expect(s(e.equity)).toBe('706.6357'); // 100 + 0.01 × 60,663.57
    expect(e.marginLevel).toBeNull();
  });

  it('throws on a negative balance or a price that is not > 0', () => {
    expect(() => isolatedMarginEquity({ ...balances({ baseFree: '-1' }), price: dec(1) })).toThrow('isolatedMarginEquity: baseFree must be a finite decimal >= 0, got -1');
    expect(() => isolatedMarginEquity({ ...balances({}), price: Z })).toThrow(RangeError);
  });
});

describe('sizeSpotMarginEntry', () => {
  const base: SpotMarginSizingInput = {
    side: 'BUY',
    entryPrice: close('2024-08-04T00:00'), // 60,663.57
    stopPrice: close('2024-08-05T00:00'), // 58,208.01
    equity: dec(1000),
    availableMargin: dec(1000),
    riskFraction: dec('0.01'),
    leverage: 5,
    takerFeeRate: FEE,
    stepSize: STEP,
    minQty: MIN_QTY,
    minNotional: MIN_NOTIONAL,
  };
  const input = (over: Partial<SpotMarginSizingInput> = {}): SpotMarginSizingInput => ({ ...base, ...over });
  const approved = (i: SpotMarginSizingInput): SpotMarginSizing => {
    const r = sizeSpotMarginEntry(i);
    if (!r.ok) throw new Error(`expected approval, got ${r.error.code}: ${r.error.message}`);
    return r.value;
  };
  const denied = (i: SpotMarginSizingInput, code: SpotMarginDenialCode) => {
    const r = sizeSpotMarginEntry(i);
    if (r.ok) throw new Error(`expected ${code}, got ${r.value.quantity}`);
    expect(r.error.code).toBe(code);
    return r.error;
  };

  it('long, 5x: equity 1,000, risk 1 %, entry 60,663.57, stop 58,208.01', () => {
    expect(approved(input())).toEqual({
      side: 'BUY',
      entryPrice: '60663.57',
      stopPrice: '58208.01',
      equity: '1000',
      availableMargin: '1000',
      riskFraction: '0.01',
      leverage: 5,
      takerFeeRate: '0.001',
      riskAmount: '10', // 1,000 × 0.01
      stopDistance: '2455.56', // 60,663.57 − 58,208.01
      feePerUnit: '118.87158', // 0.001 × (60,663.57 + 58,208.01)
      lossPerUnit: '2574.43158', // 2,455.56 + 118.87158
      rawQuantity: '0.003884352599496934387357072429945875663939', // 10 ÷ 2,574.43158, toward 0
      rawMarginRequired: '47.12773916485284879856857566981834491014', // raw × 60,663.57 ÷ 5 <= 1,000: not reduced
      marginCappedQuantity: '0.003884352599496934387357072429945875663939',
      quantity: '0.00388', // down to the 0.00001 step
      notional: '235.3746516', // 0.00388 × 60,663.57
      marginRequired: '47.07493032', // 235.3746516 ÷ 5
      borrowAsset: 'QUOTE',
      borrowAmount: '188.29972128', // 235.3746516 − 47.07493032
      lossAtStop: '9.9887945304', // 0.00388 × 2,574.43158 <= 10
      reducedForMargin: false,
    });
  });

  it('reduces the quantity proportionally when the margin would exceed the available margin', () => {
    // risk 5 % of 1,000 = 50; stop 60,000: loss/unit 663.57 + 0.001 × 120,663.57 = 784.23357;
    // raw 50 ÷ 784.23357 = 0.0637565…, margin 0.0637565 × 60,663.57 ÷ 3 = 1,289.23 > 100;
    // reduced: 0.0637565 × 100 ÷ 1,289.23 = 100 × 3 ÷ 60,663.57 = 0.00494530… → 0.00494.
    const a = approved(input({ stopPrice: dec(60000), riskFraction: dec('0.05'), availableMargin: dec(100), leverage: 3 }));
    expect(a.rawQuantity).toBe('0.06375651580434130102336731134832700416025');
    expect(a.rawMarginRequired).toBe('1289.232619817588272840704842563676533255');
    expect(a.marginCappedQuantity).toBe('0.004945307373107121786601085297156102088947');
    expect(a.quantity).toBe('0.00494');
    expect(a.notional).toBe('299.6780358');
    expect(a.marginRequired).toBe('99.8926786'); // <= 100
    expect(a.borrowAmount).toBe('199.7853572');
    expect(a.lossAtStop).toBe('3.8741138358'); // well under the 50 risked: the margin binds
    expect(a.reducedForMargin).toBe(true);
  });

  it('short, 3x: sell at 49,338.49 (the crash bar), stop 51,145.99, risk 2 %', () => {
    // loss/unit 1,807.5 + 0.001 × 100,484.48 = 1,907.98448; raw 20 ÷ 1,907.98448 = 0.0104822… → 0.01048.
    const a = approved(input({ side: 'SELL', entryPrice: close('2024-08-05T06:24'), stopPrice: close('2024-08-05T12:00'), riskFraction: dec('0.02'), leverage: 3 }));
    expect(a.stopDistance).toBe('1807.5');
    expect(a.feePerUnit).toBe('100.48448');
    expect(a.quantity).toBe('0.01048');
    expect(a.notional).toBe('517.0673752');
    expect(a.marginRequired).toBe('172.3557917333333333333333333333333333333'); // 517.0673752 ÷ 3
    expect(a.borrowAsset).toBe('BASE');
    expect(a.borrowAmount).toBe('0.01048'); // the base borrowed and sold
    expect(a.lossAtStop).toBe('19.9956773504');
    expect(a.reducedForMargin).toBe(false);
  });

  it('denies a stop on the wrong side', () => {
    expect(denied(input({ stopPrice: dec(61000) }), 'STOP_ON_WRONG_SIDE').message).toBe("a BUY's stop must be below the entry 60663.57, got 61000");
    denied(input({ side: 'SELL', stopPrice: dec(60000) }), 'STOP_ON_WRONG_SIDE');
  });

  it.each<[string, Partial<SpotMarginSizingInput>, string]>([
    ['a stop equal to the entry', { stopPrice: dec('60663.57') }, 'stop price equals the entry price 60663.57: zero stop distance'],
    ['a zero entry', { entryPrice: Z }, 'entry price must be a positive number, got 0'],
    ['a negative stop', { stopPrice: dec(-1) }, 'stop price must be a positive number, got -1'],
    ['a non-finite entry', { entryPrice: new D(Infinity) }, 'entry price must be a positive number, got Infinity'],
    ['leverage 0', { leverage: 0 }, 'leverage must be an integer 1..10 (spot isolated margin), got 0'],
    ['leverage 11', { leverage: SPOT_ISOLATED_MAX_LEVERAGE + 1 }, 'leverage must be an integer 1..10 (spot isolated margin), got 11'],
    ['leverage 2.5', { leverage: 2.5 }, 'leverage must be an integer 1..10 (spot isolated margin), got 2.5'],
    ['risk 0', { riskFraction: Z }, 'risk fraction must be in (0, 1], got 0'],
    ['risk above 100 %', { riskFraction: dec('1.01') }, 'risk fraction must be in (0, 1], got 1.01'],
    ['a negative fee', { takerFeeRate: dec('-0.001') }, 'taker fee rate must be in [0, 1), got -0.001'],
    ['a zero step', { stepSize: Z }, 'step size must be > 0, got 0'],
  ])('denies %s as INVALID_INTENT', (_name, over, message) => {
    expect(denied(input(over), 'INVALID_INTENT').message).toBe(message);
  });

  it('denies no equity and no margin', () => {
    expect(denied(input({ equity: Z }), 'NO_EQUITY').message).toBe('isolated margin equity is 0: nothing to risk');
    expect(denied(input({ availableMargin: dec(-5) }), 'INSUFFICIENT_MARGIN').message).toBe('available margin is -5');
  });

  it('denies below the minimum quantity instead of rounding up: 0.01 ÷ 2,574.43158 = 0.0000038… rounds to 0', () => {
    const e = denied(input({ equity: dec(10), riskFraction: dec('0.001') }), 'BELOW_MIN_QTY');
    expect(e.message).toBe('quantity 0.000003884352599496934387357072429945875663939 rounds down to 0 (step 0.00001), below the minimum 0.00001');
    expect(e.assessment.riskAmount).toBe('0.01');
    expect(e.assessment.quantity).toBeUndefined();
  });

  it('denies below the minimum notional: 0.2 ÷ 2,574.43158 → 0.00007 × 60,663.57 = 4.25 < 5', () => {
    const e = denied(input({ equity: dec(20) }), 'BELOW_MIN_NOTIONAL');
    expect(e.message).toBe('notional 0.00007 × 60663.57 = 4.2464499 is below the minimum notional 5');
    expect(e.assessment).toMatchObject({ quantity: '0.00007', notional: '4.2464499', reducedForMargin: false });
  });

  it('a denial after reduction says so: 1 USDT of margin at 1x buys 1 ÷ 60,663.57 = 0.0000164843… → 0.00001, notional 0.61 < 5', () => {
    const e = denied(input({ availableMargin: dec(1), leverage: 1 }), 'BELOW_MIN_NOTIONAL');
    expect(e.assessment).toMatchObject({ reducedForMargin: true, marginCappedQuantity: '0.00001648435791035707262200361765718700696315', quantity: '0.00001' });
  });
});

describe('decideMarginCallReduction', () => {
  const decide = (side: 'LONG' | 'SHORT', b: IsolatedMarginBalances, price: D, bars?: MarginLevelBars) =>
    decideMarginCallReduction({ side, balances: b, price, takerFeeRate: FEE, stepSize: STEP, bars });
  const reduce = (r: ReturnType<typeof decide>): Extract<MarginCallReduction, { action: 'REDUCE' }> => {
    if (!r.ok || r.value.action !== 'REDUCE') throw new Error(`expected REDUCE, got ${JSON.stringify(r)}`);
    return r.value;
  };

  it('long at 49,338.49: level 1.2332 (MARGIN_CALL) → sell 0.02171 BTC, back to 1.50015', () => {
    // A = 0.05 × 49,338.49 = 2,466.9245, L = 2,000.5, T = 1.5, f = 0.001:
    // x = (1.5 × 2,000.5 − 2,466.9245) ÷ (49,338.49 × (1.5 × 0.999 − 1)) = 533.8255 ÷ 24,595.237265 = 0.02170442… → 0.02171.
    // Repay 0.02171 × 49,338.49 × 0.999 = 1,070.0674792821;
    // A' = 2,466.9245 − 0.02171 × 49,338.49 = 1,395.7858821, L' = 2,000.5 − 1,070.0674792821 = 930.4325207179 → 1.50015.
    const r = reduce(decide('LONG', balances({ baseFree: '0.05', quoteBorrowed: '2000', quoteInterest: '0.5' }), close('2024-08-05T06:24')));
    expect(r).toEqual({
      action: 'REDUCE',
      orderSide: 'SELL',
      quantity: '0.02171',
      rawQuantity: '0.02170442570845433151384563396688989005368',
      positionQuantity: '0.05',
      marginLevel: '1.233153961509622594351412146963259185204',
      zone: 'MARGIN_CALL',
      targetMarginLevel: '1.5',
      repayAsset: 'QUOTE',
      repayAmount: '1070.0674792821',
      expectedMarginLevel: '1.50014735192515005392646290596785275713',
      expectedZone: 'NO_TRANSFER_OUT',
      closesPosition: false,
      raisesLevel: true,
      reachesTarget: true,
    });
    // One step less would stop short of 1.5: x = 0.0217 → (2,466.9245 − 1,070.645233) ÷ (2,000.5 − 1,069.574587767) = 1.49988…
    const x = dec('0.0217');
    const p = close('2024-08-05T06:24');
    const after = dec('2466.9245').minus(x.mul(p)).div(dec('2000.5').minus(x.mul(p).mul('0.999')));
    expect(str(after.toDecimalPlaces(8))).toBe('1.49988307');
  });

  it('short at 54,012: level 1.2083 → buy back 0.02927 BTC, back to 1.50002', () => {
    // A = 3,264.45, L = 0.05002 × 54,012 = 2,701.68024;
    // x = (1.5 × 2,701.68024 − 3,264.45) ÷ (54,012 × 0.4985) = 788.07036 ÷ 26,924.982 = 0.029269113… → 0.02927;
    // repay 0.02927 × 0.999 = 0.02924073 BTC; A' = 3,264.45 − 0.02927 × 54,012 = 1,683.51876;
    // L' = 2,701.68024 − 0.02924073 × 54,012 = 1,122.32993124 → 1.500021.
    const r = reduce(decide('SHORT', balances({ quoteFree: '3264.45', baseBorrowed: '0.05', baseInterest: '0.00002' }), close('2024-08-06T00:00')));
    expect(r).toMatchObject({
      orderSide: 'BUY',
      quantity: '0.02927',
      rawQuantity: '0.02926911371751334875544206491948629714962', // rounded away from zero
      positionQuantity: '0.05002',
      zone: 'MARGIN_CALL',
      repayAsset: 'BASE',
      repayAmount: '0.02924073',
      expectedMarginLevel: '1.500021262143453338130364090636296697185',
      reachesTarget: true,
      closesPosition: false,
    });
  });

  it('does nothing above the margin-call bar, and acts exactly at it', () => {
    // 0.05 × 52,000 = 2,600 ÷ 2,000 = 1.3 → at the bar; 52,001 → 1.300025, above.
    const b = balances({ baseFree: '0.05', quoteBorrowed: '2000' });
    expect(decide('LONG', b, dec(52001))).toEqual({ ok: true, value: { action: 'NONE', reason: 'ABOVE_MARGIN_CALL', marginLevel: '1.300025', zone: 'NO_BORROW' } });
    expect(reduce(decide('LONG', b, dec(52000)))).toMatchObject({ marginLevel: '1.3', zone: 'MARGIN_CALL' });
  });

  it('does nothing without debt, without a position, or without quote to buy back', () => {
    expect(decide('LONG', balances({ baseFree: '1' }), dec(50000))).toEqual({ ok: true, value: { action: 'NONE', reason: 'NO_DEBT', marginLevel: null, zone: 'SAFE' } });
    expect(decide('LONG', balances({ quoteFree: '1200', quoteBorrowed: '1000' }), dec(50000))).toMatchObject({ ok: true, value: { action: 'NONE', reason: 'NO_POSITION' } });
    // A short owing 0.0001 BTC net (0.02 borrowed, 0.0199 held) with 0.4 USDT: (995 + 0.4) ÷ 1,000 = 0.9954;
    // 0.4 USDT buys 0.000008 BTC at 50,000, less than one 0.00001 step.
    expect(decide('SHORT', balances({ baseFree: '0.0199', quoteFree: '0.4', baseBorrowed: '0.02' }), dec(50000))).toEqual({
      ok: true,
      value: { action: 'NONE', reason: 'NO_QUOTE_TO_BUY_BACK', marginLevel: '0.9954', zone: 'LIQUIDATION' },
    });
  });

  it('never trades more than the position: a small long beside free quote is closed and stays short of the target', () => {
    // A = 0.001 × 49,338.49 + 2,000 = 2,049.33849, L = 1,800 → 1.1385; x = 0.02645 > 0.001 held.
    const r = reduce(decide('LONG', balances({ baseFree: '0.001', quoteFree: '2000', quoteBorrowed: '1800' }), close('2024-08-05T06:24')));
    expect(r).toMatchObject({ quantity: '0.001', positionQuantity: '0.001', closesPosition: true, raisesLevel: true, reachesTarget: false });
    expect(r.expectedMarginLevel).toBe('1.142393103764115922788628997992918012115');
  });

  it('closes the whole position when the level is too low to be raised (<= 1 ÷ (1 − fee))', () => {
    // 0.02 × 49,338.49 = 986.7698 = L: level 1 → selling only lowers it; close everything.
    const r = reduce(decide('LONG', balances({ baseFree: '0.02', quoteBorrowed: '986.7698' }), close('2024-08-05T06:24')));
    expect(r).toMatchObject({ quantity: '0.02', rawQuantity: '0.02', zone: 'LIQUIDATION', closesPosition: true, raisesLevel: false, reachesTarget: false, expectedMarginLevel: '0' });
  });

  it('rejects invalid input as a value', () => {
    const b = balances({ baseFree: '0.05', quoteBorrowed: '2000' });
    expect(decide('LONG', b, Z)).toEqual({ ok: false, error: { code: 'INVALID_INPUT', message: 'price must be a positive number, got 0' } });
    expect(decide('LONG', balances({ baseFree: '-1' }), dec(1))).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    const unreachable: MarginLevelBars = { transferOut: dec(2), borrow: dec('1.0005'), marginCall: dec('1.0004'), liquidation: dec('1.0001') };
    expect(decide('LONG', b, dec(40000), unreachable)).toEqual({
      ok: false,
      error: { code: 'INVALID_INPUT', message: 'the borrow bar 1.0005 × (1 − fee 0.001) must be > 1, or no reduction can reach it' },
    });
  });
});
