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

/**
 * Decimals parsed from recent strings, by the string. One market step's prices are parsed by
 * many deciders (the venue's matching, every stop's and level's crossing, guards, marks): the
 * cache makes that one parse each. Decimals are immutable (every operation returns a new one),
 * so sharing an instance changes nothing. Bounded: emptied when it reaches the limit.
 */
const PARSED = new Map<string, Decimal>();
const PARSED_LIMIT = 4096;

/**
 * Parse a decimal string or number, or take a Decimal (one of this module's `D`: itself, being
 * immutable; another constructor's: copied). Throws on NaN/Infinity (callers validate inputs first).
 */
export function dec(v: DecimalInput): Decimal {
  if (v instanceof D && v.isFinite()) return v;
  if (typeof v === 'string') {
    const seen = PARSED.get(v);
    if (seen !== undefined) return seen;
  }
  const d = new D(v);
  if (!d.isFinite()) throw new RangeError(`not a finite decimal: ${String(v)}`);
  if (typeof v === 'string') {
    if (PARSED.size >= PARSED_LIMIT) PARSED.clear();
    PARSED.set(v, d);
  }
  return d;
}

/** A non-negative decimal in plain notation (no sign, exponent or leading zeros: "0.5", "104587.70"), the form candle files carry. */
export const PLAIN_DECIMAL = /^(0|[1-9]\d*)(\.\d+)?$/;

/**
 * Compare two non-negative plain decimal strings ({@link PLAIN_DECIMAL}, the form candle files
 * carry) exactly, without parsing them: −1, 0 or 1 as a < b, a = b, a > b.
 * Integer parts (no leading zeros) compare by length, then digit by digit; fractions digit by
 * digit, the shorter one padded with zeros ("1.50" = "1.5"). Text outside that form gives an
 * unspecified answer: validate it first.
 */
export function comparePlainDecimals(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  const da = a.indexOf('.');
  const db = b.indexOf('.');
  const ia = da < 0 ? a.length : da;
  const ib = db < 0 ? b.length : db;
  if (ia !== ib) return ia < ib ? -1 : 1;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (i === ia) continue; // the point
    const x = i < a.length ? a.charCodeAt(i) : 48;
    const y = i < b.length ? b.charCodeAt(i) : 48;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
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
