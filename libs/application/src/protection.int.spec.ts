import { type EventData, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { PaperVenueAdapter, type VenueOrderRequest } from '@bulwark/venues';
import { REAL_DAY } from '../test/real-day';
import { runBacktest } from './backtest';

const DAY = REAL_DAY;

async function log(store: InMemoryEventStore): Promise<RecordedEvent[]> {
  const out: RecordedEvent[] = [];
  for await (const e of store.readAll()) out.push(e);
  return out;
}

describe('the kill switch never refuses a close', () => {
  it('HALTED right after a position opens: no new entry, and the position is still closed by its stop or target (reduce-only is never denied)', async () => {
    // Where the first position of the day opens, undisturbed.
    const base = new InMemoryEventStore();
    await runBacktest({ ...DAY, accountId: 'halt-base', store: base });
    const firstOpen = (await log(base)).find((e) => e.type === 'PositionOpened')!;
    expect(firstOpen).toBeDefined();

    const store = new InMemoryEventStore();
    const haltAt = firstOpen.metadata.tsEvent + 1;
    const r = await runBacktest({
      ...DAY, accountId: 'halt-base', store,
      schedule: [{ at: haltAt, subject: Subjects.setTradingState, payload: { accountId: 'halt-base', state: 'HALTED', reason: 'operator test', by: 'spec', at: haltAt } }],
    });
    const events = await log(store);
    const halted = events.find((e) => e.type === 'TradingStateChanged')!;
    expect(halted.data).toMatchObject({ state: 'HALTED', by: 'spec' });
    const after = events.filter((e) => e.position > halted.position);
    // The position open at the halt is closed afterwards by its stop or take-profit, reduce-only.
    const closed = after.find((e) => e.type === 'PositionClosed' && e.streamId === firstOpen.streamId);
    expect(closed).toBeDefined();
    expect(['STOP_LOSS', 'TAKE_PROFIT']).toContain((closed!.data as EventData<'PositionClosed'>).purpose);
    // Nothing reduce-only was denied; nothing opened after the halt.
    const denied = after.filter((e) => e.type === 'OrderDenied');
    for (const d of denied) expect((d.data as EventData<'OrderDenied'>).code).not.toBe('TRADING_HALTED');
    expect(after.filter((e) => e.type === 'PositionOpened')).toEqual([]);
    expect(r.summary.openPositions).toBe(0);
  }, 180_000);

  it('flatten: HALTED first, then the open position is closed reduce-only at market; the audit trail names who and why', async () => {
    const base = new InMemoryEventStore();
    await runBacktest({ ...DAY, accountId: 'flat-1', store: base });
    const firstOpen = (await log(base)).find((e) => e.type === 'PositionOpened')!;
    const at = firstOpen.metadata.tsEvent + 1;
    const store = new InMemoryEventStore();
    const r = await runBacktest({ ...DAY, accountId: 'flat-1', store, schedule: [{ at, subject: Subjects.flatten, payload: { accountId: 'flat-1', reason: 'leaving for the day', by: 'alice', at } }] });
    const events = await log(store);
    const acct = events.filter((e) => e.streamId === 'account-flat-1').map((e) => e.type);
    // One append: the kill switch, then the command.
    expect(acct.indexOf('TradingStateChanged')).toBe(acct.indexOf('FlattenRequested') - 1);
    const cmd = events.find((e) => e.type === 'FlattenRequested')!;
    expect(cmd.data).toEqual({ by: 'alice', reason: 'leaving for the day' });
    const init = events.find((e) => e.type === 'OrderInitialized' && (e.data as EventData<'OrderInitialized'>).sourceEventId === cmd.metadata.eventId)!;
    expect(init.data).toMatchObject({ reduceOnly: true, purpose: 'CLOSE', type: 'MARKET', quantity: (firstOpen.data as EventData<'PositionOpened'>).quantity });
    const closed = events.find((e) => e.type === 'PositionClosed' && e.streamId === firstOpen.streamId)!;
    expect((closed.data as EventData<'PositionClosed'>).clientOrderId).toBe((init.data as EventData<'OrderInitialized'>).clientOrderId);
    expect(events.filter((e) => e.position > cmd.position && e.type === 'PositionOpened')).toEqual([]);
    expect(r.summary.openPositions).toBe(0);
  }, 180_000);
});

/** The paper venue, refusing the first `n` reduce-only orders the way Binance refuses an order (-1001 internal error). */
class RefusingCloses extends PaperVenueAdapter {
  refused = 0;
  constructor(private readonly n: number, ...args: ConstructorParameters<typeof PaperVenueAdapter>) {
    super(...args);
  }
  override async placeOrder(accountId: string, order: VenueOrderRequest) {
    if (order.reduceOnly && this.refused < this.n) {
      this.refused++;
      return { ok: false as const, error: { code: '-1001', message: 'Internal error; unable to process your request. Please try again.' } };
    }
    return super.placeOrder(accountId, order);
  }
}

describe('a close is retried until the position is flat', () => {
  it('rejected three times, then accepted: one close, flat, ProtectionFailed and a PROTECTION_FAILED alert recorded', async () => {
    const store = new InMemoryEventStore();
    let venue: RefusingCloses | null = null;
    const r = await runBacktest({
      ...DAY, accountId: 'retry-1', store,
      venueFactory: async (rules) => ({ venue: (venue = new RefusingCloses(3, 'binance-usdm', rules)), reconcileSeconds: 0 }),
    });
    expect(venue!.refused).toBe(3);
    const events = await log(store);
    const firstStopStream = events.find((e) => e.type === 'StopTriggered')!.streamId;
    const onStop = events.filter((e) => e.streamId === firstStopStream);
    const triggers = onStop.filter((e) => e.type === 'StopTriggered').map((e) => e.data as EventData<'StopTriggered'>);
    expect(triggers.map((t) => t.attempt)).toEqual([1, 2, 3, 4]);
    expect(onStop.filter((e) => e.type === 'CloseRejected').map((e) => (e.data as EventData<'CloseRejected'>).code)).toEqual(['-1001', '-1001', '-1001']);
    expect(onStop.filter((e) => e.type === 'ProtectionFailed')).toHaveLength(1);
    // Each retry waited its backoff in market time.
    const rejected = onStop.filter((e) => e.type === 'CloseRejected');
    for (const [i, e] of rejected.entries()) expect((e.data as EventData<'CloseRejected'>).retryAt).toBe(e.metadata.tsEvent + [1000, 2000, 4000][i]);
    const alerts = events.filter((e) => e.type === 'VenueAlert' && (e.data as EventData<'VenueAlert'>).kind === 'PROTECTION_FAILED');
    expect(alerts).toHaveLength(1);
    // The fourth close filled and closed the position; nothing else closed it.
    const positionStream = firstStopStream.slice('stop-'.length);
    const closes = events.filter((e) => e.streamId === positionStream && (e.type === 'PositionClosed' || e.type === 'PositionReduced'));
    expect(closes).toHaveLength(1);
    expect((closes[0].data as EventData<'PositionClosed'>).clientOrderId).toBe(triggers[3].closeClientOrderId);
    expect(onStop[onStop.length - 1].type).toBe('StopCancelled');
    expect(r.summary.openPositions).toBe(0);
    // The books still add up.
    const s = r.summary;
    expect(dec(s.finalEquity).toFixed()).toBe(dec(s.capital).plus(s.realisedPnl).minus(s.fees).plus(s.funding).minus(s.liquidationFees).plus(s.unrealisedPnl).toFixed());
  }, 180_000);
});
