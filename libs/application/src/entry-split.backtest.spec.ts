/**
 * Smart order splitting end to end on the paper venue, in process, on one real day of BTCUSDT
 * 1m bars (2025-11-10, 10,000 USDT, 5x, 1 % risk: entries of ~20,000 USDT):
 * - SLICES of market children of at most 5,000 USDT, one a bar;
 * - an ICEBERG of LIMIT children of at most 5,000 USDT with the paper venue filling at most
 *   0.05 % of a bar's volume per order per bar, the next child sent when the one before filled;
 * - the same ICEBERG with the parent cancelled by an operator a bar after its approval.
 * Asserted from the log: children sum to the parent and keep within the limits; each is an
 * order naming the parent; their fills grow one position whose stop follows every change;
 * pacing; no child after its split ended; a cancelled parent leaves no child resting.
 */
import { type EventData, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { dec, str, ZERO } from '@bulwark/domain';
import { instrumentFiles, resolveDataDir } from '@bulwark/market-data';
import type { EventStore } from '@bulwark/event-store';
import { auditOrder } from '@bulwark/projections';
import { type BacktestConfig, runBacktest, tradesFromLog } from './backtest';
import { rerunAccount } from './rerun';
import { paperVenueFactory } from './venue-factory';

const files = instrumentFiles(resolveDataDir(), 'binance-usdm', 'BTCUSDT');
const FROM = Date.UTC(2025, 10, 10);
const TO = Date.UTC(2025, 10, 11);
const THIN = paperVenueFactory('binance-usdm', { liquidity: { kind: 'VOLUME_SHARE', share: dec('0.0005') } });
const SLICES: BacktestConfig['entry'] = { split: { style: 'SLICES', maxOrderNotional: '5000', intervalBars: 1 } };
const ICEBERG: BacktestConfig['entry'] = { entryType: 'LIMIT', expiresAfterBars: 5, split: { style: 'ICEBERG', maxOrderNotional: '5000', intervalBars: 0 } };

const stores = new Map<string, EventStore>();
async function logOf(accountId: string, entry: BacktestConfig['entry'], extra: Partial<BacktestConfig> = {}): Promise<RecordedEvent[]> {
  const r = await runBacktest({ accountId, candles: files.defaultCandles, funding: null, capital: '10000', leverage: 5, riskPct: '1', confirmHighLeverage: false, from: FROM, to: TO, entry, ...extra });
  stores.set(accountId, r.store);
  const log: RecordedEvent[] = [];
  for await (const e of r.store.readAll()) log.push(e);
  return log;
}

const of = (log: RecordedEvent[], type: string) => log.filter((e) => e.type === type).map((e) => ({ e, d: e.data }));

interface Split {
  approval: EventData<'EntryApproved'>;
  approvedAt: RecordedEvent;
  children: Array<{ init: EventData<'OrderInitialized'>; at: RecordedEvent; events: RecordedEvent[] }>;
  ended: Array<{ e: RecordedEvent; d: EventData<'EntrySplitEnded'> }>;
}

function splitsOf(log: RecordedEvent[]): Split[] {
  const streams = new Map<string, RecordedEvent[]>();
  for (const e of log) streams.set(e.streamId, [...(streams.get(e.streamId) ?? []), e]);
  return of(log, 'EntryApproved')
    .filter(({ d }) => (d as EventData<'EntryApproved'>).split)
    .map(({ e, d }) => {
      const approval = d as EventData<'EntryApproved'>;
      const children = (approval.split!.children ?? []).flatMap((c) => {
        const events = streams.get(`order-${c.clientOrderId}`) ?? [];
        return events.length ? [{ init: events[0].data as EventData<'OrderInitialized'>, at: events[0], events }] : [];
      });
      const ended = of(log, 'EntrySplitEnded').filter((x) => (x.d as EventData<'EntrySplitEnded'>).parentClientOrderId === approval.clientOrderId) as Split['ended'];
      return { approval, approvedAt: e, children, ended };
    });
}

/** The stop covers the position at every change: position quantities and stop quantities, one for one. */
function expectStopFollowsEveryPosition(log: RecordedEvent[]): void {
  const streams = new Map<string, RecordedEvent[]>();
  for (const e of log) streams.set(e.streamId, [...(streams.get(e.streamId) ?? []), e]);
  for (const [id, events] of streams) {
    if (!id.startsWith('position-')) continue;
    const quantities = events.flatMap((e) => (e.type === 'PositionOpened' ? [(e.data as EventData<'PositionOpened'>).quantity] : e.type === 'PositionIncreased' || e.type === 'PositionReduced' ? [(e.data as EventData<'PositionIncreased'>).newQuantity] : []));
    const stop = (streams.get(`stop-${id}`) ?? []).flatMap((e) => (e.type === 'StopPlaced' ? [(e.data as EventData<'StopPlaced'>).quantity] : e.type === 'StopResized' ? [(e.data as EventData<'StopResized'>).quantity] : []));
    expect({ id, stop }).toEqual({ id, stop: quantities });
  }
}

// Each run replays 1,440 bars through the six services in one process.
jest.setTimeout(300_000);

describe('order splitting on the paper venue (2025-11-10)', () => {
  let slices: RecordedEvent[];
  let iceberg: RecordedEvent[];
  beforeAll(async () => {
    slices = await logOf('split-slices', SLICES);
    iceberg = await logOf('split-iceberg', ICEBERG, { venueFactory: THIN });
  });

  it('children sum to the parent, each within 5,000 USDT at the approved price and the venue maximum, each naming the parent', () => {
    for (const log of [slices, iceberg]) {
      const splits = splitsOf(log);
      expect(splits.length).toBeGreaterThan(3);
      for (const { approval } of splits) {
        const planned = approval.split!.children;
        expect(str(planned.reduce((s, c) => s.plus(c.quantity), ZERO))).toBe(approval.quantity);
        const price = dec(approval.price ?? approval.assessment.entryPrice);
        for (const c of planned) expect(dec(c.quantity).mul(price).lte(5000) && dec(c.quantity).lte(120)).toBe(true);
      }
      for (const { approval, children } of splits) {
        for (const [i, c] of children.entries()) {
          expect(c.init).toMatchObject({ clientOrderId: approval.split!.children[i].clientOrderId, quantity: approval.split!.children[i].quantity, parentClientOrderId: approval.clientOrderId, type: approval.type, purpose: 'ENTRY' });
        }
      }
    }
  });

  it("a split's fills grow one position, whose stop follows every change", () => {
    for (const log of [slices, iceberg]) {
      for (const { children } of splitsOf(log)) {
        const ids = new Set(children.map((c) => c.init.clientOrderId));
        const positions = new Set(log.filter((e) => (e.type === 'PositionOpened' || e.type === 'PositionIncreased') && ids.has((e.data as EventData<'PositionOpened'>).clientOrderId)).map((e) => e.streamId));
        expect(positions.size).toBeLessThanOrEqual(1);
      }
      expectStopFollowsEveryPosition(log);
    }
  });

  it("the audit traces each child to its parent's approval without a problem, and the backtest's trades carry their risk in R", async () => {
    const { children, approval } = splitsOf(slices)[0];
    for (const c of children) {
      const audit = await auditOrder(stores.get('split-slices')!, c.init.clientOrderId);
      expect(audit.problems).toEqual([]);
      expect(audit.source).toMatchObject({ kind: 'ENTRY', approval: { data: { clientOrderId: approval.clientOrderId } } });
    }
    const trades = tradesFromLog(slices);
    expect(trades.length).toBeGreaterThan(0);
    for (const t of trades) expect(t.riskAmount).not.toBe('0');
  });

  it('replay --rerun decides every split (and limit) approval again the same way', async () => {
    for (const account of ['split-slices', 'split-iceberg']) {
      const r = await rerunAccount(stores.get(account)!, account);
      expect(r.decisions.filter((d) => d.command === 'AssessEntry').length).toBeGreaterThan(3);
      expect(r.differences).toEqual([]);
    }
  });

  it('SLICES: one child a bar; each split ends once, and nothing is sent after it ended', () => {
    const splits = splitsOf(slices);
    for (const { children, ended, approval } of splits) {
      for (let i = 1; i < children.length; i++) expect(children[i].at.metadata.tsEvent - children[i - 1].at.metadata.tsEvent).toBeGreaterThanOrEqual(60_000);
      expect(ended).toHaveLength(1);
      const end = ended[0];
      expect(end.d.sent).toBe(children.length);
      for (const c of children) expect(c.at.position).toBeLessThan(end.e.position);
      if (end.d.reason === 'COMPLETED') expect(children.length).toBe(approval.split!.children.length);
      else expect(end.d.reason).toBe('RISK_LIMIT'); // the market ran away from the stop before the last child
    }
    expect(splits.some((s) => s.ended[0].d.reason === 'COMPLETED')).toBe(true);
  });

  it('ICEBERG: the next child goes only once the one before has filled whole; at the end no child rests', () => {
    for (const { children, ended } of splitsOf(iceberg)) {
      for (let i = 1; i < children.length; i++) {
        const before = children[i - 1].events.filter((e) => e.position < children[i].at.position);
        expect(before.some((e) => e.type === 'OrderFilled' && (e.data as EventData<'OrderFilled'>).leavesQuantity === '0')).toBe(true);
      }
      expect(ended).toHaveLength(1);
      // Each child ended: filled, or cancelled when the split ended (deadline, stop) or at its expiry.
      for (const c of children) expect(['OrderFilled', 'OrderCanceled']).toContain(c.events[c.events.length - 1].type);
    }
  });

  it('the kill switch (HALTED) ends a split: no child sent after it, none left resting', async () => {
    const first = splitsOf(iceberg).find((s) => s.children.length < s.approval.split!.children.length)!;
    const parent = first.approval.clientOrderId;
    const at = first.approvedAt.metadata.tsEvent + 60_000;
    const log = await logOf('split-iceberg', ICEBERG, {
      venueFactory: THIN,
      schedule: [{ at, subject: Subjects.setTradingState, payload: { accountId: 'split-iceberg', state: 'HALTED', reason: 'venue incident', by: 'test' } }],
    });
    const split = splitsOf(log).find((s) => s.approval.clientOrderId === parent)!;
    expect(split.ended.map((x) => [x.d.reason, x.d.detail])).toEqual([['HALTED', 'trading halted: venue incident']]);
    for (const c of split.children) {
      expect(c.at.position).toBeLessThan(split.ended[0].e.position);
      expect(['OrderFilled', 'OrderCanceled']).toContain(c.events[c.events.length - 1].type);
    }
  });

  it("an operator's cancel of the parent ends the split: no child sent after it, none left resting", async () => {
    const first = splitsOf(iceberg).find((s) => s.children.length < s.approval.split!.children.length)!;
    const parent = first.approval.clientOrderId;
    const at = first.approvedAt.metadata.tsEvent + 60_000;
    const log = await logOf('split-iceberg', ICEBERG, {
      venueFactory: THIN,
      schedule: [{ at, subject: Subjects.cancelOrder, payload: { accountId: 'split-iceberg', clientOrderId: parent, reason: 'trader changed mind', by: 'test' } }],
    });
    const split = splitsOf(log).find((s) => s.approval.clientOrderId === parent)!;
    expect(split.ended.map((x) => x.d.reason)).toEqual(['CANCELLED']);
    expect(split.ended[0].d.detail).toBe('cancel by test: trader changed mind');
    for (const c of split.children) {
      expect(c.at.position).toBeLessThan(split.ended[0].e.position);
      const last = c.events[c.events.length - 1];
      expect(['OrderFilled', 'OrderCanceled']).toContain(last.type);
    }
  });
});
