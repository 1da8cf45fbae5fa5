import { EventCatalogue, parseEvent, type RecordedEvent } from '@bulwark/contracts';
import { type EventStore, MAX_EVENT_BYTES, type ReadAllOptions, type UnreadableEvent, withoutChain } from '@bulwark/event-store';

/*
 * What the read models (replay, audits, the account projection) do with stored messages that are not valid
 * events: leave them out of every fold, and report each one once with where it is and why.
 * Two kinds reach here:
 * - UNREADABLE: the store could not decode the message (not JSON, no `{type,data,metadata}`,
 *   bad headers); the adapter skips it and reports it through the reads' `onUnreadable`;
 * - INVALID: decoded, but its type is not in the event catalogue, its data fails its schema
 *   (`parseEvent`), or its body is larger than the store ever writes (MAX_EVENT_BYTES).
 */

/** A stored message left out of the audit, reported once. */
export interface SkippedEvent {
  kind: 'UNREADABLE' | 'INVALID';
  streamId: string;
  /** The revision it holds or claims; null when it claims none. */
  revision: number | null;
  /** Its global position in the log (the JetStream stream sequence). */
  position: number;
  /** The event type it claims, null when none can be read. */
  type: string | null;
  /** Its market time (metadata.tsEvent) when it decoded; null for an unreadable message. */
  tsEvent: number | null;
  reason: string;
}

/**
 * Is a decoded event a valid event of the catalogue? Returns it with its data as the current
 * schema version has it (older versions upcast), or the reason it is not.
 * Reasons: larger than MAX_EVENT_BYTES (the store refuses to write such a body, so it was not
 * written by Bulwark); `parseEvent`'s reason (unknown type, newer schema version, schema issues).
 */
export function screenEvent(e: RecordedEvent): { ok: true; event: RecordedEvent } | { ok: false; reason: string } {
  // The limit excludes the chain fields the store adds (docs/event-store.md).
  const bytes = Buffer.byteLength(JSON.stringify({ type: e.type, data: e.data, metadata: withoutChain(e.metadata) }));
  if (bytes > MAX_EVENT_BYTES) return { ok: false, reason: `the event is ${bytes} bytes, more than the ${MAX_EVENT_BYTES} the store writes (MAX_EVENT_BYTES)` };
  const p = parseEvent(e.type, e.data, e.metadata.schemaVersion);
  return p.ok ? { ok: true, event: { ...e, data: p.event.data } } : { ok: false, reason: p.reason };
}

/**
 * {@link screenEvent} for a log that is trusted (the replay without `verify`): the store checked
 * every event's schema and size at append (EventStore.append's contract), so an event of a known
 * type at its type's current schema version is taken as it is, without re-running the schema.
 * Anything else (unknown type, older or newer version: upcast or refused) is screened in full.
 * An event stored past those checks (a `validate: false` store, a foreign writer) can still
 * reach the folds: they report what they cannot use.
 */
export function trustEvent(e: RecordedEvent): { ok: true; event: RecordedEvent } | { ok: false; reason: string } {
  return isTrustedAsIs(e) ? { ok: true, event: e } : screenEvent(e);
}

/** Whether a trusted log's event is taken as it is ({@link trustEvent}): a catalogue type at its current schema version. */
export function isTrustedAsIs(e: RecordedEvent): boolean {
  return currentVersions().get(e.type) === e.metadata.schemaVersion;
}

let versions: ReadonlyMap<string, number> | null = null;
/** Each catalogue type's current schema version (one map lookup per event on the trusted path). */
function currentVersions(): ReadonlyMap<string, number> {
  versions ??= new Map(Object.entries(EventCatalogue).map(([type, c]) => [type, c.version]));
  return versions;
}

/**
 * The skipped messages of one command run, each once (by global position) however many
 * reads met it, with checked reads over an EventStore.
 */
export class SkipLog {
  private readonly byPosition = new Map<number, SkippedEvent>();

  /** The reads' `onUnreadable` callback. */
  readonly onUnreadable = (u: UnreadableEvent): void => {
    this.add({ kind: 'UNREADABLE', streamId: u.streamId, revision: u.revision, position: u.position, type: u.eventType, tsEvent: null, reason: u.reason });
  };

  add(s: SkippedEvent): void {
    if (!this.byPosition.has(s.position)) this.byPosition.set(s.position, s);
  }

  /** The event, screened ({@link screenEvent}); null (and recorded) when it is not valid. */
  screen(e: RecordedEvent): RecordedEvent | null {
    const s = screenEvent(e);
    if (s.ok) return s.event;
    this.add({ kind: 'INVALID', streamId: e.streamId, revision: e.revision, position: e.position, type: e.type, tsEvent: e.metadata.tsEvent, reason: s.reason });
    return null;
  }

  /** `store.readAll(opts)` with unreadable messages reported here and invalid events left out. */
  async *readAll(store: EventStore, opts: ReadAllOptions = {}): AsyncGenerator<RecordedEvent> {
    for await (const e of store.readAll({ ...opts, onUnreadable: this.onUnreadable })) {
      const ok = this.screen(e);
      if (ok) yield ok;
    }
  }

  /** `store.readStream(streamId)` with unreadable messages reported here and invalid events left out. */
  async readStream(store: EventStore, streamId: string): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    for (const e of await store.readStream(streamId, { onUnreadable: this.onUnreadable })) {
      const ok = this.screen(e);
      if (ok) out.push(ok);
    }
    return out;
  }

  /** Every skipped message so far, in log order. */
  list(): SkippedEvent[] {
    return [...this.byPosition.values()].sort((a, b) => a.position - b.position);
  }

  /** Those of one stream. */
  ofStream(streamId: string): SkippedEvent[] {
    return this.list().filter((s) => s.streamId === streamId);
  }
}

/** One skipped message in one line: `order-x#3 (position 812, OrderFilled): unreadable: body is not JSON (…)`. */
export function formatSkipped(s: SkippedEvent): string {
  return `${s.streamId}#${s.revision ?? '—'} (position ${s.position}, ${s.type ?? 'type unknown'}): ${s.kind === 'UNREADABLE' ? 'unreadable' : 'invalid'}: ${s.reason}`;
}
