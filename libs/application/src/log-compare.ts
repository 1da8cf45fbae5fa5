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
