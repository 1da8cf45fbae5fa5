import type { Candle } from '@bulwark/contracts';
import { comparePlainDecimals, dec, type D, type DecimalInput, PLAIN_DECIMAL } from './money';

/**
 * Is this a possible bar? high bounds open and close from above, low from below, low > 0.
 * (Decimal comparison of the candle's exact values.)
 */
export function isConsistentBar(open: D, high: D, low: D, close: D): boolean {
  return high.gte(open) && high.gte(close) && low.lte(open) && low.lte(close) && low.gt(0);
}

/**
 * {@link isConsistentBar} on the candle file's text: the same exact comparisons done on plain
 * decimal strings ({@link comparePlainDecimals}; the CSV reader has checked their form), so a
 * file's rows are checked without parsing four decimals each.
 */
export function isConsistentPlainBar(open: string, high: string, low: string, close: string): boolean {
  return comparePlainDecimals(high, open) >= 0 && comparePlainDecimals(high, close) >= 0 && comparePlainDecimals(low, open) <= 0 && comparePlainDecimals(low, close) <= 0 && comparePlainDecimals(low, '0') > 0;
}

/**
 * The explicit intra-bar price path of a closed candle: open → low → high → close for a
 * rising bar (close >= open), open → high → low → close for a falling one. Which extreme
 * came first is unknown from OHLC alone; this convention is the common pessimistic-neutral
 * choice and is fixed so every run is reproducible.
 * @returns the four prices of the path, as strings.
 */
export function intraBarPath(c: Pick<Candle, 'open' | 'high' | 'low' | 'close'>): [string, string, string, string] {
  // Plain decimals (what candle files and the Candle contract carry) compare on their text, exactly.
  const rising = PLAIN_DECIMAL.test(c.close) && PLAIN_DECIMAL.test(c.open) ? comparePlainDecimals(c.close, c.open) >= 0 : dec(c.close).gte(dec(c.open));
  return rising ? [c.open, c.low, c.high, c.close] : [c.open, c.high, c.low, c.close];
}

/** Offsets (ms after the bar's open) at which the path points of a 1-minute bar are stamped; the last is its close time. */
export const PATH_OFFSETS_MS = [0, 20_000, 40_000, 59_999] as const;

/** Kline interval labels (Binance's, also Bitget's for these) and their length in ms. */
export const KLINE_INTERVAL_MS: Readonly<Record<string, number>> = {
  '1m': 60_000, '3m': 180_000, '5m': 300_000, '15m': 900_000, '30m': 1_800_000,
  '1h': 3_600_000, '2h': 7_200_000, '4h': 14_400_000, '6h': 21_600_000, '8h': 28_800_000, '12h': 43_200_000, '1d': 86_400_000,
};

/**
 * The length of a kline interval ("1m", "15m", "1h" …), ms.
 * @throws RangeError for a label that is not a kline interval
 */
export function klineIntervalMs(interval: string): number {
  const ms = KLINE_INTERVAL_MS[interval];
  if (ms === undefined) throw new RangeError(`"${interval}" is not a kline interval (${Object.keys(KLINE_INTERVAL_MS).join(', ')})`);
  return ms;
}

/** Path-point offsets of a bar of `intervalMs`: open, one third, two thirds, close time (open + interval − 1 ms). */
export function pathOffsets(intervalMs: number): [number, number, number, number] {
  const third = Math.floor(intervalMs / 3);
  return [0, third, 2 * third, intervalMs - 1];
}

/** One step of the path: price moves from `from` to `to`, as a jump when `gap` is true. */
export interface PathStep {
  pathIndex: 0 | 1 | 2 | 3;
  ts: number;
  from: string;
  to: string;
  gap: boolean;
}

/**
 * The four steps of a candle's path. Step 0 jumps from the previous close (or the open for
 * the first candle) to the open; steps 1–3 move continuously between path points.
 */
export function pathSteps(c: Candle, previousClose: string | null, intervalMs = 60_000): PathStep[] {
  const p = intraBarPath(c);
  const offsets = pathOffsets(intervalMs);
  return p.map((to, i) => ({
    pathIndex: i as 0 | 1 | 2 | 3,
    ts: c.openTime + offsets[i],
    from: i === 0 ? previousClose ?? c.open : p[i - 1],
    to,
    gap: i === 0,
  }));
}

/** Where a level is met on a step: the price at which it triggers and how far along the step (0..1). */
export interface Crossing {
  price: D;
  fraction: D;
}

/**
 * Does the price, moving over a step, reach `level` from above (`direction` 'down': a long's
 * stop, a long's liquidation, a sell-side... ) or from below ('up')?
 * - Already at or beyond the level at the step's start: triggers at the start price, fraction 0.
 * - A continuous step that reaches the level: triggers at the level itself.
 * - A gap that jumps over the level: triggers at the price after the jump (`to`), fraction 0
 *   (the jump is instantaneous; nothing trades in between).
 * @returns the crossing, or null when the level is not reached.
 */
export function crossing(step: { from: DecimalInput; to: DecimalInput; gap: boolean }, level: D, direction: 'down' | 'up'): Crossing | null {
  const from = dec(step.from);
  const to = dec(step.to);
  const beyond = (p: D) => (direction === 'down' ? p.lte(level) : p.gte(level));
  if (step.gap) {
    if (beyond(to)) return { price: to, fraction: dec(0) };
    return null;
  }
  if (beyond(from)) return { price: from, fraction: dec(0) };
  if (!beyond(to)) return null;
  return { price: level, fraction: from.minus(level).div(from.minus(to)) };
}
