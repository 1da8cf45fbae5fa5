import { randomBytes, randomUUID } from 'node:crypto';
import { type DomainEvent, type EventData, type NewEvent, Streams, event } from '@bulwark/contracts';
import { clientOrderIdFor } from '@bulwark/domain';
import { EventHeaders, JetStreamEventStore, subjectForStream } from '@bulwark/event-store';
import { connectNats, EventAppender } from '@bulwark/messaging';
import { eventMetadata, orderInitialized } from '@bulwark/testing';
import { PaperVenueAdapter } from '@bulwark/venues';
import { headers as natsHeaders, type NatsConnection } from 'nats';
import { ExecutionService } from './execution.service';
import { StopMonitorService } from './stop-monitor.service';

/**
 * Poison in the log: an event of a type no code knows on an order stream, an event whose
 * transition the order state machine refuses, a message that is not JSON, and a 1 MiB message.
 * Execution used to exit at every start-up on the first ("corrupt order stream"): a crash loop
 * with positions unmanaged. Now it quarantines each once and starts.
 */
describe('poison events never keep a service from starting', () => {
  let nc: NatsConnection;
  const tag = randomBytes(4).toString('hex');
  const stream = `E2E_POISON_${tag}`;
  const prefix = `e2epoison${tag}`;
  let store: JetStreamEventStore;
  let raw: JetStreamEventStore;

  const meta = (ts: number) => eventMetadata({ tsEvent: ts, correlationId: 'spec' });
  const newEvents = (events: Array<DomainEvent | { type: string; data: unknown }>, ts: number): NewEvent[] => events.map((e) => ({ type: e.type, data: e.data, metadata: meta(ts) }));
  async function publishRaw(streamId: string, revision: number, type: string, body: string): Promise<void> {
    const h = natsHeaders();
    h.set(EventHeaders.streamId, streamId);
    h.set(EventHeaders.revision, String(revision));
    h.set(EventHeaders.eventType, type);
    h.set(EventHeaders.eventId, randomUUID());
    await nc.jetstream().publish(subjectForStream(prefix, streamId), new TextEncoder().encode(body), { headers: h });
  }

  beforeAll(async () => {
    nc = await connectNats({ user: 'admin', name: 'poison-int-spec' });
    store = await JetStreamEventStore.connect(nc, { stream, subjectPrefix: prefix, create: true });
    // A writer that does not check types (as a foreign or older writer could).
    raw = await JetStreamEventStore.connect(nc, { stream, subjectPrefix: prefix, validate: false });
  }, 60_000);

  afterAll(async () => {
    await (await nc.jetstreamManager()).streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  it('execution and stop-monitor start, each bad message is quarantined once (and once only across restarts)', async () => {
    const ts = Date.parse('2025-11-21T00:00:00Z');
    const account = `poison-${tag}`;
    const init = (n: number): EventData<'OrderInitialized'> => orderInitialized({ clientOrderId: clientOrderIdFor(account, n, 'E'), accountId: account, quantity: '0.01', leverage: 5 });
    // A good order, then an unknown event type appended after it on the same stream.
    const good = Streams.order(init(1).clientOrderId);
    await store.append(good, newEvents([event('OrderInitialized', init(1)), event('OrderSubmitted', { clientOrderId: init(1).clientOrderId })], ts), 'no_stream');
    await raw.append(good, newEvents([{ type: 'OrderTeleported', data: { clientOrderId: init(1).clientOrderId, to: 'mars' } }], ts), 1);
    // A stream that starts with a transition the state machine refuses.
    const refused = Streams.order(init(2).clientOrderId);
    await raw.append(refused, newEvents([event('OrderCanceled', { clientOrderId: init(2).clientOrderId })], ts), 'no_stream');
    // Not JSON, and ~1 MB (NATS's own payload limit is 1 MiB; the store refuses anything over 64 KiB at append), on order streams.
    await publishRaw(Streams.order(init(3).clientOrderId), 0, 'OrderInitialized', '{not json');
    await publishRaw(Streams.order(init(4).clientOrderId), 0, 'OrderInitialized', JSON.stringify({ type: 'OrderInitialized', data: { pad: 'x'.repeat(1_000_000) }, metadata: meta(ts) }));

    const venue = async (rules: Parameters<NonNullable<ConstructorParameters<typeof ExecutionService>[2]>>[0]) => ({ venue: new PaperVenueAdapter('binance-usdm', rules), reconcileSeconds: 0 });
    const quarantined = async () => (await store.readStream(Streams.quarantine('execution'))).map((e) => e.data as EventData<'PoisonEventQuarantined'>);

    const first = new ExecutionService(new EventAppender(store), store, venue);
    await expect(first.onModuleInit()).resolves.toBeUndefined();
    const q1 = await quarantined();
    expect(q1.map((q) => [q.streamId, q.eventType]).sort()).toEqual(
      [
        [good, 'OrderTeleported'],
        [refused, 'OrderCanceled'],
        [Streams.order(init(3).clientOrderId), 'OrderInitialized'],
        [Streams.order(init(4).clientOrderId), 'OrderInitialized'],
      ].sort(),
    );
    expect(q1.find((q) => q.eventType === 'OrderTeleported')!.reason).toMatch(/unknown event type/);
    expect(q1.find((q) => q.streamId === refused)!.reason).toMatch(/not allowed in status NONE/);
    await first.onModuleDestroy();

    // A second start: the same poison is met again but recorded no second time.
    const second = new ExecutionService(new EventAppender(store), store, venue);
    await second.onModuleInit();
    expect(await quarantined()).toHaveLength(4);
    await second.onModuleDestroy();

    // Stop-monitor's rebuild reads other categories: it starts and has nothing to quarantine here.
    const sm = new StopMonitorService(new EventAppender(store), store);
    await expect(sm.onModuleInit()).resolves.toBeUndefined();
    expect(await store.readStream(Streams.quarantine('stop-monitor'))).toEqual([]);
  }, 120_000);
});
