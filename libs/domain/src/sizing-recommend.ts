import type { RiskAssessment } from '@bulwark/contracts';
import { ceilToStep, D, dec, floorToStep, ONE, str } from './money';
import type { Result } from './result';
import type { SizingDenial, SizingDenialCode, SizingInput } from './sizing';

/*
 * What would pass instead of a denied entry (seed 003, "Recommended size and stop").
 *
 * Every number here is an answer that has been asked again: a candidate is computed from the
 * denial's own numbers (closed forms below), then re-sized with the sizer and kept only when
 * that is APPROVED, stepping one tick (or one quantity step) further when rounding made it
 * fail. So "ask again with a recommended value" passes by construction; null means no value of
 * that kind passes with the other inputs unchanged.
 */

/**
 * The recommendations a denied assessment carries (added to `RiskAssessment`, never to an
 * approval):
 * - `maxQuantity`: the largest quantity (base asset, a multiple of the MARKET step, never
 *   rounded up) that passes at the requested stop and the granted leverage.
 * - `recommendedStop`: the nearest stop (USDT per base unit, a multiple of the tick) that
 *   passes with every other input unchanged.
 * - `maxLeverage`: the highest integer leverage below the granted one at which the requested
 *   stop passes.
 */
export interface Recommendation {
  maxQuantity: string | null;
  recommendedStop: string | null;
  maxLeverage: number | null;
}

/** The sizing to verify with: `sizeEntry` without recommendations (sizing.ts passes its own core). */
export type Sizer = (input: SizingInput) => Result<RiskAssessment, SizingDenial>;

/** The denials that say what would pass; every other denial is about the intent or the account, not its size, leverage or stop. */
export const RECOMMENDED_DENIALS: readonly SizingDenialCode[] = ['ABOVE_MAX_QTY', 'STOP_TOO_CLOSE_TO_LIQUIDATION', 'COST_TOO_HIGH'];

/** Re-sizing attempts per recommendation (bracket changes and rounding; one or two suffice in practice). */
const MAX_TRIES = 16;

/**
 * What would pass instead of `denial` (of `input` by `size`).
 *
 * | denial | maxQuantity | recommendedStop | maxLeverage |
 * |---|---|---|---|
 * | ABOVE_MAX_QTY | the venue's MARKET max, floored to the step | null (not searched) | yes |
 * | STOP_TOO_CLOSE_TO_LIQUIDATION | null (see below) | nearer the entry | yes |
 * | COST_TOO_HIGH | maxFeeRiskFraction × riskAmount ÷ feePerUnit, floored to the step | farther from the entry | yes |
 *
 * - Liquidation (Binance USDⓈ-M isolated, `liquidationPrice` in liquidation.ts): with
 *   WB = Q·EP/L, long LP = (EP·(1 − 1/L) − cum/Q) ÷ (1 − MMR), short LP = (EP·(1 + 1/L) + cum/Q)
 *   ÷ (1 + MMR). In bracket 1 (cum 0) the quantity cancels out, so a smaller position at the
 *   same leverage does not move LP: for STOP_TOO_CLOSE_TO_LIQUIDATION `maxQuantity` is null
 *   and the answers are the stop and the leverage.
 * - recommendedStop, STOP_TOO_CLOSE_TO_LIQUIDATION: the stop where stopToLiquidation equals
 *   the required buffer, S = LP + f·(EP − LP) (f = liquidationBufferFraction, both sides),
 *   rounded to the tick toward the entry (away from liquidation). The stop sets the quantity
 *   (risk sizing), the quantity the bracket and the bracket LP, so this is iterated with the
 *   LP of each candidate, at least one tick nearer the entry each time, until approved; null
 *   when the entry is reached or the candidate is denied for another reason (e.g. a stop that
 *   near makes the fees too high: then no stop passes at this leverage). A bracket change on
 *   the way (a larger position, a lower bracket leverage) can overshoot, so the approved
 *   candidate is bisected back toward the last denied stop: one tick farther is denied.
 * - recommendedStop, COST_TOO_HIGH: unless the margin cap binds, feeRiskShare = t·(EP + S) ÷
 *   (|EP − S| + t·(EP + S)) (t = taker fee rate, sizing.ts step 7); ≤ M (maxFeeRiskFraction)
 *   solves to |EP − S| ≥ 2·t·EP·(1 − M) ÷ (M + t·(1 − M)) for a long, ÷ (M − t·(1 − M)) for a
 *   short; rounded to the tick away from the entry, then verified (a capped quantity only
 *   lowers the share, so the bound is safe, at worst a little wide) and bisected back toward
 *   the requested stop: the quantity is floored to the step, so its fees are a little lower
 *   than the formula's and a few ticks nearer can pass (one tick nearer than the answer does not).
 * - maxQuantity is verified by sizing again at the granted leverage with the margin cap set
 *   to size exactly that quantity (maxMarginFraction = (Q + step/2)·EP ÷ (L·availableMargin)),
 *   so the venue filters, the liquidation buffer and the cost guard judge that quantity; if
 *   the closed form fails by rounding, one step less is tried.
 * - maxLeverage: candidates below the granted leverage L0 (requesting more than L0 gives L0
 *   again). Passing is an interval in the leverage: a lower one moves LP away from the entry
 *   and, where the margin cap binds, sizes less (lower fees, lower maximum quantity), but may
 *   fall below the minimum quantity. The walk starts at a closed-form estimate (LP ≤ (S − f·EP)
 *   ÷ (1 − f) for a long solved for L with the denial's bracket, ≥ for a short; for the cap,
 *   Q·EP ≤ maxMargin·L) and moves one leverage at a time to the top of that interval.
 *
 * @param input the request that was denied; @param denial its denial (code and partial
 *   assessment, as `sizeEntry` returns it); @param size the sizer that produced it, used to
 *   verify each candidate (it must not itself recommend, or every check would recommend again).
 * @returns the three fields, or null for a denial not in `RECOMMENDED_DENIALS`.
 * @throws RangeError only for an assessment that lacks the numbers its code implies (a
 *   programming error: `sizeEntry` always records them).
 */
export function recommendEntry(input: SizingInput, denial: SizingDenial, size: Sizer): Recommendation | null {
  if (!RECOMMENDED_DENIALS.includes(denial.code)) return null;
  const a = denial.assessment;
  const need = (key: keyof RiskAssessment): D => {
    const v = a[key];
    if (typeof v !== 'string') throw new RangeError(`recommendEntry: a ${denial.code} assessment without ${key}`);
    return dec(v);
  };
  if (a.leverage === undefined) throw new RangeError(`recommendEntry: a ${denial.code} assessment without leverage`);
  const leverage = a.leverage;
  const { rules } = input;
  const limit = input.orderType === 'LIMIT';
  const step = limit ? rules.stepSize : rules.marketStepSize;
  const maxQty = limit ? rules.maxQty : rules.marketMaxQty;

  // Largest quantity, verified with a margin cap that sizes exactly it.
  const quantityPasses = (q: D): boolean => {
    if (q.lt(rules.minQty)) return false;
    const maxMarginFraction = q.plus(step.div(2)).mul(input.entryPrice).div(input.availableMargin.mul(leverage));
    if (maxMarginFraction.gt(1)) return false;
    const r = size({ ...input, requestedLeverage: leverage, maxMarginFraction });
    return r.ok && dec(r.value.quantity).eq(q);
  };
  const largestQuantity = (q0: D): D | null => {
    for (let q = floorToStep(q0, step), i = 0; i < 2 && q.gt(0); q = q.minus(step), i++) if (quantityPasses(q)) return q;
    return null;
  };

  let maxQuantity: D | null = null;
  let recommendedStop: D | null = null;
  let estimate: D;
  const maxMargin = need('maxMargin');
  if (denial.code === 'ABOVE_MAX_QTY') {
    maxQuantity = largestQuantity(maxQty);
    estimate = maxQty.plus(step).mul(input.entryPrice).div(maxMargin); // cap sizes below max + step
  } else if (denial.code === 'COST_TOO_HIGH') {
    const fitting = input.maxFeeRiskFraction!.mul(need('riskAmount')).div(need('feePerUnit')); // fees of Q ≤ M × riskAmount
    maxQuantity = largestQuantity(fitting);
    recommendedStop = stopWithinFeeShare(input, size);
    estimate = fitting.mul(input.entryPrice).div(maxMargin);
  } else {
    recommendedStop = stopClearOfLiquidation(input, need('liquidationPrice'), size);
    estimate = leverageClearOfLiquidation(input, need('quantity'), need('maintMarginRatio'), need('maintAmount'));
  }
  const maxLeverage = highestPassingLeverage(input, leverage - 1, estimate, size);
  return { maxQuantity: maxQuantity === null ? null : str(maxQuantity), recommendedStop: recommendedStop === null ? null : str(recommendedStop), maxLeverage };
}

/** `s` moved by one tick: up for `direction` +1, down for −1. */
const tickFrom = (s: D, tick: D, direction: number) => s.plus(tick.mul(direction));

/**
 * The approved stop nearest `denied` on the tick grid of `passing`, between the two, by
 * bisection: `passing` is approved, `denied` (or the first grid point at or past it) is taken as
 * denied. Each answer is an approved stop whose neighbour one tick toward `denied` was denied
 * (where `denied` is on the grid). This is what the rounding of the quantity to the step and
 * the bracket changes leave of the closed forms: a few ticks more or less.
 */
function nearestPassing(input: SizingInput, denied: D, passing: D, size: Sizer): D {
  const tick = input.rules.tickSize;
  const direction = denied.gt(passing) ? 1 : -1;
  const at = (ticks: number) => passing.plus(tick.mul(ticks * direction));
  let good = 0;
  let bad = denied.minus(passing).abs().div(tick).ceil().toNumber();
  while (bad - good > 1) {
    const mid = Math.floor((good + bad) / 2);
    if (size({ ...input, stopPrice: at(mid) }).ok) good = mid;
    else bad = mid;
  }
  return at(good);
}

/**
 * STOP_TOO_CLOSE_TO_LIQUIDATION: the nearest stop toward the entry whose own liquidation price
 * leaves the required buffer, S = LP + f·(EP − LP) rounded to the tick toward the entry,
 * iterated on each candidate's LP (see `recommendEntry`), then bisected back toward the last
 * denied stop (`nearestPassing`). Null when none before the entry passes.
 */
function stopClearOfLiquidation(input: SizingInput, liquidation: D, size: Sizer): D | null {
  const { entryPrice: entry, liquidationBufferFraction: f, rules } = input;
  const toward = input.side === 'BUY' ? 1 : -1;
  const onTick = (x: D) => (toward > 0 ? ceilToStep(x, rules.tickSize) : floorToStep(x, rules.tickSize));
  let lp = liquidation;
  let previous = input.stopPrice;
  for (let i = 0; i < MAX_TRIES; i++) {
    let stop = onTick(lp.plus(f.mul(entry.minus(lp))));
    if (stop.minus(previous).mul(toward).lte(0)) stop = tickFrom(previous, rules.tickSize, toward); // progress: at least a tick per try
    if (entry.minus(stop).mul(toward).lte(0)) return null; // reached the entry
    const r = size({ ...input, stopPrice: stop });
    if (r.ok) return nearestPassing(input, previous, stop, size);
    const next = r.error.assessment.liquidationPrice;
    if (r.error.code !== 'STOP_TOO_CLOSE_TO_LIQUIDATION' || typeof next !== 'string') return null;
    lp = dec(next);
    previous = stop;
  }
  return null;
}

/**
 * COST_TOO_HIGH: the nearest stop away from the entry at which the fees at entry and stop take
 * at most M of the risk amount, |EP − S| ≥ 2·t·EP·(1 − M) ÷ (M ± t·(1 − M)) (+ long, − short),
 * on the tick away from the entry, verified, then bisected back toward the requested stop
 * (`nearestPassing`: the quantity is rounded down to the step, so its fees can be a little
 * lower than the formula's; a maker entry fee makes the formula's stop a little wide, and the
 * bisection finds the nearest). Null when none exists (a long's stop at or below 0, M ≤ t·(1 − M)
 * for a short) or the wider stop is denied for another reason.
 */
function stopWithinFeeShare(input: SizingInput, size: Sizer): D | null {
  const { entryPrice: entry, rules } = input;
  const t = rules.takerFeeRate;
  const m = input.maxFeeRiskFraction!;
  const away = input.side === 'BUY' ? -1 : 1;
  const divisor = m.plus(t.mul(ONE.minus(m)).mul(-away));
  if (!divisor.gt(0)) return null;
  const distance = t.mul(2).mul(entry).mul(ONE.minus(m)).div(divisor);
  let stop = away < 0 ? floorToStep(entry.minus(distance), rules.tickSize) : ceilToStep(entry.plus(distance), rules.tickSize);
  for (let i = 0, previous = input.stopPrice; i < MAX_TRIES && stop.gt(0); i++, previous = stop, stop = tickFrom(stop, rules.tickSize, away)) {
    const r = size({ ...input, stopPrice: stop });
    if (r.ok) return nearestPassing(input, previous, stop, size);
    if (r.error.code !== 'COST_TOO_HIGH') return null; // wider still cannot help (liquidation buffer, minimum quantity)
  }
  return null;
}

/**
 * The leverage at which the requested stop S keeps the buffer, solved with the denial's
 * bracket (MMR, cum) and quantity Q: long LP ≤ P = (S − f·EP) ÷ (1 − f) gives
 * 1/L ≥ 1 − cum/(Q·EP) − P·(1 − MMR)/EP; short LP ≥ P gives 1/L ≥ P·(1 + MMR)/EP − 1 − cum/(Q·EP).
 * An estimate (the bracket and, where the margin cap binds, Q move with L): the walk verifies.
 */
function leverageClearOfLiquidation(input: SizingInput, q: D, mmr: D, cum: D): D {
  const { entryPrice: entry, stopPrice: stop, liquidationBufferFraction: f } = input;
  const p = stop.minus(f.mul(entry)).div(ONE.minus(f));
  const perNotional = cum.div(q.mul(entry));
  const inverse = input.side === 'BUY' ? ONE.minus(perNotional).minus(p.mul(ONE.minus(mmr)).div(entry)) : p.mul(ONE.plus(mmr)).div(entry).minus(ONE).minus(perNotional);
  return inverse.gt(0) ? ONE.div(inverse) : new D(Infinity);
}

/**
 * The highest leverage in 1..top at which `input` is approved, walking from the estimate:
 * up while the next one is approved, or down while denied. Below the passing interval only
 * BELOW_MIN_QTY / BELOW_MIN_NOTIONAL deny (a lower leverage never sizes more), so such a
 * denial turns the walk upward. Null when none passes (or top < 1).
 */
function highestPassingLeverage(input: SizingInput, top: number, estimate: D, size: Sizer): number | null {
  if (top < 1) return null;
  const at = (requestedLeverage: number) => size({ ...input, requestedLeverage });
  const tooSmall = (r: ReturnType<Sizer>) => !r.ok && (r.error.code === 'BELOW_MIN_QTY' || r.error.code === 'BELOW_MIN_NOTIONAL');
  let lev = estimate.isFinite() ? Math.min(top, Math.max(1, estimate.floor().toNumber())) : top;
  let r = at(lev);
  if (!r.ok && !tooSmall(r)) {
    for (lev -= 1; lev >= 1; lev--) {
      r = at(lev);
      if (r.ok) return lev;
      if (tooSmall(r)) return null; // the interval is empty: too high above, too small below
    }
    return null;
  }
  while (tooSmall(r) && lev < top) r = at(++lev); // below the interval: climb to it
  if (!r.ok) return null;
  while (lev < top && at(lev + 1).ok) lev++;
  return lev;
}
