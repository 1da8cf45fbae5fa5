/**
 * End-to-end: `npm run demo -- --market spot-margin` over six hours of the 2024-08-05 crash
 * (2024-08-04 22:00 – 2024-08-05 04:00, real BTCUSDT spot candles): the strategy decides when,
 * risk lets each entry through its gate, execution sizes it from the isolated equity and trades
 * it through unmodified ccxt `binance` on the local spot-margin venue, whose clock the replay
 * drives step by step; the Iron Exit, the take-profit and the guard close every position. Needs
 * the workspace built (`npm test` builds first) and NATS with JetStream.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Streams } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { JetStreamEventStore } from '@bulwark/event-store';
import type { NatsConnection } from 'nats';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';
import { defaultSpotMarginCandles, type DemoReport, runDemo } from './demo';
import { formatMarginReport } from './format';

const bus = isolatedBus('spotmargin');
const accountId = `e2e-spot-margin-${bus.tag}`;
const FROM = Date.parse('2024-08-04T22:00:00Z');
const TO = Date.parse('2024-08-05T04:00:00Z');

let nc: NatsConnection;
let report: DemoReport;

beforeAll(async () => {
  nc = await openIsolatedBus(bus);
  report = await runDemo({
    candles: defaultSpotMarginCandles(), funding: null, speed: 0, capital: '10000', leverage: 5, riskPct: '1', confirmHighLeverage: false,
    from: FROM, to: TO, accountId, bus, logDir: path.join(os.tmpdir(), `bulwark-e2e-${bus.tag}`), market: 'spot-margin',
  });
}, 600_000);

afterAll(async () => {
  await dropIsolatedBus(nc, bus);
  await nc.drain();
});

describe('demo --market spot-margin (six services, the local spot-margin venue through ccxt, driven by the replay)', () => {
  it('trades the six hours: every position opened by an approved entry, closed by its stop, its take-profit or the guard; no liquidation; the guard\'s crossings in order', () => {
    const m = report.margin!;
    expect(report.candles).toBe(360);
    expect(m.positions.length).toBeGreaterThanOrEqual(2);
    expect(m.liquidations).toBe(0);
    // The guard's crossings in log order, the same the in-process backtest of the window records (backtest-spot-margin.spec).
    expect(m.guard).toEqual(['transferOut DOWN (1.6076)', 'transferOut UP (nothing owed)', 'transferOut DOWN (1.8967)', 'transferOut UP (nothing owed)']);
    expect(m.positions.every((p) => p.status === 'STOPPED_OUT' || p.status === 'CLOSED')).toBe(true);
    expect(m.positions.every((p) => p.requestId !== null && p.requestId.startsWith('i'))).toBe(true);
    // Each stopped-out position left at or through its stop (a gap fills beyond it, never before).
    for (const p of m.positions.filter((x) => x.status === 'STOPPED_OUT')) {
      expect(p.side === 'LONG' ? dec(p.exitPrice!).lte(dec(p.stopPrice)) : dec(p.exitPrice!).gte(dec(p.stopPrice))).toBe(true);
    }
    expect(formatMarginReport(report)).toContain('liquidations');
  });

  it("the results add up: the pair's net PnL is the sum of its positions' and, with the capital, the equity the venue reported after the last close", async () => {
    const m = report.margin!;
    const sum = m.positions.reduce((a, p) => a.plus(dec(p.netPnl!)), dec(0));
    expect(dec(m.pair!.netPnlTotal).eq(sum)).toBe(true);
    const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
    const closes = (await store.readStream(Streams.margin(accountId, 'BTCUSDT'))).filter((e) => e.type === 'MarginPositionClosed');
    const equityAfter = dec((closes[closes.length - 1]!.data as { equityAfter: string }).equityAfter);
    // Valued at the exit price vs the index price a moment later, and the base dust a close cannot sell: within a cent.
    expect(equityAfter.minus(dec('10000').plus(sum)).abs().lt(dec('0.01'))).toBe(true);
    // Risk counted each entry and each result (the same numbers), on the account stream.
    const account = await store.readStream(Streams.account(accountId));
    const results = account.filter((e) => e.type === 'PositionResultRecorded').map((e) => (e.data as { netPnl: string }).netPnl);
    expect(results).toEqual(closes.map((e) => (e.data as { netPnl: string }).netPnl));
    expect(account.filter((e) => e.type === 'MarginEntryApproved')).toHaveLength(m.positions.length);
  });
});
