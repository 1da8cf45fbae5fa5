import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { liquidationCloseFeeRate, liquidationPrice, maintenanceMargin } from './liquidation';
import { D, dec, str } from './money';
import { bracketForNotional, deriveBitgetMaintenanceAmounts, parseBitgetUsdtmRules, rulesFromContract, RulesParseError, type Bracket } from './rules';

// The recorded Bitget files (data/venues/bitget-usdtm/BTCUSDT, sources in data/venues/PROVENANCE.md).
const DIR = path.resolve(__dirname, '../../../data/venues/bitget-usdtm/BTCUSDT');
const readJson = (file: string): unknown => JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'));
const contract = readJson('contracts.json') as Record<string, unknown>;
const tiers = readJson('position-tier.json') as Record<string, unknown>[];
const fees = readJson('fees.json') as { makerFeeRate: string; takerFeeRate: string };

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const parse = (over: { contract?: unknown; positionTiers?: unknown; symbol?: string; takerFeeRate?: string; makerFeeRate?: string } = {}) =>
  parseBitgetUsdtmRules({ contract, positionTiers: tiers, ...over });

function expectParseError(fn: () => unknown, fragment: string | RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(RulesParseError);
  const msg = (caught as Error).message;
  if (typeof fragment === 'string') expect(msg).toContain(fragment);
  else expect(msg).toMatch(fragment);
}

const withContract = (key: string, value: unknown) => ({ ...clone(contract), [key]: value });
const withoutContract = (key: string) => {
  const c = clone(contract);
  delete c[key];
  return c;
};
const withTier = (i: number, key: string, value: unknown) => tiers.map((t, j) => (j === i ? { ...t, [key]: value } : t));

describe('parseBitgetUsdtmRules on the recorded BTCUSDT files', () => {
  const r = parse({ takerFeeRate: fees.takerFeeRate, makerFeeRate: fees.makerFeeRate });

  it('maps the contract entry: tick = priceEndStep × 10^-pricePlace, step = sizeMultiplier, limits, fees', () => {
    expect(r.venue).toBe('bitget-usdtm');
    expect([r.symbol, r.baseAsset, r.quoteAsset]).toEqual(['BTCUSDT', 'BTC', 'USDT']);
    expect(r.tickSize).toBe('0.1');
    expect([r.minPrice, r.maxPrice]).toEqual(['0', '0']);
    expect([r.stepSize, r.marketStepSize]).toEqual(['0.0001', '0.0001']);
    expect(r.minQty).toBe('0.0001');
    expect([r.maxQty, r.marketMaxQty]).toEqual(['1200', '220']);
    expect(r.minNotional).toBe('5');
    expect([r.takerFeeRate, r.makerFeeRate, r.liquidationFeeRate]).toEqual(['0.0006', '0.0002', '0']);
  });

  it('maps every tier to a bracket and derives each cum', () => {
    expect(r.brackets).toEqual([
      { bracket: 1, initialLeverage: 150, notionalFloor: '0', notionalCap: '200000', maintMarginRatio: '0.004', cum: '0' },
      { bracket: 2, initialLeverage: 100, notionalFloor: '200000', notionalCap: '1000000', maintMarginRatio: '0.005', cum: '200' },
      { bracket: 3, initialLeverage: 75, notionalFloor: '1000000', notionalCap: '5000000', maintMarginRatio: '0.007', cum: '2200' },
      { bracket: 4, initialLeverage: 50, notionalFloor: '5000000', notionalCap: '15000000', maintMarginRatio: '0.01', cum: '17200' },
      { bracket: 5, initialLeverage: 25, notionalFloor: '15000000', notionalCap: '50000000', maintMarginRatio: '0.02', cum: '167200' },
      { bracket: 6, initialLeverage: 20, notionalFloor: '50000000', notionalCap: '100000000', maintMarginRatio: '0.03', cum: '667200' },
      { bracket: 7, initialLeverage: 10, notionalFloor: '100000000', notionalCap: '150000000', maintMarginRatio: '0.06', cum: '3667200' },
      { bracket: 8, initialLeverage: 5, notionalFloor: '150000000', notionalCap: '300000000', maintMarginRatio: '0.12', cum: '12667200' },
      { bracket: 9, initialLeverage: 4, notionalFloor: '300000000', notionalCap: '500000000', maintMarginRatio: '0.15', cum: '21667200' },
      { bracket: 10, initialLeverage: 3, notionalFloor: '500000000', notionalCap: '700000000', maintMarginRatio: '0.2', cum: '46667200' },
      { bracket: 11, initialLeverage: 2, notionalFloor: '700000000', notionalCap: '900000000', maintMarginRatio: '0.3', cum: '116667200' },
      { bracket: 12, initialLeverage: 1, notionalFloor: '900000000', notionalCap: '1200000000', maintMarginRatio: '0.6', cum: '386667200' },
    ]);
  });

  it("reproduces Bitget's own tiered maintenance-margin example (330,000 USDT of BTCUSDT → 1648 USDT incl. the 0.06 % fee term)", () => {
    const b = rulesFromContract(r).brackets;
    const n = new D('330000');
    const mm = maintenanceMargin(n, b).maintenanceMargin.plus(n.mul(r.takerFeeRate));
    expect(str(mm)).toBe('1648');
  });

  it('takes the fees from the contract entry when none are given', () => {
    const d = parse();
    expect([d.takerFeeRate, d.makerFeeRate]).toEqual(['0.0006', '0.0002']);
    expect(parse({ takerFeeRate: '0.0004', makerFeeRate: '-0.0001' }).makerFeeRate).toBe('-0.0001');
  });

  it('accepts the full {code,data} answers, the data arrays, numbers instead of strings, and picks the symbol', () => {
    const other = { ...clone(contract), symbol: 'ETHUSDT', baseCoin: 'ETH' };
    const full = { code: '00000', msg: 'success', requestTime: 1, data: [other, contract] };
    expect(parse({ contract: full, symbol: 'BTCUSDT', positionTiers: { code: '00000', msg: 'success', data: tiers } })).toEqual(parse());
    expect(parse({ contract: [contract] })).toEqual(parse());
    const numeric = tiers.map((t) => ({ ...t, level: Number(t['level']), startUnit: Number(t['startUnit']), endUnit: Number(t['endUnit']), leverage: Number(t['leverage']), keepMarginRate: Number(t['keepMarginRate']) }));
    expect(parse({ positionTiers: numeric }).brackets).toEqual(r.brackets);
    const shuffled = [...tiers].reverse();
    expect(parse({ positionTiers: shuffled }).brackets).toEqual(r.brackets);
  });

  it('passes the same bracket validation as the Binance path and round-trips through the contract', () => {
    const back = rulesFromContract(r);
    expect(back.brackets.map((b) => str(b.cum))).toEqual(r.brackets.map((b) => b.cum));
    expect(bracketForNotional(back.brackets, dec('199999.9')).bracket).toBe(1);
    expect(bracketForNotional(back.brackets, dec('200000')).bracket).toBe(2);
  });
});

describe('parseBitgetUsdtmRules refuses malformed input naming the field', () => {
  it.each([
    ['pricePlace', '-1', 'BTCUSDT.pricePlace'],
    ['pricePlace', '1.5', 'BTCUSDT.pricePlace'],
    ['priceEndStep', '0', 'BTCUSDT.priceEndStep'],
    ['priceEndStep', 'abc', 'BTCUSDT.priceEndStep'],
    ['volumePlace', 'x', 'BTCUSDT.volumePlace'],
    ['sizeMultiplier', '0', 'BTCUSDT.sizeMultiplier'],
    ['sizeMultiplier', '0.00001', 'BTCUSDT.sizeMultiplier'],
    ['minTradeNum', '0', 'BTCUSDT.minTradeNum'],
    ['maxOrderQty', '', 'BTCUSDT.maxOrderQty'],
    ['maxMarketOrderQty', '0x10', 'BTCUSDT.maxMarketOrderQty'],
    ['minTradeUSDT', '-5', 'BTCUSDT.minTradeUSDT'],
    ['takerFeeRate', 'NaN', 'BTCUSDT.takerFeeRate'],
    ['makerFeeRate', 'Infinity', 'BTCUSDT.makerFeeRate'],
    ['baseCoin', '', 'BTCUSDT.baseCoin'],
    ['quoteCoin', 7, 'BTCUSDT.quoteCoin'],
  ])('contract %s = %j', (key, value, fragment) => {
    expectParseError(() => parse({ contract: withContract(key, value) }), fragment);
  });

  it.each(['pricePlace', 'priceEndStep', 'volumePlace', 'sizeMultiplier', 'minTradeNum', 'maxOrderQty', 'maxMarketOrderQty', 'minTradeUSDT'])('a missing %s', (key) => {
    expectParseError(() => parse({ contract: withoutContract(key) }), `BTCUSDT.${key}`);
  });

  it('a missing or mismatched symbol, an error answer, a list without the symbol', () => {
    expectParseError(() => parse({ contract: withoutContract('symbol') }), 'contract.symbol');
    expectParseError(() => parse({ contract, symbol: 'ETHUSDT' }), 'contract.symbol: expected ETHUSDT');
    expectParseError(() => parse({ contract: { code: '40034', msg: 'Parameter does not exist', data: [] } }), 'contract.code');
    expectParseError(() => parse({ contract: { code: '00000', data: [contract] }, symbol: 'ETHUSDT' }), 'no entry for symbol ETHUSDT');
    expectParseError(() => parse({ contract: 'BTCUSDT' }), 'contract');
    expectParseError(() => parse({ takerFeeRate: '-0.1' }), 'takerFeeRate');
  });

  it.each([
    [0, 'level', '0', 'positionTiers[0].level'],
    [1, 'leverage', '2.5', 'positionTiers[1].leverage'],
    [2, 'startUnit', '-1', 'positionTiers[2].startUnit'],
    [3, 'endUnit', '0', 'positionTiers[3].endUnit'],
    [4, 'keepMarginRate', '1', 'positionTiers[4].keepMarginRate'],
    [5, 'keepMarginRate', 'abc', 'positionTiers[5].keepMarginRate'],
  ])('tier %i %s = %j', (i, key, value, fragment) => {
    expectParseError(() => parse({ positionTiers: withTier(i, key, value) }), fragment);
  });

  it('tiers with a gap, an overlap, a decreasing rate, bad numbering, another symbol, none at all, an error answer', () => {
    expectParseError(() => parse({ positionTiers: withTier(1, 'startUnit', '250000') }), 'positionTiers[BTCUSDT][1].startUnit: 250000 is not the previous endUnit 200000');
    expectParseError(() => parse({ positionTiers: withTier(0, 'endUnit', '300000') }), 'positionTiers[BTCUSDT][1].startUnit');
    expectParseError(() => parse({ positionTiers: withTier(2, 'keepMarginRate', '0.0045') }), 'positionTiers[BTCUSDT][2].keepMarginRate');
    expectParseError(() => parse({ positionTiers: withTier(2, 'level', '7') }), 'positionTiers[BTCUSDT][2].level');
    expectParseError(() => parse({ positionTiers: tiers.slice(1) }), 'positionTiers[BTCUSDT][0]');
    expectParseError(() => parse({ positionTiers: withTier(0, 'symbol', 'ETHUSDT') }), 'positionTiers.symbol');
    expectParseError(() => parse({ positionTiers: [] }), 'positionTiers');
    expectParseError(() => parse({ positionTiers: { code: '40019', msg: 'Parameter symbol cannot be empty', data: null } }), 'positionTiers.code');
  });
});

describe('derived maintenance amounts', () => {
  const mmAt = (b: Bracket, n: D) => n.mul(b.maintMarginRatio).minus(b.cum);

  it('make maintenance margin continuous at every recorded tier boundary', () => {
    const b = rulesFromContract(parse()).brackets;
    for (let i = 1; i < b.length; i++) {
      const edge = b[i]!.notionalFloor;
      expect(str(mmAt(b[i - 1]!, edge))).toBe(str(mmAt(b[i]!, edge)));
    }
  });

  it('make maintenance margin continuous and non-decreasing for any contiguous tiers with non-decreasing rates (property)', () => {
    const tierSet = fc
      .array(fc.tuple(fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 0, max: 500 })), { minLength: 1, maxLength: 15 })
      .map((steps) => {
        let floor = new D(0);
        let mmr = new D('0.004');
        return steps.map(([width, bump], i) => {
          const b: Bracket = { bracket: i + 1, initialLeverage: 1, notionalFloor: floor, notionalCap: floor.plus(width), maintMarginRatio: mmr, cum: new D(0) };
          floor = b.notionalCap;
          mmr = D.min(mmr.plus(new D(bump).div(10_000)), new D('0.99'));
          return b;
        });
      });
    fc.assert(
      fc.property(tierSet, fc.double({ min: 0, max: 1, noNaN: true }), (ts, frac) => {
        const b = deriveBitgetMaintenanceAmounts(ts);
        expect(b[0]!.cum.isZero()).toBe(true);
        for (let i = 1; i < b.length; i++) {
          const edge = b[i]!.notionalFloor;
          if (!mmAt(b[i - 1]!, edge).eq(mmAt(b[i]!, edge))) return false;
        }
        // Monotone: a larger notional never needs less maintenance margin.
        const top = b[b.length - 1]!.notionalCap;
        const n1 = top.mul(new D(frac.toFixed(6)));
        const n2 = n1.plus(1);
        return maintenanceMargin(n2, b).maintenanceMargin.gte(maintenanceMargin(n1, b).maintenanceMargin);
      }),
    );
  });
});

describe("Bitget's isolated liquidation price (taker fee added to the MMR)", () => {
  // Bitget help center, "Liquidation price calculation (isolated margin)":
  // long LP = (Q·EP − margin − offset) / (Q·(1 − MMR − fee)); short LP = (Q·EP + margin + offset) / (Q·(1 + MMR + fee)).
  const rules = rulesFromContract(parse({ takerFeeRate: fees.takerFeeRate, makerFeeRate: fees.makerFeeRate }));
  const f = liquidationCloseFeeRate(rules);

  it('reserves the taker fee on Bitget and nothing on Binance', () => {
    expect(str(f)).toBe('0.0006');
    expect(str(liquidationCloseFeeRate({ venue: 'binance-usdm', takerFeeRate: dec('0.0005') }))).toBe('0');
  });

  it('long 0.5 BTC at 60,000, margin 3,000 (10x, tier 1): (30,000 − 3,000 − 0) / (0.5 × (1 − 0.004 − 0.0006)) = 54,238.65…', () => {
    const lp = liquidationPrice({ side: 'LONG', quantity: dec('0.5'), entryPrice: dec('60000'), walletBalance: dec('3000'), brackets: rules.brackets, closeFeeRate: f }).price!;
    expect(lp.toFixed(8)).toBe(dec(27000).div(dec('0.5').mul(dec('0.9954'))).toFixed(8));
    // Without the fee (Binance's formula) the long would be liquidated later, at a lower price.
    const binanceStyle = liquidationPrice({ side: 'LONG', quantity: dec('0.5'), entryPrice: dec('60000'), walletBalance: dec('3000'), brackets: rules.brackets }).price!;
    expect(binanceStyle.lt(lp)).toBe(true);
  });

  it('short 10 BTC at 60,000, margin 30,000 (20x, tier 2): (600,000 + 30,000 + 200) / (10 × (1 + 0.005 + 0.0006))', () => {
    const lp = liquidationPrice({ side: 'SHORT', quantity: dec('10'), entryPrice: dec('60000'), walletBalance: dec('30000'), brackets: rules.brackets, closeFeeRate: f });
    expect(str(lp.bracket.maintMarginRatio)).toBe('0.005');
    expect(lp.price!.toFixed(8)).toBe(dec(630200).div(dec(10).mul(dec('1.0056'))).toFixed(8));
  });

  it('at the liquidation price the margin balance equals maintenance margin plus the closing fee (any size, side, leverage)', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 1, max: 200_000 }), fc.integer({ min: 20_000, max: 120_000 }), fc.integer({ min: 2, max: 50 }), (long, qSteps, ep, lev) => {
        const q = dec(qSteps).mul('0.0001');
        const entry = dec(ep);
        const margin = q.mul(entry).div(lev);
        const side = long ? 'LONG' : 'SHORT';
        const lp = liquidationPrice({ side, quantity: q, entryPrice: entry, walletBalance: margin, brackets: rules.brackets, closeFeeRate: f }).price;
        if (lp === null) return;
        const balance = margin.plus(q.mul(lp.minus(entry)).mul(long ? 1 : -1));
        const need = maintenanceMargin(q.mul(lp), rules.brackets).maintenanceMargin.plus(q.mul(lp).mul(f));
        expect(balance.minus(need).abs().lt('1e-20')).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a closing-fee rate outside [0, 1)', () => {
    expect(() => liquidationPrice({ side: 'LONG', quantity: dec(1), entryPrice: dec(1000), walletBalance: dec(100), brackets: rules.brackets, closeFeeRate: dec(1) })).toThrow(RangeError);
    expect(() => liquidationPrice({ side: 'LONG', quantity: dec(1), entryPrice: dec(1000), walletBalance: dec(100), brackets: rules.brackets, closeFeeRate: dec(-0.1) })).toThrow(RangeError);
  });
});
