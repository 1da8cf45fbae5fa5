import Decimal from 'decimal.js';

/**
 * Decimal arithmetic for money, prices, quantities and rates.
 * A dedicated constructor (precision 40, ROUND_HALF_EVEN, never exponential notation in
 * `toString`) keeps every computation exact to far beyond any venue's precision.
 */
export const D = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_EVEN, toExpNeg: -40, toExpPos: 40 });
export type D = Decimal;
export type DecimalInput = Decimal.Value;

export const ZERO = new D(0);
export const ONE = new D(1);

/** Parse a decimal string or Decimal. Throws on NaN/Infinity (callers validate inputs first). */
export function dec(v: DecimalInput): Decimal {
  const d = new D(v);
  if (!d.isFinite()) throw new RangeError(`not a finite decimal: ${String(v)}`);
  return d;
}

/** Serialise a decimal the way events carry it: plain notation, no trailing zeros. */
export function str(d: Decimal): string {
  return d.toFixed();
}

/** Largest multiple of `step` that is <= `x` (x >= 0): quantities are rounded DOWN to the step. */
export function floorToStep(x: Decimal, step: Decimal): Decimal {
  return x.div(step).floor().mul(step);
}

/** Smallest multiple of `step` that is >= `x`. */
export function ceilToStep(x: Decimal, step: Decimal): Decimal {
  return x.div(step).ceil().mul(step);
}

/** Nearest multiple of `tick` (half-even). */
export function roundToTick(x: Decimal, tick: Decimal): Decimal {
  return x.div(tick).toDecimalPlaces(0, D.ROUND_HALF_EVEN).mul(tick);
}

export function min(a: Decimal, b: Decimal): Decimal {
  return a.lte(b) ? a : b;
}

export function max(a: Decimal, b: Decimal): Decimal {
  return a.gte(b) ? a : b;
}
