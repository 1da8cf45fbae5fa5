import { z } from 'zod';
import { EpochMs, VenueId } from './primitives';

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
  /** Which instance of a service acted when (ServiceActivated, ServiceLeaseReleased), one stream per service. */
  lease: (service: string) => `lease-${service}`,
  /** Stop-monitor's own alerts about an account's protection (mark price stale / back), not folded by any aggregate. */
  monitor: (accountId: string) => `monitor-${accountId}`,
  /** A replay run's journal (market-data), so the run survives a market-data restart. */
  replay: (runId: string) => `replay-${runId}`,
  /** The live candles market-data replayed (CandleClosed), one stream per instrument. */
  candles: (venue: string, symbol: string) => `candles-${venue}-${symbol}`,
  /** The event store's checkpoints of an account's hash-chain heads (ChainCheckpointRecorded; docs/event-store.md). */
  chain: (accountId: string) => `chain-${accountId}`,
  /** A gateway user's life (UserCreated, UserRoleChanged, UserDisabled), written by `bulwark user`. */
  user: (username: string) => `user-${username}`,
} as const;

// ---------------------------------------------------------------------------------------
// Parsing stream ids: the one place that reads the parts back out of the ids `Streams` builds.
// Account ids and venues may hold '-', so a part is found by the shape of what follows it:
// the venue is one of VenueId's names, a symbol is [A-Z0-9]{2,20} without '-', n is a number.
// ---------------------------------------------------------------------------------------

const ID = '[A-Za-z0-9_-]{1,64}';
const SYM = '[A-Z0-9]{2,20}';
const VENUES = VenueId.options.map((v) => v.replace(/-/g, '\\-')).join('|');
const POSITION_TAIL = `(${ID})-(${VENUES})-(${SYM})-([1-9]\\d{0,8})`;
const STREAM_PATTERNS = {
  order: /^order-([A-Za-z0-9_-]{1,36})$/,
  position: new RegExp(`^position-${POSITION_TAIL}$`),
  stop: new RegExp(`^stop-(position-${POSITION_TAIL})$`),
  venue: new RegExp(`^venue-(${ID})-(${VENUES})$`),
  margin: new RegExp(`^margin-(${ID})-(${SYM})$`),
  rules: new RegExp(`^rules-(${VENUES})-(${SYM})$`),
  candles: new RegExp(`^candles-(${VENUES})-(${SYM})$`),
  /** One account id after the category. */
  account: new RegExp(`^(account|signal|ledger|monitor|chain)-(${ID})$`),
  /** A service name or a run id after the category. */
  named: /^(quarantine|replay|lease)-([A-Za-z0-9_-]{1,180})$/,
  user: /^user-([A-Za-z0-9_-]{1,64})$/,
  candle: new RegExp(`^candle-(${VENUES})-(${SYM})-(\\d{1,15})$`),
} as const;

/** A position lifecycle's stream: `position-<accountId>-<venue>-<symbol>-<n>` (n >= 1). */
export interface PositionStreamRef {
  accountId: string;
  venue: VenueId;
  symbol: string;
  sequence: number;
}

/** The parts of a stream id built by {@link Streams}, by category. */
export type ParsedStreamId =
  | { category: 'order'; clientOrderId: string }
  | { category: 'account' | 'signal' | 'ledger' | 'monitor' | 'chain'; accountId: string }
  | ({ category: 'position' } & PositionStreamRef)
  | ({ category: 'stop'; positionStreamId: string } & PositionStreamRef)
  | { category: 'venue'; accountId: string; venue: VenueId }
  | { category: 'margin'; accountId: string; symbol: string }
  | { category: 'rules' | 'candles'; venue: VenueId; symbol: string }
  | { category: 'quarantine' | 'lease'; service: string }
  | { category: 'replay'; runId: string }
  | { category: 'user'; username: string };

const positionRef = (m: RegExpExecArray, at: number): PositionStreamRef => ({ accountId: m[at], venue: m[at + 1] as VenueId, symbol: m[at + 2], sequence: Number(m[at + 3]) });

/**
 * Read a stream id back into the parts {@link Streams} built it from.
 * @returns the parts, or null for anything `Streams` does not build (unknown category, a part
 *   of the wrong shape: an account id beyond [A-Za-z0-9_-]{1,64}, a venue VenueId does not
 *   list, a symbol beyond [A-Z0-9]{2,20}, a position number that is not an integer >= 1). Never throws.
 */
export function parseStreamId(streamId: string): ParsedStreamId | null {
  if (typeof streamId !== 'string') return null;
  const P = STREAM_PATTERNS;
  let m: RegExpExecArray | null;
  if ((m = P.order.exec(streamId))) return { category: 'order', clientOrderId: m[1] };
  if ((m = P.position.exec(streamId))) return { category: 'position', ...positionRef(m, 1) };
  if ((m = P.stop.exec(streamId))) return { category: 'stop', positionStreamId: m[1], ...positionRef(m, 2) };
  if ((m = P.venue.exec(streamId))) return { category: 'venue', accountId: m[1], venue: m[2] as VenueId };
  if ((m = P.margin.exec(streamId))) return { category: 'margin', accountId: m[1], symbol: m[2] };
  if ((m = P.rules.exec(streamId))) return { category: 'rules', venue: m[1] as VenueId, symbol: m[2] };
  if ((m = P.candles.exec(streamId))) return { category: 'candles', venue: m[1] as VenueId, symbol: m[2] };
  if ((m = P.account.exec(streamId))) return { category: m[1] as 'account', accountId: m[2] };
  if ((m = P.user.exec(streamId))) return { category: 'user', username: m[1] };
  if ((m = P.named.exec(streamId))) return m[1] === 'replay' ? { category: 'replay', runId: m[2] } : { category: m[1] as 'quarantine' | 'lease', service: m[2] };
  return null;
}

/** The parts of `position-<accountId>-<venue>-<symbol>-<n>`, or null (see {@link parseStreamId}). */
export function parsePositionStreamId(streamId: string): PositionStreamRef | null {
  const p = parseStreamId(streamId);
  return p?.category === 'position' ? { accountId: p.accountId, venue: p.venue, symbol: p.symbol, sequence: p.sequence } : null;
}

/** The parts of `stop-position-<accountId>-<venue>-<symbol>-<n>` with the position's stream id, or null. */
export function parseStopStreamId(streamId: string): (PositionStreamRef & { positionStreamId: string }) | null {
  const p = parseStreamId(streamId);
  return p?.category === 'stop' ? { positionStreamId: p.positionStreamId, accountId: p.accountId, venue: p.venue, symbol: p.symbol, sequence: p.sequence } : null;
}

/**
 * The account a stream belongs to: `account-`, `signal-`, `ledger-`, `monitor-`, `chain-`,
 * `position-`, `stop-position-`, `venue-` and `margin-` ids name it. An order stream names only
 * its client order id (which holds a hash of the account), so `orderAccounts` (order stream id →
 * account, learnt from each order's OrderInitialized) answers for those.
 * @returns the account id, or null for shared streams (rules, candles, replay, quarantine), an
 *   order stream `orderAccounts` does not know, or an id `Streams` does not build.
 */
export function accountOfStream(streamId: string, orderAccounts?: ReadonlyMap<string, string>): string | null {
  const p = parseStreamId(streamId);
  if (!p) return null;
  if (p.category === 'order') return orderAccounts?.get(streamId) ?? null;
  return 'accountId' in p ? p.accountId : null;
}

/**
 * The correlation id of everything a closed candle (or a replay step inside it) caused:
 * `candle-<venue>-<symbol>-<openTime>` (openTime in epoch ms).
 */
export function candleCorrelationId(venue: string, symbol: string, openTime: number): string {
  return `candle-${venue}-${symbol}-${openTime}`;
}

/** The parts of `candle-<venue>-<symbol>-<openTime>`, or null for any other correlation id (a request, a rules load). */
export function parseCandleCorrelationId(correlationId: string): { venue: VenueId; symbol: string; openTime: number } | null {
  const m = typeof correlationId === 'string' ? STREAM_PATTERNS.candle.exec(correlationId) : null;
  return m ? { venue: m[1] as VenueId, symbol: m[2], openTime: Number(m[3]) } : null;
}
