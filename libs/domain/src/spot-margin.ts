import { D, ONE, ZERO, floorToStep, ceilToStep, min, str } from './money';
import { err, ok, reject, type Rejection, type Result } from './result';
import { divDown, riskPerUnit } from './sizing';

/*
 * Binance spot ISOLATED margin (one account per trading pair, e.g. BTCUSDT, holding only the
 * pair's base asset (BTC) and quote asset (USDT); each asset may be borrowed).
 *
 * Sources:
 * - Binance FAQ "Binance Margin Level and Margin Call"
 *   (https://www.binance.com/en/support/faq/binance-margin-level-and-margin-call-360030493931),
 *   section "Margin Level of Isolated Margin":
 *     Margin Level = Total Asset Value / (Total Liabilities + Outstanding Interest),
 *   where Total Asset Value is the current market value of all assets in the isolated
 *   account, Total Liabilities the market value of the outstanding margin loans and
 *   Outstanding Interest = loan × loan hours × hourly interest rate − interest paid.
 *   Past a bar the account loses a right, in the FAQ's table: transfer out, borrow; then a
 *   margin call; at the liquidation bar Binance liquidates the account.
 * - Binance "Isolated Margin Trading Guide"
 *   (https://www.binance.com/en/support/faq/binance-isolated-margin-trading-guide-0135c8c00a4240f695ee71a0d18efb08):
 *   only the pair's two assets are collateral and loan assets; simple hourly interest.
 * - API: `GET /sapi/v1/margin/isolated/account` reports per asset `free`, `locked`,
 *   `borrowed`, `interest` and `netAsset = free + locked − borrowed − interest`;
 *   `GET /sapi/v1/margin/isolatedMarginTier` reports the pair's bars per leverage tier
 *   (`initialRiskRatio`: below it no new borrow; `liquidationRiskRatio`).
 *
 * All amounts are decimals: base quantities in the base asset, values in the quote asset,
 * prices in quote per base, rates as fractions (0.001 = 0.1 %). Nothing here reads a clock.
 */

// ---------------------------------------------------------------------------------------
// Margin level, bars and zones
// ---------------------------------------------------------------------------------------

/**
 * Margin level of an isolated margin account (Binance FAQ "Binance Margin Level and Margin
 * Call", "Margin Level of Isolated Margin"):
 * `margin level = total asset value ÷ (total liabilities + outstanding interest)`.
 *
 * @param totalAssetValue market value of every asset in the account (free + locked, both
 *   assets), in the quote asset (USDT); >= 0.
 * @param borrowed market value of the outstanding loans (principal), quote asset; >= 0.
 * @param interest market value of the outstanding interest, quote asset; >= 0.
 * @returns the level (a pure number, e.g. 1.5), or null when nothing is owed
 *   (borrowed + interest = 0): with no debt there is no margin level and no liquidation.
 * @throws RangeError for a negative or non-finite argument (a programming error: balances
 *   come from the venue or from `isolatedMarginEquity`).
 */
export function marginLevel(totalAssetValue: D, borrowed: D, interest: D): D | null {
  nonNegative(totalAssetValue, 'marginLevel: totalAssetValue');
  nonNegative(borrowed, 'marginLevel: borrowed');
  nonNegative(interest, 'marginLevel: interest');
  const liabilities = borrowed.plus(interest);
  return liabilities.isZero() ? null : totalAssetValue.div(liabilities);
}

/**
 * The margin-level bars of an isolated pair, highest first. At or below each bar the
 * account loses a right (Binance FAQ "Binance Margin Level and Margin Call", whose table
 * reads "1.5 < level ≤ 2: no transfer", "level ≤ 1.5: no borrow", "1.1 < level ≤ 1.3:
 * margin call", "level ≤ 1.1: liquidation"):
 * - `transferOut`: at or below it, assets cannot be transferred out;
 * - `borrow`: at or below it, nothing more can be borrowed (the tier's `initialRiskRatio`);
 * - `marginCall`: at or below it, Binance sends a margin call;
 * - `liquidation`: at or below it, Binance liquidates (the tier's `liquidationRiskRatio`).
 * Must satisfy transferOut > borrow > marginCall > liquidation > 0 (`validateMarginLevelBars`).
 */
export interface MarginLevelBars {
  transferOut: D;
  borrow: D;
  marginCall: D;
  liquidation: D;
}

/**
 * The bars of the FAQ's table for 3x cross margin, 2.0 / 1.5 / 1.3 / 1.1: Bulwark's default
 * guard levels. An isolated pair's venue bars are lower (BTCUSDT at 10x, tier 1: borrow
 * 1.111, margin call 1.1, liquidation 1.05; `parseBinanceMarginPairRules` reads them from
 * `GET /sapi/v1/margin/isolatedMarginTier`), so these bars act well before the venue does.
 */
export const DEFAULT_MARGIN_LEVEL_BARS: Readonly<MarginLevelBars> = Object.freeze({
  transferOut: new D('2'),
  borrow: new D('1.5'),
  marginCall: new D('1.3'),
  liquidation: new D('1.1'),
});

/** The bars from highest to lowest: the order in which a falling level crosses them. */
const BARS_DESCENDING = ['transferOut', 'borrow', 'marginCall', 'liquidation'] as const satisfies readonly (keyof MarginLevelBars)[];

/** Where a margin level stands relative to the bars; SAFE above `transferOut` or with no debt. */
export type MarginLevelZone = 'SAFE' | 'NO_TRANSFER_OUT' | 'NO_BORROW' | 'MARGIN_CALL' | 'LIQUIDATION';

/** Zones by the number of bars at or above the level: 0 bars → SAFE … 4 → LIQUIDATION. */
const ZONES: readonly MarginLevelZone[] = ['SAFE', 'NO_TRANSFER_OUT', 'NO_BORROW', 'MARGIN_CALL', 'LIQUIDATION'];

/**
 * Check margin-level bars coming from configuration or from the venue: finite, strictly
 * decreasing transferOut > borrow > marginCall > liquidation, and liquidation > 0.
 * @returns the bars, or `INVALID_MARGIN_LEVEL_BARS` naming the offending bar.
 */
export function validateMarginLevelBars(bars: MarginLevelBars): Result<MarginLevelBars, Rejection<'INVALID_MARGIN_LEVEL_BARS'>> {
  for (const k of BARS_DESCENDING) {
    if (!D.isDecimal(bars[k]) || !bars[k].isFinite()) return reject('INVALID_MARGIN_LEVEL_BARS', `${k} must be a finite decimal, got ${String(bars[k])}`);
  }
  if (!bars.liquidation.gt(0)) return reject('INVALID_MARGIN_LEVEL_BARS', `liquidation must be > 0, got ${str(bars.liquidation)}`);
  for (let i = 1; i < BARS_DESCENDING.length; i++) {
    const hi = BARS_DESCENDING[i - 1]!;
    const lo = BARS_DESCENDING[i]!;
    if (!bars[hi].gt(bars[lo])) {
      return reject('INVALID_MARGIN_LEVEL_BARS', `${hi} (${str(bars[hi])}) must be above ${lo} (${str(bars[lo])})`);
    }
  }
  return ok(bars);
}

function assertBars(bars: MarginLevelBars, fn: string): void {
  const v = validateMarginLevelBars(bars);
  if (!v.ok) throw new RangeError(`${fn}: ${v.error.message}`);
}

/** Number of bars the level is at or below (null = no debt = above every bar). */
function barsBreached(level: D | null, bars: MarginLevelBars): number {
  if (level === null) return 0;
  return BARS_DESCENDING.filter((k) => level.lte(bars[k])).length;
}

/**
 * The zone of a margin level. A bar belongs to the zone below it (Binance's table uses
 * "≤"): with the default bars, 2 → NO_TRANSFER_OUT, 1.5 → NO_BORROW, 1.3 → MARGIN_CALL,
 * 1.1 → LIQUIDATION; above 2 or null (nothing borrowed) → SAFE.
 * @param level a margin level from `marginLevel` (null = no debt).
 * @throws RangeError when `bars` fail `validateMarginLevelBars` (a programming error).
 */
export function marginLevelZone(level: D | null, bars: MarginLevelBars = DEFAULT_MARGIN_LEVEL_BARS): MarginLevelZone {
  assertBars(bars, 'marginLevelZone');
  return ZONES[barsBreached(level, bars)]!;
}

/** One bar crossed between two observations of the margin level. */
export interface MarginLevelCrossing {
  bar: keyof MarginLevelBars;
  threshold: D;
  /** DOWN: from above the bar to at-or-below it; UP: from at-or-below to above. */
  direction: 'DOWN' | 'UP';
}

/**
 * Every bar crossed between two observations of the margin level, in the order a
 * continuous move would cross them, so an alert fires for each one, both ways:
 * - falling (DOWN): bars with `previous > bar >= next`, highest first
 *   (transferOut, borrow, marginCall, liquidation);
 * - rising (UP): bars with `previous <= bar < next`, lowest first.
 * null means no debt, i.e. above every bar: borrowing into the liquidation zone from no
 * debt reports all four DOWN crossings; repaying everything reports the UP crossings.
 * Consistent with `marginLevelZone`: the zone index moves by +1 per DOWN crossing and
 * −1 per UP crossing.
 * @returns [] when no bar is crossed (equal levels, or a move within one zone).
 * @throws RangeError when `bars` fail `validateMarginLevelBars`.
 */
export function marginLevelCrossings(previous: D | null, next: D | null, bars: MarginLevelBars = DEFAULT_MARGIN_LEVEL_BARS): MarginLevelCrossing[] {
  assertBars(bars, 'marginLevelCrossings');
  const above = (level: D | null, k: keyof MarginLevelBars) => level === null || level.gt(bars[k]);
  const down = BARS_DESCENDING.filter((k) => above(previous, k) && !above(next, k));
  const up = [...BARS_DESCENDING].reverse().filter((k) => !above(previous, k) && above(next, k));
  return [
    ...down.map((bar) => ({ bar, threshold: bars[bar], direction: 'DOWN' as const })),
    ...up.map((bar) => ({ bar, threshold: bars[bar], direction: 'UP' as const })),
  ];
}

// ---------------------------------------------------------------------------------------
// Equity of an isolated margin account
// ---------------------------------------------------------------------------------------

/**
 * Balances of one isolated margin account as `GET /sapi/v1/margin/isolated/account`
 * reports them per asset: `free`, `locked` (in open orders), `borrowed` (loan principal)
 * and `interest` (outstanding interest). Base amounts in the base asset (BTC), quote
 * amounts in the quote asset (USDT); all >= 0.
 */
export interface IsolatedMarginBalances {
  baseFree: D;
  baseLocked: D;
  baseBorrowed: D;
  baseInterest: D;
  quoteFree: D;
  quoteLocked: D;
  quoteBorrowed: D;
  quoteInterest: D;
}

/** Equity and margin level of an isolated margin account, valued in the quote asset. */
export interface IsolatedMarginEquity {
  /** Binance `netAsset` of the base asset: free + locked − borrowed − interest (base units; may be < 0, a short). */
  baseNetAsset: D;
  /** `netAsset` of the quote asset (quote units; may be < 0, a long on borrowed quote). */
  quoteNetAsset: D;
  /** Net asset value = quoteNetAsset + baseNetAsset × price = totalAssetValue − totalLiabilityValue (quote). */
  equity: D;
  /** Gross assets: (baseFree + baseLocked) × price + quoteFree + quoteLocked (quote). */
  totalAssetValue: D;
  /** Loan principal: baseBorrowed × price + quoteBorrowed (quote). */
  totalBorrowedValue: D;
  /** Outstanding interest: baseInterest × price + quoteInterest (quote). */
  totalInterestValue: D;
  /** totalBorrowedValue + totalInterestValue (quote). */
  totalLiabilityValue: D;
  /** `marginLevel(totalAssetValue, totalBorrowedValue, totalInterestValue)`; null with no debt. */
  marginLevel: D | null;
}

/**
 * Value an isolated margin account at `price` (quote per base, e.g. the pair's index or
 * last price): per-asset net asset = free + locked − borrowed − interest (Binance's
 * `netAsset`); equity = quote net asset + base net asset × price; total asset value =
 * gross assets × price; total liability = (borrowed + interest) valued in the quote asset;
 * margin level as Binance defines it (see `marginLevel`).
 *
 * Example: 0.05 BTC free, 2,000 USDT borrowed, 0.5 USDT interest, price 49,338.49:
 * assets 2,466.9245, liabilities 2,000.5, equity 466.4245, margin level 1.23315…
 *
 * @throws RangeError for a negative or non-finite balance or a price that is not > 0
 *   (a programming error: callers pass venue balances and a validated price).
 */
export function isolatedMarginEquity(input: IsolatedMarginBalances & { price: D }): IsolatedMarginEquity {
  const { price } = input;
  if (!price.isFinite() || !price.gt(0)) throw new RangeError(`isolatedMarginEquity: price must be > 0, got ${price.toString()}`);
  for (const k of BALANCE_KEYS) nonNegative(input[k], `isolatedMarginEquity: ${k}`);
  const baseNetAsset = input.baseFree.plus(input.baseLocked).minus(input.baseBorrowed).minus(input.baseInterest);
  const quoteNetAsset = input.quoteFree.plus(input.quoteLocked).minus(input.quoteBorrowed).minus(input.quoteInterest);
  const totalAssetValue = input.baseFree.plus(input.baseLocked).mul(price).plus(input.quoteFree).plus(input.quoteLocked);
  const totalBorrowedValue = input.baseBorrowed.mul(price).plus(input.quoteBorrowed);
  const totalInterestValue = input.baseInterest.mul(price).plus(input.quoteInterest);
  return {
    baseNetAsset,
    quoteNetAsset,
    equity: quoteNetAsset.plus(baseNetAsset.mul(price)),
    totalAssetValue,
    totalBorrowedValue,
    totalInterestValue,
    totalLiabilityValue: totalBorrowedValue.plus(totalInterestValue),
    marginLevel: marginLevel(totalAssetValue, totalBorrowedValue, totalInterestValue),
  };
}

const BALANCE_KEYS = [
  'baseFree',
  'baseLocked',
  'baseBorrowed',
  'baseInterest',
  'quoteFree',
  'quoteLocked',
  'quoteBorrowed',
  'quoteInterest',
] as const satisfies readonly (keyof IsolatedMarginBalances)[];

// ---------------------------------------------------------------------------------------
// Sizing an entry
// ---------------------------------------------------------------------------------------

/** Binance spot isolated margin allows at most 10x (the BTCUSDT tiers go 10x down to 3x/2x). */
export const SPOT_ISOLATED_MAX_LEVERAGE = 10;

/**
 * What sizing a spot isolated-margin entry needs. Prices in quote per base (USDT/BTC),
 * money in the quote asset, fractions as decimals ("0.01" = 1 %).
 * - `equity`: the isolated margin account's equity (`isolatedMarginEquity().equity`); the
 *   risk amount is taken from it.
 * - `availableMargin`: quote the entry may commit as its own margin.
 * - `leverage`: integer 1..10 (`SPOT_ISOLATED_MAX_LEVERAGE`).
 * - `takerFeeRate`: spot taker fee, e.g. 0.001 (VIP 0, 0.1 %).
 * - `stepSize`, `minQty` (LOT_SIZE) and `minNotional` (NOTIONAL / MIN_NOTIONAL filter).
 */
export interface SpotMarginSizingInput {
  side: 'BUY' | 'SELL';
  entryPrice: D;
  stopPrice: D;
  equity: D;
  availableMargin: D;
  riskFraction: D;
  leverage: number;
  takerFeeRate: D;
  stepSize: D;
  minQty: D;
  minNotional: D;
}

/** The sized entry, every decimal as a string (as events carry it). */
export interface SpotMarginSizing {
  side: 'BUY' | 'SELL';
  entryPrice: string;
  stopPrice: string;
  equity: string;
  availableMargin: string;
  riskFraction: string;
  leverage: number;
  takerFeeRate: string;
  /** equity × riskFraction (quote). */
  riskAmount: string;
  /** |entry − stop| (quote per base). */
  stopDistance: string;
  /** takerFeeRate × (entry + stop): the taker fee on the entry and on the exit at the stop, per base unit. */
  feePerUnit: string;
  /** stopDistance + feePerUnit. */
  lossPerUnit: string;
  /** riskAmount ÷ lossPerUnit, rounded toward zero (base). */
  rawQuantity: string;
  /** rawQuantity × entry ÷ leverage: the margin the unreduced quantity would need (quote). */
  rawMarginRequired: string;
  /** rawQuantity, or availableMargin × leverage ÷ entry when the margin binds (base). */
  marginCappedQuantity: string;
  /** marginCappedQuantity rounded down to the step (base). */
  quantity: string;
  /** quantity × entry (quote). */
  notional: string;
  /** quantity × entry ÷ leverage: own margin the entry commits (quote); <= availableMargin. */
  marginRequired: string;
  /** The loan the entry takes: quote for a BUY (notional − marginRequired), base for a SELL (the quantity, borrowed and sold). */
  borrowAsset: 'QUOTE' | 'BASE';
  borrowAmount: string;
  /** quantity × lossPerUnit (quote); <= riskAmount. */
  lossAtStop: string;
  /** true when the quantity was reduced because rawMarginRequired exceeded availableMargin. */
  reducedForMargin: boolean;
}

export type SpotMarginDenialCode = 'INVALID_INTENT' | 'STOP_ON_WRONG_SIDE' | 'NO_EQUITY' | 'INSUFFICIENT_MARGIN' | 'BELOW_MIN_QTY' | 'BELOW_MIN_NOTIONAL';

/** A denial with whatever had been computed before it (for the audit trail). */
export interface SpotMarginDenial extends Rejection<SpotMarginDenialCode> {
  assessment: Partial<SpotMarginSizing>;
}

// Rounding toward zero where a result is a budget that must never be exceeded.
const DDown = D.clone({ rounding: D.ROUND_DOWN });

const mulDown = (a: D, b: D | number): D => new D(new DDown(a).mul(b));
// Rounding away from zero where a result must never fall short (a reduction to reach a bar).
const DUp = D.clone({ rounding: D.ROUND_UP });
const divUp = (a: D, b: D): D => new D(new DUp(a).div(b));

const isPositive = (x: D) => x.isFinite() && x.gt(0);
const isNonNegative = (x: D) => x.isFinite() && !x.isNeg();

function nonNegative(x: D, what: string): void {
  if (!isNonNegative(x)) throw new RangeError(`${what} must be a finite decimal >= 0, got ${x.toString()}`);
}

/** Largest multiple of `step` <= x (exact even when x / step needs more than 40 digits). */
function floorExact(x: D, step: D): D {
  const q = floorToStep(x, step);
  return q.gt(x) ? q.minus(step) : q;
}

/** Smallest multiple of `step` >= x (exact even when x / step needs more than 40 digits). */
function ceilExact(x: D, step: D): D {
  const q = ceilToStep(x, step);
  return q.lt(x) ? q.plus(step) : q;
}

/**
 * Size a Binance spot isolated-margin entry so that a stop-out loses at most
 * `equity × riskFraction`, fees included, within the available margin and the lot filters.
 *
 * Algorithm (decimals throughout; nothing is rounded up):
 * 1. Validate: entry and stop positive and finite, stop ≠ entry, leverage an integer
 *    1..10, riskFraction in (0, 1], takerFeeRate in [0, 1), stepSize > 0, minQty and
 *    minNotional >= 0, equity and availableMargin finite (`INVALID_INTENT`); a BUY's stop
 *    below the entry, a SELL's above (`STOP_ON_WRONG_SIDE`); equity > 0 (`NO_EQUITY`);
 *    availableMargin > 0 (`INSUFFICIENT_MARGIN`).
 * 2. riskAmount = equity × riskFraction; stopDistance = |entry − stop|;
 *    feePerUnit = takerFeeRate × (entry + stop) (taker fee on entry and exit);
 *    rawQuantity = riskAmount ÷ (stopDistance + feePerUnit), rounded toward zero.
 * 3. rawMarginRequired = rawQuantity × entry ÷ leverage. When it exceeds availableMargin
 *    the quantity is reduced proportionally: rawQuantity × availableMargin ÷
 *    rawMarginRequired, which is algebraically availableMargin × leverage ÷ entry and is
 *    computed that way, rounded toward zero (`reducedForMargin` = true).
 * 4. Rounded DOWN to the step; below minQty (or 0) → `BELOW_MIN_QTY`, quantity × entry
 *    below minNotional → `BELOW_MIN_NOTIONAL`. Minimums are denials, never rounded up.
 * 5. marginRequired = quantity × entry ÷ leverage (<= availableMargin);
 *    lossAtStop = quantity × lossPerUnit (<= riskAmount); the loan: a BUY borrows
 *    notional − marginRequired of the quote asset, a SELL borrows the quantity of the base
 *    asset and sells it.
 *
 * The venue's own borrow limits (max borrowable, the tier's initialRiskRatio) are checked
 * by the venue when the loan is taken; this function does not know them.
 *
 * @returns the sizing (decimals as strings), or a `SpotMarginDenial` with a typed code,
 *   a message giving the numbers, and the values computed before the denial.
 */
export function sizeSpotMarginEntry(input: SpotMarginSizingInput): Result<SpotMarginSizing, SpotMarginDenial> {
  const { side, entryPrice: entry, stopPrice: stop, leverage, takerFeeRate: fee, stepSize: step, minQty, minNotional } = input;
  const a: Partial<SpotMarginSizing> = { side };
  if (Number.isInteger(leverage)) a.leverage = leverage;
  const put = (key: keyof SpotMarginSizing, x: D) => {
    if (x.isFinite()) (a as Record<string, unknown>)[key] = str(x);
  };
  put('entryPrice', entry);
  put('stopPrice', stop);
  put('equity', input.equity);
  put('availableMargin', input.availableMargin);
  put('riskFraction', input.riskFraction);
  put('takerFeeRate', fee);
  const deny = (code: SpotMarginDenialCode, message: string): Result<never, SpotMarginDenial> => err({ code, message, assessment: { ...a } });

  // 1. Validation.
  if (!isPositive(entry)) return deny('INVALID_INTENT', `entry price must be a positive number, got ${entry.toString()}`);
  if (!isPositive(stop)) return deny('INVALID_INTENT', `stop price must be a positive number, got ${stop.toString()}`);
  if (stop.eq(entry)) return deny('INVALID_INTENT', `stop price equals the entry price ${str(entry)}: zero stop distance`);
  if (side === 'BUY' ? stop.gt(entry) : stop.lt(entry)) {
    return deny('STOP_ON_WRONG_SIDE', `a ${side}'s stop must be ${side === 'BUY' ? 'below' : 'above'} the entry ${str(entry)}, got ${str(stop)}`);
  }
  if (!Number.isInteger(leverage) || leverage < 1 || leverage > SPOT_ISOLATED_MAX_LEVERAGE) {
    return deny('INVALID_INTENT', `leverage must be an integer 1..${SPOT_ISOLATED_MAX_LEVERAGE} (spot isolated margin), got ${leverage}`);
  }
  const { riskFraction } = input;
  if (!isPositive(riskFraction) || riskFraction.gt(1)) return deny('INVALID_INTENT', `risk fraction must be in (0, 1], got ${riskFraction.toString()}`);
  if (!isNonNegative(fee) || !fee.lt(1)) return deny('INVALID_INTENT', `taker fee rate must be in [0, 1), got ${fee.toString()}`);
  if (!isPositive(step)) return deny('INVALID_INTENT', `step size must be > 0, got ${step.toString()}`);
  if (!isNonNegative(minQty)) return deny('INVALID_INTENT', `min quantity must be >= 0, got ${minQty.toString()}`);
  if (!isNonNegative(minNotional)) return deny('INVALID_INTENT', `min notional must be >= 0, got ${minNotional.toString()}`);
  if (!input.equity.isFinite()) return deny('INVALID_INTENT', `equity must be a finite number, got ${input.equity.toString()}`);
  if (!input.availableMargin.isFinite()) return deny('INVALID_INTENT', `available margin must be a finite number, got ${input.availableMargin.toString()}`);
  if (!input.equity.gt(0)) return deny('NO_EQUITY', `isolated margin equity is ${str(input.equity)}: nothing to risk`);
  if (!input.availableMargin.gt(0)) return deny('INSUFFICIENT_MARGIN', `available margin is ${str(input.availableMargin)}`);

  // 2. Risk per unit.
  const { riskAmount, stopDistance, feePerUnit, lossPerUnit, rawQuantity } = riskPerUnit(input.equity, riskFraction, entry, stop, fee);
  put('riskAmount', riskAmount);
  put('stopDistance', stopDistance);
  put('feePerUnit', feePerUnit);
  put('lossPerUnit', lossPerUnit);
  put('rawQuantity', rawQuantity);

  // 3. Margin.
  const rawMarginRequired = rawQuantity.mul(entry).div(leverage);
  const reducedForMargin = rawMarginRequired.gt(input.availableMargin);
  const marginCappedQuantity = reducedForMargin ? divDown(mulDown(input.availableMargin, leverage), entry) : rawQuantity;
  put('rawMarginRequired', rawMarginRequired);
  put('marginCappedQuantity', marginCappedQuantity);
  a.reducedForMargin = reducedForMargin;

  // 4. Step and minimums.
  const quantity = floorExact(marginCappedQuantity, step);
  if (quantity.isZero() || quantity.lt(minQty)) {
    return deny(
      'BELOW_MIN_QTY',
      `quantity ${str(marginCappedQuantity)} rounds down to ${str(quantity)} (step ${str(step)}), below the minimum ${str(minQty)}` +
        (reducedForMargin ? ` (reduced to fit the available margin ${str(input.availableMargin)} at ${leverage}x)` : ''),
    );
  }
  const notional = quantity.mul(entry);
  put('quantity', quantity);
  put('notional', notional);
  if (notional.lt(minNotional)) {
    return deny('BELOW_MIN_NOTIONAL', `notional ${str(quantity)} × ${str(entry)} = ${str(notional)} is below the minimum notional ${str(minNotional)}`);
  }

  // 5. Margin, loan and loss.
  const marginRequired = notional.div(leverage);
  const lossAtStop = quantity.mul(lossPerUnit);
  return ok({
    side,
    entryPrice: str(entry),
    stopPrice: str(stop),
    equity: str(input.equity),
    availableMargin: str(input.availableMargin),
    riskFraction: str(riskFraction),
    leverage,
    takerFeeRate: str(fee),
    riskAmount: str(riskAmount),
    stopDistance: str(stopDistance),
    feePerUnit: str(feePerUnit),
    lossPerUnit: str(lossPerUnit),
    rawQuantity: str(rawQuantity),
    rawMarginRequired: str(rawMarginRequired),
    marginCappedQuantity: str(marginCappedQuantity),
    quantity: str(quantity),
    notional: str(notional),
    marginRequired: str(marginRequired),
    borrowAsset: side === 'BUY' ? 'QUOTE' : 'BASE',
    borrowAmount: str(side === 'BUY' ? notional.minus(marginRequired) : quantity),
    lossAtStop: str(lossAtStop),
    reducedForMargin,
  });
}

// ---------------------------------------------------------------------------------------
// Automatic reduction at the margin call
// ---------------------------------------------------------------------------------------

/**
 * What `decideMarginCallReduction` needs: the position's side (LONG = base held, bought
 * with borrowed quote; SHORT = base borrowed and sold), the account's balances, the price
 * the venue values it at (quote per base), the taker fee of the reducing market order,
 * the LOT_SIZE step, and the bars (default `DEFAULT_MARGIN_LEVEL_BARS`).
 */
export interface MarginCallReductionInput {
  side: 'LONG' | 'SHORT';
  balances: IsolatedMarginBalances;
  price: D;
  takerFeeRate: D;
  stepSize: D;
  bars?: MarginLevelBars;
}

/** The decision, decimals as strings. */
export type MarginCallReduction =
  | {
      action: 'NONE';
      /**
       * NO_DEBT: nothing borrowed; ABOVE_MARGIN_CALL: level above the margin-call bar;
       * NO_POSITION: a long with no base net asset, a short with no base net debt;
       * NO_QUOTE_TO_BUY_BACK: a short whose quote cannot buy one step of base.
       */
      reason: 'NO_DEBT' | 'ABOVE_MARGIN_CALL' | 'NO_POSITION' | 'NO_QUOTE_TO_BUY_BACK';
      marginLevel: string | null;
      zone: MarginLevelZone;
    }
  | {
      action: 'REDUCE';
      /** SELL base (a long) or BUY base back (a short), at market. */
      orderSide: 'SELL' | 'BUY';
      /** Base quantity to trade: rawQuantity rounded UP to the step, at most positionQuantity (a short: at most what its quote buys). */
      quantity: string;
      /** The exact solution of the algebra (rounded away from zero), or the position when it cannot be restored. */
      rawQuantity: string;
      /** Long: base net asset (free + locked − borrowed − interest); short: base net debt (its negation). */
      positionQuantity: string;
      marginLevel: string;
      zone: MarginLevelZone;
      /** The level the reduction aims for: the borrow bar. */
      targetMarginLevel: string;
      /** The loan repaid with what the trade brings in: quote for a long, base for a short. */
      repayAsset: 'QUOTE' | 'BASE';
      repayAmount: string;
      /** Margin level after the trade and the repayment at `price` (null: no debt left). */
      expectedMarginLevel: string | null;
      expectedZone: MarginLevelZone;
      /** quantity = positionQuantity. */
      closesPosition: boolean;
      /** false when the level is so low (<= 1 ÷ (1 − fee)) that reducing cannot raise it: the whole position is closed. */
      raisesLevel: boolean;
      /** expectedMarginLevel is null (no debt left) or >= targetMarginLevel; false when the cap or a too-low level stops short. */
      reachesTarget: boolean;
    };

/**
 * Optional automatic reduction at the margin call (spot isolated margin): when the
 * margin level is at or below the margin-call bar (1.3 by default), how much to sell (a
 * long) or buy back (a short), repaying the loan with what the trade brings in, so that
 * the margin level returns to the borrow bar (1.5 by default).
 *
 * Algebra. Let A = total asset value, L = total liabilities (loans + interest), both in
 * quote; P = price, f = taker fee rate, T = target level (the borrow bar), x = base traded.
 * - Long: selling x base brings x·P·(1 − f) quote (the fee is taken from what is
 *   received), which repays the quote loan: A' = A − x·P + x·P·(1 − f) − x·P·(1 − f)
 *   = A − x·P and L' = L − x·P·(1 − f).
 * - Short: buying x base back costs x·P quote and brings x·(1 − f) base, which repays the
 *   base loan: A' = A − x·P + x·(1 − f)·P − x·(1 − f)·P = A − x·P and
 *   L' = L − x·(1 − f)·P. The same two lines.
 * - A'/L' = T  ⇔  A − x·P = T·(L − x·P·(1 − f))  ⇔  x = (T·L − A) ÷ (P·(T·(1 − f) − 1)).
 * - d(A'/L')/dx has the sign of (1 − f)·A − L: the level rises with x exactly when
 *   A/L > 1 ÷ (1 − f). Then x > 0 for a level below T (T·L − A > 0 and T·(1 − f) > 1), and
 *   rounding x UP to the step lands at or above T. At or below 1 ÷ (1 − f) no reduction
 *   raises the level; the whole position is closed (`raisesLevel` = false), the only move
 *   left that stops the loss growing.
 * - x is capped at the position (a long's base net asset, a short's base net debt) and, for
 *   a short, at what its quote buys (floor(quote ÷ P) to the step); the repay is capped at
 *   the loan in that asset, so `expectedMarginLevel` is computed from the actual numbers:
 *   A' = A − x·P·f − R·(1 or P), L' = L − R·(1 or P), R the repay.
 *
 * Notes: a long's base (a short's quote) may be partly `locked` in an open order (e.g. a
 * resting stop), which must be cancelled first. Quote a long already holds, and base a
 * short already holds, is left in place: repaying with it raises the level without a
 * trade, which the caller may do before asking (then fewer units need trading). Interest
 * is repaid before principal on Binance; the split does not change A' or L'.
 *
 * Example (long, 2024-08-05 06:24 UTC spot close 49,338.49): 0.05 BTC, 2,000 USDT
 * borrowed, 0.5 USDT interest, fee 0.001: A = 2,466.9245, L = 2,000.5, level 1.2331 →
 * MARGIN_CALL; x = (1.5 × 2,000.5 − 2,466.9245) ÷ (49,338.49 × (1.5 × 0.999 − 1))
 * = 533.8255 ÷ 24,595.237265 = 0.0217044…, sell 0.02171 BTC (step 0.00001) → level 1.50015.
 *
 * @returns `NONE` (no debt, level above the margin-call bar, or no position) or `REDUCE`
 *   with the quantity; `INVALID_INPUT` for a price <= 0, a fee outside [0, 1), a step
 *   <= 0, a negative balance, invalid bars, or a borrow bar T with T·(1 − f) <= 1 (no
 *   reduction could ever reach it).
 */
export function decideMarginCallReduction(input: MarginCallReductionInput): Result<MarginCallReduction, Rejection<'INVALID_INPUT'>> {
  const { side, balances: b, price: p, takerFeeRate: f, stepSize: step } = input;
  const bars = input.bars ?? DEFAULT_MARGIN_LEVEL_BARS;
  if (!isPositive(p)) return reject('INVALID_INPUT', `price must be a positive number, got ${p.toString()}`);
  if (!isNonNegative(f) || !f.lt(1)) return reject('INVALID_INPUT', `taker fee rate must be in [0, 1), got ${f.toString()}`);
  if (!isPositive(step)) return reject('INVALID_INPUT', `step size must be > 0, got ${step.toString()}`);
  for (const k of BALANCE_KEYS) {
    if (!D.isDecimal(b[k]) || !isNonNegative(b[k])) return reject('INVALID_INPUT', `${k} must be a finite decimal >= 0, got ${String(b[k])}`);
  }
  const checked = validateMarginLevelBars(bars);
  if (!checked.ok) return reject('INVALID_INPUT', checked.error.message);
  const target = bars.borrow;
  const keep = ONE.minus(f);
  if (!target.mul(keep).gt(1)) {
    return reject('INVALID_INPUT', `the borrow bar ${str(target)} × (1 − fee ${str(f)}) must be > 1, or no reduction can reach it`);
  }

  const eq = isolatedMarginEquity({ ...b, price: p });
  const level = eq.marginLevel;
  const zone = marginLevelZone(level, bars);
  if (level === null) return ok({ action: 'NONE', reason: 'NO_DEBT', marginLevel: null, zone });
  if (level.gt(bars.marginCall)) return ok({ action: 'NONE', reason: 'ABOVE_MARGIN_CALL', marginLevel: str(level), zone });

  // A long holds base net; a short owes base net (net asset < 0).
  const position = side === 'LONG' ? eq.baseNetAsset : eq.baseNetAsset.neg();
  if (!position.gt(0)) return ok({ action: 'NONE', reason: 'NO_POSITION', marginLevel: str(level), zone });
  // A short pays for the buy-back with its quote: never more than the quote buys.
  const cap = side === 'LONG' ? position : min(position, floorExact(divDown(b.quoteFree.plus(b.quoteLocked), p), step));
  if (!cap.gt(0)) return ok({ action: 'NONE', reason: 'NO_QUOTE_TO_BUY_BACK', marginLevel: str(level), zone });

  const A = eq.totalAssetValue;
  const L = eq.totalLiabilityValue;
  const raisesLevel = A.mul(keep).gt(L);
  const rawQuantity = raisesLevel ? divUp(target.mul(L).minus(A), p.mul(target.mul(keep).minus(1))) : position;
  const quantity = min(ceilExact(rawQuantity, step), cap);

  // Apply the trade and the repayment.
  const feeValue = quantity.mul(p).mul(f);
  let repay: D;
  let repayValue: D;
  if (side === 'LONG') {
    repay = min(quantity.mul(p).mul(keep), b.quoteBorrowed.plus(b.quoteInterest));
    repayValue = repay;
  } else {
    repay = min(quantity.mul(keep), b.baseBorrowed.plus(b.baseInterest));
    repayValue = repay.mul(p);
  }
  const expected = marginLevel(A.minus(feeValue).minus(repayValue), L.minus(repayValue), ZERO);

  return ok({
    action: 'REDUCE',
    orderSide: side === 'LONG' ? 'SELL' : 'BUY',
    quantity: str(quantity),
    rawQuantity: str(rawQuantity),
    positionQuantity: str(position),
    marginLevel: str(level),
    zone,
    targetMarginLevel: str(target),
    repayAsset: side === 'LONG' ? 'QUOTE' : 'BASE',
    repayAmount: str(repay),
    expectedMarginLevel: expected === null ? null : str(expected),
    expectedZone: marginLevelZone(expected, bars),
    closesPosition: quantity.eq(position),
    raisesLevel,
    reachesTarget: expected === null || expected.gte(target),
  });
}
