/**
 * An order recorded as submitted whose venue answer was never recorded (the append of the answer
 * failed while NATS was away, or execution died in between) is handled again: execution asks the
 * venue for it by client order id, records it accepted if the venue has it, sends it if not, and
 * never sends a second order. Seen in the chaos test's NATS outage: the close's OrderAccepted was
 * missing from the log. In process, the paper venue with the real BTCUSDT rules (shared/data).
 */
import { type EventData, type RecordedEvent, Streams, Subjects } from '@bulwark/contracts';
import { dec } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { newEvent, orderInitialized, orderSubmitted, recordedEvent } from '@bulwark/testing';
import { PaperVenueAdapter } from '@bulwark/venues';
import { InProcessSystem } from './in-process';

const ACCOUNT = 'resubmit-1';
const AT = Date.parse('2025-11-21T00:00:00Z');

async function setUp() {
  const store = new InMemoryEventStore();
  let venue!: PaperVenueAdapter;
  const sys = await InProcessSystem.create(store, async (rules) => {
    venue = new PaperVenueAdapter('binance-usdm', rules);
    return { venue, reconcileSeconds: 0 };
  });
  await sys.command(Subjects.openAccount, { accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '10000', leverage: 5, venueBalance: '10000', at: AT });
  // The market the venue last saw: the 2025-11-21 00:00 bar's open (shared/data, BTCUSDT 1m).
  venue.advance('BTCUSDT', { from: '86601.4', to: '86601.4', gap: true, ts: AT }, null);
  return { store, sys, venue: () => venue };
}

/** The entry's order recorded as initialised and submitted, and the approval execution handles again. */
async function submittedEntry(store: InMemoryEventStore, clientOrderId: string): Promise<RecordedEvent<'EntryApproved', EventData<'EntryApproved'>>> {
  const meta = (eventId: string) => ({ eventId, tsEvent: AT, correlationId: 't' });
  const init = orderInitialized({ clientOrderId, accountId: ACCOUNT, quantity: '0.01', leverage: 5, sourceStreamId: Streams.account(ACCOUNT), sourceEventId: 'approval-1' });
  await store.append(Streams.order(clientOrderId), [newEvent('OrderInitialized', init, meta(`${clientOrderId}-i`)), orderSubmitted(clientOrderId, meta(`${clientOrderId}-s`))], 'no_stream');
  const data = { clientOrderId, accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', side: 'BUY', quantity: '0.01', leverage: 5 } as unknown as EventData<'EntryApproved'>;
  return recordedEvent('EntryApproved', data, { streamId: Streams.account(ACCOUNT), revision: 99, position: 99, ...meta('approval-1') });
}

const typesOf = async (store: InMemoryEventStore, id: string) => (await store.readStream(Streams.order(id))).map((e) => e.type);

describe('an order submitted but never answered in the log', () => {
  it('the venue has it (sent before the failure): recorded accepted under its venue order id, nothing sent again', async () => {
    const { store, sys, venue } = await setUp();
    const approval = await submittedEntry(store, 'bwx-1E');
    // What the first attempt sent before its answer could not be recorded.
    const sent = await venue().placeOrder(ACCOUNT, { clientOrderId: 'bwx-1E', symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: dec('0.01'), price: null, reduceOnly: false, purpose: 'ENTRY', triggerPrice: null });
    expect(sent).toMatchObject({ ok: true });
    await sys.execution.onEvent(approval);
    expect(await typesOf(store, 'bwx-1E')).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted']);
    const accepted = (await store.readStream(Streams.order('bwx-1E')))[2].data as EventData<'OrderAccepted'>;
    expect(accepted.venueOrderId).toBe(sent.ok ? sent.value.venueOrderId : '');
    // Handled once more: nothing changes (no second order, no second answer).
    await sys.execution.onEvent(approval);
    expect(await typesOf(store, 'bwx-1E')).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted']);
  }, 60_000);

  it('the venue does not have it (the failure came before sending): sent now, once, and its answer recorded', async () => {
    const { store, sys, venue } = await setUp();
    const approval = await submittedEntry(store, 'bwx-2E');
    await sys.execution.onEvent(approval);
    expect(await typesOf(store, 'bwx-2E')).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderAccepted']);
    expect(await venue().order(ACCOUNT, 'BTCUSDT', 'bwx-2E')).not.toBeNull();
  }, 60_000);
});
