/**
 * End-to-end: the risk engine's breakers over the real month of 2025-11-10 → 2025-12-10
 * (Binance USDⓈ-M BTCUSDT, the sell-off from 107,473.7 to 80,600), at 10x and at 20x, with
 * the six services as processes. Checks that the monthly drawdown breakers fire in order
 * (alert at 50 %, alert at 75 %, pause at the limit), that no entry is approved while
 * paused, that a resume by command (scheduled in market time) is recorded and lets entries
 * through again, and that no position is liquidated.
 *
 * The 10x month runs distributed (the six services as processes over NATS: the smoke test of the
 * breakers across processes); the 20x month runs in process (`runBacktest`, the same deciders), as
 * parity.e2e.spec.ts proves the two decide alike, so the suite pays for one distributed month.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runBacktest } from '@bulwark/application';
import { type RecordedEvent, Subjects } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { JetStreamEventStore } from '@bulwark/event-store';
import type { NatsConnection } from 'nats';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';
import { belongsTo, defaultDemoFiles, type DemoReport, runDemo } from './demo';

const bus = isolatedBus('brk');
const tag = bus.tag;
/** Market time of the operator's resume command (after the November pause of both runs). */
const RESUME_AT = Date.parse('2025-11-26T00:00:00Z');

let nc: NatsConnection;
let store: JetStreamEventStore;
const runs: Record<string, { report: Pick<DemoReport, 'candles' | 'summary'>; events: RecordedEvent[] }> = {};

const resume = (accountId: string) => [{ at: RESUME_AT, subject: Subjects.resumeTrading, payload: { accountId, reason: 'reviewed the November drawdown; resuming', by: 'e2e-operator' } }];

/** The month through the six services as processes. */
async function distributedMonth(leverage: number): Promise<void> {
  const accountId = `brk${leverage}x-${tag}`;
  const files = defaultDemoFiles();
  const report = await runDemo({
    candles: files.candles,
    funding: files.funding,
    speed: 0,
    capital: '10000',
    leverage,
    riskPct: '1',
    confirmHighLeverage: true,
    from: null,
    to: null,
    accountId,
    bus,
    logDir: path.join(os.tmpdir(), `bulwark-breakers-${tag}-${leverage}`),
    schedule: resume(accountId),
  });
  const events: RecordedEvent[] = [];
  for await (const e of store.readAll({ fromPosition: report.firstPosition })) if (belongsTo(e, accountId)) events.push(e);
  runs[`${leverage}x`] = { report, events };
}

/** The same month with the same deciders in one process (its own in-memory log). */
async function inProcessMonth(leverage: number): Promise<void> {
  const accountId = `brk${leverage}x-${tag}`;
  const files = defaultDemoFiles();
  const r = await runBacktest({
    accountId, candles: files.candles, funding: files.funding, capital: '10000', leverage, riskPct: '1', confirmHighLeverage: true, from: null, to: null, schedule: resume(accountId),
  });
  const events: RecordedEvent[] = [];
  for await (const e of r.store.readAll()) if (belongsTo(e, accountId)) events.push(e);
  await r.store.close();
  runs[`${leverage}x`] = { report: { candles: r.counters.candles, summary: r.summary }, events };
}

beforeAll(async () => {
  nc = await openIsolatedBus(bus);
  store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  await distributedMonth(10);
  await inProcessMonth(20);
}, 1_200_000);

afterAll(async () => {
  await dropIsolatedBus(nc, bus);
  await store.close().catch(() => undefined);
  await nc.drain();
});

describe.each(['10x', '20x'])('the 2025-11 month at %s', (lev) => {
  const ev = () => runs[lev].events;
  const idx = (pred: (e: RecordedEvent) => boolean) => ev().findIndex(pred);

  it('replays all 44,239 candles and liquidates nothing', () => {
    expect(runs[lev].report.candles).toBe(44239);
    expect(ev().filter((e) => e.type === 'PositionLiquidated')).toHaveLength(0);
    expect(runs[lev].report.summary.liquidations).toBe(0);
  });

  it('records the configuration with the high-leverage confirmation', () => {
    const opened = ev().find((e) => e.type === 'AccountOpened')!;
    expect(opened.data).toMatchObject({ leverage: Number(lev.slice(0, -1)), highLeverageConfirmed: true, leverageCap: 20, maxMonthlyDrawdownFraction: '0.04' });
  });

  it('fires the monthly drawdown breakers in order: alert 50 %, alert 75 %, pause at the limit', () => {
    const alert50 = idx((e) => e.type === 'DrawdownAlert' && (e.data as { threshold: string }).threshold === '0.5');
    const alert75 = idx((e) => e.type === 'DrawdownAlert' && (e.data as { threshold: string }).threshold === '0.75');
    const pause = idx((e) => e.type === 'TradingPaused' && (e.data as { reason: string }).reason === 'MONTHLY_DRAWDOWN_LIMIT');
    expect(alert50).toBeGreaterThanOrEqual(0);
    expect(alert75).toBeGreaterThan(alert50);
    expect(pause).toBeGreaterThanOrEqual(alert75);
    const a50 = ev()[alert50].data as { drawdownFraction: string };
    const a75 = ev()[alert75].data as { drawdownFraction: string };
    const p = ev()[pause].data as { loss: string; limit: string };
    expect(dec(a50.drawdownFraction).gte('0.02')).toBe(true);
    expect(dec(a75.drawdownFraction).gte('0.03')).toBe(true);
    expect(dec(p.loss).gte(dec(p.limit))).toBe(true);
    expect(ev()[pause].metadata.tsEvent).toBeLessThan(RESUME_AT);
  });

  it('approves no entry while paused, and only TRADING_PAUSED denials reach the log then', () => {
    const pause = idx((e) => e.type === 'TradingPaused' && (e.data as { reason: string }).reason === 'MONTHLY_DRAWDOWN_LIMIT');
    const resumed = idx((e) => e.type === 'TradingResumed');
    expect(resumed).toBeGreaterThan(pause);
    const between = ev().slice(pause + 1, resumed).filter((e) => e.streamId.startsWith('account-'));
    expect(between.filter((e) => e.type === 'EntryApproved')).toHaveLength(0);
    const denials = between.filter((e) => e.type === 'EntryDenied').map((e) => (e.data as { reason: string }).reason);
    expect(denials.length).toBeGreaterThan(0);
    expect(new Set(denials)).toEqual(new Set(['TRADING_PAUSED']));
  });

  it('resumes only by the command, with its reason, at its market time, and trades again', () => {
    const resumed = ev().filter((e) => e.type === 'TradingResumed');
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    expect(resumed[0].data).toMatchObject({ reason: 'reviewed the November drawdown; resuming', by: 'e2e-operator', pausedReason: 'MONTHLY_DRAWDOWN_LIMIT' });
    expect(resumed[0].metadata.tsEvent).toBe(RESUME_AT);
    const after = ev().slice(ev().indexOf(resumed[0]) + 1);
    expect(after.some((e) => e.type === 'EntryApproved')).toBe(true);
  });

  it('every approval kept the loss at the stop within the risk amount and the liquidation buffer', () => {
    for (const e of ev().filter((x) => x.type === 'EntryApproved')) {
      const a = (e.data as { assessment: Record<string, string> }).assessment;
      expect(dec(a.lossAtStop).lte(dec(a.riskAmount))).toBe(true);
      if (a.liquidationPrice !== null) expect(dec(a.stopToLiquidation).gte(dec(a.requiredBuffer))).toBe(true);
    }
  });
});
