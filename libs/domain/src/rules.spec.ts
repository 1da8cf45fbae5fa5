import { InstrumentRules } from '@bulwark/contracts';
import { BTCUSDT_FILES, readDataJson } from '@bulwark/testing';
import { dec, str } from './money';
import { bracketForNotional, parseBinanceUsdmRules, RulesParseError, rulesFromContract, rulesToContract } from './rules';

const exchangeInfo = readDataJson(BTCUSDT_FILES.exchangeInfo) as Record<string, unknown>;
const brackets2025 = readDataJson(BTCUSDT_FILES.leverageBrackets) as Array<{ symbol: string; brackets: Record<string, unknown>[] }>;
const brackets2023 = readDataJson(BTCUSDT_FILES.leverageBrackets2023) as Array<{ symbol: string; brackets: Record<string, unknown>[] }>;

const clone = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;
const parse = (over: { exchangeInfoSymbol?: unknown; leverageBrackets?: unknown; takerFeeRate?: string; makerFeeRate?: string } = {}) =>
  parseBinanceUsdmRules({ venue: 'binance-usdm', exchangeInfoSymbol: exchangeInfo, leverageBrackets: brackets2025, ...over });

/** The 2025 bracket file with every number turned into its string token, the way ccxt stores Binance's raw fields. */
function asStrings(file: typeof brackets2025): unknown {
  return file.map((e) => ({ symbol: e.symbol, brackets: e.brackets.map((b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, String(v)]))) }));
}

function expectParseError(fn: () => unknown, fragment: string | RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(RulesParseError);
  expect((caught as Error).message).toMatch(fragment);
}

describe('parseBinanceUsdmRules', () => {
  it('reads the mainnet BTCUSDT filters and the 2025-11-20 brackets (PROVENANCE §6, §7)', () => {
    const r = parse();
    expect(InstrumentRules.parse(r)).toEqual(r);
    expect(r).toMatchObject({
      venue: 'binance-usdm',
      symbol: 'BTCUSDT',
      baseAsset: 'BTC',
      quoteAsset: 'USDT',
      tickSize: '0.1', // "0.10": same value, plain form without trailing zeros
      minPrice: '556.8',
      maxPrice: '4529764',
      stepSize: '0.001',
      minQty: '0.001',
      maxQty: '1000',
      marketStepSize: '0.001',
      marketMaxQty: '120',
      minNotional: '5',
      takerFeeRate: '0.0005', // VIP 0 defaults
      makerFeeRate: '0.0002',
      liquidationFeeRate: '0.0125',
    });
    expect(r.brackets).toHaveLength(12);
    expect(r.brackets[0]).toEqual({ bracket: 1, initialLeverage: 150, notionalFloor: '0', notionalCap: '300000', maintMarginRatio: '0.004', cum: '0' });
    expect(r.brackets[2]).toEqual({ bracket: 3, initialLeverage: 75, notionalFloor: '800000', notionalCap: '3000000', maintMarginRatio: '0.0065', cum: '1500' });
    expect(r.brackets[11]).toEqual({
      bracket: 12,
      initialLeverage: 1,
      notionalFloor: '1200000000',
      notionalCap: '1800000000',
      maintMarginRatio: '0.5',
      cum: '421482000',
    });
  });

  it('turns the 2023 file\'s scientific tokens into plain decimals: 2.64213E7 → "26421300", 1.014213E8 → "101421300"', () => {
    const r = parse({ leverageBrackets: brackets2023 });
    expect(r.brackets).toHaveLength(10);
    expect(r.brackets[0]).toMatchObject({ initialLeverage: 125, notionalCap: '50000', maintMarginRatio: '0.004' });
    expect(r.brackets[8]!.cum).toBe('26421300');
    expect(r.brackets[9]!.cum).toBe('101421300');
  });

  it('reads numbers given as strings (ccxt keeps "2.64213E7" as a string) exactly like JSON numbers', () => {
    const asText = asStrings(brackets2023 as typeof brackets2025);
    const b = (asText as Array<{ brackets: Record<string, string>[] }>)[0]!.brackets[8]!;
    expect(b['cum']).toBe('26421300'); // String(2.64213E7)
    b['cum'] = '2.64213E7'; // the raw Binance token
    expect(parse({ leverageBrackets: asText })).toEqual(parse({ leverageBrackets: brackets2023 }));
  });

  it('accepts the single-object response of /fapi/v1/leverageBracket?symbol=BTCUSDT', () => {
    expect(parse({ leverageBrackets: brackets2025[0] })).toEqual(parse());
  });

  it('sorts brackets by notionalFloor', () => {
    const shuffled = clone(brackets2025);
    shuffled[0]!.brackets.reverse();
    expect(parse({ leverageBrackets: shuffled })).toEqual(parse());
  });

  it('takes fee rates from the caller (e.g. a VIP tier with a maker rebate)', () => {
    const r = parse({ takerFeeRate: '0.00032', makerFeeRate: '-0.00005' });
    expect(r.takerFeeRate).toBe('0.00032');
    expect(r.makerFeeRate).toBe('-0.00005');
  });

  describe('malformed input throws RulesParseError naming the field', () => {
    it('not an object / no filters', () => {
      expectParseError(() => parse({ exchangeInfoSymbol: null }), 'exchangeInfoSymbol');
      const noFilters = clone(exchangeInfo);
      delete noFilters['filters'];
      expectParseError(() => parse({ exchangeInfoSymbol: noFilters }), 'BTCUSDT.filters');
    });

    it('a missing filter', () => {
      const s = clone(exchangeInfo);
      s['filters'] = (s['filters'] as Array<Record<string, unknown>>).filter((f) => f['filterType'] !== 'LOT_SIZE');
      expectParseError(() => parse({ exchangeInfoSymbol: s }), 'no LOT_SIZE filter');
    });

    it('a malformed or non-positive number', () => {
      const s = clone(exchangeInfo);
      const price = (s['filters'] as Array<Record<string, unknown>>).find((f) => f['filterType'] === 'PRICE_FILTER')!;
      price['tickSize'] = 'abc';
      expectParseError(() => parse({ exchangeInfoSymbol: s }), 'BTCUSDT.PRICE_FILTER.tickSize');
      price['tickSize'] = '0x10'; // decimal.js would read hex; a venue never sends it
      expectParseError(() => parse({ exchangeInfoSymbol: s }), 'BTCUSDT.PRICE_FILTER.tickSize');
      price['tickSize'] = '0';
      expectParseError(() => parse({ exchangeInfoSymbol: s }), /tickSize: must be > 0/);
    });

    it('a missing liquidationFee', () => {
      const s = clone(exchangeInfo);
      delete s['liquidationFee'];
      expectParseError(() => parse({ exchangeInfoSymbol: s }), 'BTCUSDT.liquidationFee');
    });

    it('a malformed fee argument', () => {
      expectParseError(() => parse({ takerFeeRate: 'five' }), 'takerFeeRate');
    });

    it('no bracket entry for the symbol', () => {
      expectParseError(() => parse({ leverageBrackets: [{ symbol: 'ETHUSDT', brackets: brackets2025[0]!.brackets }] }), 'no entry for symbol BTCUSDT');
      expectParseError(() => parse({ leverageBrackets: [{ symbol: 'BTCUSDT', brackets: [] }] }), 'brackets: expected a non-empty array');
    });

    it('a bracket field of the wrong type', () => {
      const f = clone(brackets2025);
      f[0]!.brackets[3]!['initialLeverage'] = 2.5;
      expectParseError(() => parse({ leverageBrackets: f }), 'brackets[3].initialLeverage');
      const g = clone(brackets2025);
      g[0]!.brackets[1]!['maintMarginRatio'] = 1;
      expectParseError(() => parse({ leverageBrackets: g }), 'brackets[1].maintMarginRatio: must be < 1');
    });

    it('brackets with a gap (floor ≠ previous cap)', () => {
      const f = clone(brackets2025);
      f[0]!.brackets[1]!['notionalFloor'] = 300001;
      expectParseError(() => parse({ leverageBrackets: f }), /brackets\[1\]\.notionalFloor: 300001 is not the previous notionalCap 300000/);
    });

    it('a cum that breaks cum_n = cum_(n-1) + floor_n × (mmr_n − mmr_(n-1))', () => {
      // bracket 3: 300 + 800,000 × (0.0065 − 0.005) = 1,500; 1,501 is refused
      const f = clone(brackets2025);
      f[0]!.brackets[2]!['cum'] = 1501;
      expectParseError(() => parse({ leverageBrackets: f }), /brackets\[2\]\.cum: 1501 .* = 1500/);
    });

    it('a first bracket that does not start at 0', () => {
      const f = clone(brackets2025);
      f[0]!.brackets[0]!['notionalFloor'] = 10;
      expectParseError(() => parse({ leverageBrackets: f }), 'brackets[0].notionalFloor');
    });

    it('is an Error subclass with its own name', () => {
      const e = new RulesParseError('x');
      expect(e).toBeInstanceOf(Error);
      expect(e.name).toBe('RulesParseError');
    });
  });
});

describe('rulesFromContract / rulesToContract', () => {
  it('round-trips the recorded rules', () => {
    const c = parse();
    const r = rulesFromContract(c);
    expect(r.tickSize.eq('0.1')).toBe(true);
    expect(r.brackets[1]!.cum.eq(300)).toBe(true);
    expect(rulesToContract(r)).toEqual(c);
  });

  it('sorts brackets by notionalFloor', () => {
    const c = parse();
    const r = rulesFromContract({ ...c, brackets: [...c.brackets].reverse() });
    expect(r.brackets.map((b) => b.bracket)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });
});

describe('bracketForNotional', () => {
  const { brackets } = rulesFromContract(parse());
  const at = (n: string) => bracketForNotional(brackets, dec(n)).bracket;

  it('picks floor <= notional < cap', () => {
    expect(at('0')).toBe(1);
    expect(at('299999.99')).toBe(1);
    expect(at('300000')).toBe(2); // a floor belongs to its own bracket
    expect(at('799999.9')).toBe(2);
    expect(at('800000')).toBe(3);
    expect(at('1199999999')).toBe(11);
  });

  it('gives the last bracket at or above the last cap, the first below 0', () => {
    expect(at('1800000000')).toBe(12);
    expect(at('5000000000')).toBe(12);
    expect(at('-1')).toBe(1);
  });

  it('throws on an empty list', () => {
    expect(() => bracketForNotional([], dec(1))).toThrow(RangeError);
  });

  it('returns decimals that serialise plainly', () => {
    expect(str(bracketForNotional(brackets, dec('1300000000')).cum)).toBe('421482000');
  });
});
