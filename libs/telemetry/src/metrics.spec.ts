import { describe, expect, it } from '@jest/globals';
import { BulwarkMetrics, LIVE_FEED_METRIC_NAMES, METRIC_NAMES } from './metrics';

describe('bulwark_live_feed_lag_seconds', () => {
  it('is read from the live feed at each scrape, one series per symbol; no live feed, no series', async () => {
    const m = new BulwarkMetrics('market-data', false);
    const scrape = async () => (await m.registry.getSingleMetric('bulwark_live_feed_lag_seconds')!.get()).values;
    expect(await scrape()).toEqual([]);
    let lags = [
      { venue: 'binance-usdm', symbol: 'BTCUSDT', seconds: 12.5 },
      { venue: 'binance-usdm', symbol: 'ETHUSDT', seconds: 75 },
    ];
    m.liveFeedLags = () => lags;
    expect(await scrape()).toEqual([
      { value: 12.5, labels: { venue: 'binance-usdm', symbol: 'BTCUSDT' } },
      { value: 75, labels: { venue: 'binance-usdm', symbol: 'ETHUSDT' } },
    ]);
    // A symbol no longer fed loses its series; the next scrape sees the new value.
    lags = [{ venue: 'binance-usdm', symbol: 'BTCUSDT', seconds: 61 }];
    expect(await scrape()).toEqual([{ value: 61, labels: { venue: 'binance-usdm', symbol: 'BTCUSDT' } }]);
    m.liveFeedLags = null;
    expect(await scrape()).toEqual([]);
    expect(await m.registry.metrics()).toContain('# TYPE bulwark_live_feed_lag_seconds gauge');
  });

  it('is a metric name of the list, and the only one a replay of files never has', () => {
    expect(METRIC_NAMES).toEqual(expect.arrayContaining([...LIVE_FEED_METRIC_NAMES]));
    expect(LIVE_FEED_METRIC_NAMES).toEqual(['bulwark_live_feed_lag_seconds']);
  });
});
