import { dec } from '@bulwark/domain';
import { BTCUSDT_FILES } from '@bulwark/testing';
import { type BacktestResult, runBacktest } from './backtest';
import { backtestReportData, mergeBars, withDrawdown } from './backtest-report-data';


describe('report helpers', () => {
  it('merges bars: open of the first, close of the last, extreme high and low; a short tail stays a bar', () => {
    const bars = [
      { openTime: 0, open: '10', high: '12', low: '9', close: '11' },
      { openTime: 60_000, open: '11', high: '15.5', low: '10', close: '14' },
      { openTime: 120_000, open: '14', high: '14.2', low: '8.25', close: '9' },
      { openTime: 180_000, open: '9', high: '9.5', low: '7', close: '7.5' },
    ];
    expect(mergeBars(bars, 3)).toEqual([
      { openTime: 0, open: '10', high: '15.5', low: '8.25', close: '9' },
      { openTime: 180_000, open: '9', high: '9.5', low: '7', close: '7.5' },
    ]);
    expect(mergeBars(bars, 1)).toEqual(bars);
  });

  it('gives each equity point its drawdown from the running peak as a fraction', () => {
    expect(withDrawdown([{ t: 1, equity: '10000' }, { t: 2, equity: '9500' }, { t: 3, equity: '10500' }, { t: 4, equity: '9450' }])).toEqual([
      { t: 1, equity: '10000', drawdownFraction: '0' },
      { t: 2, equity: '9500', drawdownFraction: '0.05' },
      { t: 3, equity: '10500', drawdownFraction: '0' },
      { t: 4, equity: '9450', drawdownFraction: '0.1' },
    ]);
  });
});

describe('backtestReportData on a real one-day backtest (BTCUSDT 2025-11-21, 10x, 1 %)', () => {
  let r: BacktestResult;
  beforeAll(async () => {
    r = await runBacktest({
      accountId: 'bt-report-data-spec', candles: BTCUSDT_FILES.candles1m, funding: BTCUSDT_FILES.fundingRates,
      capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true, from: Date.parse('2025-11-21T00:00:00Z'), to: Date.parse('2025-11-22T00:00:00Z'),
    });
  }, 300_000);
  afterAll(async () => {
    await r?.store.close();
  });

  it('carries the window\'s candles, the equity with its drawdown and every trade\'s levels, as plain JSON', async () => {
    const data = await backtestReportData(r, 'one day');
    expect(JSON.parse(JSON.stringify(data))).toEqual(data);
    expect(data.title).toBe('one day');

    // The day's 1440 one-minute candles, not merged; the run without its store.
    expect(data.candles).toHaveLength(1440);
    expect(data.chart).toEqual({ sourceBars: 1440, shownBars: 1440, barMs: 60_000, sourceBarMs: 60_000 });
    expect(data.candles[0].openTime).toBe(Date.parse('2025-11-21T00:00:00Z'));
    expect(data.result).not.toHaveProperty('store');
    expect(data.equity[0]).toEqual({ t: Date.parse('2025-11-21T00:00:00Z'), equity: '10000', drawdownFraction: '0' });
    const maxDd = data.equity.reduce((m, p) => (dec(p.drawdownFraction).gt(m) ? dec(p.drawdownFraction) : m), dec(0));
    expect(maxDd.gt(0)).toBe(true);

    expect(r.trades.length).toBeGreaterThan(0);
    expect(data.result.trades.length).toBe(r.trades.length);
    for (const t of data.result.trades) {
      for (const k of ['quantity', 'entryPrice', 'exitPrice', 'stopPrice', 'liquidationPrice'] as const) expect(t[k]).toMatch(/^\d+(\.\d+)?$/);
      const [entry, stop, liq] = [dec(t.entryPrice!), dec(t.stopPrice!), dec(t.liquidationPrice!)];
      // The stop sits between the entry and the liquidation price: risk closes the position first.
      if (t.side === 'LONG') expect(liq.lt(stop) && stop.lt(entry)).toBe(true);
      else expect(liq.gt(stop) && stop.gt(entry)).toBe(true);
      if (t.takeProfitPrice !== null) expect(t.side === 'LONG' ? dec(t.takeProfitPrice).gt(entry) : dec(t.takeProfitPrice).lt(entry)).toBe(true);
    }
  }, 120_000);
});
