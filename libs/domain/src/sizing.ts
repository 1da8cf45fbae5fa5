import type { OrderSide, RiskAssessment } from '@bulwark/contracts';
import { initialMargin, liquidationCloseFeeRate, liquidationPrice } from './liquidation';
import { D, floorToStep, min, str } from './money';
import { normalizeQuantity } from './normalize';
import { err, ok, type Rejection, type Result } from './result';
import { bracketForNotional, type Bracket, type Rules } from './rules';
import { recommendEntry } from './sizing-recommend';

/**
 * Everything position sizing needs (docs/risk.md "Entry decisions"). Prices in USDT per base
 * unit, equity and margins in USDT, fractions as decimals ("0.01" = 1 %).
 * - `equity`: account equity the risk amount is taken from.
 * - `availableMargin`: margin free for a new position.
 * - `requestedLeverage` / `leverageCap`: integers 1..125.
 * - `maxMarginFraction`: an entry's initial margin may use at most this fraction of the
 *   available margin (default 0.5), in (0, 1].
 * - `liquidationBufferFraction`: the stop must stay this fraction of the entry-to-liquidation
 *   distance away from the liquidation price (default 0.1), in [0, 1).
 * - `maxFeeRiskFraction`: the cost guard, the largest share of the risk amount the fees
 *   at entry and at the stop may take (default 0.5), in (0, 1]; null = no guard.
 * - `orderType`: the entry's venue order type (default MARKET): a LIMIT entry is sized on the
 *   LIMIT lot (`stepSize` / `maxQty`), a MARKET one on the MARKET lot.
 * - `entryFeeRate`: the fee rate the entry pays (default the taker rate; the maker rate for an
 *   entry that cannot take liquidity, a post-only one). The exit at the stop is a market order
 *   and always pays the taker rate. Given, it is recorded in the assessment (`entryFeeRate`).
 */
export interface SizingInput {
  side: OrderSide;
  entryPrice: D;
  stopPrice: D;
  takeProfitPrice: D | null;
  equity: D;
  availableMargin: D;
  riskFraction: D;
  requestedLeverage: number;
  leverageCap: number;
  maxMarginFraction: D;
  liquidationBufferFraction: D;
  maxFeeRiskFraction: D | null;
  rules: Rules;
  orderType?: 'MARKET' | 'LIMIT';
  entryFeeRate?: D;
}

export type SizingDenialCode =
  | 'INVALID_INTENT'
  | 'STOP_ON_WRONG_SIDE'
  | 'NO_EQUITY'
  | 'BELOW_MIN_QTY'
  | 'BELOW_MIN_NOTIONAL'
  | 'ABOVE_MAX_QTY'
  | 'INSUFFICIENT_MARGIN'
  | 'STOP_TOO_CLOSE_TO_LIQUIDATION'
  | 'COST_TOO_HIGH';

/** A denial with the values computed before it (for the `EntryDenied` event's audit trail). */
export interface SizingDenial extends Rejection<SizingDenialCode> {
  assessment: Partial<RiskAssessment>;
}

const MAX_LEVERAGE = 125;

// Division rounded toward zero: quantities derived from a budget must never exceed it, even
// by the last of 40 significant digits. Operands here are positive.
const DDown = D.clone({ rounding: D.ROUND_DOWN });
/** a ÷ b rounded toward zero (quantities never round up). */
export const divDown = (a: D, b: D): D => new D(new DDown(a).div(b));

/** The risk of one unit of base asset between entry and stop, and the quantity that risks `riskFraction` of equity. */
export interface RiskPerUnit {
  riskAmount: D;
  stopDistance: D;
  feePerUnit: D;
  lossPerUnit: D;
  rawQuantity: D;
}

/**
 * riskAmount = equity × riskFraction; stopDistance = |entry − stop|; feePerUnit = fee on the
 * entry and on the exit at the stop = entryFeeRate × entry + takerFeeRate × stop (entryFeeRate
 * defaults to takerFeeRate: takerFeeRate × (entry + stop)); lossPerUnit = stopDistance +
 * feePerUnit; rawQuantity = riskAmount ÷ lossPerUnit rounded toward zero, so the loss at the
 * stop, fees included, never exceeds the risk amount. Shared by the futures and the
 * spot-margin sizing. Rates are fractions of notional ("0.0005" = 0.05 %).
 */
export function riskPerUnit(equity: D, riskFraction: D, entry: D, stop: D, takerFeeRate: D, entryFeeRate: D = takerFeeRate): RiskPerUnit {
  const riskAmount = equity.mul(riskFraction);
  const stopDistance = entry.minus(stop).abs();
  const feePerUnit = entryFeeRate.mul(entry).plus(takerFeeRate.mul(stop));
  const lossPerUnit = stopDistance.plus(feePerUnit);
  return { riskAmount, stopDistance, feePerUnit, lossPerUnit, rawQuantity: divDown(riskAmount, lossPerUnit) };
}

const isPositive = (x: D) => x.isFinite() && x.gt(0);
/** A price or USDT amount for a message: to the cent, half up (the assessment keeps full precision). */
const cents = (x: D) => str(x.toDecimalPlaces(2, D.ROUND_HALF_UP));
const isLeverage = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_LEVERAGE;

/** Largest multiple of `step` <= x (exact even if x / step needs more than 40 digits). */
function floorExact(x: D, step: D): D {
  const q = floorToStep(x, step);
  return q.gt(x) ? q.minus(step) : q;
}

/**
 * Size an entry: how much to buy or sell so that a stop-out loses at most
 * `equity × riskFraction` (fees included), within the margin, leverage, bracket and venue
 * limits, with the stop safely ahead of the liquidation price.
 *
 * Algorithm (all decimals, nothing rounded up):
 * 1. Validate: positive finite prices; a BUY's stop below entry, a SELL's above
 *    (`STOP_ON_WRONG_SIDE`); stop ≠ entry, take-profit on the profit side, leverages
 *    integers 1..125, riskFraction in (0, 1], maxMarginFraction in (0, 1],
 *    liquidationBufferFraction in [0, 1) (`INVALID_INTENT`); equity > 0 (`NO_EQUITY`);
 *    available margin > 0 (`INSUFFICIENT_MARGIN`).
 * 2. riskAmount = equity × riskFraction; stopDistance = |entry − stop|;
 *    feePerUnit = entryFeeRate × entry + takerFeeRate × stop (the entry's fee, taker unless
 *    post-only, and the taker fee of the exit at the stop); lossPerUnit = stopDistance + feePerUnit; rawQuantity = riskAmount / lossPerUnit
 *    (40 significant digits, rounded toward zero so it never exceeds the budget).
 * 3. maxMargin = maxMarginFraction × availableMargin. For a leverage L the quantity is
 *    min(rawQuantity, maxMargin × L / entry) (marginCappedQuantity: initial margin =
 *    notional / L <= maxMargin), floored to the order type's step. The leverage is the largest
 *    integer L <= min(requestedLeverage, leverageCap) that the bracket of the resulting
 *    notional allows (L <= its initialLeverage). The notional decides the bracket and the
 *    leverage can decide the notional, so candidates are tried from the top down; L = 1 is
 *    always allowed.
 * 4. The quantity is rounded down with `normalizeQuantity(rules, q, entry, orderType)`;
 *    below minQty / minNotional or above the order type's max quantity is a denial with that code.
 * 5. Liquidation price (isolated, walletBalance = initial margin of the rounded quantity).
 *    When it exists: liquidationDistance = |entry − liq|; stopToLiquidation = stop − liq for
 *    a long, liq − stop for a short (> 0 when the stop comes first); requiredBuffer =
 *    liquidationBufferFraction × liquidationDistance. Denied
 *    (`STOP_TOO_CLOSE_TO_LIQUIDATION`) when stopToLiquidation < requiredBuffer, or <= 0
 *    (a stop at or beyond the liquidation price never fires first, whatever the buffer).
 * 6. lossAtStop = quantity × lossPerUnit.
 * 7. Cost guard: feesAtStop = quantity × feePerUnit (the fees at the entry and at the
 *    stop), feeRiskShare = feesAtStop ÷ riskAmount. Denied (`COST_TOO_HIGH`) when
 *    feeRiskShare > maxFeeRiskFraction: the stop is so close that the venue, not the market,
 *    would take most of the risk budget. Unless the margin cap binds, feeRiskShare =
 *    feePerUnit ÷ lossPerUnit, whatever the equity or leverage.
 * 8. A denial ABOVE_MAX_QTY, STOP_TOO_CLOSE_TO_LIQUIDATION or COST_TOO_HIGH keeps its code and
 *    message; its assessment also carries what would pass, `maxQuantity`, `recommendedStop`
 *    and `maxLeverage` (`recommendEntry`, sizing-recommend.ts). Approvals carry none of them.
 *
 * `bracket`, `maintMarginRatio`, `maintAmount` and `bracketMaxLeverage` in the assessment
 * are those of the entry notional; the liquidation price re-checks the bracket at the
 * liquidation notional itself (see `liquidationPrice`).
 *
 * @returns the full `RiskAssessment` (decimals as strings), or a `SizingDenial` carrying
 *   whatever had been computed before it.
 */
export function sizeEntry(input: SizingInput): Result<RiskAssessment, SizingDenial> {
  const r = assessEntry(input);
  const advice = r.ok ? null : recommendEntry(input, r.error, assessEntry);
  return r.ok || advice === null ? r : err({ ...r.error, assessment: { ...r.error.assessment, ...advice } });
}

/** Steps 1–7 of `sizeEntry`, without the recommendations: also what `recommendEntry` verifies them with. */
function assessEntry(input: SizingInput): Result<RiskAssessment, SizingDenial> {
  const { side, entryPrice: entry, stopPrice: stop, takeProfitPrice: tp, rules } = input;
  const orderType = input.orderType ?? 'MARKET';
  const entryFeeRate = input.entryFeeRate ?? rules.takerFeeRate;
  const lotStep = orderType === 'MARKET' ? rules.marketStepSize : rules.stepSize;
  const a: Partial<RiskAssessment> = { side, takeProfitPrice: null, takerFeeRate: str(rules.takerFeeRate) };
  if (input.entryFeeRate !== undefined && input.entryFeeRate.isFinite()) a.entryFeeRate = str(input.entryFeeRate);
  if (Number.isInteger(input.requestedLeverage)) a.requestedLeverage = input.requestedLeverage;
  if (Number.isInteger(input.leverageCap)) a.leverageCap = input.leverageCap;
  // Record inputs that are representable; a NaN would not survive the event schema.
  const put = (key: keyof RiskAssessment, x: D | null) => {
    if (x === null || x.isFinite()) (a as Record<string, unknown>)[key] = x === null ? null : str(x);
  };
  put('entryPrice', entry);
  put('stopPrice', stop);
  put('takeProfitPrice', tp);
  put('equity', input.equity);
  put('availableMargin', input.availableMargin);
  put('riskFraction', input.riskFraction);

  const deny = (code: SizingDenialCode, message: string): Result<never, SizingDenial> => err({ code, message, assessment: { ...a } });

  // 1. Validation.
  if (!isPositive(entry)) return deny('INVALID_INTENT', `entry price must be a positive number, got ${entry.toString()}`);
  if (!isPositive(stop)) return deny('INVALID_INTENT', `stop price must be a positive number, got ${stop.toString()}`);
  if (tp !== null && !isPositive(tp)) return deny('INVALID_INTENT', `take-profit price must be a positive number, got ${tp.toString()}`);
  if (stop.eq(entry)) return deny('INVALID_INTENT', `stop price equals the entry price ${str(entry)}: zero stop distance`);
  if (side === 'BUY' ? stop.gt(entry) : stop.lt(entry)) {
    return deny('STOP_ON_WRONG_SIDE', `a ${side}'s stop must be ${side === 'BUY' ? 'below' : 'above'} the entry ${str(entry)}, got ${str(stop)}`);
  }
  if (tp !== null && (side === 'BUY' ? !tp.gt(entry) : !tp.lt(entry))) {
    return deny('INVALID_INTENT', `a ${side}'s take-profit must be ${side === 'BUY' ? 'above' : 'below'} the entry ${str(entry)}, got ${str(tp)}`);
  }
  if (!isLeverage(input.requestedLeverage)) return deny('INVALID_INTENT', `requested leverage must be an integer 1..${MAX_LEVERAGE}, got ${input.requestedLeverage}`);
  if (!isLeverage(input.leverageCap)) return deny('INVALID_INTENT', `leverage cap must be an integer 1..${MAX_LEVERAGE}, got ${input.leverageCap}`);
  const { riskFraction, maxMarginFraction, liquidationBufferFraction: bufferFraction } = input;
  if (!isPositive(riskFraction) || riskFraction.gt(1)) return deny('INVALID_INTENT', `risk fraction must be in (0, 1], got ${riskFraction.toString()}`);
  if (!isPositive(maxMarginFraction) || maxMarginFraction.gt(1)) {
    return deny('INVALID_INTENT', `max margin fraction must be in (0, 1], got ${maxMarginFraction.toString()}`);
  }
  if (!bufferFraction.isFinite() || bufferFraction.lt(0) || !bufferFraction.lt(1)) {
    return deny('INVALID_INTENT', `liquidation buffer fraction must be in [0, 1), got ${bufferFraction.toString()}`);
  }
  if (!input.equity.isFinite()) return deny('INVALID_INTENT', `equity must be a finite number, got ${input.equity.toString()}`);
  if (!input.availableMargin.isFinite()) return deny('INVALID_INTENT', `available margin must be a finite number, got ${input.availableMargin.toString()}`);
  if (!input.equity.gt(0)) return deny('NO_EQUITY', `equity is ${str(input.equity)}: nothing to risk`);
  if (!input.availableMargin.gt(0)) return deny('INSUFFICIENT_MARGIN', `available margin is ${str(input.availableMargin)}`);
  const maxFeeShare = input.maxFeeRiskFraction;
  if (maxFeeShare !== null && (!isPositive(maxFeeShare) || maxFeeShare.gt(1))) {
    return deny('INVALID_INTENT', `max fee share of the risk amount must be in (0, 1], got ${maxFeeShare.toString()}`);
  }
  put('maxFeeRiskFraction', maxFeeShare);
  if (!entryFeeRate.isFinite() || entryFeeRate.lt(0)) return deny('INVALID_INTENT', `entry fee rate must be a finite number >= 0, got ${entryFeeRate.toString()}`);

  // 2. Risk per unit.
  const { riskAmount, stopDistance, feePerUnit, lossPerUnit, rawQuantity } = riskPerUnit(input.equity, riskFraction, entry, stop, rules.takerFeeRate, entryFeeRate);
  put('riskAmount', riskAmount);
  put('stopDistance', stopDistance);
  put('feePerUnit', feePerUnit);
  put('lossPerUnit', lossPerUnit);
  put('rawQuantity', rawQuantity);

  // 3. Margin cap and leverage.
  const maxMargin = maxMarginFraction.mul(input.availableMargin);
  put('maxMargin', maxMargin);
  const cappedAt = (lev: number) => min(rawQuantity, divDown(maxMargin.mul(lev), entry));
  let leverage = Math.min(input.requestedLeverage, input.leverageCap);
  let bracket: Bracket = bracketForNotional(rules.brackets, floorExact(cappedAt(leverage), lotStep).mul(entry));
  while (leverage > bracket.initialLeverage) {
    leverage -= 1; // leverage >= 1 always passes: every bracket allows 1x
    bracket = bracketForNotional(rules.brackets, floorExact(cappedAt(leverage), lotStep).mul(entry));
  }
  const marginCappedQuantity = cappedAt(leverage);
  put('marginCappedQuantity', marginCappedQuantity);
  a.leverage = leverage;
  a.bracketMaxLeverage = bracket.initialLeverage;
  a.bracket = bracket.bracket;
  put('maintMarginRatio', bracket.maintMarginRatio);
  put('maintAmount', bracket.cum);

  // 4. Venue step and minimums (never rounded up).
  const normalized = normalizeQuantity(rules, marginCappedQuantity, entry, orderType);
  if (!normalized.ok) {
    const { code, message } = normalized.error;
    return deny(code === 'INVALID_QUANTITY' ? 'INVALID_INTENT' : code, `sized quantity: ${message}`);
  }
  const quantity = normalized.value;
  const notional = quantity.mul(entry);
  const margin = initialMargin(notional, leverage);
  const lossAtStop = quantity.mul(lossPerUnit);
  put('quantity', quantity);
  put('notional', notional);
  put('initialMargin', margin);
  put('lossAtStop', lossAtStop);
  const feesAtStop = quantity.mul(feePerUnit);
  const feeRiskShare = feesAtStop.div(riskAmount);
  put('feesAtStop', feesAtStop);
  put('feeRiskShare', feeRiskShare);

  // 5. Liquidation distance.
  const liq = liquidationPrice({ side: side === 'BUY' ? 'LONG' : 'SHORT', quantity, entryPrice: entry, walletBalance: margin, brackets: rules.brackets, closeFeeRate: liquidationCloseFeeRate(rules) });
  const lp = liq.price;
  const distances =
    lp === null
      ? null
      : (() => {
          const liquidationDistance = entry.minus(lp).abs();
          return {
            liquidationDistance,
            stopToLiquidation: side === 'BUY' ? stop.minus(lp) : lp.minus(stop),
            requiredBuffer: bufferFraction.mul(liquidationDistance),
          };
        })();
  put('liquidationPrice', lp);
  put('liquidationDistance', distances?.liquidationDistance ?? null);
  put('stopToLiquidation', distances?.stopToLiquidation ?? null);
  put('requiredBuffer', distances?.requiredBuffer ?? null);
  if (lp !== null && distances !== null) {
    const { liquidationDistance, stopToLiquidation, requiredBuffer } = distances;
    if (!stopToLiquidation.gt(0) || stopToLiquidation.lt(requiredBuffer)) {
      return deny(
        'STOP_TOO_CLOSE_TO_LIQUIDATION',
        `stop ${str(stop)} is ${cents(stopToLiquidation)} from the liquidation price ${cents(lp)} at ${leverage}x; ` +
          `at least ${cents(requiredBuffer)} (${str(bufferFraction)} of the entry-to-liquidation distance ${cents(liquidationDistance)}) is required`,
      );
    }
  }

  // 7. Cost guard.
  if (maxFeeShare !== null && feeRiskShare.gt(maxFeeShare)) {
    return deny(
      'COST_TOO_HIGH',
      `${entryFeeRate.eq(rules.takerFeeRate) ? 'taker fees' : 'fees'} at entry and stop ${cents(feesAtStop)} USDT are ${str(feeRiskShare.mul(100).toDecimalPlaces(1, D.ROUND_HALF_UP))} % ` +
        `of the risk amount ${cents(riskAmount)} USDT; at most ${str(maxFeeShare.mul(100))} % allowed (widen the stop or raise the limit)`,
    );
  }

  // The full assessment.
  const opt = (x: D | null | undefined) => (x === null || x === undefined ? null : str(x));
  return ok({
    side,
    entryPrice: str(entry),
    stopPrice: str(stop),
    takeProfitPrice: opt(tp),
    equity: str(input.equity),
    availableMargin: str(input.availableMargin),
    riskFraction: str(riskFraction),
    riskAmount: str(riskAmount),
    stopDistance: str(stopDistance),
    feePerUnit: str(feePerUnit),
    lossPerUnit: str(lossPerUnit),
    rawQuantity: str(rawQuantity),
    marginCappedQuantity: str(marginCappedQuantity),
    quantity: str(quantity),
    notional: str(notional),
    requestedLeverage: input.requestedLeverage,
    leverageCap: input.leverageCap,
    bracketMaxLeverage: bracket.initialLeverage,
    leverage,
    bracket: bracket.bracket,
    maintMarginRatio: str(bracket.maintMarginRatio),
    maintAmount: str(bracket.cum),
    initialMargin: str(margin),
    maxMargin: str(maxMargin),
    liquidationPrice: opt(lp),
    liquidationDistance: opt(distances?.liquidationDistance),
    stopToLiquidation: opt(distances?.stopToLiquidation),
    requiredBuffer: opt(distances?.requiredBuffer),
    lossAtStop: str(lossAtStop),
    takerFeeRate: str(rules.takerFeeRate),
    ...(input.entryFeeRate === undefined ? {} : { entryFeeRate: str(entryFeeRate) }),
    feesAtStop: str(feesAtStop),
    feeRiskShare: str(feeRiskShare),
    maxFeeRiskFraction: opt(maxFeeShare),
  });
}
