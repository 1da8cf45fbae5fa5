import type { RecordedEvent } from '@bulwark/contracts';
import type { EventStore } from '@bulwark/event-store';

/**
 * The event log in the form two runs of the same market data can be compared by: each event
 * as [streamId, revision, type, data, tsEvent, correlationId, causation], where event ids
 * (random per run) are replaced by the `stream@revision` they name, and the rules' record time
 * (the wall clock when the venue loaded them) by "loaded". Two deterministic runs give equal
 * arrays.
 */
export async function comparableLog(store: EventStore): Promise<unknown[][]> {
  const all = [];
  for await (const e of store.readAll()) all.push(e);
  const ref = new Map(all.map((e) => [e.metadata.eventId, `${e.streamId}@${e.revision}`]));
  return all.map((e) => [
    e.streamId, e.revision, e.type,
    JSON.parse(JSON.stringify(e.data), (_k, v) => (typeof v === 'string' && ref.has(v) ? ref.get(v) : v)),
    e.streamId.startsWith('rules-') ? 'loaded' : e.metadata.tsEvent, e.metadata.correlationId, ref.get(e.metadata.causationId) ?? 'outside',
  ]);
}

/** An event as two runs compare it (see {@link comparableStreams}). */
export interface ComparableEvent {
  revision: number;
  type: string;
  data: unknown;
  /** Market time (ms). */
  tsEvent: number;
  correlationId: string;
  /** The event it was caused by as `stream@revision`, or `outside` (a clock step, a request, an event not given). */
  causation: string;
}

/**
 * How the venue's own ids are compared: `as-recorded`, or `by-order`, for runs whose venue
 * numbers differ, e.g. an account traded alone and beside others on one venue (Binance numbers
 * order and trade ids per symbol across every account, and so does the paper venue).
 */
export type VenueIdComparison = 'as-recorded' | 'by-order';

/**
 * The venue's ids of `events` (OrderAccepted / OrderFilled `venueOrderId`, OrderFilled
 * `tradeId`) named by the client order they belong to: `<clientOrderId>/order` and
 * `<clientOrderId>/trade-<k>` (its k-th trade, in its stream's order).
 */
function venueIdNames(events: readonly RecordedEvent[]): Map<string, string> {
  const names = new Map<string, string>();
  const trades = new Map<string, number>();
  for (const e of events) {
    if (e.type !== 'OrderAccepted' && e.type !== 'OrderFilled') continue;
    const d = e.data as { clientOrderId: string; venueOrderId: string; tradeId?: string };
    if (!names.has(d.venueOrderId)) names.set(d.venueOrderId, `${d.clientOrderId}/order`);
    if (d.tradeId !== undefined && !names.has(d.tradeId)) {
      const k = (trades.get(d.clientOrderId) ?? 0) + 1;
      trades.set(d.clientOrderId, k);
      names.set(d.tradeId, `${d.clientOrderId}/trade-${k}`);
    }
  }
  return names;
}

/**
 * Events grouped by stream in the form two runs of the same market data are compared by,
 * stream by stream: the fact (type, data), when it happened in market time, what it belongs to
 * (correlation) and what it refers to. Event ids are random per run, so a reference to an
 * event (a `sourceEventId` in the data, the causation) is compared as the stream and revision
 * it names (`→stream@revision` in the data); the wall clock (`tsInit`) is left out. With
 * `venueIds: 'by-order'` the venue's order and trade ids are named by their client order
 * ({@link VenueIdComparison}) in the fields that carry them (`venueOrderId`, `tradeId`, and a
 * venue-generated order's `sourceEventId`, `venue-order-<id>` / `liquidation-<id>`).
 * @param events the events to compare (e.g. one account's, in log order); a reference to an event not among them compares as `outside`
 * @returns per stream id, its events in revision order
 */
export function comparableStreams(events: readonly RecordedEvent[], opts: { venueIds?: VenueIdComparison } = {}): Map<string, ComparableEvent[]> {
  const ref = new Map(events.map((e) => [e.metadata.eventId, `${e.streamId}@${e.revision}`]));
  const venue = opts.venueIds === 'by-order' ? venueIdNames(events) : new Map<string, string>();
  const embedded = /^(venue-order|liquidation)-(.+)$/;
  // By field, never by value alone: a venue id ("17") may equal another field's value.
  const comparable = (key: string, v: unknown): unknown => {
    if (typeof v !== 'string') return v;
    if (ref.has(v)) return `→${ref.get(v)}`;
    if ((key === 'venueOrderId' || key === 'tradeId') && venue.has(v)) return venue.get(v);
    const m = key === 'sourceEventId' ? embedded.exec(v) : null;
    return m && venue.has(m[2]) ? `${m[1]}-${venue.get(m[2])}` : v;
  };
  const streams = new Map<string, ComparableEvent[]>();
  for (const e of events) {
    const list = streams.get(e.streamId) ?? streams.set(e.streamId, []).get(e.streamId)!;
    list.push({
      revision: e.revision, type: e.type, data: JSON.parse(JSON.stringify(e.data), comparable),
      tsEvent: e.metadata.tsEvent, correlationId: e.metadata.correlationId, causation: ref.get(e.metadata.causationId) ?? 'outside',
    });
  }
  for (const list of streams.values()) list.sort((a, b) => a.revision - b.revision);
  return streams;
}
