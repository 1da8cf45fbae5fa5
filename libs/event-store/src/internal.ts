// Rules shared by every adapter, so they agree on validation and on the append decision.
import { EventMetadata, type NewEvent, parseEvent, StreamId } from '@bulwark/contracts';
import { eventHash, withoutChain } from './chain';
import { batchSizeOption, type ExpectedRevision, InvalidCategoryError, InvalidEventError, InvalidStreamIdError, MAX_EVENT_BYTES, type ReadAllBatchesOptions, type UnreadableEvent } from './port';

const CATEGORY = /^[a-z]+$/;

/** @throws InvalidStreamIdError unless `streamId` matches `StreamId`. */
export function assertStreamId(streamId: string): void {
  if (typeof streamId !== 'string' || !StreamId.safeParse(streamId).success) throw new InvalidStreamIdError(String(streamId));
}

/** Validated, de-duplicated category filter; undefined = all categories. @throws InvalidCategoryError */
export function normaliseCategories(categories: string[] | undefined): string[] | undefined {
  if (!categories || categories.length === 0) return undefined;
  for (const c of categories) if (typeof c !== 'string' || !CATEGORY.test(c)) throw new InvalidCategoryError(String(c));
  return [...new Set(categories)].sort();
}

/** @throws RangeError unless `expected` is a keyword or an integer revision >= 0. */
export function assertExpected(expected: ExpectedRevision): void {
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return;
  if (typeof expected !== 'number' || !Number.isSafeInteger(expected) || expected < 0) {
    throw new RangeError(`expected revision must be 'any', 'no_stream', 'stream_exists' or an integer >= 0, got ${String(expected)}`);
  }
}

/**
 * Event ids of a batch to append.
 * @throws RangeError for an empty batch, a missing/empty event id or an id repeated in the batch.
 */
export function batchEventIds(events: NewEvent[]): string[] {
  if (!Array.isArray(events) || events.length === 0) throw new RangeError('append needs at least one event');
  const ids = events.map((e, i) => {
    const id = e?.metadata?.eventId;
    if (typeof id !== 'string' || id.length === 0) throw new RangeError(`event ${i} has no metadata.eventId`);
    if (typeof e.type !== 'string' || e.type.length === 0) throw new RangeError(`event ${i} has no type`);
    return id;
  });
  if (ids.length > 1 && new Set(ids).size !== ids.length) throw new RangeError('event ids repeat inside the batch');
  return ids;
}

/**
 * An event of a batch after the checks, as a plain JSON copy (what the store will hold), its
 * chain fields taken off; `json` is its JSON text `{ type, data, metadata }` (the copy was parsed
 * from it); `given` holds the chain fields the caller passed (used only by an append with
 * `preserveChain`).
 */
export interface PreparedEvent {
  type: string;
  data: unknown;
  metadata: EventMetadata;
  json: string;
  given: { hash?: string; prevHash?: string };
}

/**
 * Check a batch (every adapter makes these checks before writing anything, see
 * {@link InvalidEventError}) and copy it as JSON (undefined data becomes null). The size limit is
 * on the body `{ type, data, metadata }` as given, chain fields excluded: the store adds
 * {@link CHAIN_FIELDS_BYTES} to it. Call after {@link batchEventIds}.
 * @param validate false skips the catalogue and schema checks (metadata and size are always checked)
 * @param preserveChain keep and check the chain fields the caller passed (else they are ignored)
 * @throws InvalidEventError for the first refused event of the batch
 */
export function prepareBatch(streamId: string, events: NewEvent[], validate: boolean, preserveChain = false): PreparedEvent[] {
  return events.map((e, i) => {
    const refuse = (reason: string) => new InvalidEventError(streamId, e.type, reason, i);
    // Chain fields come from the store: a writer that copied a read event's metadata must not set them.
    const raw = e.metadata;
    const bare = raw && typeof raw === 'object' && (raw.hash !== undefined || raw.prevHash !== undefined) ? withoutChain(raw) : raw;
    const metaProblem = metadataProblem(preserveChain ? raw : bare);
    if (metaProblem) throw refuse(metaProblem);
    if (validate) {
      const parsed = parseEvent(e.type, e.data, e.metadata.schemaVersion);
      if (!parsed.ok) throw refuse(parsed.reason);
    }
    let body: string | undefined;
    try {
      body = JSON.stringify({ type: e.type, data: e.data ?? null, metadata: bare });
    } catch (err) {
      throw refuse(`not JSON-serialisable (${(err as Error).message})`);
    }
    // Byte length, not string length: the limit is on what is stored.
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > MAX_EVENT_BYTES) throw refuse(`${bytes} bytes serialized, more than MAX_EVENT_BYTES (${MAX_EVENT_BYTES})`);
    const copy = JSON.parse(body) as { type: string; data: unknown; metadata: EventMetadata };
    return { type: copy.type, data: copy.data, metadata: copy.metadata, json: body, given: preserveChain ? { hash: e.metadata.hash, prevHash: e.metadata.prevHash } : {} };
  });
}

/** A sealed event: the body to store and its content (the prepared copy with its chain fields). */
export interface SealedEvent {
  type: string;
  data: unknown;
  metadata: EventMetadata;
}

/**
 * The stored bodies of prepared events `prepared[from..]`, chained: JSON `{ type, data, metadata }`
 * with `metadata.prevHash` and `metadata.hash` (see {@link eventHash}), and those events as objects.
 * @param firstRevision the revision `prepared[from]` takes
 * @param prevHash the hash the first one chains to ({@link headHashOf} of the stream, or {@link GENESIS_HASH})
 * @param tailChained whether the stream's last stored event carries chain fields
 * @param preserveChain store the given chain fields as they are, after checking them: a given
 *   hash must be the one computed here; an event without them is stored without them, unless the
 *   stream (or the batch) is already chained
 * @returns the bodies, the events they hold (sharing the prepared copies' data) and the hash of
 *   the last one (the stream's new head)
 * @throws InvalidEventError when preserved chain fields do not match the stream
 */
export function sealBatch(
  streamId: string,
  prepared: readonly PreparedEvent[],
  from: number,
  firstRevision: number,
  prevHash: string,
  tailChained: boolean,
  preserveChain = false,
): { bodies: string[]; events: SealedEvent[]; head: string } {
  let head = prevHash;
  let chained = tailChained;
  const events: SealedEvent[] = [];
  const bodies = prepared.slice(from).map((p, k) => {
    const i = from + k;
    const revision = firstRevision + k;
    const hash = eventHash(head, { streamId, revision, type: p.type, data: p.data, metadata: p.metadata });
    const refuse = (reason: string) => new InvalidEventError(streamId, p.type, reason, i);
    let withChain = true;
    if (preserveChain) {
      const g = p.given;
      if (g.hash === undefined && g.prevHash === undefined) {
        if (chained) throw refuse(`no chain fields, but revision ${revision} follows a chained event`);
        withChain = false;
      } else if (g.prevHash !== head || g.hash !== hash) {
        throw refuse(`chain fields do not match revision ${revision}: expected prevHash ${head} hash ${hash}, given prevHash ${g.prevHash ?? 'none'} hash ${g.hash ?? 'none'}`);
      } else {
        chained = true;
      }
    } else {
      chained = true;
    }
    const prev = head;
    head = hash;
    if (!withChain) {
      events.push({ type: p.type, data: p.data, metadata: p.metadata });
      return p.json;
    }
    const metadata: EventMetadata = { ...p.metadata, prevHash: prev, hash };
    events.push({ type: p.type, data: p.data, metadata });
    // The chain fields go last in metadata, the body's last member: appended to the prepared text
    // rather than serialising the event again. Only when that text ends in a non-empty object.
    if (p.json.endsWith('}}') && !p.json.endsWith('{}}')) return `${p.json.slice(0, -2)},"prevHash":${JSON.stringify(prev)},"hash":${JSON.stringify(hash)}}}`;
    return JSON.stringify({ type: p.type, data: p.data, metadata });
  });
  return { bodies, events, head };
}

/**
 * Why a parsed body cannot be a stored event (`{ type, data, metadata }` with metadata passing
 * `EventMetadata`), or null when it can. Both the append check and the read path use it.
 */
export function bodyProblem(body: unknown): string | null {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'body is not a JSON object';
  const b = body as { type?: unknown; metadata?: unknown };
  if (typeof b.type !== 'string' || b.type.length === 0) return 'body has no type';
  return metadataProblem(b.metadata);
}

function metadataProblem(metadata: unknown): string | null {
  const r = EventMetadata.safeParse(metadata);
  return r.success ? null : `metadata: ${r.error.issues.map((x) => `${x.path.join('.') || '(root)'} ${x.message}`).join('; ')}`;
}

/** What to do with a skipped stored message: the caller's callback, else one warning per message and store. */
export function unreadableReporter(
  onUnreadable: ((u: UnreadableEvent) => void) | undefined,
  warned: Set<number>,
  warn: (message: string) => void,
): (u: UnreadableEvent) => void {
  if (onUnreadable) return onUnreadable;
  return (u) => {
    if (warned.has(u.position)) return;
    // Bounded memory on a log full of garbage: past the bound, warn again rather than grow.
    if (warned.size >= MAX_WARNED) warned.clear();
    warned.add(u.position);
    warn(
      `event store: skipped unreadable message at position ${u.position} (stream ${u.streamId}, revision ${u.revision ?? 'none'}, type ${u.eventType ?? 'unknown'}): ${u.reason}`,
    );
  };
}

const MAX_WARNED = 10_000;

/** Non-negative integer option or its default. @throws RangeError */
export function intOption(name: string, v: number | undefined, dflt: number, min: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

/**
 * The window of a `readAll` / `readAllBatches`: first position (>= 1), most events, categories
 * (undefined = all), batch size. Every adapter reads its options through it.
 * @throws RangeError for a bad number, InvalidCategoryError for a bad category
 */
export function readAllWindow(opts: ReadAllBatchesOptions): { from: number; max: number; categories: string[] | undefined; size: number } {
  return {
    from: Math.max(1, intOption('fromPosition', opts.fromPosition, 1, 0)),
    max: intOption('maxCount', opts.maxCount, Number.MAX_SAFE_INTEGER, 0),
    categories: normaliseCategories(opts.categories),
    size: batchSizeOption(opts.batchSize),
  };
}

/** The events of `batches` one by one, in order: an adapter's `readAll` built on its `readAllBatches`. */
export function eventsOfBatches<T>(batches: AsyncIterable<T[]>): AsyncIterable<T> {
  return {
    async *[Symbol.asyncIterator]() {
      for await (const batch of batches) yield* batch;
    },
  };
}

/** A stored event as the append decision needs it. */
export interface StoredRef {
  revision: number;
  eventId: string;
  position: number;
}

/**
 * What `append` must do:
 * - `stored`: every event of the batch is already stored where it belongs (idempotent retry);
 * - `write`: write events `from..` after the stream's current last revision;
 * - `conflict`: throw WrongExpectedRevisionError;
 * - `lookup`: the decision needs the stored refs of revisions `from .. from+count-1`; call again with them.
 */
export type AppendPlan =
  | { kind: 'stored'; last: StoredRef }
  | { kind: 'write'; from: number }
  | { kind: 'conflict' }
  | { kind: 'lookup'; from: number; count: number };

/**
 * Decide an append from the stream's tail. Pure; both adapters use it so they agree.
 * @param current revision of the stream's last event, null = no stream
 * @param tailEventId event id of the stream's last event (null = no stream); lets most
 *   conflicts be decided without reading the stream
 * @param ids event ids of the batch (non-empty, distinct)
 * @param stored refs for the window asked for by a previous `lookup` answer
 */
export function planAppend(
  expected: ExpectedRevision,
  current: number | null,
  tailEventId: string | null,
  ids: readonly string[],
  stored?: readonly StoredRef[],
): AppendPlan {
  const n = ids.length;
  if (expected === 'any' || expected === 'stream_exists') {
    // No target revision is implied: recognise a retry only while the batch is the stream's tail.
    if (current !== null && current + 1 >= n && tailEventId === ids[n - 1]) {
      const from = current - n + 1;
      if (!stored) return { kind: 'lookup', from, count: n };
      if (sameIds(stored, ids, from, n)) return { kind: 'stored', last: stored[n - 1] };
    }
    if (expected === 'stream_exists' && current === null) return { kind: 'conflict' };
    return { kind: 'write', from: 0 };
  }
  const r0 = expected === 'no_stream' ? 0 : expected + 1; // revision the first event takes
  if (current === null || current < r0) {
    const ok = expected === 'no_stream' ? current === null : current === expected;
    return ok ? { kind: 'write', from: 0 } : { kind: 'conflict' };
  }
  // Target revisions r0..r0+k-1 are taken: fine only if they hold this batch's first k events.
  const k = Math.min(n, current - r0 + 1);
  if (current === r0 + k - 1 && tailEventId !== ids[k - 1]) return { kind: 'conflict' };
  if (!stored) return { kind: 'lookup', from: r0, count: k };
  if (!sameIds(stored, ids, r0, k)) return { kind: 'conflict' };
  return k === n ? { kind: 'stored', last: stored[k - 1] } : { kind: 'write', from: k };
}

function sameIds(stored: readonly StoredRef[], ids: readonly string[], from: number, count: number): boolean {
  if (stored.length !== count) return false;
  for (let i = 0; i < count; i++) {
    if (stored[i].revision !== from + i || stored[i].eventId !== ids[i]) return false;
  }
  return true;
}
