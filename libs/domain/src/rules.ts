import { InstrumentRules, type VenueId } from '@bulwark/contracts';
import { D, dec, str } from './money';
import type { MarginPairRules } from './paper-margin';

/**
 * One leverage bracket (Binance `GET /fapi/v1/leverageBracket`), notionals in the quote
 * asset (USDT). A position whose notional N satisfies `notionalFloor <= N < notionalCap`
 * may use at most `initialLeverage` and has maintenance margin `N × maintMarginRatio − cum`
 * (`cum` is Binance's "maintenance amount").
 */
export interface Bracket {
  bracket: number;
  initialLeverage: number;
  notionalFloor: D;
  notionalCap: D;
  maintMarginRatio: D;
  cum: D;
}

/**
 * The exchange rules of one instrument as decimals: PRICE_FILTER (tick size, min/max
 * price; 0 = no bound, as on Binance), LOT_SIZE (step size, min/max quantity for LIMIT
 * orders), MARKET_LOT_SIZE (step size and max quantity for MARKET orders), MIN_NOTIONAL,
 * fee rates (fractions, e.g. 0.0005) and the leverage brackets sorted by notionalFloor.
 */
export interface Rules {
  venue: VenueId;
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  tickSize: D;
  minPrice: D;
  maxPrice: D;
  stepSize: D;
  minQty: D;
  maxQty: D;
  marketStepSize: D;
  marketMaxQty: D;
  minNotional: D;
  takerFeeRate: D;
  makerFeeRate: D;
  liquidationFeeRate: D;
  brackets: Bracket[];
}

/** Binance USDⓈ-M VIP 0 fee rates (taker 0.05 %, maker 0.02 %). */
export const BINANCE_USDM_VIP0_TAKER_FEE_RATE = '0.0005';
export const BINANCE_USDM_VIP0_MAKER_FEE_RATE = '0.0002';

/**
 * Venue JSON that cannot be read as instrument rules (a missing filter, a malformed number,
 * brackets with a gap or an inconsistent `cum`). Thrown, not returned: it is a file/API
 * boundary failure, not a business decision. The message names the offending field.
 */
export class RulesParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RulesParseError';
  }
}

const sortBrackets = (bs: Bracket[]): Bracket[] => [...bs].sort((a, b) => a.notionalFloor.comparedTo(b.notionalFloor));

/**
 * Decimal view of the recorded rules (the `InstrumentRules` contract, decimals as strings).
 * Brackets are returned sorted by notionalFloor.
 * @throws RangeError if a decimal string is not finite (the contract schema prevents it).
 */
export function rulesFromContract(r: InstrumentRules): Rules {
  return {
    venue: r.venue,
    symbol: r.symbol,
    baseAsset: r.baseAsset,
    quoteAsset: r.quoteAsset,
    tickSize: dec(r.tickSize),
    minPrice: dec(r.minPrice),
    maxPrice: dec(r.maxPrice),
    stepSize: dec(r.stepSize),
    minQty: dec(r.minQty),
    maxQty: dec(r.maxQty),
    marketStepSize: dec(r.marketStepSize),
    marketMaxQty: dec(r.marketMaxQty),
    minNotional: dec(r.minNotional),
    takerFeeRate: dec(r.takerFeeRate),
    makerFeeRate: dec(r.makerFeeRate),
    liquidationFeeRate: dec(r.liquidationFeeRate),
    brackets: bracketsFromContract(r.brackets),
  };
}

/**
 * Decimal view of recorded leverage brackets (the contract's decimal strings), sorted by
 * notionalFloor.
 * @throws RangeError if a decimal string is not finite (the contract schema prevents it).
 */
export function bracketsFromContract(brackets: readonly InstrumentRules['brackets'][number][]): Bracket[] {
  return sortBrackets(
    brackets.map((b) => ({
      bracket: b.bracket,
      initialLeverage: b.initialLeverage,
      notionalFloor: dec(b.notionalFloor),
      notionalCap: dec(b.notionalCap),
      maintMarginRatio: dec(b.maintMarginRatio),
      cum: dec(b.cum),
    })),
  );
}

/** The `InstrumentRules` contract (decimals as plain strings via `str`) of decimal rules. */
export function rulesToContract(r: Rules): InstrumentRules {
  return {
    venue: r.venue,
    symbol: r.symbol,
    baseAsset: r.baseAsset,
    quoteAsset: r.quoteAsset,
    tickSize: str(r.tickSize),
    minPrice: str(r.minPrice),
    maxPrice: str(r.maxPrice),
    stepSize: str(r.stepSize),
    minQty: str(r.minQty),
    maxQty: str(r.maxQty),
    marketStepSize: str(r.marketStepSize),
    marketMaxQty: str(r.marketMaxQty),
    minNotional: str(r.minNotional),
    takerFeeRate: str(r.takerFeeRate),
    makerFeeRate: str(r.makerFeeRate),
    liquidationFeeRate: str(r.liquidationFeeRate),
    brackets: sortBrackets(r.brackets).map((b) => ({
      bracket: b.bracket,
      initialLeverage: b.initialLeverage,
      notionalFloor: str(b.notionalFloor),
      notionalCap: str(b.notionalCap),
      maintMarginRatio: str(b.maintMarginRatio),
      cum: str(b.cum),
    })),
  };
}

// ---------------------------------------------------------------------------------------
// Parsing Binance JSON
// ---------------------------------------------------------------------------------------

// Plain or scientific decimal text ("0.10", "2.64213E7"); refuses hex/binary/octal, which
// decimal.js would otherwise accept, and "NaN"/"Infinity".
const DECIMAL_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A decimal from a JSON value that may be a number token (JSON.parse gives the shortest
 * round-trip text, e.g. 2.64213E7 → 26421300) or a string (ccxt keeps Binance's tokens as
 * strings, e.g. "2.64213E7").
 */
function decimalField(v: unknown, field: string): D {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RulesParseError(`${field}: not a finite number (${String(v)})`);
    return new D(String(v));
  }
  if (typeof v === 'string' && DECIMAL_TEXT.test(v.trim())) return new D(v.trim());
  throw new RulesParseError(`${field}: expected a decimal number or string, got ${JSON.stringify(v)}`);
}

function positiveField(v: unknown, field: string): D {
  const d = decimalField(v, field);
  if (!d.gt(0)) throw new RulesParseError(`${field}: must be > 0, got ${str(d)}`);
  return d;
}

function nonNegativeField(v: unknown, field: string): D {
  const d = decimalField(v, field);
  if (d.isNeg() && !d.isZero()) throw new RulesParseError(`${field}: must be >= 0, got ${str(d)}`);
  return d;
}

/** A positive integer given as a JSON number or an integer string ("125"). */
function positiveIntField(v: unknown, field: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new RulesParseError(`${field}: expected a positive integer, got ${JSON.stringify(v)}`);
  return n;
}

function stringField(o: Obj, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0) throw new RulesParseError(`${where}.${key}: expected a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function filterOf(filters: unknown[], filterType: string, symbol: string): Obj {
  const f = filters.find((x) => isObj(x) && x['filterType'] === filterType);
  if (!f || !isObj(f)) throw new RulesParseError(`${symbol}.filters: no ${filterType} filter`);
  return f;
}

/** The bracket list of `symbol` from the endpoint's array shape, or its single-object shape (`?symbol=`). */
function bracketListOf(leverageBrackets: unknown, symbol: string): unknown[] {
  let entry: unknown;
  if (Array.isArray(leverageBrackets)) {
    entry = leverageBrackets.find((x) => isObj(x) && x['symbol'] === symbol);
    if (entry === undefined) throw new RulesParseError(`leverageBrackets: no entry for symbol ${symbol}`);
  } else if (isObj(leverageBrackets)) {
    entry = leverageBrackets;
    if (entry && isObj(entry) && entry['symbol'] !== undefined && entry['symbol'] !== symbol) {
      throw new RulesParseError(`leverageBrackets.symbol: expected ${symbol}, got ${JSON.stringify(entry['symbol'])}`);
    }
  } else {
    throw new RulesParseError('leverageBrackets: expected the /fapi/v1/leverageBracket array or object');
  }
  const list = isObj(entry) ? entry['brackets'] : undefined;
  if (!Array.isArray(list) || list.length === 0) throw new RulesParseError(`leverageBrackets[${symbol}].brackets: expected a non-empty array`);
  return list;
}

function parseBracket(raw: unknown, i: number): Bracket {
  const where = `brackets[${i}]`;
  if (!isObj(raw)) throw new RulesParseError(`${where}: expected an object`);
  const mmr = nonNegativeField(raw['maintMarginRatio'], `${where}.maintMarginRatio`);
  if (!mmr.lt(1)) throw new RulesParseError(`${where}.maintMarginRatio: must be < 1, got ${str(mmr)}`);
  return {
    bracket: positiveIntField(raw['bracket'], `${where}.bracket`),
    initialLeverage: positiveIntField(raw['initialLeverage'], `${where}.initialLeverage`),
    notionalFloor: nonNegativeField(raw['notionalFloor'], `${where}.notionalFloor`),
    notionalCap: positiveField(raw['notionalCap'], `${where}.notionalCap`),
    maintMarginRatio: mmr,
    cum: nonNegativeField(raw['cum'], `${where}.cum`),
  };
}

/**
 * Check what the liquidation math relies on: the first floor is 0 with cum 0; each floor
 * equals the previous cap (no gap, no overlap); MMR does not decrease; and cum is the
 * maintenance amount that makes maintenance margin continuous at every floor:
 * `cum_n = cum_(n-1) + floor_n × (mmr_n − mmr_(n-1))`.
 */
function checkBrackets(bs: Bracket[], symbol: string): void {
  const where = `leverageBrackets[${symbol}]`;
  bs.forEach((b, i) => {
    if (b.bracket !== i + 1) throw new RulesParseError(`${where}.brackets[${i}].bracket: expected ${i + 1} (sorted by notionalFloor), got ${b.bracket}`);
    if (!b.notionalCap.gt(b.notionalFloor)) {
      throw new RulesParseError(`${where}.brackets[${i}].notionalCap: ${str(b.notionalCap)} is not above notionalFloor ${str(b.notionalFloor)}`);
    }
    if (i === 0) {
      if (!b.notionalFloor.isZero()) throw new RulesParseError(`${where}.brackets[0].notionalFloor: expected 0, got ${str(b.notionalFloor)}`);
      if (!b.cum.isZero()) throw new RulesParseError(`${where}.brackets[0].cum: expected 0, got ${str(b.cum)}`);
      return;
    }
    const prev = bs[i - 1]!;
    if (!b.notionalFloor.eq(prev.notionalCap)) {
      throw new RulesParseError(
        `${where}.brackets[${i}].notionalFloor: ${str(b.notionalFloor)} is not the previous notionalCap ${str(prev.notionalCap)} (brackets must be contiguous)`,
      );
    }
    if (b.maintMarginRatio.lt(prev.maintMarginRatio)) {
      throw new RulesParseError(`${where}.brackets[${i}].maintMarginRatio: ${str(b.maintMarginRatio)} is below the previous ${str(prev.maintMarginRatio)}`);
    }
    const expectedCum = prev.cum.plus(b.notionalFloor.mul(b.maintMarginRatio.minus(prev.maintMarginRatio)));
    if (!b.cum.eq(expectedCum)) {
      throw new RulesParseError(
        `${where}.brackets[${i}].cum: ${str(b.cum)} but cum_(n-1) + floor × (mmr_n − mmr_(n-1)) = ${str(prev.cum)} + ${str(b.notionalFloor)} × (${str(b.maintMarginRatio)} − ${str(prev.maintMarginRatio)}) = ${str(expectedCum)}`,
      );
    }
  });
}

/**
 * Build the `InstrumentRules` of a Binance USDⓈ-M symbol from already-loaded JSON (pure,
 * no I/O).
 *
 * - `exchangeInfoSymbol`: one entry of `GET /fapi/v1/exchangeInfo` `symbols[]`, with its
 *   `filters` (PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, MIN_NOTIONAL) and `liquidationFee`.
 * - `leverageBrackets`: the `GET /fapi/v1/leverageBracket` response, either the array
 *   `[{symbol, brackets:[{bracket, initialLeverage, notionalCap, notionalFloor,
 *   maintMarginRatio, cum}]}]` or the single object returned with `?symbol=`.
 *   `notionalCoef` (user-specific bracket scaling) is ignored.
 * - Numbers may be JSON numbers or strings, plain or scientific ("2.64213E7" → "26421300").
 * - Fees default to VIP 0: taker 0.0005, maker 0.0002 (maker may be negative: a rebate).
 *   `liquidationFeeRate` comes from `liquidationFee`.
 * - `minQty` is LOT_SIZE's (Binance uses the same value in MARKET_LOT_SIZE).
 *
 * @returns rules with every decimal as a plain string and brackets sorted by notionalFloor.
 * @throws RulesParseError naming the field, for malformed input, non-contiguous brackets,
 *   or a `cum` that breaks `cum_n = cum_(n-1) + floor_n × (mmr_n − mmr_(n-1))`.
 */
export function parseBinanceUsdmRules(args: {
  venue: VenueId;
  exchangeInfoSymbol: unknown;
  leverageBrackets: unknown;
  takerFeeRate?: string;
  makerFeeRate?: string;
}): InstrumentRules {
  const s = args.exchangeInfoSymbol;
  if (!isObj(s)) throw new RulesParseError('exchangeInfoSymbol: expected an object');
  const symbol = stringField(s, 'symbol', 'exchangeInfoSymbol');
  const filters = s['filters'];
  if (!Array.isArray(filters)) throw new RulesParseError(`${symbol}.filters: expected an array`);

  const price = filterOf(filters, 'PRICE_FILTER', symbol);
  const lot = filterOf(filters, 'LOT_SIZE', symbol);
  const market = filterOf(filters, 'MARKET_LOT_SIZE', symbol);
  const notional = filterOf(filters, 'MIN_NOTIONAL', symbol);
  const f = (filter: string, key: string) => `${symbol}.${filter}.${key}`;

  const takerFeeRate = nonNegativeField(args.takerFeeRate ?? BINANCE_USDM_VIP0_TAKER_FEE_RATE, 'takerFeeRate');
  const makerFeeRate = decimalField(args.makerFeeRate ?? BINANCE_USDM_VIP0_MAKER_FEE_RATE, 'makerFeeRate');

  const brackets = bracketListOf(args.leverageBrackets, symbol).map(parseBracket);
  const sorted = sortBrackets(brackets);
  checkBrackets(sorted, symbol);

  const rules: Rules = {
    venue: args.venue,
    symbol,
    baseAsset: stringField(s, 'baseAsset', symbol),
    quoteAsset: stringField(s, 'quoteAsset', symbol),
    tickSize: positiveField(price['tickSize'], f('PRICE_FILTER', 'tickSize')),
    minPrice: nonNegativeField(price['minPrice'], f('PRICE_FILTER', 'minPrice')),
    maxPrice: nonNegativeField(price['maxPrice'], f('PRICE_FILTER', 'maxPrice')),
    stepSize: positiveField(lot['stepSize'], f('LOT_SIZE', 'stepSize')),
    minQty: positiveField(lot['minQty'], f('LOT_SIZE', 'minQty')),
    maxQty: positiveField(lot['maxQty'], f('LOT_SIZE', 'maxQty')),
    marketStepSize: positiveField(market['stepSize'], f('MARKET_LOT_SIZE', 'stepSize')),
    marketMaxQty: positiveField(market['maxQty'], f('MARKET_LOT_SIZE', 'maxQty')),
    // Futures call it `notional`; spot's filter calls it `minNotional`.
    minNotional: nonNegativeField(notional['notional'] ?? notional['minNotional'], f('MIN_NOTIONAL', 'notional')),
    takerFeeRate,
    makerFeeRate,
    liquidationFeeRate: nonNegativeField(s['liquidationFee'], `${symbol}.liquidationFee`),
    brackets: sorted,
  };

  const out = rulesToContract(rules);
  // Last line of defence: whatever we return must satisfy the contract schema.
  const checked = InstrumentRules.safeParse(out);
  if (!checked.success) {
    throw new RulesParseError(checked.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  }
  return checked.data;
}

// ---------------------------------------------------------------------------------------
// Parsing Bitget JSON (USDT-M perpetual futures, v2 mix API, classic account)
// ---------------------------------------------------------------------------------------

/** An integer in 0..18 given as a JSON number or an integer string ("4"): Bitget's `pricePlace`/`volumePlace`. */
function placesField(v: unknown, field: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 18) throw new RulesParseError(`${field}: expected an integer number of decimal places 0..18, got ${JSON.stringify(v)}`);
  return n;
}

/** The contract entry of `GET /api/v2/mix/market/contracts`: a bare entry, the `data` array, or the full `{code, data}` answer. */
function bitgetContractOf(contract: unknown, symbol?: string): Obj {
  let list: unknown[] | undefined;
  if (Array.isArray(contract)) list = contract;
  else if (isObj(contract) && Array.isArray(contract['data'])) {
    if (contract['code'] !== undefined && contract['code'] !== '00000') throw new RulesParseError(`contract.code: Bitget answered ${JSON.stringify(contract['code'])} (${JSON.stringify(contract['msg'])}), not "00000"`);
    list = contract['data'] as unknown[];
  }
  if (list === undefined) {
    if (!isObj(contract)) throw new RulesParseError('contract: expected a /api/v2/mix/market/contracts entry, data array or answer');
    if (symbol !== undefined && contract['symbol'] !== symbol) throw new RulesParseError(`contract.symbol: expected ${symbol}, got ${JSON.stringify(contract['symbol'])}`);
    return contract;
  }
  const entries = list.filter(isObj);
  const entry = symbol === undefined ? (entries.length === 1 ? entries[0] : undefined) : entries.find((x) => x['symbol'] === symbol);
  if (!entry) throw new RulesParseError(symbol === undefined ? `contract.data: expected exactly one entry (pass the symbol), got ${list.length}` : `contract.data: no entry for symbol ${symbol}`);
  return entry;
}

/** The tier list of `symbol` from `GET /api/v2/mix/market/query-position-lever`: the `data` array or the full answer. */
function bitgetTierListOf(positionTiers: unknown, symbol: string): unknown[] {
  let list: unknown;
  if (Array.isArray(positionTiers)) list = positionTiers;
  else if (isObj(positionTiers)) {
    if (positionTiers['code'] !== undefined && positionTiers['code'] !== '00000') {
      throw new RulesParseError(`positionTiers.code: Bitget answered ${JSON.stringify(positionTiers['code'])} (${JSON.stringify(positionTiers['msg'])}), not "00000"`);
    }
    list = positionTiers['data'];
  }
  if (!Array.isArray(list) || list.length === 0) throw new RulesParseError('positionTiers: expected a non-empty /api/v2/mix/market/query-position-lever data array');
  const other = list.find((t) => isObj(t) && t['symbol'] !== undefined && t['symbol'] !== symbol);
  if (other !== undefined) throw new RulesParseError(`positionTiers.symbol: expected ${symbol}, got ${JSON.stringify((other as Obj)['symbol'])}`);
  return list;
}

/** One Bitget tier as a bracket with cum still 0 (derived afterwards, once sorted). */
function parseBitgetTier(raw: unknown, i: number): Bracket {
  const where = `positionTiers[${i}]`;
  if (!isObj(raw)) throw new RulesParseError(`${where}: expected an object`);
  const mmr = nonNegativeField(raw['keepMarginRate'], `${where}.keepMarginRate`);
  if (!mmr.lt(1)) throw new RulesParseError(`${where}.keepMarginRate: must be < 1, got ${str(mmr)}`);
  return {
    bracket: positiveIntField(raw['level'], `${where}.level`),
    initialLeverage: positiveIntField(raw['leverage'], `${where}.leverage`),
    notionalFloor: nonNegativeField(raw['startUnit'], `${where}.startUnit`),
    notionalCap: positiveField(raw['endUnit'], `${where}.endUnit`),
    maintMarginRatio: mmr,
    cum: new D(0),
  };
}

/**
 * What the liquidation math relies on, named in Bitget's fields: tiers sorted by startUnit are
 * numbered 1..n, start at 0, each startUnit equals the previous endUnit, endUnit > startUnit
 * and keepMarginRate does not decrease.
 */
function checkBitgetTiers(ts: Bracket[], symbol: string): void {
  const where = (i: number, key: string) => `positionTiers[${symbol}][${i}].${key}`;
  ts.forEach((t, i) => {
    if (t.bracket !== i + 1) throw new RulesParseError(`${where(i, 'level')}: expected ${i + 1} (sorted by startUnit), got ${t.bracket}`);
    if (!t.notionalCap.gt(t.notionalFloor)) throw new RulesParseError(`${where(i, 'endUnit')}: ${str(t.notionalCap)} is not above startUnit ${str(t.notionalFloor)}`);
    const prev = ts[i - 1];
    if (!prev) {
      if (!t.notionalFloor.isZero()) throw new RulesParseError(`${where(i, 'startUnit')}: expected 0, got ${str(t.notionalFloor)}`);
      return;
    }
    if (!t.notionalFloor.eq(prev.notionalCap)) {
      throw new RulesParseError(`${where(i, 'startUnit')}: ${str(t.notionalFloor)} is not the previous endUnit ${str(prev.notionalCap)} (tiers must be contiguous)`);
    }
    if (t.maintMarginRatio.lt(prev.maintMarginRatio)) {
      throw new RulesParseError(`${where(i, 'keepMarginRate')}: ${str(t.maintMarginRatio)} is below the previous ${str(prev.maintMarginRatio)}`);
    }
  });
}

/**
 * Bitget's maintenance amount of each tier, which Bitget does not publish: with tiers sorted
 * by startUnit, `cum_1 = 0` and `cum_i = cum_(i-1) + startUnit_i × (mmr_i − mmr_(i-1))`, so that
 * `N × mmr_i − cum_i` is continuous at every tier boundary. Exact (decimal) arithmetic.
 */
export function deriveBitgetMaintenanceAmounts(sortedTiers: readonly Bracket[]): Bracket[] {
  const out: Bracket[] = [];
  sortedTiers.forEach((b, i) => {
    const prev = out[i - 1];
    const cum = prev ? prev.cum.plus(b.notionalFloor.mul(b.maintMarginRatio.minus(prev.maintMarginRatio))) : new D(0);
    out.push({ ...b, cum });
  });
  return out;
}

/**
 * Build the `InstrumentRules` of a Bitget USDT-M perpetual (venue `'bitget-usdtm'`) from
 * already-loaded JSON (pure, no I/O).
 *
 * - `contract`: one entry of `GET /api/v2/mix/market/contracts?productType=USDT-FUTURES`
 *   (https://www.bitget.com/api-doc/contract/market/Get-All-Symbols-Contracts), or its `data`
 *   array, or the whole `{code:"00000", data:[…]}` answer (the entry of `symbol` is taken;
 *   without `symbol` the array must hold exactly one entry). Fields used:
 *   - `pricePlace` (price decimals) and `priceEndStep` (price step in units of the last
 *     decimal): `tickSize = priceEndStep × 10^−pricePlace` (BTCUSDT: 1 × 10^−1 = 0.1 USDT);
 *   - `sizeMultiplier` (quantities must be multiples of it, base asset) and `volumePlace`
 *     (quantity decimals): `stepSize = marketStepSize = sizeMultiplier`, which must itself be
 *     a multiple of `10^−volumePlace`;
 *   - `minTradeNum` → `minQty` (base asset); `maxOrderQty` → `maxQty` (limit orders) and
 *     `maxMarketOrderQty` → `marketMaxQty` (market orders), base asset;
 *   - `minTradeUSDT` → `minNotional` (USDT);
 *   - `makerFeeRate`/`takerFeeRate` → fees (fractions) unless given as arguments;
 *   - `symbol`, `baseCoin`, `quoteCoin`.
 *   Bitget publishes no absolute price bounds (only `buyLimitPriceRatio`/`sellLimitPriceRatio`
 *   around the mark price), so `minPrice = maxPrice = 0` ("no bound", as on Binance).
 * - `positionTiers`: the `GET /api/v2/mix/market/query-position-lever?symbol=&productType=`
 *   answer or its `data` array (https://www.bitget.com/api-doc/contract/position/Get-Query-Position-Lever):
 *   `[{symbol, level, startUnit, endUnit, leverage, keepMarginRate}]`, startUnit/endUnit the
 *   position value in USDT. Each tier becomes a bracket: bracket = level, initialLeverage =
 *   leverage, notionalFloor = startUnit, notionalCap = endUnit, maintMarginRatio = keepMarginRate.
 * - **cum (maintenance amount) is derived, not read**: Bitget publishes none. It is
 *   `cum_1 = 0; cum_i = cum_(i-1) + startUnit_i × (mmr_i − mmr_(i-1))`, which makes
 *   maintenance margin `N × mmr − cum` continuous across tiers. This is exactly Bitget's
 *   tiered maintenance margin for classic-account positions opened since 2025-11-10 ("each
 *   portion of the position value is calculated using the corresponding margin ratio for that
 *   tier", with a "pre-calculated offset";
 *   https://www.bitget.com/support/articles/12560603841952). Bitget adds the taker fee rate to
 *   each tier's rate in its maintenance margin (MM = Σ portion × (mmr + takerFee)); that term
 *   is NOT folded into maintMarginRatio here (the rates are kept as published).
 * - Numbers may be JSON numbers or strings, plain or scientific.
 * - `takerFeeRate`/`makerFeeRate` override the contract's rates (maker may be negative).
 * - `liquidationFeeRate`: default 0 — Bitget lists no separate liquidation fee for USDT-M
 *   futures in these answers (its maintenance margin reserves the taker fee instead, above).
 *
 * @returns rules with every decimal as a plain string and brackets sorted by notionalFloor.
 * @throws RulesParseError naming the field (e.g. `BTCUSDT.pricePlace`,
 *   `positionTiers[3].keepMarginRate`) for a malformed or missing field, a Bitget error answer
 *   (`code` other than "00000"), a step that is not a multiple of 10^−volumePlace, tiers with a
 *   gap, an overlap, a decreasing rate or levels not numbered 1..n, or a result the
 *   `InstrumentRules` contract refuses.
 */
export function parseBitgetUsdtmRules(args: {
  contract: unknown;
  positionTiers: unknown;
  symbol?: string;
  takerFeeRate?: string;
  makerFeeRate?: string;
  liquidationFeeRate?: string;
}): InstrumentRules {
  const c = bitgetContractOf(args.contract, args.symbol);
  const symbol = stringField(c, 'symbol', 'contract');
  const f = (key: string) => `${symbol}.${key}`;

  const pricePlace = placesField(c['pricePlace'], f('pricePlace'));
  const priceEndStep = positiveField(c['priceEndStep'], f('priceEndStep'));
  const tickSize = priceEndStep.mul(new D(10).pow(-pricePlace));
  const volumePlace = placesField(c['volumePlace'], f('volumePlace'));
  const stepSize = positiveField(c['sizeMultiplier'], f('sizeMultiplier'));
  if (!stepSize.mod(new D(10).pow(-volumePlace)).isZero()) {
    throw new RulesParseError(`${f('sizeMultiplier')}: ${str(stepSize)} has more than volumePlace = ${volumePlace} decimals`);
  }

  const takerFeeRate = nonNegativeField(args.takerFeeRate ?? c['takerFeeRate'], args.takerFeeRate !== undefined ? 'takerFeeRate' : f('takerFeeRate'));
  const makerFeeRate = decimalField(args.makerFeeRate ?? c['makerFeeRate'], args.makerFeeRate !== undefined ? 'makerFeeRate' : f('makerFeeRate'));

  const tiers = sortBrackets(bitgetTierListOf(args.positionTiers, symbol).map(parseBitgetTier));
  checkBitgetTiers(tiers, symbol);
  const brackets = deriveBitgetMaintenanceAmounts(tiers);
  // Defence: the same checks the Binance path applies (contiguous, 1..n, non-decreasing MMR, cum consistent).
  checkBrackets(brackets, symbol);

  const rules: Rules = {
    venue: 'bitget-usdtm',
    symbol,
    baseAsset: stringField(c, 'baseCoin', symbol),
    quoteAsset: stringField(c, 'quoteCoin', symbol),
    tickSize,
    minPrice: new D(0),
    maxPrice: new D(0),
    stepSize,
    minQty: positiveField(c['minTradeNum'], f('minTradeNum')),
    maxQty: positiveField(c['maxOrderQty'], f('maxOrderQty')),
    marketStepSize: stepSize,
    marketMaxQty: positiveField(c['maxMarketOrderQty'], f('maxMarketOrderQty')),
    minNotional: nonNegativeField(c['minTradeUSDT'], f('minTradeUSDT')),
    takerFeeRate,
    makerFeeRate,
    liquidationFeeRate: nonNegativeField(args.liquidationFeeRate ?? '0', 'liquidationFeeRate'),
    brackets,
  };

  const out = rulesToContract(rules);
  const checked = InstrumentRules.safeParse(out);
  if (!checked.success) {
    throw new RulesParseError(checked.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  }
  return checked.data;
}

/**
 * The bracket containing `notional`: `notionalFloor <= notional < notionalCap`.
 * A notional at or above the last cap gets the last bracket; 0 (or below the first floor)
 * the first. `brackets` must be sorted by notionalFloor (as `Rules.brackets` is).
 * @throws RangeError on an empty bracket list (a programming error).
 */
export function bracketForNotional(brackets: Bracket[], notional: D): Bracket {
  const first = brackets[0];
  const last = brackets[brackets.length - 1];
  if (!first || !last) throw new RangeError('bracketForNotional: no brackets');
  if (notional.lt(first.notionalFloor)) return first;
  for (const b of brackets) {
    if (notional.gte(b.notionalFloor) && notional.lt(b.notionalCap)) return b;
  }
  return last;
}

/**
 * Binance's margin-call bar of an isolated pair at 10x, tier 1: on the FAQ "Tiered Leverage
 * Function on Isolated Margin" only, not in any API answer (versions of the page give 1.09
 * and 1.1; the higher one is kept so the call comes no later than the venue's).
 */
export const BINANCE_ISOLATED_MARGIN_CALL_BAR = '1.1';

/**
 * The transfer-out bar of an isolated pair. No Binance source states one for isolated margin
 * (the FAQ's 2.0 belongs to its cross-margin table); Bulwark keeps 2.0, the seed's safe level,
 * so the local venue refuses what Bulwark's own rule refuses.
 */
export const ISOLATED_TRANSFER_OUT_BAR = '2';

/**
 * Build the rules of one Binance spot isolated-margin pair from already-loaded JSON (pure).
 *
 * - `exchangeInfoSymbol`: one `GET /api/v3/exchangeInfo` `symbols[]` entry with PRICE_FILTER,
 *   LOT_SIZE and NOTIONAL (or the older MIN_NOTIONAL) filters.
 * - `tiers`: the `GET /sapi/v1/margin/isolatedMarginTier` answer; the tier numbered `tier`
 *   (default 1) gives the borrow bar (`initialRiskRatio`), the liquidation bar
 *   (`liquidationRiskRatio`) and the most that may be borrowed per asset.
 * - `marginData`: the `GET /sapi/v1/margin/isolatedMarginData` answer (`dailyInterest` per coin).
 * - `fees`: `{makerCommission, takerCommission}` as fractions.
 * - `liquidationFeeRate`: default 0 (no Binance source gives one for isolated margin).
 * Numbers may be JSON numbers or strings.
 *
 * @returns the pair's `MarginPairRules` shape with decimals (bars: transfer-out
 *   `ISOLATED_TRANSFER_OUT_BAR`, borrow, margin call `BINANCE_ISOLATED_MARGIN_CALL_BAR`,
 *   liquidation).
 * @throws RulesParseError naming the field, for malformed input, a missing tier or coin, or
 *   bars out of order.
 */
export function parseBinanceMarginPairRules(args: {
  exchangeInfoSymbol: unknown;
  tiers: unknown;
  marginData: unknown;
  fees: unknown;
  tier?: number;
  liquidationFeeRate?: string;
}): MarginPairRules {
  const s = args.exchangeInfoSymbol;
  if (!isObj(s)) throw new RulesParseError('exchangeInfoSymbol: expected an object');
  const symbol = stringField(s, 'symbol', 'exchangeInfoSymbol');
  const baseAsset = stringField(s, 'baseAsset', symbol);
  const quoteAsset = stringField(s, 'quoteAsset', symbol);
  const filters = s['filters'];
  if (!Array.isArray(filters)) throw new RulesParseError(`${symbol}.filters: expected an array`);
  const price = filterOf(filters, 'PRICE_FILTER', symbol);
  const lot = filterOf(filters, 'LOT_SIZE', symbol);
  const notional = filters.some((x) => isObj(x) && x['filterType'] === 'NOTIONAL') ? filterOf(filters, 'NOTIONAL', symbol) : filterOf(filters, 'MIN_NOTIONAL', symbol);
  const tierNo = args.tier ?? 1;
  const tier = Array.isArray(args.tiers) ? args.tiers.find((t) => isObj(t) && t['symbol'] === symbol && Number(t['tier']) === tierNo) : undefined;
  if (!isObj(tier)) throw new RulesParseError(`isolatedMarginTier: no tier ${tierNo} for ${symbol}`);
  const data = Array.isArray(args.marginData) ? args.marginData.find((d) => isObj(d) && d['symbol'] === symbol) : isObj(args.marginData) ? args.marginData : undefined;
  if (!isObj(data) || !Array.isArray(data['data'])) throw new RulesParseError(`isolatedMarginData: no entry for ${symbol}`);
  const coins = data['data'] as unknown[];
  const dailyOf = (coin: string) => {
    const c = coins.find((x) => isObj(x) && x['coin'] === coin);
    if (!isObj(c)) throw new RulesParseError(`isolatedMarginData.${symbol}: no coin ${coin}`);
    return nonNegativeField(c['dailyInterest'], `isolatedMarginData.${symbol}.${coin}.dailyInterest`);
  };
  if (!isObj(args.fees)) throw new RulesParseError('fees: expected an object');
  const bars = {
    transferOut: new D(ISOLATED_TRANSFER_OUT_BAR),
    borrow: positiveField(tier['initialRiskRatio'], `isolatedMarginTier.${symbol}.initialRiskRatio`),
    marginCall: new D(BINANCE_ISOLATED_MARGIN_CALL_BAR),
    liquidation: positiveField(tier['liquidationRiskRatio'], `isolatedMarginTier.${symbol}.liquidationRiskRatio`),
  };
  if (!(bars.transferOut.gt(bars.borrow) && bars.borrow.gt(bars.marginCall) && bars.marginCall.gt(bars.liquidation) && bars.liquidation.gt(1))) {
    throw new RulesParseError(`isolatedMarginTier.${symbol}: bars out of order (transfer-out ${str(bars.transferOut)} > borrow ${str(bars.borrow)} > margin call ${str(bars.marginCall)} > liquidation ${str(bars.liquidation)} > 1)`);
  }
  return {
    symbol,
    baseAsset,
    quoteAsset,
    tickSize: positiveField(price['tickSize'], `${symbol}.PRICE_FILTER.tickSize`),
    stepSize: positiveField(lot['stepSize'], `${symbol}.LOT_SIZE.stepSize`),
    minQty: nonNegativeField(lot['minQty'], `${symbol}.LOT_SIZE.minQty`),
    maxQty: positiveField(lot['maxQty'], `${symbol}.LOT_SIZE.maxQty`),
    minNotional: nonNegativeField(notional['minNotional'], `${symbol}.NOTIONAL.minNotional`),
    makerFeeRate: nonNegativeField(args.fees['makerCommission'], 'fees.makerCommission'),
    takerFeeRate: nonNegativeField(args.fees['takerCommission'], 'fees.takerCommission'),
    bars,
    maxBorrowable: {
      base: nonNegativeField(tier['baseAssetMaxBorrowable'], `isolatedMarginTier.${symbol}.baseAssetMaxBorrowable`),
      quote: nonNegativeField(tier['quoteAssetMaxBorrowable'], `isolatedMarginTier.${symbol}.quoteAssetMaxBorrowable`),
    },
    dailyInterestRate: { base: dailyOf(baseAsset), quote: dailyOf(quoteAsset) },
    liquidationFeeRate: dec(args.liquidationFeeRate ?? '0'),
  };
}
