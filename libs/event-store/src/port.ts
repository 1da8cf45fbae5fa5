import type { NewEvent, RecordedEvent } from '@bulwark/contracts';

/**
 * What the caller believes about a stream before appending:
 * - `'any'`: no check;
 * - `'no_stream'`: the stream must not exist;
 * - `'stream_exists'`: the stream must have at least one event;
 * - a number: the revision (0-based) of the stream's last event.
 */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | number;

/**
 * Result of a successful append.
 * - `nextExpectedRevision`: revision of the last event of the batch (pass it as the next `expected`);
 * - `position`: global position of the last event of the batch (1-based).
 * Positions inside one batch increase but need not be contiguous (other streams' events may interleave).
 */
export interface AppendResult {
  nextExpectedRevision: number;
  position: number;
}

/** Optimistic-concurrency conflict: the stream is not where the caller expected it. */
export class WrongExpectedRevisionError extends Error {
  /**
   * @param streamId the stream appended to
   * @param expected what the caller passed
   * @param actual revision of the stream's last event when the conflict was detected; null = no stream
   */
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | null,
  ) {
    super(`wrong expected revision on ${streamId}: expected ${String(expected)}, actual ${actual === null ? 'no stream' : actual}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/** A stream id that does not match `<category>-<id>` (`StreamId` in @bulwark/contracts). */
export class InvalidStreamIdError extends Error {
  constructor(readonly streamId: string) {
    super(`invalid stream id ${JSON.stringify(streamId)}: expected <category>-<id> with [a-z]+ category and [A-Za-z0-9_-] id`);
    this.name = 'InvalidStreamIdError';
  }
}

/** A category filter that is not a stream category (`[a-z]+`). */
export class InvalidCategoryError extends Error {
  constructor(readonly category: string) {
    super(`invalid category ${JSON.stringify(category)}: expected [a-z]+`);
    this.name = 'InvalidCategoryError';
  }
}

/** Operation on a store after `close()`. */
export class EventStoreClosedError extends Error {
  constructor() {
    super('event store is closed');
    this.name = 'EventStoreClosedError';
  }
}

/** Largest stored event: UTF-8 bytes of its body JSON `{ type, data, metadata }` (64 KiB). */
export const MAX_EVENT_BYTES = 64 * 1024;

/**
 * An event refused by `append` (nothing of its batch is written):
 * - `eventType` not in `EventCatalogue` (@bulwark/contracts);
 * - `data` that fails the type's schema (`parseEvent`, after upcasting from `metadata.schemaVersion`);
 * - `metadata` that fails `EventMetadata`;
 * - a body that is not JSON-serialisable or longer than {@link MAX_EVENT_BYTES}.
 */
export class InvalidEventError extends Error {
  /**
   * @param streamId the stream appended to
   * @param eventType the refused event's `type` (as given)
   * @param reason why it was refused
   * @param index position of the refused event in the batch (0-based)
   */
  constructor(
    readonly streamId: string,
    readonly eventType: string,
    readonly reason: string,
    readonly index = 0,
  ) {
    super(`invalid event ${index} (${JSON.stringify(eventType)}) for ${streamId}: ${reason}`);
    this.name = 'InvalidEventError';
  }
}

/**
 * A stored message a read skipped because it cannot be turned into a RecordedEvent (not JSON,
 * not `{ type, data, metadata }`, metadata failing `EventMetadata`, missing or malformed
 * adapter headers). An event of an unknown type, or whose data fails its schema, is not
 * unreadable: reads return it and consumers decide.
 * - `streamId`: from the message's stream-id header, else its subject;
 * - `revision`: the revision the message claims (its revision header), null when it has none;
 * - `position`: its global position (the JetStream stream sequence);
 * - `eventType`: the type it claims (header or body), null when none can be read;
 * - `reason`: what is wrong with it.
 */
export interface UnreadableEvent {
  streamId: string;
  revision: number | null;
  position: number;
  eventType: string | null;
  reason: string;
}

/**
 * Called once per skipped message of a read, in log order, before the read goes on. An error it
 * throws ends the read (readAll/readStream reject, a subscription's `done` rejects). Without it,
 * the adapter logs one warning per skipped message (once per message and store instance).
 */
export type UnreadableHandler = (u: UnreadableEvent) => void;

/**
 * `readStream` window: from revision `fromRevision` (default 0), at most `maxCount` events.
 * `onUnreadable` hears of each skipped message of the stream (see {@link UnreadableEvent}).
 */
export interface ReadStreamOptions {
  fromRevision?: number;
  maxCount?: number;
  onUnreadable?: UnreadableHandler;
}

/**
 * `readAll` window: from global position `fromPosition` (inclusive, default 1), at most
 * `maxCount` events, only streams of the given categories (all when absent or empty).
 * `onUnreadable` hears of each skipped message inside the window.
 */
export interface ReadAllOptions {
  fromPosition?: number;
  maxCount?: number;
  categories?: string[];
  onUnreadable?: UnreadableHandler;
}

/**
 * `readAllBatches` window: that of {@link ReadAllOptions}, delivered in arrays of at most
 * `batchSize` events (an integer >= 1; default: the adapter's, a few thousand).
 */
export interface ReadAllBatchesOptions extends ReadAllOptions {
  batchSize?: number;
}

/**
 * `subscribeToAll` options: from global position `fromPosition` (inclusive, default 1), only
 * streams of the given categories (all when absent or empty); `onUnreadable` hears of each
 * skipped message (the handler is not called for it).
 */
export interface SubscribeOptions {
  fromPosition?: number;
  categories?: string[];
  onUnreadable?: UnreadableHandler;
}

/**
 * A running `subscribeToAll`.
 * - `stop()` resolves once no handler call is running and none will start. Do not await
 *   it from inside the handler (it waits for that very call).
 * - `done` resolves after `stop()`, and rejects with the error when the handler throws or the
 *   underlying feed fails (the subscription is then over). Watch it: a silently dead
 *   subscription is a stalled projection.
 */
export interface Subscription {
  stop(): Promise<void>;
  readonly done: Promise<void>;
}

/**
 * `append` options.
 * - `preserveChain`: store the chain fields (`metadata.hash`, `prevHash`) the events carry instead
 *   of computing them, after checking each given hash is the one the store computes at that place
 *   (a mismatch is an {@link InvalidEventError}); an event without them is stored without them
 *   (a pre-hash event), unless its stream is already chained. For `store copy`, which must keep a
 *   log as it is. Without it, chain fields given by the caller are ignored and computed.
 */
export interface AppendOptions {
  preserveChain?: boolean;
}

/**
 * The event store port (docs/architecture.md "Streams and events"). Every adapter passes the suite in
 * `contract-suite.ts`.
 *
 * Contract:
 * - `append` is all-or-nothing from the caller's view and checks `expected` against the
 *   revision of the stream's last event; a mismatch throws {@link WrongExpectedRevisionError}.
 * - Re-appending events whose `metadata.eventId`s are already stored at exactly the revisions
 *   they would take succeeds, writes nothing and returns the original positions (a retry after
 *   an unknown outcome is safe). A stored prefix of the batch is completed. With `'any'` and
 *   `'stream_exists'`, a retry is recognised while the events are still the stream's tail.
 * - A different event at an already used revision is a conflict.
 * - Stream ids must match `StreamId` (@bulwark/contracts), else {@link InvalidStreamIdError}.
 * - An append needs at least one event, with non-empty, distinct event ids (else `RangeError`).
 * - An event whose type is not in `EventCatalogue`, whose data fails its schema, whose metadata
 *   fails `EventMetadata`, or whose body exceeds {@link MAX_EVENT_BYTES}, is refused with
 *   {@link InvalidEventError} and nothing of the batch is written. (An adapter built with
 *   `validate: false` skips the catalogue and schema checks only: for tests that must store
 *   poison events.)
 * - Hash chain (docs/event-store.md): every appended event gets `metadata.prevHash` (the hash of
 *   its stream's previous event, `GENESIS_HASH` for the first) and `metadata.hash` (`eventHash`
 *   in chain.ts), computed by the adapter on the stream's tail it checked, so every adapter writes
 *   the same chain, also with `'any'`. Writers never set them (given ones are ignored, see
 *   {@link AppendOptions}). Reads return them as stored. The body size limit excludes them.
 * - Reads never change the log. `readAll` and `subscribeToAll` deliver in global order.
 * - `readAll` returns every event from `fromPosition` up to the log's end when the read starts,
 *   each exactly once and in order (then `maxCount` cuts it); events appended during the read
 *   may or may not be included.
 * - A stored message that cannot be turned into a RecordedEvent ({@link UnreadableEvent}) never
 *   fails a read: it is skipped and reported to `onUnreadable` (or logged). Revisions are the
 *   stored ones and never renumbered: a skipped message leaves a gap in `readStream`'s
 *   revisions, and `streamRevision` / `append` count it when it carries a revision (so OCC
 *   agrees with what was written); one without a revision holds no revision and is ignored.
 */
export interface EventStore {
  /** Append `events` to `streamId` if the stream is at `expected`. */
  append(streamId: string, events: NewEvent[], expected: ExpectedRevision, opts?: AppendOptions): Promise<AppendResult>;
  /** Events of one stream in revision order; [] for a missing stream. */
  readStream(streamId: string, opts?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Revision of the stream's last event, null if the stream does not exist. */
  streamRevision(streamId: string): Promise<number | null>;
  /** Events of all streams in global order, ending at the log's end when the read starts. */
  readAll(opts?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /**
   * `readAll` in arrays: the same events in the same order (concatenated, the batches are exactly
   * what `readAll(opts)` returns), each array non-empty and at most `batchSize` long; unreadable
   * messages are reported the same way. One `await` per batch instead of per event: for bulk
   * readers (replay, copy). Optional: call it through {@link readAllInBatches}, which falls back
   * to grouping `readAll` for a store without it. The arrays are the caller's; the events are as
   * `readAll` returns them (do not mutate them). A wrapper that changes what `readAll` returns
   * must change this too, or not have it.
   * @throws RangeError for a `batchSize` that is not an integer >= 1 (and as `readAll` does)
   */
  readAllBatches?(opts?: ReadAllBatchesOptions): AsyncIterable<RecordedEvent[]>;
  /**
   * How many stored messages each stream holds now (events, and unreadable messages its reads
   * skip), by stream id, in one snapshot; a stream without messages is absent. Optional: for bulk
   * checks that would otherwise call `streamRevision` once per stream (the replay's revisions
   * check). A store that does not have it is asked per stream.
   */
  streamMessageCounts?(): Promise<Map<string, number>>;
  /**
   * Catch-up then live subscription in global order from `fromPosition` (inclusive, default 1):
   * `handler` is called one event at a time, the next call starts after the previous resolves.
   */
  subscribeToAll(opts: SubscribeOptions, handler: (e: RecordedEvent) => Promise<void>): Subscription;
  /** Global position of the last event in the store; 0 when empty. */
  lastPosition(): Promise<number>;
  /** Stop this store's subscriptions and refuse further calls. Does not close shared connections. */
  close(): Promise<void>;
}

/** Batch size of {@link readAllInBatches} for a store without `readAllBatches`, and the adapters' default. */
export const DEFAULT_READ_BATCH = 4096;

/**
 * `store.readAllBatches(opts)` when the store has it, else `store.readAll(opts)` grouped into
 * arrays of at most `opts.batchSize` (default {@link DEFAULT_READ_BATCH}) events. Either way the
 * batches concatenate to exactly `readAll(opts)`'s events, in order.
 * @throws RangeError for a `batchSize` that is not an integer >= 1
 */
export function readAllInBatches(store: EventStore, opts: ReadAllBatchesOptions = {}): AsyncIterable<RecordedEvent[]> {
  if (typeof store.readAllBatches === 'function') return store.readAllBatches(opts);
  const size = batchSizeOption(opts.batchSize);
  const { batchSize: _size, ...readOpts } = opts;
  const events = store.readAll(readOpts);
  return {
    async *[Symbol.asyncIterator]() {
      let batch: RecordedEvent[] = [];
      for await (const e of events) {
        batch.push(e);
        if (batch.length >= size) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
    },
  };
}

/** A `batchSize` option or {@link DEFAULT_READ_BATCH}. @throws RangeError unless an integer >= 1 */
export function batchSizeOption(v: number | undefined): number {
  if (v === undefined) return DEFAULT_READ_BATCH;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new RangeError(`batchSize must be an integer >= 1, got ${String(v)}`);
  return v;
}
