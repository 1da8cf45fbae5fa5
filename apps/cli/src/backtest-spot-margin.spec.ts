/**
 * Parity: `bulwark backtest --market spot-margin` (runSpotMarginBacktest: the services in one
 * process, execution's MarginExecution on the in-process PaperMarginPort) gives the positions the
 * distributed demo gave for the same window (`npm run demo -- --market spot-margin`, six
 * services over NATS, the local spot-margin venue through ccxt, driven by the replay): the six
 * hours of the 2024-08-05 crash, 2024-08-04 22:00 – 2024-08-05 04:00, on the recorded BTCUSDT spot
 * candles, capital 10000 USDT, leverage 5, risk 1 %. The expected numbers were recorded from the
 * demo's run of that window. No NATS needed.
 */
import * as path from 'node:path';
import { describe, expect, it, jest } from '@jest/globals';
import { runSpotMarginBacktest } from '@bulwark/application';
import { dec } from '@bulwark/domain';
import { defaultSpotMarginCandles } from './demo';
import { formatMarginReport } from './format';
import { main } from './main';

/** The guard's bars from the highest level to the lowest (MarginLevelAlert.bar). */
const BARS = ['transferOut', 'borrow', 'marginCall', 'liquidation'] as const;

/**
 * Where a guard-line sequence (`bar DIRECTION (level)`, MarginRunReport.guard) breaks the order
 * of crossings: a level falls through the bars from the highest down and climbs back from the
 * lowest up, each bar once per crossing. Reductions are not crossings and are skipped.
 * @returns one message per line out of order (empty: in order)
 */
function outOfOrder(guard: readonly string[]): string[] {
  const below = new Set<string>();
  const errors: string[] = [];
  guard.forEach((line, i) => {
    const [bar, direction] = line.split(' ') as [string, string];
    const k = BARS.indexOf(bar as (typeof BARS)[number]);
    if (k < 0) return;
    const ok = direction === 'DOWN'
      ? !below.has(bar) && BARS.slice(0, k).every((b) => below.has(b))
      : below.has(bar) && BARS.slice(k + 1).every((b) => !below.has(b));
    if (!ok) errors.push(`#${i} ${line} after ${[...below].join(',') || 'nothing below'}`);
    if (direction === 'DOWN') below.add(bar);
    else below.delete(bar);
  });
  return errors;
}

const FROM = Date.parse('2024-08-04T22:00:00Z');
const TO = Date.parse('2024-08-05T04:00:00Z');

/** The distributed demo's positions of the window: side, quantity, entry → exit, status. */
const DEMO = [
  { side: 'SHORT', quantity: '0.28349', entryPrice: '57954', exitPrice: '57464.78', status: 'CLOSED' },
  { side: 'SHORT', quantity: '0.19611', entryPrice: '57405.42', exitPrice: '56600.44', status: 'CLOSED' },
  { side: 'SHORT', quantity: '0.15921', entryPrice: '56501.02', exitPrice: '55270', status: 'CLOSED' },
  { side: 'SHORT', quantity: '0.10265', entryPrice: '53162.4', exitPrice: '54822.8', status: 'STOPPED_OUT' },
];

describe('backtest --market spot-margin equals the distributed demo', () => {
  it('the six hours of 2024-08-05: the same four positions, prices, statuses and a net PnL of 237.55 USDT', async () => {
    const r = await runSpotMarginBacktest({ accountId: 'bt-spot-margin-parity', candles: defaultSpotMarginCandles(), capital: '10000', leverage: 5, riskPct: '1', from: FROM, to: TO });
    const m = r.margin;
    expect(r.candles).toBe(360);
    expect(r.steps).toBe(1440);
    expect(m.positions.map((p) => ({ side: p.side, quantity: p.quantity, entryPrice: p.entryPrice, exitPrice: p.exitPrice, status: p.status }))).toEqual(DEMO);
    expect(m.liquidations).toBe(0);
    expect(m.guard).toEqual(['transferOut DOWN (1.6076)', 'transferOut UP (nothing owed)', 'transferOut DOWN (1.8967)', 'transferOut UP (nothing owed)']);
    // Every position came from an approved intent of the strategy.
    expect(m.positions.every((p) => p.requestId !== null && p.requestId.startsWith('i'))).toBe(true);
    const net = m.positions.reduce((a, p) => a.plus(dec(p.netPnl!)), dec(0));
    expect(dec(m.pair!.netPnlTotal).eq(net)).toBe(true);
    expect(net.toDecimalPlaces(2).toFixed(2)).toBe('237.55');
    // The CLI's summary of it.
    const text = formatMarginReport(r);
    expect(text).toContain('237.55 USDT');
    expect(text).toContain('STOPPED_OUT');
    console.log(`${m.positions.map((p) => `#${p.sequence} ${p.side} ${p.quantity} @ ${p.entryPrice} → ${p.exitPrice} ${p.status} net ${p.netPnl}`).join('\n')}\nnet ${net.toFixed()} (${r.wallMs} ms)`);
  }, 300_000);

  it('`bulwark backtest --market spot-margin --json` answers the same positions; --funding is refused (exit 2)', async () => {
    const out: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      expect(await main(['backtest', '--market', 'spot-margin', '--from', '2024-08-04T22:00:00Z', '--to', '2024-08-05T04:00:00Z', '--json'])).toBe(0);
      const [r] = JSON.parse(out.join('\n')) as Array<{ candles: number; margin: { positions: Array<Record<string, unknown>> } }>;
      expect(r!.candles).toBe(360);
      expect(r!.margin.positions.map((p) => ({ side: p.side, quantity: p.quantity, entryPrice: p.entryPrice, exitPrice: p.exitPrice, status: p.status }))).toEqual(DEMO);
      expect(await main(['backtest', '--market', 'spot-margin', '--funding', 'x.csv'])).toBe(2);
      expect(error.mock.calls.flat().join('\n')).toContain('--funding applies to futures backtests only');
    } finally {
      log.mockRestore();
      error.mockRestore();
    }
  }, 300_000);
});

/**
 * The recorded spot crashes (Binance BTCUSDT spot 1m in the data directory's binance-spot): 2021-05-19,
 * 2021-12-04 (early UTC) and 2024-08-05, each window from a fresh account that trades into the crash
 * before the monthly drawdown pause (4 %) stops its entries.
 */
const CRASHES = [
  { file: 'BTCUSDT-1m-2021-04-20_2021-05-20.csv', from: '2021-05-19T00:00:00Z', to: '2021-05-21T00:00:00Z' },
  { file: 'BTCUSDT-1m-2021-11-11_2021-12-11.csv', from: '2021-12-03T22:00:00Z', to: '2021-12-06T00:00:00Z' },
  { file: 'BTCUSDT-1m-2024-07-26_2024-08-25.csv', from: '2024-08-04T12:00:00Z', to: '2024-08-07T00:00:00Z' },
];

describe('the spot crash months: the services in one process on each crash', () => {
  it.each(CRASHES)('$file, $from → $to: no liquidation, every position closed by its stop, its take-profit or the guard, the guard\'s crossings in order', async ({ file, from, to }) => {
    const candles = path.join(path.dirname(defaultSpotMarginCandles()), file);
    const r = await runSpotMarginBacktest({ accountId: `bt-crash-${file.slice(11, 21)}`, candles, capital: '10000', leverage: 5, riskPct: '1', from: Date.parse(from), to: Date.parse(to) });
    const m = r.margin;
    expect(r.candles).toBeGreaterThan(2000);
    expect(m.positions.length).toBeGreaterThan(0);
    expect(m.liquidations).toBe(0);
    expect(m.positions.every((p) => p.status === 'STOPPED_OUT' || p.status === 'CLOSED')).toBe(true);
    // A stopped-out position left at or through its stop, never before it.
    for (const p of m.positions.filter((x) => x.status === 'STOPPED_OUT')) {
      expect(p.side === 'LONG' ? dec(p.exitPrice!).lte(dec(p.stopPrice)) : dec(p.exitPrice!).gte(dec(p.stopPrice))).toBe(true);
    }
    // On 2021-05-19 the crash's wide stops size small loans that never take the level below 2: no crossing at all.
    expect(outOfOrder(m.guard)).toEqual([]);
    // The venue's own bars are never reached.
    expect(m.guard.filter((g) => g.startsWith('marginCall') || g.startsWith('liquidation'))).toEqual([]);
  }, 300_000);

  it('the order check can fail: a bar skipped on the way down or climbed before a lower one is reported', () => {
    expect(outOfOrder(['borrow DOWN (1.4)'])).toEqual(['#0 borrow DOWN (1.4) after nothing below']);
    expect(outOfOrder(['transferOut DOWN (1.4)', 'borrow DOWN (1.4)', 'transferOut UP (2.1)'])).toHaveLength(1);
    expect(outOfOrder(['transferOut DOWN (1.4)', 'borrow DOWN (1.4)', 'borrow UP (1.6)', 'transferOut UP (nothing owed)', 'reduction at 1.2'])).toEqual([]);
  });
});
