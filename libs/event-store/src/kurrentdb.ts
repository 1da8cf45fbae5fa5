import { createHash } from 'node:crypto';
import { type EventMetadata, type NewEvent, type RecordedEvent, StreamId } from '@bulwark/contracts';
import {
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  BACKWARDS,
  binaryEvent,
  END,
  type EventData,
  excludeSystemEvents,
  type Filter,
  FORWARDS,
  jsonEvent,
  type JSONType,
  KurrentDBClient,
  NO_STREAM,
  type Position,
  type ReadPosition,
  type ResolvedEvent,
  START,
  StreamNotFoundError,
  streamNameFilter,
  WrongExpectedVersionError,
} from '@kurrent/kurrentdb-client';
import { GENESIS_HASH, headHashOf } from './chain';
import {
  assertExpected,
  assertStreamId,
  batchEventIds,
  bodyProblem,
  intOption,
  normaliseCategories,
  readAllWindow,
  planAppend,
  prepareBatch,
  sealBatch,
  type StoredRef,
  unreadableReporter,
} from './internal';
import {
  type AppendOptions,
  type AppendResult,
  type EventStore,
  EventStoreClosedError,
  type ExpectedRevision,
  type ReadAllBatchesOptions,
  type ReadAllOptions,
  type ReadStreamOptions,
  DEFAULT_READ_BATCH,
  type SubscribeOptions,
  type Subscription,
  type UnreadableEvent,
  WrongExpectedRevisionError,
} from './port';

/** Bound on re-planning an append that keeps losing races (a hot stream with `'any'`). */
const MAX_ATTEMPTS = 50;
/** Events per page of a catch-up read. */
const PAGE = 512;
const PREFIX = /^[a-z0-9_]*$/;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** Options of {@link KurrentDBEventStore}. */
export interface KurrentDBEventStoreOptions {
  /**
   * Prefix of every KurrentDB stream name (default ''): stream `order-x` is stored as
   * `<prefix>order-x`. Tests use a unique prefix to isolate themselves; production leaves it empty,
   * so KurrentDB's `$ce-<category>` projections see our categories.
   */
  streamPrefix?: string;
  /** See JetStreamEventStoreOptions.validate. */
  validate?: boolean;
  /** Where a read without `onUnreadable` reports a skipped event (default `console.warn`). */
  warn?: (message: string) => void;
}

/**
 * KurrentDB event id of one of our events: KurrentDB wants a UUID, ours are free text (≤ 128
 * characters). The first 16 bytes of SHA-256(`<streamId>:<eventId>`), as a version-8 UUID.
 */
export function kurrentEventId(streamId: string, eventId: string): string {
  const b = createHash('sha256').update(`${streamId}:${eventId}`, 'utf8').digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x80; // version 8 (custom)
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Our global position of a KurrentDB event: its commit position + 1 (1-based, like JetStream's
 * sequence; 0 stays "empty"). Commit positions are byte offsets in KurrentDB's transaction log:
 * they increase in `$all` order but are not contiguous. The prepare position equals the commit
 * position for every event not written in an explicit transaction, which this adapter never uses.
 * @throws RangeError past 2^53 bytes of log (a number would no longer be exact)
 */
export function positionOf(p: Position): number {
  const n = Number(p.commit) + 1;
  if (!Number.isSafeInteger(n)) throw new RangeError(`KurrentDB commit position ${p.commit} exceeds Number.MAX_SAFE_INTEGER`);
  return n;
}

/** The KurrentDB read position of our position `n` (inclusive start of a read). */
function kurrentPosition(n: number): ReadPosition {
  if (n <= 1) return START;
  const p = BigInt(n - 1);
  return { commit: p, prepare: p };
}

/**
 * {@link EventStore} on KurrentDB (docs/event-store.md "KurrentDB").
 *
 * Layout: one KurrentDB stream per event stream (`<streamPrefix><streamId>`), one KurrentDB event
 * per event: its type ours, its data our `data` (JSON; binary JSON when it is not an object, array
 * or string), its metadata our `metadata` (chain fields included), its id {@link kurrentEventId}.
 * Revisions are KurrentDB's stream revisions; positions {@link positionOf}.
 *
 * Append: the same checks and plan as the JetStream adapter (internal.ts), then `appendToStream`
 * with the concrete revision of the tail the plan and the chain were computed on
 * (`streamState` = that revision, or NO_STREAM), whatever `expected` was: a lost race is
 * KurrentDB's WrongExpectedVersionError, after which the append is planned again on the new tail
 * (a retry of the same batch that landed is then recognised; anything else is our
 * WrongExpectedRevisionError). KurrentDB writes a batch atomically.
 *
 * Reads skip and report ({@link UnreadableEvent}) an event of one of our streams whose metadata
 * fails EventMetadata or whose data is not JSON; streams outside the prefix, system streams (`$…`)
 * and names that are no StreamId are not ours and are passed over silently.
 */
export class KurrentDBEventStore implements EventStore {
  private readonly subscriptions = new Set<KurrentSubscription>();
  private readonly warned = new Set<number>();
  private readonly prefix: string;
  private readonly validate: boolean;
  private readonly warn: (message: string) => void;
  private closed = false;

  private ownsClient = false;

  /** @param client a connected client (`KurrentDBClient.connectionString(url)`); it belongs to the caller */
  constructor(
    private readonly client: KurrentDBClient,
    opts: KurrentDBEventStoreOptions = {},
  ) {
    const prefix = opts.streamPrefix ?? '';
    if (!PREFIX.test(prefix)) throw new RangeError(`invalid KurrentDB stream prefix ${JSON.stringify(prefix)}: expected [a-z0-9_]*`);
    this.prefix = prefix;
    this.validate = opts.validate ?? true;
    this.warn = opts.warn ?? ((m) => console.warn(m));
  }

  /** A store on a new client for `url` (e.g. `kurrentdb://localhost:2113?tls=false`); `close()` disposes of it. */
  static connect(url: string, opts: KurrentDBEventStoreOptions = {}): KurrentDBEventStore {
    const client = KurrentDBClient.connectionString(url);
    const store = new KurrentDBEventStore(client, opts);
    store.ownsClient = true;
    return store;
  }

  async append(streamId: string, events: NewEvent[], expected: ExpectedRevision, opts: AppendOptions = {}): Promise<AppendResult> {
    this.assertOpen();
    assertStreamId(streamId);
    assertExpected(expected);
    const ids = batchEventIds(events);
    const prepared = prepareBatch(streamId, events, this.validate, opts.preserveChain);
    const name = this.prefix + streamId;
    for (let attempt = 0; ; attempt++) {
      const tail = await this.lastOf(name);
      const current = tail ? tail.revision : null;
      const tailId = tail?.ok ? tail.event.metadata.eventId : null;
      let plan = planAppend(expected, current, tailId, ids);
      if (plan.kind === 'lookup') plan = planAppend(expected, current, tailId, ids, await this.refs(streamId, plan.from, plan.count));
      if (plan.kind === 'stored') return { nextExpectedRevision: plan.last.revision, position: plan.last.position };
      if (plan.kind !== 'write') throw new WrongExpectedRevisionError(streamId, expected, current);
      const { prevHash, chained } = await this.chainHead(streamId, tail);
      const { bodies } = sealBatch(streamId, prepared, plan.from, (current ?? -1) + 1, prevHash, chained, opts.preserveChain);
      const data: EventData[] = bodies.map((b, k) => {
        const body = JSON.parse(b) as { type: string; data: unknown; metadata: EventMetadata };
        const id = kurrentEventId(streamId, ids[plan.from + k]);
        const d = body.data;
        return d !== null && (typeof d === 'object' || typeof d === 'string')
          ? jsonEvent({ id, type: body.type, data: d as JSONType, metadata: body.metadata as unknown as JSONType })
          : binaryEvent({ id, type: body.type, data: encoder.encode(JSON.stringify(d)), metadata: body.metadata as unknown as JSONType });
      });
      try {
        const r = await this.client.appendToStream(name, data, { streamState: current === null ? NO_STREAM : BigInt(current) });
        if (!r.position) throw new Error(`KurrentDB did not return the position of the append to ${name}`);
        return { nextExpectedRevision: Number(r.nextExpectedRevision), position: positionOf(r.position) };
      } catch (e) {
        if (!(e instanceof WrongExpectedVersionError)) throw e;
        if (attempt + 1 >= MAX_ATTEMPTS) throw new WrongExpectedRevisionError(streamId, expected, (await this.lastOf(name))?.revision ?? null);
      }
    }
  }

  async readStream(streamId: string, opts: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    assertStreamId(streamId);
    const from = intOption('fromRevision', opts.fromRevision, 0, 0);
    const max = intOption('maxCount', opts.maxCount, Number.MAX_SAFE_INTEGER, 0);
    const report = unreadableReporter(opts.onUnreadable, this.warned, this.warn);
    return this.readStreamWith(streamId, from, max, report);
  }

  async streamRevision(streamId: string): Promise<number | null> {
    this.assertOpen();
    assertStreamId(streamId);
    return (await this.lastOf(this.prefix + streamId))?.revision ?? null;
  }

  readAll(opts: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    const from = Math.max(1, intOption('fromPosition', opts.fromPosition, 1, 0));
    const max = intOption('maxCount', opts.maxCount, Number.MAX_SAFE_INTEGER, 0);
    const categories = normaliseCategories(opts.categories);
    const report = unreadableReporter(opts.onUnreadable, this.warned, this.warn);
    return { [Symbol.asyncIterator]: () => this.readAllFrom(from, max, categories, report) };
  }

  /** See {@link EventStore.readAllBatches}: a page of the client's `$all` read at a time, cut at `batchSize`. */
  readAllBatches(opts: ReadAllBatchesOptions = {}): AsyncIterable<RecordedEvent[]> {
    this.assertOpen();
    const { from, max, categories, size } = readAllWindow(opts);
    const report = unreadableReporter(opts.onUnreadable, this.warned, this.warn);
    return { [Symbol.asyncIterator]: () => this.readAllBatchesFrom(from, max, categories, size, report) };
  }

  subscribeToAll(opts: SubscribeOptions, handler: (e: RecordedEvent) => Promise<void>): Subscription {
    this.assertOpen();
    const from = Math.max(1, intOption('fromPosition', opts.fromPosition, 1, 0));
    const categories = normaliseCategories(opts.categories);
    const report = unreadableReporter(opts.onUnreadable, this.warned, this.warn);
    const sub = new KurrentSubscription(
      async (deliver) => {
        // Anchor first: the live subscription starts after the log's last record now, the catch-up
        // read below covers everything up to its own end (which is at or after it); overlap is skipped.
        const anchor = await this.lastRecordPosition();
        let last = from - 1;
        for await (const e of this.readAllFrom(from, Number.MAX_SAFE_INTEGER, categories, report)) {
          await deliver(e);
          last = e.position;
        }
        return {
          live: this.client.subscribeToAll({ fromPosition: anchor ?? START, filter: this.filterFor(categories) }),
          accept: (r: AllStreamResolvedEvent) => {
            const d = this.decode(r);
            if (!d || (d.ok ? d.event.position : d.unreadable.position) <= last) return null;
            if (!d.ok) {
              report(d.unreadable);
              return null;
            }
            if (categories && !categories.includes(d.event.streamId.slice(0, d.event.streamId.indexOf('-')))) return null;
            last = d.event.position;
            return d.event;
          },
        };
      },
      handler,
      () => this.subscriptions.delete(sub),
    );
    this.subscriptions.add(sub);
    return sub;
  }

  async lastPosition(): Promise<number> {
    this.assertOpen();
    for await (const r of this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1, filter: this.filterFor(undefined) })) {
      const d = this.decode(r);
      if (d) return d.ok ? d.event.position : d.unreadable.position;
    }
    return 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    if (this.ownsClient) await this.client.dispose();
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreClosedError();
  }

  /** Server-side filter: our prefix (or categories under it); without a prefix, no system events. */
  private filterFor(categories: string[] | undefined): Filter {
    if (categories) return streamNameFilter({ prefixes: categories.map((c) => `${this.prefix}${c}-`) });
    return this.prefix ? streamNameFilter({ prefixes: [this.prefix] }) : excludeSystemEvents();
  }

  /** Position of the last record of `$all` (any stream), null on an empty log. */
  private async lastRecordPosition(): Promise<Position | null> {
    for await (const r of this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 })) {
      const p = r.event?.position ?? (r.commitPosition !== undefined ? { commit: r.commitPosition, prepare: r.commitPosition } : undefined);
      if (p) return p;
    }
    return null;
  }

  /** {@link readAllBatchesFrom} one event at a time. */
  private async *readAllFrom(from: number, max: number, categories: string[] | undefined, report: (u: UnreadableEvent) => void): AsyncGenerator<RecordedEvent> {
    for await (const batch of this.readAllBatchesFrom(from, max, categories, DEFAULT_READ_BATCH, report)) yield* batch;
  }

  /** The events of `$all` from `from` up to the log's end when the read starts, a page of the client's read at a time, cut at `size`. */
  private async *readAllBatchesFrom(from: number, max: number, categories: string[] | undefined, size: number, report: (u: UnreadableEvent) => void): AsyncGenerator<RecordedEvent[]> {
    if (max === 0) return;
    const end = await this.lastPosition();
    let n = 0;
    let start: ReadPosition = kurrentPosition(from);
    for (let first = true; ; first = false) {
      let got = 0;
      let lastPos: Position | null = null;
      let out: RecordedEvent[] = [];
      let done = false;
      for await (const r of this.client.readAll({ direction: FORWARDS, fromPosition: start, maxCount: PAGE, filter: this.filterFor(categories) })) {
        got++;
        lastPos = r.event?.position ?? lastPos;
        const d = this.decode(r);
        if (!d) continue;
        const pos = d.ok ? d.event.position : d.unreadable.position;
        if (pos > end) {
          done = true;
          break;
        }
        if (pos < from || (!first && lastPos && pos <= positionOf(start as Position))) continue;
        if (!d.ok) {
          report(d.unreadable);
          continue;
        }
        out.push(d.event);
        if (++n >= max || pos >= end) {
          done = true;
          break;
        }
        if (out.length >= size) {
          yield out;
          out = [];
        }
      }
      if (out.length) yield out;
      if (done || got < PAGE || !lastPos) return;
      start = lastPos; // inclusive: the repeated first event is skipped above
    }
  }

  private async readStreamWith(streamId: string, from: number, max: number, report: (u: UnreadableEvent) => void): Promise<RecordedEvent[]> {
    if (max === 0) return [];
    const out: RecordedEvent[] = [];
    try {
      for await (const r of this.client.readStream(this.prefix + streamId, { direction: FORWARDS, fromRevision: BigInt(from), maxCount: max })) {
        const d = this.decode(r);
        if (!d) continue;
        if (d.ok) out.push(d.event);
        else report(d.unreadable);
      }
    } catch (e) {
      if (e instanceof StreamNotFoundError) return [];
      throw e;
    }
    return out;
  }

  /** The stream's last event read back (it may be unreadable), null for a missing stream. */
  private async lastOf(name: string): Promise<{ revision: number; ok: true; event: RecordedEvent } | { revision: number; ok: false } | null> {
    try {
      for await (const r of this.client.readStream(name, { direction: BACKWARDS, fromRevision: END, maxCount: 1 })) {
        const d = this.decode(r);
        if (!d) continue;
        return d.ok ? { revision: d.event.revision, ok: true, event: d.event } : { revision: d.unreadable.revision ?? 0, ok: false };
      }
    } catch (e) {
      if (e instanceof StreamNotFoundError) return null;
      throw e;
    }
    return null;
  }

  private async refs(streamId: string, from: number, count: number): Promise<StoredRef[]> {
    const events = await this.readStreamWith(streamId, from, count, () => undefined);
    return events.map((e) => ({ revision: e.revision, eventId: e.metadata.eventId, position: e.position }));
  }

  /** As in the JetStream adapter: the stored hash of the last event, the computed head of a pre-hash tail, genesis after an unreadable one. */
  private async chainHead(streamId: string, tail: Awaited<ReturnType<KurrentDBEventStore['lastOf']>>): Promise<{ prevHash: string; chained: boolean }> {
    if (!tail || !tail.ok) return { prevHash: GENESIS_HASH, chained: false };
    if (tail.event.metadata.hash) return { prevHash: tail.event.metadata.hash, chained: true };
    return { prevHash: headHashOf(await this.readStreamWith(streamId, 0, Number.MAX_SAFE_INTEGER, () => undefined)), chained: false };
  }

  /** One of our events from a KurrentDB one; null for a record that is not ours (system, outside the prefix, a link). */
  private decode(r: ResolvedEvent | AllStreamResolvedEvent): { ok: true; event: RecordedEvent } | { ok: false; unreadable: UnreadableEvent } | null {
    const e = r.event;
    if (!e || !e.streamId.startsWith(this.prefix) || e.streamId.startsWith('$') || e.type.startsWith('$')) return null;
    const streamId = e.streamId.slice(this.prefix.length);
    if (!StreamId.safeParse(streamId).success) return null;
    const revision = Number(e.revision);
    const position = e.position ? positionOf(e.position) : r.commitPosition !== undefined ? Number(r.commitPosition) + 1 : 0;
    const bad = (reason: string) => ({ ok: false as const, unreadable: { streamId, revision, position, eventType: e.type, reason } });
    let data: unknown = e.data;
    let metadata: unknown = e.metadata;
    try {
      if (data instanceof Uint8Array) data = JSON.parse(decoder.decode(data));
      if (metadata instanceof Uint8Array) metadata = JSON.parse(decoder.decode(metadata));
    } catch (err) {
      return bad(`data or metadata is not JSON (${(err as Error).message})`);
    }
    const problem = bodyProblem({ type: e.type, data, metadata });
    if (problem) return bad(problem);
    return { ok: true, event: { type: e.type, data: data ?? null, metadata: metadata as EventMetadata, streamId, revision, position } };
  }
}

/** A catch-up read, then a live KurrentDB `$all` subscription, handing events to the handler one at a time. */
class KurrentSubscription implements Subscription {
  readonly done: Promise<void>;
  private stopped = false;
  private live: AllStreamSubscription | null = null;

  constructor(
    start: (deliver: (e: RecordedEvent) => Promise<void>) => Promise<{ live: AllStreamSubscription; accept: (r: AllStreamResolvedEvent) => RecordedEvent | null }>,
    private readonly handler: (e: RecordedEvent) => Promise<void>,
    onEnd: () => void,
  ) {
    this.done = this.run(start).finally(onEnd);
    this.done.catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.live?.unsubscribe().catch(() => undefined);
    await this.done.catch(() => undefined);
  }

  private async run(start: (deliver: (e: RecordedEvent) => Promise<void>) => Promise<{ live: AllStreamSubscription; accept: (r: AllStreamResolvedEvent) => RecordedEvent | null }>): Promise<void> {
    await Promise.resolve(); // never deliver inside subscribeToAll
    const { live, accept } = await start(async (e) => {
      if (!this.stopped) await this.handler(e);
    });
    this.live = live;
    if (this.stopped) {
      await live.unsubscribe().catch(() => undefined);
      return;
    }
    for await (const r of live) {
      if (this.stopped) break;
      const e = accept(r);
      if (e) await this.handler(e);
    }
  }
}
