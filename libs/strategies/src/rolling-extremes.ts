/**
 * The highest and the lowest of the last `period` values of a series, updated in O(1)
 * amortised per value with two monotonic deques (each value enters and leaves each deque at
 * most once; see e.g. Lemire, "Streaming maximum-minimum filter using no more than three
 * comparisons per element", 2006). It answers what trading-signals' `Period` answers (the
 * same numbers: a maximum and a minimum are exact in floating point), without rescanning the
 * window on every value.
 */
export class RollingExtremes {
  private count = 0;
  /** Indices (in the series) and values of the maximum deque: values strictly decreasing from `maxHead`. */
  private readonly maxAt: number[] = [];
  private readonly maxOf: number[] = [];
  private maxHead = 0;
  /** The minimum deque: values strictly increasing from `minHead`. */
  private readonly minAt: number[] = [];
  private readonly minOf: number[] = [];
  private minHead = 0;

  /** @throws RangeError when `period` is not an integer >= 1 */
  constructor(readonly period: number) {
    if (!Number.isInteger(period) || period < 1) throw new RangeError(`period must be an integer >= 1, got ${period}`);
  }

  /**
   * Add the next value of the series.
   * @returns the highest and lowest of the last `period` values, or null while fewer than `period` were added
   */
  update(value: number): { highest: number; lowest: number } | null {
    const i = this.count++;
    while (this.maxOf.length > this.maxHead && this.maxOf[this.maxOf.length - 1] <= value) {
      this.maxOf.pop();
      this.maxAt.pop();
    }
    this.maxOf.push(value);
    this.maxAt.push(i);
    while (this.minOf.length > this.minHead && this.minOf[this.minOf.length - 1] >= value) {
      this.minOf.pop();
      this.minAt.pop();
    }
    this.minOf.push(value);
    this.minAt.push(i);
    const oldest = i - this.period + 1;
    while (this.maxAt[this.maxHead] < oldest) this.maxHead++;
    while (this.minAt[this.minHead] < oldest) this.minHead++;
    this.compact();
    return this.count < this.period ? null : { highest: this.maxOf[this.maxHead], lowest: this.minOf[this.minHead] };
  }

  /** Drop the dead heads of the arrays now and then, so memory stays O(period). */
  private compact(): void {
    if (this.maxHead > 1024 && this.maxHead * 2 > this.maxOf.length) {
      this.maxOf.splice(0, this.maxHead);
      this.maxAt.splice(0, this.maxHead);
      this.maxHead = 0;
    }
    if (this.minHead > 1024 && this.minHead * 2 > this.minOf.length) {
      this.minOf.splice(0, this.minHead);
      this.minAt.splice(0, this.minHead);
      this.minHead = 0;
    }
  }
}
