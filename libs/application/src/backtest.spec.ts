import { dec } from '@bulwark/domain';
import { BTCUSDT_FILES, SPOT_BTCUSDT_FILES } from '@bulwark/testing';
import { findGaps, runBacktest } from './backtest';
import { comparableLog } from './log-compare';

const SPOT_APRIL_2021 = SPOT_BTCUSDT_FILES.candles1mApril2021;

describe('gaps in the data are detected and reported, never bridged', () => {
  it('finds the 2021-04-25 Binance spot maintenance window: after the 04:00 bar the next is 08:45, 284 bars missing (04:01–08:44)', async () => {
    const r = await findGaps(SPOT_APRIL_2021);
    expect(r.interval).toBe(60_000);
    expect(r.count).toBe(42_915);
    expect(r.gaps.filter((g) => g.kind === 'MISSING_BARS')).toEqual([
      { kind: 'MISSING_BARS', from: Date.parse('2021-04-25T04:01:00Z'), to: Date.parse('2021-04-25T08:45:00Z'), bars: 284 },
    ]);
  }, 120_000);

  it('reports the four flat zero-volume 15m bars of 2024-10-28 20:00–20:45 (a filled hole)', async () => {
    const r = await findGaps(BTCUSDT_FILES.candles15m, Date.parse('2024-10-28T00:00:00Z'), Date.parse('2024-10-29T00:00:00Z'));
    expect(r.interval).toBe(900_000);
    expect(r.gaps).toEqual([{ kind: 'FLAT_ZERO_VOLUME', from: Date.parse('2024-10-28T20:00:00Z'), to: Date.parse('2024-10-28T21:00:00Z'), bars: 4 }]);
  }, 120_000); // scans the whole 3-year file: seconds quiet, many more on a loaded machine
});

describe('runBacktest (in one process, the services\' own deciders)', () => {
  it('replays one real day and reports numbers that add up', async () => {
    const r = await runBacktest({
      accountId: 'bt-spec', candles: BTCUSDT_FILES.candles1m, funding: BTCUSDT_FILES.fundingRates,
      capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true, from: Date.parse('2025-11-21T00:00:00Z'), to: Date.parse('2025-11-22T00:00:00Z'),
    });
    expect(r.counters).toMatchObject({ candles: 1440, steps: 5760 });
    expect(r.stats.trades).toBe(r.summary.positionsClosed);
    expect(r.stats.trades).toBeGreaterThan(0);
    expect(r.stats.liquidations).toBe(0);
    const s = r.summary;
    expect(dec(s.finalEquity).toFixed()).toBe(dec(s.capital).plus(s.realisedPnl).minus(s.fees).plus(s.funding).minus(s.liquidationFees).plus(s.unrealisedPnl).toFixed());
    // Every trade's R is its net PnL over the risk taken at entry; the sum of net PnL is the equity change.
    const net = r.trades.reduce((a, t) => a.plus(t.netPnl), dec(0));
    expect(net.toFixed()).toBe(dec(s.finalEquity).minus(s.capital).toFixed());
    for (const t of r.trades) expect(dec(t.r).toFixed()).toBe(dec(t.netPnl).div(t.riskAmount).toDecimalPlaces(4).toFixed());
    expect(r.gaps).toEqual([]);
    expect(r.equityCurve[0]).toEqual({ t: Date.parse('2025-11-21T00:00:00Z'), equity: '10000' });
    expect(r.equityCurve[r.equityCurve.length - 1].equity).toBe(dec(s.finalEquity).toFixed());
  }, 60_000);

  it('is deterministic: the same data and configuration give the same events', async () => {
    const cfg = {
      accountId: 'bt-det', candles: BTCUSDT_FILES.candles1m, funding: BTCUSDT_FILES.fundingRates,
      capital: '10000', leverage: 5, riskPct: '1', confirmHighLeverage: false, from: Date.parse('2025-11-21T00:00:00Z'), to: Date.parse('2025-11-21T12:00:00Z'),
    };
    // Event ids are random and the rules' load time is the wall clock: comparableLog sets both aside.
    const a = await runBacktest(cfg);
    const b = await runBacktest(cfg);
    expect(await comparableLog(b.store)).toEqual(await comparableLog(a.store));
  }, 60_000);
});

describe('the month against its limit (README month, 5x, 1 %: the monthly pause on 2025-11-10)', () => {
  it('November: base 10,000, limit 400 (4 %), paused, realised net −444.31 (realised −177.23, fees 267.08), 44.31 past the limit; the worst trade and the losing streaks reported', async () => {
    const r = await runBacktest({
      accountId: 'bt-months', candles: BTCUSDT_FILES.candles1m, funding: BTCUSDT_FILES.fundingRates,
      capital: '10000', leverage: 5, riskPct: '1', confirmHighLeverage: false,
    });
    const nov = r.months.find((m) => m.month === '2025-11')!;
    expect(nov).toEqual({ month: '2025-11', base: '10000', limit: '400', realisedNet: '-444.31164905', paused: true, overshoot: '44.31164905' });
    // The month's realised net is the trades' own sum.
    const sum = r.trades.filter((t) => new Date(t.closedAt).toISOString().startsWith('2025-11')).reduce((a, t) => a.plus(t.netPnl), dec(0));
    expect(sum.toFixed()).toBe(nov.realisedNet);
    expect(Number(r.stats.worstTradeR)).toBeLessThan(-0.9); // a full stop-out costs about 1 R, fees included
    expect(r.stats.longestLosingStreak).toBeGreaterThanOrEqual(1);
  }, 300_000);
});
