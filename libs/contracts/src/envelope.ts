import { z } from 'zod';
import { EpochMs } from './primitives';

/**
 * Metadata every stored event carries (docs/architecture.md "Streams and events").
 * - `tsEvent`: when it happened in market time (epoch ms); in replay, the candle's time.
 * - `tsInit`: when this system created the event (wall clock, epoch ms).
 * - `correlationId`: the originating candle or request; `causationId`: the message that caused it.
 */
export const EventMetadata = z.object({
  eventId: z.string().min(1).max(128),
  tsEvent: EpochMs,
  tsInit: EpochMs,
  correlationId: z.string().min(1).max(200),
  causationId: z.string().min(1).max(200),
  schemaVersion: z.number().int().positive(),
  /**
   * Hash chain (docs/event-store.md), set by the event store at append, never by the writer:
   * `hash` = SHA-256 (lower-case hex) of this event's canonical content and `prevHash`, the
   * `hash` of the stream's previous event (64 zeros for its first). Absent on events stored
   * before the chain existed ("unchained (pre-hash)").
   */
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits (SHA-256)').optional(),
  prevHash: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits (SHA-256)').optional(),
  /**
   * W3C trace context (`00-<trace id>-<span id>-<flags>`) of the work that appended the event,
   * set by the appender when a trace is active (docs/observability.md): a consumer continues
   * that trace. Absent when no trace was active (backtests, older events).
   */
  traceparent: z.string().regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'expected a W3C traceparent').optional(),
});
export type EventMetadata = z.infer<typeof EventMetadata>;

/** An event as handed to `EventStore.append`. `data` must be JSON-serialisable. */
export interface NewEvent<T extends string = string, D = unknown> {
  type: T;
  data: D;
  metadata: EventMetadata;
}

/**
 * An event as read back from a store.
 * - `revision`: 0-based position inside its stream (first event = 0).
 * - `position`: position in the store's global log (JetStream stream sequence, 1-based),
 *   usable as a checkpoint for `readAll` / `subscribeToAll`.
 */
export interface RecordedEvent<T extends string = string, D = unknown> extends NewEvent<T, D> {
  streamId: string;
  revision: number;
  position: number;
}

/** A stream id: `<category>-<id>`, e.g. `order-bw1a2b3c-7E`. Subject-safe characters only. */
export const StreamId = z.string().regex(/^[a-z]+-[A-Za-z0-9_-]{1,180}$/, 'expected <category>-<id>');

/** The category of a stream id: the text before the first '-'. */
export function streamCategory(streamId: string): string {
  const i = streamId.indexOf('-');
  if (i <= 0) throw new Error(`not a stream id: ${streamId}`);
  return streamId.slice(0, i);
}

/** Stream ids of each aggregate (docs/architecture.md "Streams and events"). */
export const Streams = {
  order: (clientOrderId: string) => `order-${clientOrderId}`,
  account: (accountId: string) => `account-${accountId}`,
  signal: (accountId: string) => `signal-${accountId}`,
  position: (accountId: string, venue: string, symbol: string, n: number) => `position-${accountId}-${venue}-${symbol}-${n}`,
  stop: (positionStreamId: string) => `stop-${positionStreamId}`,
  rules: (venue: string, symbol: string) => `rules-${venue}-${symbol}`,
  venue: (accountId: string, venue: string) => `venue-${accountId}-${venue}`,
  margin: (accountId: string, symbol: string) => `margin-${accountId}-${symbol}`,
  /** Accounting's record of the account's equity high-water mark and deepest drawdown (they follow marks, which no other event holds). */
  ledger: (accountId: string) => `ledger-${accountId}`,
  /** Where a service records the events it could not apply (poison events), one stream per service. */
  quarantine: (service: string) => `quarantine-${service}`,
  /** Stop-monitor's own alerts about an account's protection (mark price stale / back), not folded by any aggregate. */
  monitor: (accountId: string) => `monitor-${accountId}`,
  /** A replay run's journal (market-data), so the run survives a market-data restart. */
  replay: (runId: string) => `replay-${runId}`,
  /** The live candles market-data replayed (CandleClosed), one stream per instrument. */
  candles: (venue: string, symbol: string) => `candles-${venue}-${symbol}`,
  /** The event store's checkpoints of an account's hash-chain heads (ChainCheckpointRecorded; docs/event-store.md). */
  chain: (accountId: string) => `chain-${accountId}`,
} as const;
