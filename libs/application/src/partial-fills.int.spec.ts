import { type EventData, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { type PaperVenueOptions, dec } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { PaperVenueAdapter } from '@bulwark/venues';
import { REAL_DAY } from '../test/real-day';
import { runBacktest } from './backtest';

const DAY = REAL_DAY;

async function day(accountId: string, paper: PaperVenueOptions) {
  const store = new InMemoryEventStore();
  const r = await runBacktest({ ...DAY, accountId, store, venueFactory: async (rules) => ({ venue: new PaperVenueAdapter('binance-usdm', rules, paper), reconcileSeconds: 0 }) });
  const events: RecordedEvent[] = [];
  for await (const e of store.readAll()) events.push(e);
  return { r, events };
}

/**
 * What the stop covered when it mattered: for each StopTriggered, the quantity it closes and
 * the position's open quantity at that moment in the log.
 */
function coverage(events: RecordedEvent[]): Array<{ position: string; open: string; closes: string }> {
  const qty = new Map<string, string>();
  const out: Array<{ position: string; open: string; closes: string }> = [];
  for (const e of events) {
    const d = e.data as Record<string, string>;
    if (e.type === 'PositionOpened') qty.set(e.streamId, d.quantity);
    else if (e.type === 'PositionIncreased' || e.type === 'PositionReduced') qty.set(e.streamId, d.newQuantity);
    else if (e.type === 'PositionClosed' || e.type === 'PositionLiquidated') qty.set(e.streamId, '0');
    else if (e.type === 'StopTriggered') {
      const position = e.streamId.slice('stop-'.length);
      out.push({ position, open: qty.get(position) ?? '0', closes: d.quantity });
    }
  }
  return out;
}

describe('fills as venues send them: one order in several trades', () => {
  it('every fill split in 3 trades: each entry opens on its first trade and grows, the stop covers what is filled, each close is one order; the money equals whole fills to the cent', async () => {
    const whole = await day('split-1', {});
    const split = await day('split-1', { tradesPerFill: 3 });
    const fills = split.events.filter((e) => e.type === 'OrderFilled').map((e) => e.data as EventData<'OrderFilled'>);
    expect(fills.length).toBe(3 * whole.events.filter((e) => e.type === 'OrderFilled').length);
    // Each order's trades carry its cumulative filled and leaves quantities; the last leaves nothing.
    const byOrder = new Map<string, EventData<'OrderFilled'>[]>();
    for (const f of fills) byOrder.set(f.clientOrderId, [...(byOrder.get(f.clientOrderId) ?? []), f]);
    for (const [id, trades] of byOrder) {
      let cum = dec(0);
      for (const t of trades) {
        cum = cum.plus(t.quantity);
        expect([id, dec(t.filledQuantity).toFixed()]).toEqual([id, cum.toFixed()]);
      }
      expect(dec(trades[trades.length - 1].leavesQuantity).isZero()).toBe(true);
    }
    // Nothing was refused: no order transition failed, every order ended FILLED.
    expect(split.events.filter((e) => e.type === 'OrderRejected' || e.type === 'OrderDenied')).toEqual([]);
    const types = split.events.filter((e) => e.streamId.startsWith('position-')).map((e) => e.type);
    expect(types.filter((t) => t === 'PositionIncreased').length).toBe(2 * types.filter((t) => t === 'PositionOpened').length);
    // When a stop triggers, it closes exactly the open quantity (it grew with each trade of the entry).
    const covered = coverage(split.events);
    expect(covered.length).toBeGreaterThan(0);
    for (const c of covered) expect(c.closes).toBe(c.open);
    // One resize per further trade of the entry and per partial trade of the close.
    expect(split.events.filter((e) => e.type === 'StopResized').length).toBe(split.events.filter((e) => e.type === 'PositionIncreased' || e.type === 'PositionReduced').length);
    // Stops close what is open, in one order each (reduce-only, all its trades).
    const triggered = split.events.filter((e) => e.type === 'StopTriggered').map((e) => e.data as EventData<'StopTriggered'>);
    expect(triggered.length).toBe(whole.events.filter((e) => e.type === 'StopTriggered').length);
    for (const t of triggered) expect(byOrder.get(t.closeClientOrderId)?.reduce((a, f) => a.plus(f.quantity), dec(0)).toFixed()).toBe(dec(t.quantity).toFixed());
    // The same money, to the cent.
    for (const k of ['realisedPnl', 'fees', 'funding', 'finalEquity'] as const) expect([k, dec(split.r.summary[k]).toFixed(2)]).toEqual([k, dec(whole.r.summary[k]).toFixed(2)]);
    expect(split.r.summary.openPositions).toBe(0);
  }, 240_000);

  it('a thin market (each order may take 0.5 % of a bar\'s volume per bar): entries fill over several steps, the position opens on the first trade, the stop grows with it', async () => {
    const thin = await day('thin-1', { liquidity: { kind: 'VOLUME_SHARE', share: dec('0.005') } });
    const opened = thin.events.filter((e) => e.type === 'PositionOpened');
    expect(opened.length).toBeGreaterThan(0);
    const resized = thin.events.filter((e) => e.type === 'StopResized');
    expect(resized.length).toBeGreaterThan(0);
    // An entry filled over several steps: its trades have different market times.
    const fills = thin.events.filter((e) => e.type === 'OrderFilled' && (e.data as EventData<'OrderFilled'>).purpose === 'ENTRY');
    const times = new Map<string, Set<number>>();
    for (const f of fills) times.set((f.data as EventData<'OrderFilled'>).clientOrderId, (times.get((f.data as EventData<'OrderFilled'>).clientOrderId) ?? new Set()).add(f.metadata.tsEvent));
    expect([...times.values()].some((t) => t.size > 1)).toBe(true);
    // The first trade opened the position before the order was complete.
    const firstFill = fills[0].data as EventData<'OrderFilled'>;
    expect(dec(firstFill.leavesQuantity).gt(0)).toBe(true);
    for (const c of coverage(thin.events)) expect(c.closes).toBe(c.open);
    // The books add up.
    const s = thin.r.summary;
    expect(dec(s.finalEquity).toFixed()).toBe(dec(s.capital).plus(s.realisedPnl).minus(s.fees).plus(s.funding).minus(s.liquidationFees).plus(s.unrealisedPnl).toFixed());
  }, 240_000);
});

describe('HALTED while an entry is still filling', () => {
  it('the rest of the entry is cancelled; what filled stays a position, protected by a stop for exactly that quantity, and is closed by it', async () => {
    const thin = { liquidity: { kind: 'VOLUME_SHARE' as const, share: dec('0.005') } };
    const base = await day('thin-halt', thin);
    // The first entry that took more than one step to fill: halt right after its first trade.
    const entryFills = base.events.filter((e) => e.type === 'OrderFilled' && (e.data as EventData<'OrderFilled'>).purpose === 'ENTRY');
    const first = entryFills.find((e) => dec((e.data as EventData<'OrderFilled'>).leavesQuantity).gt(0))!;
    expect(first).toBeDefined();
    const entryId = (first.data as EventData<'OrderFilled'>).clientOrderId;
    const at = first.metadata.tsEvent + 1;
    const store = new InMemoryEventStore();
    const r = await runBacktest({
      ...DAY, accountId: 'thin-halt', store,
      schedule: [{ at, subject: Subjects.setTradingState, payload: { accountId: 'thin-halt', state: 'HALTED', reason: 'spec', by: 'spec', at } }],
      venueFactory: async (rules) => ({ venue: new PaperVenueAdapter('binance-usdm', rules, thin), reconcileSeconds: 0 }),
    });
    const events: RecordedEvent[] = [];
    for await (const e of store.readAll()) events.push(e);
    const order = events.filter((e) => e.streamId === `order-${entryId}`).map((e) => e.type);
    expect(order).toContain('OrderCancelRequested');
    expect(order[order.length - 1]).toBe('OrderCanceled');
    const filled = events.filter((e) => e.streamId === `order-${entryId}` && e.type === 'OrderFilled').reduce((a, e) => a.plus((e.data as EventData<'OrderFilled'>).quantity), dec(0));
    expect(filled.gt(0)).toBe(true);
    // The position of what filled was protected for that quantity and closed by its stop or target.
    const opened = events.find((e) => e.type === 'PositionOpened' && (e.data as EventData<'PositionOpened'>).clientOrderId === entryId)!;
    const stopEvents = events.filter((e) => e.streamId === `stop-${opened.streamId}`);
    const lastSize = [...stopEvents].reverse().find((e) => e.type === 'StopResized' || e.type === 'StopPlaced')!;
    expect(dec((lastSize.data as { quantity: string }).quantity).toFixed()).toBe(filled.toFixed());
    expect(events.some((e) => e.streamId === opened.streamId && e.type === 'PositionClosed')).toBe(true);
    expect(r.summary.openPositions).toBe(0);
  }, 240_000);
});
