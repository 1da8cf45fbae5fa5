/**
 * Entry order types end to end on the paper venue, in process: the strategy's entries go out as
 * MARKET, LIMIT, POST_ONLY, IOC or FOK on one real day of BTCUSDT 1m bars (2025-11-10), with
 * the paper venue filling at most 0.05 % of a bar's volume per order per bar (VOLUME_SHARE:0.0005), so a 1 %-risk entry of a 10,000 USDT account fills in parts over
 * several bars. Asserted from the log: each entry order is the one risk approved; post-only
 * fills are maker fills at or better than the limit; a resting entry partly filled and then
 * expired leaves a position of exactly the filled part, protected; IOC rests expire; a FOK that
 * cannot fill whole never opens; the stop covers the position at every change.
 */
import type { EntryType, EventData, RecordedEvent } from '@bulwark/contracts';
import { dec, str, ZERO } from '@bulwark/domain';
import { instrumentFiles, resolveDataDir } from '@bulwark/market-data';
import { type BacktestResult, runBacktest } from './backtest';
import { paperVenueFactory } from './venue-factory';

const files = instrumentFiles(resolveDataDir(), 'binance-usdm', 'BTCUSDT');
const FROM = Date.UTC(2025, 10, 10);
const TO = Date.UTC(2025, 10, 11);

interface Run {
  result: BacktestResult;
  log: RecordedEvent[];
}
const runs = new Map<EntryType, Run>();

async function run(entryType: EntryType): Promise<Run> {
  const hit = runs.get(entryType);
  if (hit) return hit;
  const resting = entryType === 'LIMIT' || entryType === 'POST_ONLY';
  const result = await runBacktest({
    accountId: `et-${entryType.toLowerCase().replace('_', '')}`, candles: files.defaultCandles, funding: null,
    capital: '10000', leverage: 5, riskPct: '1', confirmHighLeverage: false, from: FROM, to: TO,
    entry: entryType === 'MARKET' ? undefined : { entryType, ...(resting ? { expiresAfterBars: 3 } : {}) },
    venueFactory: paperVenueFactory('binance-usdm', { liquidity: { kind: 'VOLUME_SHARE', share: dec('0.0005') } }),
  });
  const log: RecordedEvent[] = [];
  for await (const e of result.store.readAll()) log.push(e);
  const r = { result, log };
  runs.set(entryType, r);
  return r;
}

const data = (log: RecordedEvent[], type: string) => log.filter((e) => e.type === type);
const byStream = (log: RecordedEvent[]) => {
  const m = new Map<string, RecordedEvent[]>();
  for (const e of log) m.set(e.streamId, [...(m.get(e.streamId) ?? []), e]);
  return m;
};

/** Every entry order's stream: its OrderInitialized, fills and end. */
function entryOrders(log: RecordedEvent[]) {
  const out: Array<{ init: EventData<'OrderInitialized'>; events: RecordedEvent[] }> = [];
  for (const [, events] of byStream(log)) {
    const init = events[0];
    if (init?.type === 'OrderInitialized' && (init.data as EventData<'OrderInitialized'>).purpose === 'ENTRY') out.push({ init: init.data as EventData<'OrderInitialized'>, events });
  }
  return out;
}
const fillsOf = (events: RecordedEvent[]) => events.filter((e) => e.type === 'OrderFilled').map((e) => e.data as EventData<'OrderFilled'>);
const filledQty = (events: RecordedEvent[]) => fillsOf(events).reduce((s, f) => s.plus(f.quantity), ZERO);
const endOf = (events: RecordedEvent[]) => events[events.length - 1].type;

/** The stop covers the position at every change: position quantities and stop quantities, one for one. */
function expectStopFollowsEveryPosition(log: RecordedEvent[]) {
  const streams = byStream(log);
  let positions = 0;
  for (const [id, events] of streams) {
    if (!id.startsWith('position-')) continue;
    positions++;
    const quantities = events.flatMap((e) =>
      e.type === 'PositionOpened' ? [(e.data as EventData<'PositionOpened'>).quantity] : e.type === 'PositionIncreased' || e.type === 'PositionReduced' ? [(e.data as EventData<'PositionIncreased'>).newQuantity] : [],
    );
    const stop = (streams.get(`stop-${id}`) ?? []).flatMap((e) => (e.type === 'StopPlaced' ? [(e.data as EventData<'StopPlaced'>).quantity] : e.type === 'StopResized' ? [(e.data as EventData<'StopResized'>).quantity] : []));
    expect({ id, stop }).toEqual({ id, stop: quantities });
  }
  return positions;
}

// Each run replays 1,440 bars through the six services in one process: seconds quiet, more on a busy CI machine.
jest.setTimeout(300_000);

describe('entry order types on the paper venue (2025-11-10, volume share 0.0005)', () => {
  it.each(['MARKET', 'LIMIT', 'POST_ONLY', 'IOC', 'FOK'] as const)('%s: each entry order is the approved one, and the stop follows every position', async (entryType) => {
    const { log } = await run(entryType);
    const approvals = new Map(data(log, 'EntryApproved').map((e) => [(e.data as EventData<'EntryApproved'>).clientOrderId, e.data as EventData<'EntryApproved'>]));
    const orders = entryOrders(log);
    expect(orders.length).toBe(approvals.size);
    for (const { init } of orders) {
      const a = approvals.get(init.clientOrderId)!;
      expect({ type: init.type, price: init.price, timeInForce: init.timeInForce, goodTillDate: init.goodTillDate ?? null, quantity: init.quantity }).toEqual({
        type: entryType === 'MARKET' ? 'MARKET' : 'LIMIT', price: a.price ?? null, timeInForce: a.timeInForce ?? null, goodTillDate: a.goodTillDate ?? null, quantity: a.quantity,
      });
      expect(a.entryType ?? 'MARKET').toBe(entryType);
    }
    if (entryType !== 'FOK') expect(expectStopFollowsEveryPosition(log)).toBeGreaterThan(0);
  });

  it('POST_ONLY: every entry fill is a maker fill at or below the BUY limit (at or above a SELL limit), sized with the maker fee', async () => {
    const { log } = await run('POST_ONLY');
    const fills = entryOrders(log).flatMap(({ init, events }) => fillsOf(events).map((f) => ({ f, limit: dec(init.price!) })));
    expect(fills.length).toBeGreaterThan(0);
    for (const { f, limit } of fills) {
      expect(f.liquidity).toBe('MAKER');
      expect(f.side === 'BUY' ? dec(f.price).lte(limit) : dec(f.price).gte(limit)).toBe(true);
    }
    for (const e of data(log, 'EntryApproved')) expect((e.data as EventData<'EntryApproved'>).assessment.entryFeeRate).toBe('0.0002');
  });

  it.each(['LIMIT', 'POST_ONLY'] as const)('%s: a resting entry partly filled then expired leaves a protected position of exactly the filled part', async (entryType) => {
    const { log } = await run(entryType);
    const streams = byStream(log);
    const expired = entryOrders(log).filter(({ events }) => endOf(events) === 'OrderCanceled' && filledQty(events).gt(0));
    expect(expired.length).toBeGreaterThan(0);
    let checked = 0;
    for (const { init, events } of expired) {
      const cancel = events.find((e) => e.type === 'OrderCancelRequested')!;
      expect((cancel.data as EventData<'OrderCancelRequested'>).reason).toMatch(/^(expired: good till |stop loss triggered|take profit triggered)/);
      if (!(cancel.data as EventData<'OrderCancelRequested'>).reason.startsWith('expired')) continue;
      // Cancelled at the first step at or after its expiry, never before.
      expect(cancel.metadata.tsEvent).toBeGreaterThanOrEqual(init.goodTillDate!);
      // The position this entry opened: its quantity when the cancel went out is what the order filled.
      const opened = log.find((e) => e.type === 'PositionOpened' && (e.data as EventData<'PositionOpened'>).clientOrderId === init.clientOrderId)!;
      const position = streams.get(opened.streamId)!.filter((e) => e.position < cancel.position);
      const last = position[position.length - 1];
      const quantity = last.type === 'PositionOpened' ? (last.data as EventData<'PositionOpened'>).quantity : (last.data as EventData<'PositionIncreased'>).newQuantity;
      if (position.some((e) => e.type === 'PositionReduced' || e.type === 'PositionClosed')) continue; // a stop or target already worked on it
      expect(quantity).toBe(str(filledQty(events)));
      const stop = (streams.get(`stop-${opened.streamId}`) ?? []).filter((e) => e.position < cancel.position);
      const covered = stop[stop.length - 1];
      expect((covered.data as EventData<'StopResized'>).quantity).toBe(quantity);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('IOC: what cannot fill at once expires; the rest never rests', async () => {
    const { log } = await run('IOC');
    const orders = entryOrders(log);
    const ends = orders.map(({ events }) => endOf(events));
    expect(ends.every((t) => t === 'OrderFilled' || t === 'OrderExpired')).toBe(true);
    expect(ends.filter((t) => t === 'OrderExpired').length).toBeGreaterThan(0);
    for (const { events } of orders) {
      const accepted = events.findIndex((e) => e.type === 'OrderAccepted');
      // Accepted after the signal bar's close, it meets the market on the next step only: every
      // fill and its expiry carry that one step's time.
      const after = new Set(events.slice(accepted + 1).map((e) => e.metadata.tsEvent));
      expect(after.size).toBe(1);
      expect([...after][0] - events[accepted].metadata.tsEvent).toBeLessThanOrEqual(1);
    }
  });

  it('FOK: an entry that cannot fill whole at once is expired, never opens', async () => {
    const { log } = await run('FOK');
    const orders = entryOrders(log);
    expect(orders.length).toBeGreaterThan(0);
    for (const { events } of orders) {
      const filled = filledQty(events);
      expect(endOf(events) === 'OrderExpired' ? filled.eq(0) : endOf(events) === 'OrderFilled').toBe(true);
    }
    const unfilled = new Set(orders.filter(({ events }) => endOf(events) === 'OrderExpired').map(({ init }) => init.clientOrderId));
    expect(unfilled.size).toBeGreaterThan(0);
    expect(log.filter((e) => e.type === 'PositionOpened' && unfilled.has((e.data as EventData<'PositionOpened'>).clientOrderId))).toEqual([]);
  });
});
