/**
 * Every symbol an account trades is in isolated margin before its first order: the account
 * setup isolates its configured symbol (BTCUSDT), and execution isolates any other symbol
 * (ETHUSDT here) before the first entry on it, recording MarginModeSet on the account's venue
 * stream once. A venue that refuses ends the entry OrderDenied MARGIN_MODE_NOT_ISOLATED with no
 * order sent: never an order in the venue's default (Binance: cross) margin mode.
 *
 * In process: the paper venue and an in-memory log. ETHUSDT has recorded rules (filters and
 * leverage brackets) but no recorded prices, so no ETHUSDT order fills here: the paper venue
 * refuses a market order it has no price for (-1121). What is asserted is which venue calls
 * were made, in which order, and what was recorded.
 */
import { type EventData, type RecordedEvent, Streams, event } from '@bulwark/contracts';
import { recordedLog } from '@bulwark/testing';
import { type Result, type Rules, type VenueRejection, clientOrderIdFor, err, validateAccountConfig } from '@bulwark/domain';
import { InMemoryEventStore } from '@bulwark/event-store';
import { EventAppender, Quarantine } from '@bulwark/messaging';
import { PaperVenueAdapter, type VenuePort } from '@bulwark/venues';
import { Logger } from '@nestjs/common';
import { ExecutionService } from './execution.service';
import { OrderRouting } from './execution/order-routing';
import { ExecutionState } from './execution/state';
import { ExecutionStreams } from './execution/streams';

const AT = Date.parse('2025-11-21T00:00:00Z');
const ACCOUNT = 'iso-1';
const VENUE_STREAM = Streams.venue(ACCOUNT, 'binance-usdm');

/** The next event of the spec's log: numbered revision, position and id (`ev-<n>`), at AT. */
const recorded = recordedLog({ tsEvent: AT, correlationId: 'spec' });

/** An approval as risk records it, for a MARKET entry of `quantity` on `symbol` (the fields execution reads). */
function entryApproved(n: number, symbol: string, quantity: string): RecordedEvent<'EntryApproved', EventData<'EntryApproved'>> {
  const data = { clientOrderId: clientOrderIdFor(ACCOUNT, n, 'E'), accountId: ACCOUNT, venue: 'binance-usdm', symbol, side: 'BUY', type: 'MARKET', quantity, leverage: 5 } as unknown as EventData<'EntryApproved'>;
  return recorded('EntryApproved', Streams.account(ACCOUNT), data);
}

/** The venue calls that matter here, in order: `<method> <symbol>`. */
type Calls = string[];

/**
 * The paper venue with its margin, leverage and order calls recorded in `calls`; `refuseIsolated`
 * answers setIsolatedMargin for those symbols with Binance's -4048 (a position open in cross margin).
 */
function recordingPaperVenue(rules: ReadonlyMap<string, Rules>, calls: Calls, refuseIsolated: Set<string>): PaperVenueAdapter {
  const venue = new PaperVenueAdapter('binance-usdm', rules);
  const setIsolatedMargin = venue.setIsolatedMargin.bind(venue);
  const setLeverage = venue.setLeverage.bind(venue);
  const placeOrder = venue.placeOrder.bind(venue);
  venue.setIsolatedMargin = async (accountId: string, symbol: string): Promise<Result<'CHANGED' | 'UNCHANGED', VenueRejection>> => {
    calls.push(`setIsolatedMargin ${symbol}`);
    if (refuseIsolated.has(symbol)) return err({ code: '-4048', message: 'Margin type cannot be changed if there exists position.' });
    return setIsolatedMargin(accountId, symbol);
  };
  venue.setLeverage = async (accountId, symbol, leverage) => {
    calls.push(`setLeverage ${symbol}`);
    return setLeverage(accountId, symbol, leverage);
  };
  venue.placeOrder = async (accountId, order) => {
    calls.push(`placeOrder ${order.symbol}`);
    return placeOrder(accountId, order);
  };
  return venue;
}

/** Execution over `store` on a recording paper venue, with the account opened (funded, one-way, isolated BTCUSDT). */
async function started(store = new InMemoryEventStore(), refuseIsolated = new Set<string>()) {
  const calls: Calls = [];
  let venue!: PaperVenueAdapter;
  const svc = new ExecutionService(new EventAppender(store), store, async (rules) => {
    venue = recordingPaperVenue(rules, calls, refuseIsolated);
    return { venue, reconcileSeconds: 0 };
  });
  // Risk's AccountOpened, in the log (a restarted execution folds it): appended once, delivered on every start.
  if ((await store.readStream(Streams.account(ACCOUNT))).length === 0) {
    const cfg = validateAccountConfig({ accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', capital: '10000', leverage: 5, venueBalance: '10000' });
    if (!cfg.ok) throw new Error(cfg.error.message);
    await new EventAppender(store).append(Streams.account(ACCOUNT), [event('AccountOpened', cfg.value)], 'no_stream', { tsEvent: AT, correlationId: 'spec', causationId: 'spec' });
  }
  await svc.onModuleInit();
  await svc.onEvent((await store.readStream(Streams.account(ACCOUNT)))[0]);
  return { store, svc, venue, calls };
}

const venueEvents = async (store: InMemoryEventStore) => (await store.readStream(VENUE_STREAM)).map((e) => ({ type: e.type, data: e.data as Record<string, unknown> }));
const marginModeSets = async (store: InMemoryEventStore) => (await venueEvents(store)).filter((e) => e.type === 'MarginModeSet').map((e) => e.data);
const orderEvents = async (store: InMemoryEventStore, clientOrderId: string) => (await store.readStream(Streams.order(clientOrderId))).map((e) => ({ type: e.type, data: e.data as Record<string, unknown> }));

describe('isolated margin on every symbol an account trades', () => {
  it('the first entry on ETHUSDT isolates it and records MarginModeSet before the order; the next entry, also after a restart, does not again', async () => {
    const { store, svc, calls } = await started();
    expect(calls).toEqual(['setIsolatedMargin BTCUSDT', 'setLeverage BTCUSDT']);
    expect(await marginModeSets(store)).toEqual([{ symbol: 'BTCUSDT', marginMode: 'ISOLATED' }]);

    const first = entryApproved(1, 'ETHUSDT', '0.015');
    await svc.onEvent(first);
    expect(calls.slice(2)).toEqual(['setIsolatedMargin ETHUSDT', 'setLeverage ETHUSDT', 'placeOrder ETHUSDT']);
    // Recorded on the venue stream before the order went: isolated, then the leverage.
    expect((await venueEvents(store)).slice(-2).map((e) => [e.type, e.data['symbol']])).toEqual([['MarginModeSet', 'ETHUSDT'], ['LeverageSet', 'ETHUSDT']]);
    expect(await marginModeSets(store)).toEqual([{ symbol: 'BTCUSDT', marginMode: 'ISOLATED' }, { symbol: 'ETHUSDT', marginMode: 'ISOLATED' }]);
    // Sent, and refused by the paper venue for want of an ETHUSDT price (none is recorded).
    expect((await orderEvents(store, first.data.clientOrderId)).map((e) => e.type)).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderRejected']);

    const second = entryApproved(2, 'ETHUSDT', '0.015');
    await svc.onEvent(second);
    expect(calls.slice(5)).toEqual(['setLeverage ETHUSDT', 'placeOrder ETHUSDT']);
    expect(await marginModeSets(store)).toHaveLength(2);

    // A restart: a new process, its paper venue put back from the log, the isolated symbols folded from the venue stream.
    await svc.onModuleDestroy();
    const again = await started(store);
    expect(again.calls).toEqual([]); // the account was configured already (a redelivered AccountOpened)
    const third = entryApproved(3, 'ETHUSDT', '0.015');
    await again.svc.onEvent(third);
    expect(again.calls).toEqual(['setLeverage ETHUSDT', 'placeOrder ETHUSDT']);
    expect(await marginModeSets(store)).toHaveLength(2);
    expect((await orderEvents(store, third.data.clientOrderId)).map((e) => e.type)).toEqual(['OrderInitialized', 'OrderSubmitted', 'OrderRejected']);
  });

  it('a venue that refuses isolated margin on ETHUSDT: the entry ends OrderDenied MARGIN_MODE_NOT_ISOLATED, no order sent; a later entry asks again', async () => {
    const refuse = new Set(['ETHUSDT']);
    const { store, svc, calls } = await started(new InMemoryEventStore(), refuse);
    const entry = entryApproved(1, 'ETHUSDT', '0.015');
    await svc.onEvent(entry);
    expect(calls.slice(2)).toEqual(['setIsolatedMargin ETHUSDT']);
    const events = await orderEvents(store, entry.data.clientOrderId);
    expect(events.map((e) => e.type)).toEqual(['OrderInitialized', 'OrderDenied']);
    expect(events[0].data).toMatchObject({ symbol: 'ETHUSDT', purpose: 'ENTRY', reduceOnly: false });
    expect(events[1].data).toEqual({
      clientOrderId: entry.data.clientOrderId, code: 'MARGIN_MODE_NOT_ISOLATED',
      message: 'venue refused isolated margin on ETHUSDT: -4048 Margin type cannot be changed if there exists position.; no entry in cross margin',
    });
    expect(await marginModeSets(store)).toEqual([{ symbol: 'BTCUSDT', marginMode: 'ISOLATED' }]);
    // Handled again (a redelivery): the order exists, nothing more is asked or recorded.
    await svc.onEvent(entry);
    expect(calls.slice(2)).toEqual(['setIsolatedMargin ETHUSDT']);
    expect(await orderEvents(store, entry.data.clientOrderId)).toHaveLength(2);

    // The refusal is not kept: once the venue agrees, the next entry is isolated and sent.
    refuse.clear();
    await svc.onEvent(entryApproved(2, 'ETHUSDT', '0.015'));
    expect(calls.slice(3)).toEqual(['setIsolatedMargin ETHUSDT', 'setLeverage ETHUSDT', 'placeOrder ETHUSDT']);
    expect(await marginModeSets(store)).toEqual([{ symbol: 'BTCUSDT', marginMode: 'ISOLATED' }, { symbol: 'ETHUSDT', marginMode: 'ISOLATED' }]);
  });

  it('a later child of a split entry on a symbol still not isolated is denied too, not sent', async () => {
    const store = new InMemoryEventStore();
    const appender = new EventAppender(store);
    const log = new Logger('spec');
    const calls: Calls = [];
    const venue = {
      venue: 'binance-usdm',
      async setIsolatedMargin(_a: string, symbol: string) {
        calls.push(`setIsolatedMargin ${symbol}`);
        return err({ code: '-4048', message: 'Margin type cannot be changed if there exists position.' });
      },
      async placeOrder(_a: string, o: { symbol: string }) {
        calls.push(`placeOrder ${o.symbol}`);
        throw new Error('no order may be sent');
      },
    } as unknown as VenuePort;
    const state = new ExecutionState();
    state.venue = venue as never;
    state.configured.add(ACCOUNT);
    const streams = new ExecutionStreams(appender, store, new Quarantine('execution', appender, () => undefined), state, log);
    const routing = new OrderRouting(state, streams, store, log);
    const parent = entryApproved(9, 'ETHUSDT', '0.03');
    const child = { clientOrderId: `${parent.data.clientOrderId}-2`, quantity: '0.015' };
    await routing.placeEntry(parent, child, { tsEvent: AT, correlationId: 'spec', causationId: 'tick-spec-1' });
    expect(calls).toEqual(['setIsolatedMargin ETHUSDT']);
    const events = await orderEvents(store, child.clientOrderId);
    expect(events.map((e) => e.type)).toEqual(['OrderInitialized', 'OrderDenied']);
    expect(events[0].data).toMatchObject({ parentClientOrderId: parent.data.clientOrderId, quantity: '0.015' });
    expect(events[1].data['code']).toBe('MARGIN_MODE_NOT_ISOLATED');
    expect(state.openOrders.size).toBe(0);
  });
});
