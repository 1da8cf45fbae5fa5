import type { NewEvent, RecordedEvent } from '@bulwark/contracts';
import {
  type Consumer,
  type ConsumerConfig,
  ConsumerEvents,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
  headers as natsHeaders,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type MsgHdrs,
  type NatsConnection,
  nanos,
  type OrderedConsumerOptions,
  type PubAck,
  RetentionPolicy,
  StorageType,
  type StoredMsg,
} from 'nats';
import {
  assertExpected,
  assertStreamId,
  batchEventIds,
  intOption,
  normaliseCategories,
  planAppend,
  type StoredRef,
} from './internal';
import {
  type AppendResult,
  type EventStore,
  EventStoreClosedError,
  type ExpectedRevision,
  type ReadAllOptions,
  type ReadStreamOptions,
  type Subscription,
  WrongExpectedRevisionError,
} from './port';

/** Header names of a stored event message. */
export const EventHeaders = {
  streamId: 'Bulwark-Stream-Id',
  revision: 'Bulwark-Revision',
  eventType: 'Bulwark-Event-Type',
  eventId: 'Bulwark-Event-Id',
} as const;

/** JetStream API error code for a failed `Nats-Expected-Last-Subject-Sequence` check ("wrong last sequence"). */
const WRONG_LAST_SEQUENCE = 10071;
/** JetStream API error codes: stream not found, stream name already in use. */
const STREAM_NOT_FOUND = 10059;
const STREAM_NAME_IN_USE = 10058;
/** How long the server keeps a read's consumer after the client goes quiet. */
const DEFAULT_INACTIVE_THRESHOLD_MS = 5_000;
/** Messages per pull. */
const BATCH = 256;
/** Bound on re-planning an append that keeps losing publish races (a hot stream with `'any'`). */
const MAX_ATTEMPTS = 50;

const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const STREAM_NAME = /^[A-Za-z0-9_-]+$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A stored message that is not an event of this store (missing headers, bad JSON). */
export class UndecodableEventError extends Error {
  constructor(
    readonly subject: string,
    readonly seq: number,
    reason: string,
  ) {
    super(`undecodable stored event at ${subject} #${seq}: ${reason}`);
    this.name = 'UndecodableEventError';
  }
}

/**
 * NATS subject of a stream: `<prefix>.<category>.<id>` for stream id `<category>-<id>`,
 * e.g. `subjectForStream('es', 'order-bw1a2b-7E')` = `es.order.bw1a2b-7E`.
 * @throws InvalidStreamIdError for a bad stream id
 */
export function subjectForStream(prefix: string, streamId: string): string {
  assertStreamId(streamId);
  const i = streamId.indexOf('-');
  return `${prefix}.${streamId.slice(0, i)}.${streamId.slice(i + 1)}`;
}

/**
 * Decode a message of the event-store stream (read by any consumer, durable or ordered).
 * @param subject the message subject (`<prefix>.<category>.<id>`)
 * @param seq the JetStream stream sequence = the event's global position
 * @param headers the message headers (Bulwark-Stream-Id, Bulwark-Revision, ...)
 * @param data the body, JSON `{ type, data, metadata }`
 * @throws UndecodableEventError when headers or body are missing or malformed
 */
export function decodeStoredEvent(subject: string, seq: number, headers: Pick<MsgHdrs, 'get'> | undefined, data: Uint8Array): RecordedEvent {
  if (!headers) throw new UndecodableEventError(subject, seq, 'no headers');
  const revisionText = headers.get(EventHeaders.revision);
  const revision = Number(revisionText);
  if (revisionText === '' || !Number.isSafeInteger(revision) || revision < 0) {
    throw new UndecodableEventError(subject, seq, `bad ${EventHeaders.revision} ${JSON.stringify(revisionText)}`);
  }
  const streamId = headers.get(EventHeaders.streamId) || streamIdFromSubject(subject);
  if (!streamId) throw new UndecodableEventError(subject, seq, `no ${EventHeaders.streamId}`);
  let body: Partial<NewEvent> | null;
  try {
    body = JSON.parse(decoder.decode(data)) as Partial<NewEvent> | null;
  } catch (e) {
    throw new UndecodableEventError(subject, seq, `body is not JSON (${(e as Error).message})`);
  }
  if (!body || typeof body !== 'object' || typeof body.type !== 'string' || !body.metadata || typeof body.metadata.eventId !== 'string') {
    throw new UndecodableEventError(subject, seq, 'body is not { type, data, metadata }');
  }
  return { type: body.type, data: body.data ?? null, metadata: body.metadata, streamId, revision, position: seq };
}

function streamIdFromSubject(subject: string): string | null {
  const t = subject.split('.');
  return t.length >= 3 ? `${t[t.length - 2]}-${t[t.length - 1]}` : null;
}

/** Options of {@link JetStreamEventStore.connect}. */
export interface JetStreamEventStoreOptions {
  /** JetStream stream name, default `ES`. */
  stream?: string;
  /** Subject prefix, default `es` (subjects `<prefix>.<category>.<id>`). */
  subjectPrefix?: string;
  /** Inactive threshold of the short-lived consumers behind reads (ms), default 5000. */
  consumerInactiveThresholdMs?: number;
}

interface Tail {
  seq: number;
  revision: number;
  eventId: string;
  event: RecordedEvent;
}

/** The direct-get API (exposed by the JetStreamManager implementation, not by its interface). */
interface DirectGet {
  getMessage(stream: string, query: { last_by_subj: string } | { seq: number }): Promise<StoredMsg>;
}

/**
 * {@link EventStore} on one JetStream stream (DESIGN.md "Event store and bus").
 *
 * Layout: stream `ES` (file storage, `allow_direct`, `deny_delete`, `deny_purge`, 2 min
 * duplicate window, no limits), one subject per event stream `es.<category>.<id>`; one message
 * per event with headers Bulwark-Stream-Id / -Revision / -Event-Type / -Event-Id and body
 * JSON `{ type, data, metadata }`. The stream sequence is the global position.
 *
 * Append: direct-get the subject's last message (its revision and sequence), then publish each
 * event with `Nats-Expected-Last-Subject-Sequence` = the sequence of the stream's previous
 * event (0 for a new stream) and `Nats-Msg-Id` = `<streamId>:<revision>`. A rejected
 * expectation (API error 10071), or a dedupe hit on a message that is not ours, is a conflict;
 * the stream tail is then compared by event id before WrongExpectedRevisionError is thrown,
 * so a retry of an append that already landed succeeds (also after the duplicate window).
 *
 * Atomicity: nats-server 2.9 has no atomic batch publish, so a multi-event append is a chain
 * of single publishes guarded by the subject sequence. If the chain breaks midway (connection
 * loss, crash, or a concurrent writer that read the stream between two publishes) the stream
 * holds a prefix of the batch and the call fails; retrying the same append (same event ids)
 * completes it. With nats-server >= 2.12, atomic batch publish would close this gap.
 *
 * Reads use ordered consumers (memory storage, `inactive_threshold` a few seconds) that are
 * deleted when the read ends; they never write to the log.
 */
export class JetStreamEventStore implements EventStore {
  private readonly subscriptions = new Set<JsSubscription>();
  private closed = false;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    readonly stream: string,
    readonly subjectPrefix: string,
    private readonly direct: DirectGet | null,
    private readonly multiFilter: boolean,
    private readonly inactiveMs: number,
  ) {}

  /**
   * Open the store on `nc`, creating the stream if it is missing (an existing stream is left
   * as it is; its subjects must cover `<prefix>.>`).
   * @throws Error when JetStream is unavailable or an existing stream does not capture `<prefix>.>`
   */
  static async connect(nc: NatsConnection, opts: JetStreamEventStoreOptions = {}): Promise<JetStreamEventStore> {
    const stream = opts.stream ?? 'ES';
    const prefix = opts.subjectPrefix ?? 'es';
    if (!STREAM_NAME.test(stream)) throw new RangeError(`invalid JetStream stream name ${JSON.stringify(stream)}`);
    if (!PREFIX.test(prefix)) throw new RangeError(`invalid subject prefix ${JSON.stringify(prefix)}`);
    const inactiveMs = intOption('consumerInactiveThresholdMs', opts.consumerInactiveThresholdMs, DEFAULT_INACTIVE_THRESHOLD_MS, 1_000);
    const jsm = await nc.jetstreamManager();
    const wanted = `${prefix}.>`;
    let info;
    try {
      info = await jsm.streams.info(stream);
    } catch (e) {
      if (apiErrorCode(e) !== STREAM_NOT_FOUND) throw e;
      try {
        info = await jsm.streams.add({
          name: stream,
          subjects: [wanted],
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          discard: DiscardPolicy.New, // should limits ever be set, refuse new events rather than drop old ones
          max_msgs: -1,
          max_bytes: -1,
          max_age: 0,
          max_msgs_per_subject: -1,
          num_replicas: 1,
          allow_direct: true,
          deny_delete: true,
          deny_purge: true,
          duplicate_window: nanos(120_000),
        });
      } catch (e2) {
        if (apiErrorCode(e2) !== STREAM_NAME_IN_USE) throw e2; // created concurrently by another process
        info = await jsm.streams.info(stream);
      }
    }
    if (!info.config.subjects?.some((s) => s === wanted || s === '>')) {
      throw new Error(`JetStream stream ${stream} exists but does not capture ${wanted} (subjects: ${JSON.stringify(info.config.subjects)})`);
    }
    const maybeDirect = (jsm as JetStreamManager & { direct?: DirectGet }).direct;
    const direct = info.config.allow_direct && maybeDirect && typeof maybeDirect.getMessage === 'function' ? maybeDirect : null;
    return new JetStreamEventStore(nc, jsm, nc.jetstream(), stream, prefix, direct, serverAtLeast(nc.info?.version, 2, 10), inactiveMs);
  }

  /**
   * See {@link EventStore.append}. Errors other than a conflict (timeouts, connection loss)
   * leave the outcome unknown: retry the same append (same event ids), it is idempotent.
   */
  async append(streamId: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    this.assertOpen();
    assertStreamId(streamId);
    assertExpected(expected);
    const ids = batchEventIds(events);
    const subject = subjectForStream(this.subjectPrefix, streamId);
    const bodies = events.map((e) => encoder.encode(JSON.stringify({ type: e.type, data: e.data ?? null, metadata: e.metadata })));
    const loose = expected === 'any' || expected === 'stream_exists';
    let pending = 0; // with 'any'/'stream_exists': events before this index are written
    for (let attempt = 0; ; attempt++) {
      const tail = await this.tail(subject);
      // With a revision check the whole batch is re-decided from the stored tail (which may hold
      // our own prefix); without one only the unwritten rest is appended wherever the tail is.
      const planIds = loose ? ids.slice(pending) : ids;
      let plan = planAppend(expected, tail?.revision ?? null, tail?.eventId ?? null, planIds);
      if (plan.kind === 'lookup') {
        const refs = await this.storedRefs(streamId, tail, plan.from, plan.count);
        plan = planAppend(expected, tail?.revision ?? null, tail?.eventId ?? null, planIds, refs);
      }
      if (plan.kind === 'stored') return { nextExpectedRevision: plan.last.revision, position: plan.last.position };
      if (plan.kind !== 'write') throw new WrongExpectedRevisionError(streamId, expected, tail?.revision ?? null);
      const start = (loose ? pending : 0) + plan.from;
      const out = await this.publishChain(subject, streamId, events, ids, bodies, start, tail);
      if (out.ok) return { nextExpectedRevision: out.revision, position: out.seq };
      // Lost a race at event `out.failedAt`: decide again on the new tail (a retry of this very
      // batch may have landed meanwhile; anything else is a conflict at the next plan).
      if (loose) pending = out.failedAt;
      if (attempt + 1 >= MAX_ATTEMPTS) {
        const t = await this.tail(subject);
        throw new WrongExpectedRevisionError(streamId, expected, t?.revision ?? null);
      }
    }
  }

  async readStream(streamId: string, opts: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    assertStreamId(streamId);
    const from = intOption('fromRevision', opts.fromRevision, 0, 0);
    const max = intOption('maxCount', opts.maxCount, Number.MAX_SAFE_INTEGER, 0);
    const subject = subjectForStream(this.subjectPrefix, streamId);
    const tail = await this.tail(subject);
    if (!tail || from > tail.revision || max === 0) return [];
    if (from === tail.revision) return [tail.event];
    const out: RecordedEvent[] = [];
    for await (const m of this.scan(subject, 1, tail.seq)) {
      const e = decodeStoredEvent(m.subject, m.seq, m.headers, m.data);
      if (e.revision < from) continue;
      out.push(e);
      if (out.length >= max) break;
    }
    return out;
  }

  async streamRevision(streamId: string): Promise<number | null> {
    this.assertOpen();
    assertStreamId(streamId);
    const tail = await this.tail(subjectForStream(this.subjectPrefix, streamId));
    return tail ? tail.revision : null;
  }

  readAll(opts: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    this.assertOpen();
    const from = Math.max(1, intOption('fromPosition', opts.fromPosition, 1, 0));
    const max = intOption('maxCount', opts.maxCount, Number.MAX_SAFE_INTEGER, 0);
    const categories = normaliseCategories(opts.categories);
    const { filter, accept } = this.filterFor(categories);
    // Each iteration is a new read that ends at the end known when it starts.
    return { [Symbol.asyncIterator]: () => this.readAllFrom(filter, accept, from, max) };
  }

  private async *readAllFrom(filter: string | string[], accept: (subject: string) => boolean, from: number, max: number): AsyncGenerator<RecordedEvent> {
    if (max === 0) return;
    let n = 0;
    for await (const m of this.scan(filter, from, undefined)) {
      if (!accept(m.subject)) continue;
      yield decodeStoredEvent(m.subject, m.seq, m.headers, m.data);
      if (++n >= max) return;
    }
  }

  subscribeToAll(opts: { fromPosition?: number; categories?: string[] }, handler: (e: RecordedEvent) => Promise<void>): Subscription {
    this.assertOpen();
    const from = Math.max(1, intOption('fromPosition', opts.fromPosition, 1, 0));
    const { filter, accept } = this.filterFor(normaliseCategories(opts.categories));
    const sub = new JsSubscription(
      (startSeq) => this.orderedConsumer(filter, startSeq),
      from,
      (m) => (accept(m.subject) ? handler(decodeStoredEvent(m.subject, m.seq, m.headers, m.data)) : undefined),
      () => this.subscriptions.delete(sub),
      async () => {
        try {
          await this.jsm.streams.info(this.stream);
          return null;
        } catch (e) {
          return apiErrorCode(e) === STREAM_NOT_FOUND ? new Error(`JetStream stream ${this.stream} not found`) : null;
        }
      },
    );
    this.subscriptions.add(sub);
    return sub;
  }

  async lastPosition(): Promise<number> {
    this.assertOpen();
    const info = await this.jsm.streams.info(this.stream);
    return info.state.last_seq;
  }

  /** Stops this store's subscriptions. The NATS connection belongs to the caller and stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
  }

  private assertOpen(): void {
    if (this.closed || this.nc.isClosed()) throw new EventStoreClosedError();
  }

  /** Last message of `subject` (direct get), or null when the stream has no event. */
  private async tail(subject: string): Promise<Tail | null> {
    let m: StoredMsg;
    try {
      m = this.direct
        ? await this.direct.getMessage(this.stream, { last_by_subj: subject })
        : await this.jsm.streams.getMessage(this.stream, { last_by_subj: subject });
    } catch (e) {
      if (isNoMessage(e)) return null;
      throw e;
    }
    const event = decodeStoredEvent(m.subject, m.seq, m.header, m.data);
    return { seq: m.seq, revision: event.revision, eventId: event.metadata.eventId, event };
  }

  private async getBySeq(seq: number): Promise<RecordedEvent> {
    const m = this.direct ? await this.direct.getMessage(this.stream, { seq }) : await this.jsm.streams.getMessage(this.stream, { seq });
    return decodeStoredEvent(m.subject, m.seq, m.header, m.data);
  }

  /** Refs of revisions `from .. from+count-1` of a stream (for the idempotency check). */
  private async storedRefs(streamId: string, tail: Tail | null, from: number, count: number): Promise<StoredRef[]> {
    if (tail && count === 1 && from === tail.revision) return [{ revision: tail.revision, eventId: tail.eventId, position: tail.seq }];
    const events = await this.readStream(streamId, { fromRevision: from, maxCount: count });
    return events.map((e) => ({ revision: e.revision, eventId: e.metadata.eventId, position: e.position }));
  }

  /**
   * Publish events `start..` after `tail`, each guarded by the previous one's sequence.
   * @returns the last event's revision and sequence, or the index of the event that lost a race
   */
  private async publishChain(
    subject: string,
    streamId: string,
    events: NewEvent[],
    ids: string[],
    bodies: Uint8Array[],
    start: number,
    tail: Tail | null,
  ): Promise<{ ok: true; revision: number; seq: number } | { ok: false; failedAt: number }> {
    let prevSeq = tail?.seq ?? 0;
    let revision = tail?.revision ?? -1;
    for (let i = start; i < events.length; i++) {
      revision++;
      const h = natsHeaders();
      h.set(EventHeaders.streamId, streamId);
      h.set(EventHeaders.revision, String(revision));
      h.set(EventHeaders.eventType, events[i].type);
      h.set(EventHeaders.eventId, ids[i]);
      let ack: PubAck;
      try {
        ack = await this.js.publish(subject, bodies[i], { headers: h, msgID: `${streamId}:${revision}`, expect: { lastSubjectSequence: prevSeq } });
      } catch (e) {
        if (apiErrorCode(e) === WRONG_LAST_SEQUENCE) return { ok: false, failedAt: i };
        throw e;
      }
      // The dedupe check runs before the sequence check: a duplicate is ours only if it holds our event.
      if (ack.duplicate && (await this.getBySeq(ack.seq)).metadata.eventId !== ids[i]) return { ok: false, failedAt: i };
      prevSeq = ack.seq;
    }
    return { ok: true, revision, seq: prevSeq };
  }

  /** Consumer filter for a category set, and the client-side check that completes it. */
  private filterFor(categories: string[] | undefined): { filter: string | string[]; accept: (subject: string) => boolean } {
    const all = `${this.subjectPrefix}.>`;
    if (!categories) return { filter: all, accept: () => true };
    const start = this.subjectPrefix.length + 1;
    const accept = (subject: string) => categories.includes(subject.slice(start, subject.indexOf('.', start)));
    const subjects = categories.map((c) => `${this.subjectPrefix}.${c}.>`);
    if (subjects.length === 1) return { filter: subjects[0], accept };
    // Several filter subjects need nats-server 2.10 (2.9 ignores `filter_subjects`); before that, filter here.
    return { filter: this.multiFilter ? subjects : all, accept };
  }

  /** An ordered consumer from stream sequence `startSeq` whose server-side consumers expire quickly. */
  private async orderedConsumer(filter: string | string[], startSeq: number): Promise<Consumer> {
    const opts: Partial<OrderedConsumerOptions> = {
      filterSubjects: filter,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: startSeq,
      inactive_threshold: this.inactiveMs,
    };
    const c = await this.js.consumers.get(this.stream, opts);
    // nats.js 2.29 applies `inactive_threshold` only when no opt_start_seq is given and never to
    // the consumers it recreates after a gap (they get 5 minutes): enforce it on every one.
    const impl = c as unknown as { getConsumerOpts?: (seq: number) => ConsumerConfig };
    const original = impl.getConsumerOpts;
    if (typeof original === 'function') {
      impl.getConsumerOpts = (seq: number) => ({ ...original.call(c, seq), inactive_threshold: nanos(this.inactiveMs) });
    }
    return c;
  }

  /**
   * Messages matching `filter` from `startSeq` up to the end known now: as many as the first
   * message says follow it, and no further than `endSeq` (default: the stream's last sequence now). The consumer is deleted when the scan ends.
   */
  private async *scan(filter: string | string[], startSeq: number, endSeq: number | undefined): AsyncGenerator<JsMsg> {
    // The read ends at the end known when it starts: without a given end, the stream's last
    // sequence now. (A message's `pending` count alone proved unreliable to end a read: an
    // ordered consumer that resets mid-read can leave the last message with pending > 0.)
    endSeq ??= (await this.jsm.streams.info(this.stream)).state.last_seq;
    if (endSeq < startSeq) return;
    const consumer = await this.orderedConsumer(filter, startSeq);
    let msgs: ConsumerMessages | null = null;
    try {
      msgs = await consumer.consume({ max_messages: BATCH });
      if ((await consumer.info(true)).num_pending <= 0) return;
      // How many to read comes from the first message: the server's count of what follows it
      // when it was delivered. (The consumer's own num_pending, read after `consume` started,
      // can already exclude a delivered batch under load and end the read early.)
      let remaining: number | null = null;
      for await (const m of msgs) {
        remaining = (remaining ?? m.info.pending + 1) - 1;
        if (endSeq !== undefined && m.seq > endSeq) return;
        yield m;
        if (remaining <= 0 || (endSeq !== undefined && m.seq >= endSeq)) return;
      }
    } finally {
      await msgs?.close().catch(() => undefined);
      await consumer.delete().catch(() => undefined);
    }
  }
}

/** Pull expiry of a live subscription: bounds how long a lost consumer goes unnoticed (heartbeats at half of it). */
const LIVE_EXPIRES_MS = 10_000;

class JsSubscription implements Subscription {
  readonly done: Promise<void>;
  private stopped = false;
  private restart = false;
  private msgs: ConsumerMessages | null = null;

  /**
   * @param open creates an ordered consumer from a stream sequence
   * @param from stream sequence of the first message to deliver
   * @param handle decodes, filters and hands one message to the user's handler
   * @param onEnd called once when the subscription is over
   * @param streamGone resolves to an error when the JetStream stream no longer exists
   */
  constructor(
    open: (startSeq: number) => Promise<Consumer>,
    from: number,
    handle: (m: JsMsg) => Promise<void> | undefined,
    onEnd: () => void,
    private readonly streamGone: () => Promise<Error | null>,
  ) {
    this.done = this.run(open, from, handle).finally(onEnd);
    this.done.catch(() => undefined); // observable through `done`; never an unhandled rejection
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.msgs?.close().catch(() => undefined);
    await this.done.catch(() => undefined);
  }

  private async run(open: (startSeq: number) => Promise<Consumer>, from: number, handle: (m: JsMsg) => Promise<void> | undefined): Promise<void> {
    await Promise.resolve(); // never deliver inside subscribeToAll
    let next = from;
    while (!this.stopped) {
      const consumer = await open(next);
      try {
        const msgs = await consumer.consume({ max_messages: BATCH, expires: LIVE_EXPIRES_MS });
        this.msgs = msgs;
        if (this.stopped) return;
        this.watch(msgs);
        for await (const m of msgs) {
          if (this.stopped) break;
          await handle(m);
          next = m.seq + 1;
        }
      } finally {
        await this.msgs?.close().catch(() => undefined);
        this.msgs = null;
        await consumer.delete().catch(() => undefined);
      }
      if (!this.restart) return;
      this.restart = false; // the consumer was lost: resume after the last handled message
    }
  }

  /**
   * On a consumer-loss notice, end the subscription if the stream is gone (an ordered consumer
   * would retry forever), else resume at once on a new consumer (the ordered consumer alone
   * notices only after missed heartbeats).
   */
  private watch(msgs: ConsumerMessages): void {
    const lost: string[] = [ConsumerEvents.ConsumerDeleted, ConsumerEvents.StreamNotFound, ConsumerEvents.NoResponders, ConsumerEvents.ConsumerNotFound];
    void (async () => {
      for await (const s of await msgs.status()) {
        if (this.stopped || msgs !== this.msgs) return;
        if (!lost.includes(s.type)) continue;
        const err = await this.streamGone();
        if (msgs !== this.msgs) return;
        if (err) {
          msgs.stop(err);
        } else {
          this.restart = true;
          msgs.stop();
        }
        return;
      }
    })().catch(() => undefined);
  }
}

function apiErrorCode(e: unknown): number | undefined {
  return (e as { api_error?: { err_code?: number } } | null)?.api_error?.err_code;
}

/** 404 from a direct get (no api_error) or err_code 10037 from a stream message get. */
function isNoMessage(e: unknown): boolean {
  return apiErrorCode(e) === 10037 || (e as { code?: string } | null)?.code === '404';
}

function serverAtLeast(version: string | undefined, major: number, minor: number): boolean {
  const m = /^v?(\d+)\.(\d+)/.exec(version ?? '');
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}
