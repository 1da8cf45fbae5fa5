import { D, floorToStep, str } from './money';
import { ok, reject, type Rejection, type Result } from './result';
import type { Rules } from './rules';

/**
 * How a parent order larger than one order should be split (AccountConfig.orderSplit):
 * - `maxOrderNotional`: the largest notional of one child, USDT (null: no such limit);
 * - `maxVolumeShare`: the largest share of the signal bar's traded volume one child may take,
 *   a fraction in (0, 1] (null: no such limit);
 * - `style`: SLICES (children sent one after another every `intervalMs`, each of the entry's
 *   order type) or ICEBERG (LIMIT children at the entry price, the next sent when the one before
 *   it has filled whole: only one child's quantity shows in the book);
 * - `intervalMs`: the pacing of SLICES, ms (>= 0; 0 = on consecutive market steps).
 * The venue's own maximum quantity for the order type always applies.
 */
export interface SplitPolicy {
  maxOrderNotional: D | null;
  maxVolumeShare: D | null;
  style: 'SLICES' | 'ICEBERG';
  intervalMs: number;
}

/** At most this many children per parent: more is a plan no trader wants (and a flood of orders). */
export const MAX_CHILDREN = 50;

export type SplitRejectionCode = 'SPLIT_BELOW_MINIMUM' | 'TOO_MANY_CHILDREN';

/**
 * The largest quantity one child may have (base asset, a multiple of the order type's step):
 * min(venue max for the type, maxOrderNotional ÷ price, maxVolumeShare × barVolume), each
 * floored to the step.
 * @param price the entry (limit or reference) price, USDT per base unit, > 0
 * @param barVolume the signal bar's base volume (null: unknown, the volume limit is not applied)
 */
export function maxChildQuantity(rules: Rules, orderType: 'MARKET' | 'LIMIT', price: D, barVolume: D | null, policy: SplitPolicy): D {
  const step = orderType === 'MARKET' ? rules.marketStepSize : rules.stepSize;
  let cap = orderType === 'MARKET' ? rules.marketMaxQty : rules.maxQty;
  if (policy.maxOrderNotional !== null) cap = D.min(cap, policy.maxOrderNotional.div(price));
  if (policy.maxVolumeShare !== null && barVolume !== null && barVolume.gt(0)) cap = D.min(cap, policy.maxVolumeShare.mul(barVolume));
  const q = floorToStep(cap, step);
  return q.gt(cap) ? q.minus(step) : q; // floorToStep can land a step high when cap ÷ step is not exact in 40 digits
}

/**
 * Split a parent quantity into children (Binance lot and notional filters per child): the
 * fewest children n = ⌈quantity ÷ maxChild⌉, each floor(quantity ÷ n) to the step, the
 * remaining steps one each to the first children, so they differ by at most one step and sum
 * exactly to the parent. One child (the parent itself) when it fits.
 * @param quantity the parent's quantity, a multiple of the step (risk normalised it)
 * @returns the child quantities, largest first; or
 *   `SPLIT_BELOW_MINIMUM` when a child that fits the limits would be below the venue's minimum
 *   quantity or notional, `TOO_MANY_CHILDREN` above {@link MAX_CHILDREN}.
 */
export function splitQuantity(quantity: D, maxChild: D, rules: Rules, orderType: 'MARKET' | 'LIMIT', price: D): Result<D[], Rejection<SplitRejectionCode>> {
  const step = orderType === 'MARKET' ? rules.marketStepSize : rules.stepSize;
  if (quantity.lte(maxChild)) return ok([quantity]);
  if (maxChild.lt(rules.minQty) || maxChild.mul(price).lt(rules.minNotional)) {
    return reject('SPLIT_BELOW_MINIMUM', `a child may hold at most ${str(maxChild)} at ${str(price)}: below the venue's minimum quantity ${str(rules.minQty)} or notional ${str(rules.minNotional)}`);
  }
  const n = quantity.div(maxChild).ceil().toNumber();
  if (n > MAX_CHILDREN) return reject('TOO_MANY_CHILDREN', `${str(quantity)} in children of at most ${str(maxChild)} needs ${n} orders; at most ${MAX_CHILDREN}`);
  const steps = quantity.div(step).toNumber(); // an integer: quantity is on the step
  const base = Math.floor(steps / n);
  const extra = steps - base * n;
  const children = Array.from({ length: n }, (_, i) => step.mul(base + (i < extra ? 1 : 0)));
  const smallest = children[n - 1];
  if (smallest.lt(rules.minQty) || smallest.mul(price).lt(rules.minNotional)) {
    return reject('SPLIT_BELOW_MINIMUM', `${n} children of ${str(quantity)} hold ${str(smallest)} each at least, below the venue's minimum quantity ${str(rules.minQty)} or notional ${str(rules.minNotional)}`);
  }
  return ok(children);
}

/** A split entry's plan as risk approved it (EntryApproved.split). */
export interface SplitPlanOf {
  style: 'SLICES' | 'ICEBERG';
  intervalMs: number;
  deadline: number;
  children: ReadonlyArray<{ clientOrderId: string; quantity: string }>;
}

/** Where a split entry stands: children sent, what they filled, whether the last one sent is done. */
export interface SplitProgress {
  plan: SplitPlanOf;
  /** Children sent so far (the first `sent` of the plan). */
  sent: number;
  /** Market time the last child was sent, epoch ms (null: none yet). */
  lastSentAt: number | null;
  /** The last child sent filled whole (ICEBERG sends the next only then). */
  lastChildFilled: boolean;
  /** What the sent children filled: Σ quantity (base), Σ quantity × price (USDT), Σ fees (USDT). */
  filledQuantity: D;
  filledNotional: D;
  fees: D;
}

/** The approved risk a split's children must stay within: its side, stop, risk amount and fee rates. */
export interface SplitRisk {
  side: 'BUY' | 'SELL';
  stopPrice: D;
  /** USDT: the approved assessment's riskAmount. */
  riskAmount: D;
  entryFeeRate: D;
  takerFeeRate: D;
}

export type SplitEndReason = 'COMPLETED' | 'DEADLINE' | 'RISK_LIMIT';
export type SplitStep = { kind: 'WAIT' } | { kind: 'SEND'; clientOrderId: string; quantity: D } | { kind: 'END'; reason: SplitEndReason; detail: string };

/**
 * The next step of a split entry at market time `now` with the market at `price`:
 * - every child sent → END COMPLETED;
 * - `now` ≥ the deadline → END DEADLINE (what is unsent is never sent);
 * - SLICES: WAIT until `intervalMs` after the last child (and a later step than it); ICEBERG:
 *   WAIT until the last child filled whole;
 * - the loss at the stop if the next child filled at `price` would exceed the approved risk
 *   amount → END RISK_LIMIT. That loss = Σ filled × |fill − stop| (the fills' own prices, via
 *   filledNotional) + the fees paid + the taker fee of the exit of everything at the stop +
 *   the child's quantity × (|price − stop| + entryFeeRate × price). A price at or beyond the
 *   stop ends it too (the child would open into its own stop);
 * - else SEND the next child.
 */
export function nextSplitStep(p: SplitProgress, now: number, price: D, risk: SplitRisk): SplitStep {
  const { plan } = p;
  if (p.sent >= plan.children.length) return { kind: 'END', reason: 'COMPLETED', detail: `all ${plan.children.length} children sent` };
  const unsent = plan.children.slice(p.sent).reduce((s, c) => s.plus(c.quantity), new D(0));
  if (now >= plan.deadline) return { kind: 'END', reason: 'DEADLINE', detail: `${plan.children.length - p.sent} children (${str(unsent)}) not sent by ${new Date(plan.deadline).toISOString()}` };
  if (p.sent > 0) {
    if (plan.style === 'ICEBERG' && !p.lastChildFilled) return { kind: 'WAIT' };
    if (plan.style === 'SLICES' && p.lastSentAt !== null && (now <= p.lastSentAt || now < p.lastSentAt + plan.intervalMs)) return { kind: 'WAIT' };
  }
  const next = plan.children[p.sent];
  const q = new D(next.quantity);
  const long = risk.side === 'BUY';
  const distance = long ? price.minus(risk.stopPrice) : risk.stopPrice.minus(price);
  if (!distance.gt(0)) return { kind: 'END', reason: 'RISK_LIMIT', detail: `price ${str(price)} is at or beyond the stop ${str(risk.stopPrice)}` };
  const filledAtStop = p.filledQuantity.mul(risk.stopPrice);
  const filledLoss = long ? p.filledNotional.minus(filledAtStop) : filledAtStop.minus(p.filledNotional);
  const loss = filledLoss
    .plus(p.fees)
    .plus(p.filledQuantity.plus(q).mul(risk.stopPrice).mul(risk.takerFeeRate))
    .plus(q.mul(distance.plus(risk.entryFeeRate.mul(price))));
  if (loss.gt(risk.riskAmount)) {
    return { kind: 'END', reason: 'RISK_LIMIT', detail: `child ${next.clientOrderId} of ${str(q)} at ${str(price)} would take the loss at the stop to ${str(loss.toDecimalPlaces(2, D.ROUND_UP))} USDT, above the approved ${str(risk.riskAmount.toDecimalPlaces(2, D.ROUND_DOWN))}` };
  }
  return { kind: 'SEND', clientOrderId: next.clientOrderId, quantity: q };
}
