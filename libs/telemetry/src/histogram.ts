/** A histogram's quantile estimates (see {@link histogramQuantiles}). */
export interface HistogramQuantiles {
  /** Observations in the histogram (its `+Inf` bucket, summed over its series). */
  count: number;
  /** One estimate per quantile asked, in the metric's unit; null when there is no observation. */
  quantiles: Array<number | null>;
}

/**
 * Quantiles of a Prometheus histogram read from a `/metrics` page (the text exposition format),
 * estimated as PromQL's `histogram_quantile` does: the bucket holding the rank, linear
 * interpolation within it (from 0 for the first bucket), the highest finite bound when the
 * rank falls in `+Inf`. The series of the metric (any labels) are summed bucket by bucket.
 * Source: https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile
 * @param text the `/metrics` page
 * @param name the histogram's name, without `_bucket` (e.g. `bulwark_tick_to_order_seconds`)
 * @param qs quantiles, each in [0, 1]
 * @throws RangeError for a quantile outside [0, 1]
 */
export function histogramQuantiles(text: string, name: string, qs: readonly number[]): HistogramQuantiles {
  for (const q of qs) if (!(q >= 0 && q <= 1)) throw new RangeError(`a quantile is in [0, 1], got ${q}`);
  const buckets = new Map<number, number>();
  const prefix = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const close = line.indexOf('}');
    const le = /(?:^|,)le="([^"]+)"/.exec(line.slice(prefix.length, close))?.[1];
    const value = Number(line.slice(close + 1).trim().split(/\s+/)[0]);
    if (le === undefined || !Number.isFinite(value)) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + value);
  }
  const sorted = [...buckets.entries()].sort(([a], [b]) => a - b);
  const count = sorted.at(-1)?.[1] ?? 0;
  const estimate = (q: number): number | null => {
    if (count === 0) return null;
    const rank = q * count;
    let [lower, below] = [0, 0];
    for (const [bound, cumulative] of sorted) {
      if (cumulative >= rank && cumulative > below) {
        if (bound === Infinity) return lower;
        return lower + (bound - lower) * ((rank - below) / (cumulative - below));
      }
      [lower, below] = [bound, cumulative];
    }
    return lower;
  };
  return { count, quantiles: qs.map(estimate) };
}
