/*
 * Display helpers: rounding and colouring for people. The server computes every amount; the
 * browser only rounds decimal strings for display (decimal.js, never JS floats) and picks
 * colours from the guard thresholds the server sends.
 */
import Decimal from 'decimal.js';

/** A decimal string as the API sends it (USDT, quote-asset price, base-asset quantity, fraction). */
export type DecimalText = string;

const DASH = '—';

function parse(value: DecimalText | number | null | undefined): Decimal | null {
  if (value === null || value === undefined || value === '') return null;
  try {
    const d = new Decimal(value);
    return d.isFinite() ? d : null;
  } catch {
    return null;
  }
}

/** Group the integer part in thousands with a narrow no-break space (numbers never wrap): "10000.5" → "10 000.5". */
function group(fixed: string): string {
  const [int, frac] = fixed.split('.');
  const sign = int.startsWith('-') ? '-' : '';
  const digits = sign ? int.slice(1) : int;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f');
  return `${sign}${grouped}${frac !== undefined ? `.${frac}` : ''}`;
}

/**
 * A fixed number of decimals, half-even (the venue's rounding), grouped in thousands.
 * @returns "—" when the value is missing or not a number.
 */
export function fixed(value: DecimalText | number | null | undefined, dp: number): string {
  const d = parse(value);
  if (d === null) return DASH;
  const r = d.toDecimalPlaces(dp, Decimal.ROUND_HALF_EVEN);
  return group(r.isZero() ? r.abs().toFixed(dp) : r.toFixed(dp));
}

/** USDT amount to the cent: "392.02468195" → "392.02 USDT" (unit omitted with `unit: false`). */
export function usdt(value: DecimalText | number | null | undefined, opts: { unit?: boolean; sign?: boolean } = {}): string {
  const s = fixed(value, 2);
  if (s === DASH) return s;
  const signed = opts.sign && !s.startsWith('-') && s !== '0.00' ? `+${s}` : s;
  return opts.unit === false ? signed : `${signed} USDT`;
}

/** A fraction as a percentage, 2 dp: "0.1234" → "12.34 %". */
export function pct(fraction: DecimalText | number | null | undefined, dp = 2): string {
  const d = parse(fraction);
  if (d === null) return DASH;
  return `${fixed(d.mul(100).toFixed(), dp)} %`;
}

/** A percentage already in per cent (e.g. the CLI's bufferToLiquidationPct): "3.456" → "3.46 %". */
export function percentValue(value: DecimalText | number | null | undefined, dp = 2): string {
  const s = fixed(value, dp);
  return s === DASH ? s : `${s} %`;
}

/** A result in R, 2 dp: "-1.0034" → "-1.00 R". */
export function rMultiple(value: DecimalText | number | null | undefined): string {
  const s = fixed(value, 2);
  return s === DASH ? s : `${s} R`;
}

/** A price in the quote asset to the tick shown (2 dp for BTCUSDT). */
export function price(value: DecimalText | null | undefined, dp = 2): string {
  return fixed(value, dp);
}

/** A quantity in the base asset (3 dp: BTCUSDT's step). Trailing zeros kept for alignment. */
export function qty(value: DecimalText | null | undefined, dp = 3): string {
  return fixed(value, dp);
}

/** Epoch ms → "2025-11-21 14:05 UTC" (seconds with `seconds: true`). */
export function utc(ts: number | null | undefined, opts: { seconds?: boolean } = {}): string {
  if (ts === null || ts === undefined || !Number.isFinite(ts)) return DASH;
  const iso = new Date(ts).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, opts.seconds ? 19 : 16)} UTC`;
}

/** Epoch ms → lightweight-charts' UTCTimestamp (whole seconds). */
export function chartTime(ts: number): number {
  return Math.floor(ts / 1000);
}

/** A decimal string → a number for plotting only (chart coordinates, never arithmetic). */
export function plot(value: DecimalText): number {
  return Number(value);
}

/** Meter and gauge colours, from safe to closing. */
export type Level = 'ok' | 'warn' | 'danger' | 'unknown';

/** The guard thresholds of a position (PositionView.guards), fractions as decimal strings. */
export interface GuardThresholds {
  marginRatioWarn: DecimalText;
  marginRatioClose: DecimalText;
  liquidationDistanceClose: DecimalText;
  /** Present when the server sends it; else twice the close share (the stop-monitor's default 0.1 vs 0.05). */
  liquidationDistanceWarn?: DecimalText;
}

/**
 * How much of the entry-to-liquidation distance the mark price has left, the quantity the
 * stop-monitor's liquidation-distance guard watches: |mark − liquidation| ÷ |entry − liquidation|,
 * clamped to [0, 1] (1 at the entry or better, 0 at the liquidation price).
 * @returns a fraction as a decimal string, or null when there is no liquidation price.
 */
export function liquidationShareLeft(entryPrice: DecimalText, markPrice: DecimalText, liquidationPrice: DecimalText | null, side: 'LONG' | 'SHORT'): string | null {
  const entry = parse(entryPrice);
  const mark = parse(markPrice);
  const liq = parse(liquidationPrice);
  if (entry === null || mark === null || liq === null) return null;
  const span = entry.minus(liq).abs();
  if (span.isZero()) return '0';
  // Beyond the liquidation price (long: mark below it) nothing is left.
  const left = side === 'LONG' ? mark.minus(liq) : liq.minus(mark);
  return Decimal.min(Decimal.max(left.div(span), 0), 1).toFixed();
}

/**
 * Colour of the liquidation meter: danger at or below the guard's close share of the
 * entry-to-liquidation distance, warn at or below the warn share, else ok.
 */
export function liquidationLevel(shareLeft: DecimalText | null, guards: GuardThresholds | null): Level {
  const s = parse(shareLeft);
  if (s === null || guards === null) return 'unknown';
  const close = new Decimal(guards.liquidationDistanceClose);
  const warn = guards.liquidationDistanceWarn !== undefined ? new Decimal(guards.liquidationDistanceWarn) : close.mul(2);
  if (s.lte(close)) return 'danger';
  if (s.lte(warn)) return 'warn';
  return 'ok';
}

/** Colour of the margin-ratio gauge (maintenance margin ÷ margin balance): warn and close thresholds. */
export function marginRatioLevel(marginRatio: DecimalText | null, guards: GuardThresholds | null): Level {
  const r = parse(marginRatio);
  if (r === null || guards === null) return 'unknown';
  if (r.gte(guards.marginRatioClose)) return 'danger';
  if (r.gte(guards.marginRatioWarn)) return 'warn';
  return 'ok';
}

/** A fraction clamped to [0, 100] as a CSS width percentage (display only). */
export function meterWidth(fraction: DecimalText | null): number {
  const f = parse(fraction);
  if (f === null) return 0;
  return Decimal.min(Decimal.max(f.mul(100), 0), 100).toDecimalPlaces(1).toNumber();
}

/** Colour of a trading state badge. */
export function tradingStateLevel(state: string): Level {
  if (state === 'ACTIVE') return 'ok';
  if (state === 'REDUCING' || state === 'PAUSED') return 'warn';
  if (state === 'HALTED') return 'danger';
  return 'unknown';
}

/** Sign class of an amount for colouring PnL: "pos", "neg" or "zero". */
export function signOf(value: DecimalText | null | undefined): 'pos' | 'neg' | 'zero' {
  const d = parse(value);
  if (d === null || d.isZero()) return 'zero';
  return d.isPositive() ? 'pos' : 'neg';
}

/** Leverage above this needs the explicit high-leverage confirmation (the domain's rule). */
export const HIGH_LEVERAGE_ABOVE = 5;

/** Is a form's text a decimal the API accepts (digits, optional fraction, optional sign)? */
export function isDecimalText(s: string, opts: { positive?: boolean } = {}): boolean {
  if (!/^-?\d+(\.\d+)?$/.test(s.trim())) return false;
  const d = new Decimal(s.trim());
  return opts.positive ? d.gt(0) : true;
}

/** Per cent typed by a person → the fraction the API takes: "1" → "0.01". */
export function percentToFraction(percent: string): string {
  return new Decimal(percent.trim()).div(100).toFixed();
}
