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

/** `readStream` window: from revision `fromRevision` (default 0), at most `maxCount` events. */
export interface ReadStreamOptions {
  fromRevision?: number;
  maxCount?: number;
}

/**
 * `readAll` window: from global position `fromPosition` (inclusive, default 1), at most
 * `maxCount` events, only streams of the given categories (all when absent or empty).
 */
export interface ReadAllOptions {
  fromPosition?: number;
  maxCount?: number;
  categories?: string[];
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
 * The event store port (DESIGN.md "Event store and bus"). Every adapter passes the suite in
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
 * - Reads never change the log. `readAll` and `subscribeToAll` deliver in global order.
 */
export interface EventStore {
  /** Append `events` to `streamId` if the stream is at `expected`. */
  append(streamId: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  /** Events of one stream in revision order; [] for a missing stream. */
  readStream(streamId: string, opts?: ReadStreamOptions): Promise<RecordedEvent[]>;
  /** Revision of the stream's last event, null if the stream does not exist. */
  streamRevision(streamId: string): Promise<number | null>;
  /** Events of all streams in global order, ending at the log's end when the read starts. */
  readAll(opts?: ReadAllOptions): AsyncIterable<RecordedEvent>;
  /**
   * Catch-up then live subscription in global order from `fromPosition` (inclusive, default 1):
   * `handler` is called one event at a time, the next call starts after the previous resolves.
   */
  subscribeToAll(
    opts: { fromPosition?: number; categories?: string[] },
    handler: (e: RecordedEvent) => Promise<void>,
  ): Subscription;
  /** Global position of the last event in the store; 0 when empty. */
  lastPosition(): Promise<number>;
  /** Stop this store's subscriptions and refuse further calls. Does not close shared connections. */
  close(): Promise<void>;
}
