/**
 * Parity: `bulwark backtest --market spot-margin` (runSpotMarginBacktest: the services in one
 * process, execution's MarginExecution on the in-process PaperMarginPort) gives the positions the
 * distributed demo gave for the same window (`npm run demo -- --market spot-margin`, six
 * services over NATS, the local spot-margin venue through ccxt, driven by the replay): the six
 * hours of the 2024-08-05 crash, 2024-08-04 22:00 – 2024-08-05 04:00, on the recorded BTCUSDT spot
 * candles, capital 10000 USDT, leverage 5, risk 1 %. The expected numbers were recorded from the
 * demo's run of that window. No NATS needed.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { runSpotMarginBacktest } from '@bulwark/application';
import { dec } from '@bulwark/domain';
import { defaultSpotMarginCandles } from './demo';
import { formatMarginReport } from './format';
import { main } from './main';

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
