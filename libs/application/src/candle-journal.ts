import { type Candle, candleCorrelationId, type EventData, event, Streams, type VenueId } from '@bulwark/contracts';
import type { EventStore } from '@bulwark/event-store';
import type { EventAppender } from '@bulwark/messaging';

/** Where the live feed records the candles it replayed, and where a restart finds the last one. */
export interface LiveCandleJournal {
  /** Open time (epoch ms) of the last candle recorded for the instrument, null when none. */
  lastOpenTime(venue: VenueId, symbol: string): Promise<number | null>;
  /** Record a candle whose steps every service has handled. */
  record(runId: string, venue: VenueId, symbol: string, candle: Candle): Promise<void>;
}

/**
 * The live candles in the event log: `CandleClosed` on `candles-<venue>-<symbol>`, appended in
 * order with optimistic concurrency (one market-data writes them; a second writer fails the
 * append instead of interleaving). The event's market time is the candle's close (open + 1 m − 1 ms).
 */
export class LogCandleJournal implements LiveCandleJournal {
  private readonly revisions = new Map<string, number>();

  constructor(
    private readonly appender: EventAppender,
    private readonly intervalMs = 60_000,
  ) {}

  private get store(): EventStore {
    return this.appender.store;
  }

  async lastOpenTime(venue: VenueId, symbol: string): Promise<number | null> {
    const id = Streams.candles(venue, symbol);
    const rev = await this.store.streamRevision(id);
    this.revisions.set(id, rev ?? -1);
    if (rev === null) return null;
    const [last] = await this.store.readStream(id, { fromRevision: rev, maxCount: 1 });
    return last ? (last.data as EventData<'CandleClosed'>).candle.openTime : null;
  }

  async record(runId: string, venue: VenueId, symbol: string, candle: Candle): Promise<void> {
    const id = Streams.candles(venue, symbol);
    if (!this.revisions.has(id)) this.revisions.set(id, (await this.store.streamRevision(id)) ?? -1);
    const rev = this.revisions.get(id)!;
    const cause = candleCorrelationId(venue, symbol, candle.openTime);
    const r = await this.appender.append(id, [event('CandleClosed', { runId, venue, symbol, candle })], rev < 0 ? 'no_stream' : rev, {
      tsEvent: candle.openTime + this.intervalMs - 1,
      correlationId: cause,
      causationId: cause,
    });
    if (r) this.revisions.set(id, r.result.nextExpectedRevision);
  }
}
