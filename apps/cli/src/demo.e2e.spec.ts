/**
 * End-to-end: the six services as separate processes against the local nats-server,
 * replaying one real day (2025-11-21, the day of the sell-off's low: 1,440 candles) of
 * Binance USDⓈ-M BTCUSDT on the paper venue, then auditing the event log.
 * Needs the services built (`npm test` builds first) and NATS with JetStream.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type EventData, type RecordedEvent, Subjects } from '@bulwark/contracts';
import { dec, ZERO } from '@bulwark/domain';
import { JetStreamEventStore } from '@bulwark/event-store';
import { JSONCodec, type NatsConnection } from 'nats';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';
import { belongsTo, type DemoReport, runDemo } from './demo';
import { realDayAt10x } from './real-day.fixture';

const json = JSONCodec();
const bus = isolatedBus('demo');
const tag = bus.tag;
const accountId = `e2e-${tag}`;

let nc: NatsConnection;
let store: JetStreamEventStore;
let report: DemoReport;
let events: RecordedEvent[] = [];
const faults: { malformedReply?: unknown; healthAfter?: unknown } = {};

beforeAll(async () => {
  nc = await openIsolatedBus(bus, 'demo-e2e');
  // validate: false lets the test store the schema-breaking event every consumer must dead-letter.
  store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix, validate: false });
  report = await runDemo({
    ...realDayAt10x(),
    speed: 0,
    accountId,
    bus,
    logDir: path.join(os.tmpdir(), `bulwark-e2e-${tag}`),
    onServicesReady: async (c) => {
      // A malformed clock message (sent by the harness: the demo's driver may not publish clock steps)
      // and a schema-breaking stored event: both dead-lettered, services keep running.
      const m = await nc.request(Subjects.clock('execution'), json.encode({ seq: 'not a tick' }), { timeout: 5000 });
      faults.malformedReply = json.decode(m.data);
      // A stored event whose data breaks its schema reaches every consumer and is dead-lettered there.
      await store.append('order-garbage-1', [{ type: 'OrderFilled', data: { clientOrderId: 42 }, metadata: { eventId: `garbage-${tag}`, tsEvent: 0, tsInit: Date.now(), correlationId: 'e2e', causationId: 'e2e', schemaVersion: 1 } }], 'no_stream');
      const h = await c.request(Subjects.health('execution'), json.encode({}), { timeout: 5000 });
      faults.healthAfter = json.decode(m.data) && json.decode(h.data);
    },
  });
  for await (const e of store.readAll({ fromPosition: 1 })) events.push(e);
  events = events.filter((e) => belongsTo(e, accountId));
}, 240_000);

afterAll(async () => {
  await dropIsolatedBus(nc, bus);
  await store.close().catch(() => undefined);
  await nc.drain();
});

const ofType = <T extends string>(t: T) => events.filter((e) => e.type === t);
const byId = () => new Map(events.map((e) => [e.metadata.eventId, e]));

describe('demo over one real day (2025-11-21) as six processes', () => {
  it('replays all 1,440 candles as 5,760 path steps and trades', () => {
    expect(report.candles).toBe(1440);
    expect(report.steps).toBe(5760);
    expect(report.intents).toBeGreaterThan(0);
    expect(report.approvals).toBeGreaterThan(0);
    expect(report.fills).toBeGreaterThanOrEqual(2);
  });

  it("every order's causation chain leads to a risk approval", () => {
    const ids = byId();
    const orders = ofType('OrderInitialized') as RecordedEvent<'OrderInitialized', EventData<'OrderInitialized'>>[];
    expect(orders.length).toBeGreaterThan(0);
    const approvalOf = (o: RecordedEvent<'OrderInitialized', EventData<'OrderInitialized'>>): RecordedEvent | undefined => {
      const src = ids.get(o.data.sourceEventId);
      if (!src) return undefined;
      if (o.data.purpose === 'ENTRY') return src.type === 'EntryApproved' && o.metadata.causationId === src.metadata.eventId ? src : undefined;
      // Protective close: StopTriggered → its stop's StopPlaced → PositionOpened → the entry's fill → the entry order.
      if (src.type !== 'StopTriggered') return undefined;
      const placed = events.find((e) => e.streamId === src.streamId && e.type === 'StopPlaced');
      const opened = placed && ids.get(placed.metadata.causationId);
      const fill = opened && ids.get(opened.metadata.causationId);
      const entry = fill && orders.find((x) => x.streamId === fill.streamId);
      return entry ? approvalOf(entry) : undefined;
    };
    for (const o of orders) {
      const a = approvalOf(o);
      expect({ order: o.data.clientOrderId, approval: a?.type }).toEqual({ order: o.data.clientOrderId, approval: 'EntryApproved' });
    }
  });

  it('every approval carries the full sizing assessment and the loss at the stop stays within the risk amount', () => {
    for (const e of ofType('EntryApproved') as RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>[]) {
      const a = e.data.assessment;
      expect(dec(a.lossAtStop).lte(dec(a.riskAmount))).toBe(true);
      expect(dec(a.quantity).lte(dec(a.rawQuantity))).toBe(true);
      expect(dec(a.initialMargin).lte(dec(a.maxMargin))).toBe(true);
    }
  });

  it('every fill shows in a position stream', () => {
    const booked = new Set(events.filter((e) => e.streamId.startsWith('position-') && 'tradeId' in (e.data as object)).map((e) => (e.data as { tradeId: string }).tradeId));
    const fills = ofType('OrderFilled') as RecordedEvent<'OrderFilled', EventData<'OrderFilled'>>[];
    for (const f of fills) expect({ trade: f.data.tradeId, booked: booked.has(f.data.tradeId) }).toEqual({ trade: f.data.tradeId, booked: true });
  });

  it('no position was liquidated', () => {
    expect(ofType('PositionLiquidated')).toHaveLength(0);
    expect(report.liquidations).toBe(0);
    expect(report.summary.liquidations).toBe(0);
  });

  it('no stream has a gap in revisions', async () => {
    const streams = new Map<string, number[]>();
    for (const e of events) streams.set(e.streamId, [...(streams.get(e.streamId) ?? []), e.revision]);
    for (const [id, revs] of streams) {
      expect({ id, revs }).toEqual({ id, revs: revs.map((_, i) => i) });
      expect((await store.readStream(id)).map((e) => e.revision)).toEqual(revs);
    }
  });

  it('final equity = capital + realised PnL − fees + funding, recomputed from the position streams', () => {
    const s = report.summary;
    let realised = ZERO, fees = ZERO, funding = ZERO;
    for (const e of events.filter((x) => x.streamId.startsWith('position-'))) {
      const d = e.data as Record<string, string>;
      if (e.type === 'FundingApplied') funding = funding.plus(d.amount);
      else fees = fees.plus(d.fee);
      if (e.type === 'PositionReduced' || e.type === 'PositionClosed') realised = realised.plus(d.realisedPnl);
    }
    expect(realised.toFixed()).toBe(dec(s.realisedPnl).toFixed());
    expect(fees.toFixed()).toBe(dec(s.fees).toFixed());
    expect(funding.toFixed()).toBe(dec(s.funding).toFixed());
    expect(s.openPositions).toBe(0);
    expect(dec(s.finalEquity).toFixed()).toBe(dec(s.capital).plus(realised).minus(fees).plus(funding).toFixed());
  });

  it('dead-letters malformed messages with their reason and keeps running', async () => {
    expect(faults.malformedReply).toMatchObject({ error: { code: 'INVALID_MESSAGE' } });
    expect(faults.healthAfter).toMatchObject({ ready: true });
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(bus.dlqStream);
    expect(info.state.messages).toBeGreaterThanOrEqual(2);
    const first = await jsm.streams.getMessage(bus.dlqStream, { seq: info.state.first_seq });
    expect(first.json<{ reason: string; service: string }>().reason.length).toBeGreaterThan(0);
  });
});
