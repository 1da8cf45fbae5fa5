import { type NewEvent, type RecordedEvent, streamCategory } from '@bulwark/contracts';
import {
  assertExpected,
  assertStreamId,
  batchEventIds,
  eventsOfBatches,
  intOption,
  normaliseCategories,
  readAllWindow,
  planAppend,
  prepareBatch,
  sealBatch,
  type StoredRef,
} from './internal';
import { GENESIS_HASH, headHashOf } from './chain';
import {
  type AppendOptions,
  type AppendResult,
  type EventStore,
  EventStoreClosedError,
  type ExpectedRevision,
  type ReadAllBatchesOptions,
  type ReadAllOptions,
  type ReadStreamOptions,
  type SubscribeOptions,
  type Subscription,
  WrongExpectedRevisionError,
} from './port';

/**
 * In-process {@link EventStore} for unit tests and the in-process backtest: no I/O, appends
 * are atomic (they run synchronously inside the call).
 *
 * Events are stored as deep-frozen JSON copies, so `data` behaves as it would after the
 * JetStream round trip (e.g. Decimal values become strings) and a caller mutating a read event
 * gets a TypeError instead of silently corrupting the log.
 *
 * Subscriptions are notified asynchronously (never inside `append`), in global order, one
 * handler call at a time.
 *
 * Appends are checked like JetStream's (InvalidEventError), so nothing unreadable is ever
 * stored here: `onUnreadable` is accepted and never called.
 */
export class InMemoryEventStore implements EventStore {
  private readonly log: RecordedEvent[] = []; // index = position - 1
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly subscriptions = new Set<MemorySubscription>();
  private readonly validate: boolean;
  private closed = false;

  /**
   * @param opts.validate check appended events against the catalogue and their schemas (default
   *   true); only tests that must store poison events turn it off (metadata and size are checked regardless)
   */
  constructor(opts: { validate?: boolean } = {}) {
    this.validate = opts.validate ?? true;
  }

  async append(streamId: string, events: NewEvent[], expected: ExpectedRevision, opts: AppendOptions = {}): Promise<AppendResult> {
    this.assertOpen();
    assertStreamId(streamId);
    assertExpected(expected);
    const ids = batchEventIds(events);
    // Serialised before touching the log, so a refused or non-serialisable batch leaves nothing behind.
    const prepared = prepareBatch(streamId, events, this.validate, opts.preserveChain);
    const stream = this.streams.get(streamId);
    const current = stream ? stream.length - 1 : null;
    const tailId = stream ? stream[stream.length - 1].metadata.eventId : null;
    const refs = (from: number, count: number): StoredRef[] =>
      (stream ?? []).slice(from, from + count).map((e) => ({ revision: e.revision, eventId: e.metadata.eventId, position: e.position }));

    let plan = planAppend(expected, current, tailId, ids);
    if (plan.kind === 'lookup') plan = planAppend(expected, current, tailId, ids, refs(plan.from, plan.count));
    switch (plan.kind) {
      case 'stored':
        return { nextExpectedRevision: plan.last.revision, position: plan.last.position };
      case 'conflict':
        throw new WrongExpectedRevisionError(streamId, expected, current);
      case 'lookup':
        throw new Error('unreachable: append plan asked twice for stored events');
      case 'write':
        break;
    }
    // Chained on the tail just checked: nothing runs between here and the push (no await).
    const tail = stream ?? [];
    const { bodies } = sealBatch(streamId, prepared, plan.from, tail.length, tail.length ? headHashOf(tail) : GENESIS_HASH, !!tail[tail.length - 1]?.metadata.hash, opts.preserveChain);
    const copies = bodies.map((b) => JSON.parse(b) as NewEvent);
    const target = stream ?? [];
    if (!stream) this.streams.set(streamId, target);
    for (const c of copies) {
      const recorded: RecordedEvent = deepFreeze({ ...c, streamId, revision: target.length, position: this.log.length + 1 });
      target.push(recorded);
      this.log.push(recorded);
    }
    for (const s of this.subscriptions) s.wake();
    const last = target[target.length - 1];
    return { nextExpectedRevision: last.revision, position: last.position };
  }

  async readStream(streamId: string, opts: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    assertStreamId(streamId);
    const from = intOption('fromRevision', opts.fromRevision, 0, 0);
    const max = intOption('maxCount', opts.maxCount, Number.MAX_SAFE_INTEGER, 0);
    const stream = this.streams.get(streamId) ?? [];
    return stream.slice(from, from + Math.min(max, stream.length));
  }

  async streamRevision(streamId: string): Promise<number | null> {
    this.assertOpen();
    const stream = this.streams.get(streamId);
    if (!stream) assertStreamId(streamId); // a stored stream's id was checked at its first append
    return stream ? stream.length - 1 : null;
  }

  /** See {@link EventStore.streamMessageCounts}: every stream's length (nothing unreadable is stored here). */
  async streamMessageCounts(): Promise<Map<string, number>> {
    this.assertOpen();
    return new Map([...this.streams].map(([id, events]) => [id, events.length]));
  }

  readAll(opts: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    return eventsOfBatches(this.readAllBatches(opts));
  }

  /**
   * See {@link EventStore.readAllBatches}. The events handed out are the stored ones, frozen at
   * append (no copy per read); each batch is a new array.
   */
  readAllBatches(opts: ReadAllBatchesOptions = {}): AsyncIterable<RecordedEvent[]> {
    this.assertOpen();
    const { from, max, categories, size } = readAllWindow(opts);
    const log = this.log;
    return {
      async *[Symbol.asyncIterator]() {
        const end = log.length; // the end known when the read starts
        let n = 0;
        let i = from - 1;
        while (i < end && n < max) {
          const want = Math.min(size, max - n);
          let batch: RecordedEvent[];
          if (!categories) {
            batch = log.slice(i, Math.min(end, i + want));
            i += batch.length;
          } else {
            batch = [];
            for (; i < end && batch.length < want; i++) if (categories.includes(streamCategory(log[i].streamId))) batch.push(log[i]);
          }
          if (batch.length === 0) return;
          n += batch.length;
          yield batch;
        }
      },
    };
  }

  subscribeToAll(opts: SubscribeOptions, handler: (e: RecordedEvent) => Promise<void>): Subscription {
    this.assertOpen();
    const from = Math.max(1, intOption('fromPosition', opts.fromPosition, 1, 0));
    const categories = normaliseCategories(opts.categories);
    const sub = new MemorySubscription(this.log, from - 1, categories, handler, () => this.subscriptions.delete(sub));
    this.subscriptions.add(sub);
    return sub;
  }

  async lastPosition(): Promise<number> {
    this.assertOpen();
    return this.log.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreClosedError();
  }
}

class MemorySubscription implements Subscription {
  readonly done: Promise<void>;
  private stopped = false;
  private waiter: (() => void) | null = null;

  constructor(
    private readonly log: readonly RecordedEvent[],
    private cursor: number, // index of the next log entry to look at
    private readonly categories: string[] | undefined,
    private readonly handler: (e: RecordedEvent) => Promise<void>,
    onEnd: () => void,
  ) {
    this.done = this.pump().finally(onEnd);
    this.done.catch(() => undefined); // the failure stays observable through `done`; never an unhandled rejection
  }

  /** Called after an append: resume a pump waiting for new events. */
  wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.done.catch(() => undefined);
  }

  private async pump(): Promise<void> {
    await Promise.resolve(); // first delivery is asynchronous, never inside subscribeToAll
    while (!this.stopped) {
      if (this.cursor < this.log.length) {
        const e = this.log[this.cursor++];
        if (this.categories && !this.categories.includes(streamCategory(e.streamId))) continue;
        await this.handler(e);
      } else {
        await new Promise<void>((resolve) => (this.waiter = resolve));
      }
    }
  }
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
