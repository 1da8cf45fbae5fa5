import { Histogram, Registry } from 'prom-client';
import { histogramQuantiles } from './histogram';

/** A /metrics page of one histogram with these observations (prom-client's own text format). */
async function page(observations: number[], buckets = [0.01, 0.1, 1], labels: Record<string, string>[] = [{}]): Promise<string> {
  const registry = new Registry();
  const h = new Histogram({ name: 'x_seconds', help: 'x', buckets, labelNames: ['service'], registers: [registry] });
  for (const l of labels) for (const o of observations) h.observe(l, o);
  return registry.metrics();
}

describe('histogramQuantiles (PromQL histogram_quantile on a /metrics page)', () => {
  it('interpolates within the bucket holding the rank', async () => {
    // 10 observations: 4 ≤ 0.01, 5 in (0.01, 0.1], 1 in (0.1, 1].
    const text = await page([0.001, 0.002, 0.005, 0.009, 0.02, 0.03, 0.05, 0.07, 0.09, 0.5]);
    const { count, quantiles } = histogramQuantiles(text, 'x_seconds', [0.2, 0.5, 0.99]);
    expect(count).toBe(10);
    // rank 2 of 4 in [0, 0.01] → 0.005; rank 5: 1 of 5 in (0.01, 0.1] → 0.028; rank 9.9: 0.9 of 1 in (0.1, 1] → 0.91.
    expect(quantiles.map((q) => Number(q!.toFixed(6)))).toEqual([0.005, 0.028, 0.91]);
  });

  it('sums the series of the metric, answers the highest finite bound in +Inf and null without observations', async () => {
    const two = await page([0.05, 5], [0.01, 0.1, 1], [{ service: 'a' }, { service: 'b' }]);
    // Cumulative 0, 2, 2, 4: rank 1 is half-way through (0.01, 0.1]; rank 3.96 falls in +Inf.
    const { count, quantiles } = histogramQuantiles(two, 'x_seconds', [0.25, 0.99]);
    expect(count).toBe(4);
    expect(quantiles[0]).toBeCloseTo(0.055, 12);
    expect(quantiles[1]).toBe(1);
    expect(histogramQuantiles(await page([]), 'x_seconds', [0.5])).toEqual({ count: 0, quantiles: [null] });
    expect(histogramQuantiles('', 'x_seconds', [0.5])).toEqual({ count: 0, quantiles: [null] });
    expect(() => histogramQuantiles('', 'x_seconds', [1.5])).toThrow(RangeError);
  });
});
