import { randomUUID } from 'node:crypto';
import { type DomainEvent, EventCatalogue, type MarketTick, type NewEvent, type RecordedEvent, candleCorrelationId, parseEvent } from '@bulwark/contracts';
import { type EventStore, type ExpectedRevision, WrongExpectedRevisionError } from '@bulwark/event-store';
import { SpanKind, activeTraceId, activeTraceparent, contextOfTraceparent, inSpan, observeTickToOrder, processMetrics, processProjection, withCorrelation } from '@bulwark/telemetry';
import { trace } from '@opentelemetry/api';

/** Where an event came from: market time, the originating candle/request, the causing message. */
export interface Causation {
  tsEvent: number;
  correlationId: string;
  causationId: string;
}

/** Derive the causation of events decided because of `e`. */
export function causedBy(e: RecordedEvent): Causation {
  return { tsEvent: e.metadata.tsEvent, correlationId: e.metadata.correlationId, causationId: e.metadata.eventId };
}

/** The causation of events decided at a market step: its market time, its candle's correlation id, `tick-<runId>-<seq>`. */
export function causedByTick(tick: MarketTick): Causation {
  return { tsEvent: tick.ts, correlationId: candleCorrelationId(tick.venue, tick.symbol, tick.candleOpenTime), causationId: `tick-${tick.runId}-${tick.seq}` };
}

/**
 * Appends domain events with full metadata (event id, tsEvent, tsInit, correlation,
 * causation, schema version) and counts what this process appended — the replay clock
 * uses that count to know when the system is quiet.
 */
export class EventAppender {
  private count = 0;
  /** This appender's id: its count starts at 0, so the replay clock compares counts of one instance only. */
  readonly instance = randomUUID();
  constructor(readonly store: EventStore, private readonly clock: () => number = Date.now) {}

  get appended(): number {
    return this.count;
  }

  toNewEvents(events: DomainEvent[], c: Causation): NewEvent[] {
    const tsInit = this.clock();
    // The work that decided these events: a consumer continues its trace (docs/observability.md).
    const traceparent = activeTraceparent();
    return events.map((e) => ({
      type: e.type,
      data: e.data,
      metadata: {
        eventId: randomUUID(),
        tsEvent: c.tsEvent,
        tsInit,
        correlationId: c.correlationId,
        causationId: c.causationId,
        schemaVersion: EventCatalogue[e.type].version,
        ...(traceparent ? { traceparent } : {}),
      },
    }));
  }

  /**
   * Append events to a stream with optimistic concurrency, in a span `append <category>` whose
   * context the events carry (`metadata.traceparent`). Timed into `bulwark_event_append_seconds`;
   * what was appended feeds the process's metrics projection, and an `OrderSubmitted` (the order
   * is sent to the venue) observes `bulwark_tick_to_order_seconds`.
   * @returns the store's result and the events as stored (with their metadata), or null for no events.
   * @throws WrongExpectedRevisionError on a concurrency conflict.
   */
  async append(streamId: string, events: DomainEvent[], expected: ExpectedRevision, c: Causation) {
    if (events.length === 0) return null;
    const types = events.map((e) => e.type);
    const attributes = { 'bulwark.stream_id': streamId, 'bulwark.event_types': types.join(','), 'bulwark.correlation_id': c.correlationId };
    return inSpan(`append ${streamId.slice(0, Math.max(0, streamId.indexOf('-'))) || streamId}`, { kind: SpanKind.PRODUCER, attributes }, async () => {
      const newEvents = this.toNewEvents(events, c);
      const done = processMetrics().eventAppendSeconds.startTimer();
      const result = await this.store.append(streamId, newEvents, expected);
      done();
      this.count += events.length;
      if (types.includes('OrderSubmitted')) observeTickToOrder(c.correlationId);
      // Metrics never fail an append.
      await processProjection().appended(streamId, newEvents).catch(() => undefined);
      return { result, newEvents };
    });
  }
}

/** Streams whose later events continue the trace of their first one (see `AggregateRepository`). */
const TRACE_CONTINUING_PREFIX = 'order-';

/** How an aggregate folds its events (type and data; folding never depends on store positions). */
export interface Evolver<S> {
  initialState(): S;
  evolve(state: S, e: DomainEvent): S;
}

/**
 * Loads aggregates from their streams and appends their decisions with optimistic
 * concurrency. The service is the single writer of these streams, so loaded state is
 * cached; a concurrency conflict drops the cache entry and the command is decided again
 * on fresh state (once).
 */
export class AggregateRepository<S> {
  private readonly cache = new Map<string, { state: S; revision: number | null }>();
  /** The traceparent of each loaded order stream's first event: later events of the order join its trace. */
  private readonly origins = new Map<string, string>();

  /**
   * @param onPoison called for a stored event that cannot be applied (unknown type, invalid
   *   data, or a transition the aggregate refuses): the event is skipped and loading goes on.
   *   Without it such an event throws (a corrupt stream stops the caller).
   */
  constructor(
    private readonly appender: EventAppender,
    private readonly evolver: Evolver<S>,
    private readonly onPoison?: (e: RecordedEvent, reason: string) => Promise<void>,
  ) {}

  async load(streamId: string): Promise<{ state: S; revision: number | null }> {
    const hit = this.cache.get(streamId);
    if (hit) return hit;
    const events = await this.appender.store.readStream(streamId);
    let state = this.evolver.initialState();
    for (const e of events) {
      const parsed = parseEvent(e.type, e.data, e.metadata.schemaVersion);
      let reason: string | null = parsed.ok ? null : parsed.reason;
      if (parsed.ok) {
        try {
          state = this.evolver.evolve(state, parsed.event);
        } catch (err) {
          reason = (err as Error).message;
        }
      }
      if (reason !== null) {
        if (!this.onPoison) throw new Error(`${streamId}@${e.revision}: ${reason}`);
        await this.onPoison(e, reason);
      }
    }
    const origin = events[0]?.metadata.traceparent;
    if (origin && streamId.startsWith(TRACE_CONTINUING_PREFIX)) this.origins.set(streamId, origin);
    // Appends go after the last stored event, a skipped one included.
    const loaded = { state, revision: events.length ? events[events.length - 1].revision : null };
    this.cache.set(streamId, loaded);
    return loaded;
  }

  /**
   * Decide on the current state and append the result.
   * @returns the decision's value (events appended, or the rejection) and the new state.
   */
  async handle<R extends { ok: boolean }>(
    streamId: string,
    decide: (state: S) => R & ({ ok: true; value: DomainEvent[] } | { ok: false }),
    causation: Causation,
  ): Promise<{ result: R; state: S }> {
    for (let attempt = 0; ; attempt++) {
      const { state, revision } = await this.load(streamId);
      const result = decide(state);
      if (!result.ok) return { result, state };
      const events = (result as unknown as { value: DomainEvent[] }).value;
      if (events.length === 0) return { result, state };
      try {
        const { result: r, newEvents } = (await this.inOriginTrace(streamId, causation, () => this.appender.append(streamId, events, revision === null ? 'no_stream' : revision, causation)))!;
        const origin = newEvents[0].metadata.traceparent;
        if (revision === null && origin && streamId.startsWith(TRACE_CONTINUING_PREFIX)) this.origins.set(streamId, origin);
        let next = state;
        for (const e of events) next = this.evolver.evolve(next, e);
        this.cache.set(streamId, { state: next, revision: r.nextExpectedRevision });
        return { result, state: next };
      } catch (e) {
        this.cache.delete(streamId);
        if (e instanceof WrongExpectedRevisionError && attempt === 0) continue;
        throw e;
      }
    }
  }

  /**
   * An order's later events (acceptance, fills, cancel) are decided in other work (a later clock
   * step, the venue's stream) than the entry that created it: they are appended in a span of the
   * order's own trace, linked to the work that caused them, so a trade is one trace from the
   * candle to the position (docs/observability.md).
   */
  private inOriginTrace<T>(streamId: string, c: Causation, run: () => Promise<T>): Promise<T> {
    const origin = this.origins.get(streamId);
    const parent = contextOfTraceparent(origin);
    const originTrace = trace.getSpanContext(parent)?.traceId;
    if (!origin || !originTrace || originTrace === activeTraceId()) return run();
    const current = trace.getActiveSpan()?.spanContext();
    return inSpan(`continue ${streamId}`, { parent: withCorrelation(parent, c.correlationId), links: current ? [{ context: current }] : [] }, run);
  }

  /** Forget cached state (after an external change, e.g. in tests). */
  forget(streamId?: string): void {
    if (streamId) this.cache.delete(streamId);
    else this.cache.clear();
    if (streamId) this.origins.delete(streamId);
    else this.origins.clear();
  }
}
