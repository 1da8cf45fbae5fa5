/**
 * The lifetime drawdown kill switch in the distributed system (six services over NATS, JetStream
 * log) on a real day: 2025-11-10 (Binance USDⓈ-M BTCUSDT 1m, shared/data) at 10x, the monthly
 * limit out of the way (50 %) and the switch at 5 % below the equity peak. It fires once: HALTED
 * and flattened by risk, every later intent denied TRADING_HALTED until an operator's resume
 * with a reason (scheduled in market time), after which the account is ACTIVE again; the audit
 * trail holds each step, and the in-process backtest decides the same.
 * Needs the services built (`npm test` builds first) and nats-server.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { runBacktest } from '@bulwark/application';
import { type EventData, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { JetStreamEventStore } from '@bulwark/event-store';
import type { NatsConnection } from 'nats';
import { belongsTo, defaultDemoFiles, runDemo } from './demo';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';

const bus = isolatedBus('ltd');
let nc: NatsConnection | undefined;
afterAll(async () => {
  if (nc) {
    await dropIsolatedBus(nc, bus);
    await nc.drain();
  }
});

describe('lifetime drawdown kill switch, distributed (2025-11-10 at 10x, switch at 5 %)', () => {
  it('fires once: HALTED and flattened by risk, entries denied until a resume with a reason; the same decisions as in process', async () => {
    const files = defaultDemoFiles();
    const accountId = `ltd-${bus.tag}`;
    const resumeAt = Date.parse('2025-11-10T18:00:00Z');
    const common = {
      candles: files.candles, funding: files.funding, capital: '10000', leverage: 10, riskPct: '1', confirmHighLeverage: true,
      from: Date.parse('2025-11-10T00:00:00Z'), to: Date.parse('2025-11-11T00:00:00Z'),
      policy: { maxMonthlyDrawdownFraction: '0.5', maxLifetimeDrawdownFraction: '0.05' },
      schedule: [{ at: resumeAt, subject: Subjects.resumeTrading, payload: { accountId, reason: 'drawdown reviewed', by: 'erin' } }],
    };
    nc = await openIsolatedBus(bus); // as admin: creates the bus's streams (the demo's driver may not)
    const report = await runDemo({ ...common, speed: 0, accountId, bus, logDir: path.join(os.tmpdir(), `bulwark-ltd-${bus.tag}`) });
    const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
    const ev: RecordedEvent[] = [];
    for await (const e of store.readAll({ fromPosition: report.firstPosition })) if (belongsTo(e, accountId)) ev.push(e);
    const acct = ev.filter((e) => e.streamId === `account-${accountId}`);
    const breaches = acct.filter((e) => e.type === 'LifetimeDrawdownBreached');
    expect(breaches).toHaveLength(1);
    const breach = breaches[0];
    expect(Number((breach.data as EventData<'LifetimeDrawdownBreached'>).drawdownFraction)).toBeGreaterThanOrEqual(0.05);
    const i = acct.indexOf(breach);
    expect(acct.slice(i + 1, i + 3).map((e) => [e.type, (e.data as { by?: string; state?: string }).by, (e.data as { state?: string }).state])).toEqual([
      ['TradingStateChanged', 'risk', 'HALTED'],
      ['FlattenRequested', 'risk', undefined],
    ]);
    // Between the breach and the resume: no entry, only TRADING_HALTED denials; flat.
    const between = ev.filter((e) => e.metadata.tsEvent >= breach.metadata.tsEvent && e.metadata.tsEvent < resumeAt && e.position > breach.position);
    expect(between.filter((e) => e.type === 'EntryApproved')).toEqual([]);
    expect(new Set(between.filter((e) => e.type === 'EntryDenied').map((e) => (e.data as EventData<'EntryDenied'>).reason))).toEqual(new Set(['TRADING_HALTED']));
    // The resume: recorded with who and why, ACTIVE again.
    const resumed = acct.find((e) => e.type === 'TradingResumed')!;
    expect(resumed.data).toMatchObject({ pausedReason: 'LIFETIME_DRAWDOWN_LIMIT', by: 'erin', reason: 'drawdown reviewed' });
    expect(acct[acct.indexOf(resumed) + 1]).toMatchObject({ type: 'TradingStateChanged', data: { state: 'ACTIVE', previous: 'HALTED', by: 'erin' } });
    expect(report.summary.openPositions).toBe(0);
    // The in-process backtest decides the same.
    const bt = await runBacktest({ ...common, accountId });
    expect(report.summary).toEqual(bt.summary);
    expect(report.denials).toEqual(bt.decisions.denials);
  }, 600_000);
});
