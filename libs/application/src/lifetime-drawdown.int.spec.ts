/**
 * The lifetime drawdown kill switch end to end (in process, the services' own deciders, the
 * paper venue), on the README's month of real Binance USDⓈ-M BTCUSDT 1m bars (shared/data):
 * at 10x with the monthly pause out of the way (50 %) and the switch at 5 % below the equity
 * peak, it fires once: HALTED and flattened by risk, nothing enters until an operator resumes
 * with a reason, and the audit trail holds each step.
 */
import { type EventData, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { InMemoryEventStore } from '@bulwark/event-store';
import { REAL_DAY } from '../test/real-day';
import { runBacktest } from './backtest';

const MONTH = { ...REAL_DAY, from: null, to: null, leverage: 10, confirmHighLeverage: true, policy: { maxMonthlyDrawdownFraction: '0.5', maxLifetimeDrawdownFraction: '0.05' } };

async function log(store: InMemoryEventStore, accountId: string): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll()) if (e.streamId.includes(accountId) || e.streamId.startsWith('order-') || e.streamId.startsWith('position-')) out.push(e);
  return out;
}

describe('lifetime drawdown kill switch on the README month at 10x', () => {
  it('fires once at 5 % below the peak: HALTED and flattened by risk; no entry until a resume with a reason; the resume re-bases the peak and trading goes on', async () => {
    // Where it fires, undisturbed.
    const first = new InMemoryEventStore();
    await runBacktest({ ...MONTH, accountId: 'lt-1', store: first });
    const ev1 = await log(first, 'lt-1');
    const breach = ev1.find((e) => e.type === 'LifetimeDrawdownBreached')!;
    expect(breach).toBeDefined();
    const b = breach.data as EventData<'LifetimeDrawdownBreached'>;
    expect(Number(b.drawdownFraction)).toBeGreaterThanOrEqual(0.05);
    expect(ev1.filter((e) => e.type === 'LifetimeDrawdownBreached')).toHaveLength(1); // once, however deep it goes
    const acct = ev1.filter((e) => e.streamId === 'account-lt-1');
    const i = acct.indexOf(breach);
    expect(acct.slice(i + 1, i + 3).map((e) => [e.type, (e.data as { by?: string }).by])).toEqual([['TradingStateChanged', 'risk'], ['FlattenRequested', 'risk']]);
    // Flat afterwards, and nothing entered again.
    const after = ev1.filter((e) => e.position > breach.position);
    expect(after.filter((e) => e.type === 'EntryApproved')).toEqual([]);
    const opened = new Set(ev1.filter((e) => e.type === 'PositionOpened').map((e) => e.streamId));
    const ended = new Set(ev1.filter((e) => e.type === 'PositionClosed' || e.type === 'PositionLiquidated').map((e) => e.streamId));
    expect([...opened].filter((p) => !ended.has(p))).toEqual([]);
    const denied = after.filter((e) => e.type === 'EntryDenied').map((e) => (e.data as EventData<'EntryDenied'>).reason);
    expect(denied.length).toBeGreaterThan(0);
    expect(new Set(denied)).toEqual(new Set(['TRADING_HALTED']));

    // An operator resumes a day later, with a reason: ACTIVE again, entries again.
    const at = breach.metadata.tsEvent + 86_400_000;
    const second = new InMemoryEventStore();
    await runBacktest({
      ...MONTH, accountId: 'lt-1', store: second,
      schedule: [{ at, subject: Subjects.resumeTrading, payload: { accountId: 'lt-1', reason: 'drawdown reviewed, size cut', by: 'dana' } }],
    });
    const ev2 = await log(second, 'lt-1');
    const resumed = ev2.find((e) => e.type === 'TradingResumed')!;
    expect(resumed.data).toMatchObject({ pausedReason: 'LIFETIME_DRAWDOWN_LIMIT', by: 'dana', reason: 'drawdown reviewed, size cut' });
    const next = ev2.filter((e) => e.position > resumed.position);
    expect(next[0]).toMatchObject({ type: 'TradingStateChanged', data: { state: 'ACTIVE', previous: 'HALTED', by: 'dana' } });
    expect(next.some((e) => e.type === 'EntryApproved')).toBe(true);
    // Up to the resume the two runs are the same.
    const upTo = (ev: RecordedEvent[]) => ev.filter((e) => e.metadata.tsEvent < at).map((e) => [e.streamId, e.revision, e.type]);
    expect(upTo(ev2)).toEqual(upTo(ev1));
  }, 300_000);
});
