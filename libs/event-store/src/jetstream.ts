import { type NewEvent, type RecordedEvent, StreamId } from '@bulwark/contracts';
import {
  type Consumer,
  type ConsumerConfig,
  ConsumerEvents,
  type ConsumerMessages,
  DeliverPolicy,
  DiscardPolicy,
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
  type StreamConfig,
} from 'nats';
import {
  assertExpected,
  assertStreamId,
  batchEventIds,
  eventsOfBatches,
  bodyProblem,
  intOption,
  normaliseCategories,
  readAllWindow,
  planAppend,
  prepareBatch,
  sealBatch,
  type AppendPlan,
  type SealedEvent,
  type StoredRef,
  unreadableReporter,
} from './internal';
import { GENESIS_HASH, headHashOf } from './chain';
import { JetStreamPublisher, PublishHeaders, wireHeaders } from './jetstream-publisher';
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
  type UnreadableEvent,
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
/** Messages per pull of a live subscription. */
const BATCH = 256;
/** Messages per pull of a read (`readAll`, `readStream`): the server sends this far ahead of the reader. */
const PULL_BATCH = 4096;
/** A read that hears nothing for this long checks whether anything is left before its end. */
const IDLE_PROBE_MS = 2_000;
/** Quiet checks that find messages still due before a read gives up on its consumer and opens a new one. */
const MAX_IDLE_PROBES = 3;
/** New consumers a read may open in a row without receiving a message before it fails. */
const MAX_READ_RESTARTS = 5;
/** Subjects whose tail a store remembers after its own appends. */
const MAX_CACHED_TAILS = 10_000;
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

/** A stored message read back: the event, or why it is not one. */
export type DecodedMessage = { ok: true; event: RecordedEvent } | { ok: false; unreadable: UnreadableEvent };

/**
 * Read a message of the event-store stream without throwing (by any consumer, durable or ordered).
 * It is an event when it has a Bulwark-Revision header (integer >= 0), a Bulwark-Stream-Id header
 * (when present) that agrees with its subject, and a JSON body `{ type, data, metadata }` whose
 * metadata passes `EventMetadata`. The type and data are not checked against the catalogue.
 * @param subject the message subject (`<prefix>.<category>.<id>`)
 * @param seq the JetStream stream sequence = the event's global position
 * @param headers the message headers
 * @param data the body
 */
export function readStoredMessage(subject: string, seq: number, headers: Pick<MsgHdrs, 'get'> | undefined, data: Uint8Array): DecodedMessage {
  const fromSubject = streamIdFromSubject(subject);
  const headerStreamId = headers?.get(EventHeaders.streamId) || null;
  const headerType = headers?.get(EventHeaders.eventType) || null;
  const revision = headerRevision(headers);
  const streamId = fromSubject ?? headerStreamId ?? subject;
  const bad = (reason: string, eventType: string | null = headerType): DecodedMessage => ({
    ok: false,
    unreadable: { streamId, revision, position: seq, eventType, reason },
  });
  if (!headers) return bad('no headers');
  if (revision === null) return bad(`no valid ${EventHeaders.revision} header (${JSON.stringify(headers.get(EventHeaders.revision))})`);
  if (!fromSubject) return bad(`subject ${subject} is not <prefix>.<category>.<id>`);
  if (headerStreamId !== null && headerStreamId !== fromSubject) return bad(`${EventHeaders.streamId} ${headerStreamId} does not match subject ${subject}`);
  let body: unknown;
  try {
    body = JSON.parse(decoder.decode(data));
  } catch (e) {
    return bad(`body is not JSON (${(e as Error).message})`);
  }
  const problem = bodyProblem(body);
  const b = body as Partial<NewEvent>;
  if (problem) return bad(problem, typeof b?.type === 'string' ? b.type : headerType);
  return { ok: true, event: { type: b.type as string, data: b.data ?? null, metadata: b.metadata as NewEvent['metadata'], streamId, revision, position: seq } };
}

/**
 * Decode a message of the event-store stream (see {@link readStoredMessage} for what is an event).
 * @throws UndecodableEventError when it is not an event of this store
 */
export function decodeStoredEvent(subject: string, seq: number, headers: Pick<MsgHdrs, 'get'> | undefined, data: Uint8Array): RecordedEvent {
  const d = readStoredMessage(subject, seq, headers, data);
  if (!d.ok) throw new UndecodableEventError(subject, seq, d.unreadable.reason);
  return d.event;
}

/** The revision a message's header claims, null when missing or not an integer >= 0. */
function headerRevision(headers: Pick<MsgHdrs, 'get'> | undefined): number | null {
  const text = headers?.get(EventHeaders.revision) ?? '';
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/** `<category>-<id>` from a subject `<prefix>.<category>.<id>`, null when that is no stream id. */
function streamIdFromSubject(subject: string): string | null {
  // A read meets each subject many times: the stream id check (a schema parse) runs once per subject.
  const known = subjectStreamIds.get(subject);
  if (known !== undefined) return known;
  const t = subject.split('.');
  const id = t.length < 3 ? null : `${t[t.length - 2]}-${t[t.length - 1]}`;
  const out = id !== null && StreamId.safeParse(id).success ? id : null;
  if (subjectStreamIds.size >= MAX_CACHED_SUBJECTS) subjectStreamIds.clear(); // bounded memory on a log of many streams
  subjectStreamIds.set(subject, out);
  return out;
}

const subjectStreamIds = new Map<string, string | null>();
const MAX_CACHED_SUBJECTS = 100_000;

/** Options of {@link JetStreamEventStore.connect}. */
export interface JetStreamEventStoreOptions {
  /** JetStream stream name, default `ES`. */
  stream?: string;
  /** Subject prefix, default `es` (subjects `<prefix>.<category>.<id>`). */
  subjectPrefix?: string;
  /** Inactive threshold of the short-lived consumers behind reads (ms), default 5000. */
  consumerInactiveThresholdMs?: number;
  /**
   * Check appended events against the catalogue and their schemas (default true). Only tests
   * that must store poison events turn it off; metadata and size are checked regardless.
   */
  validate?: boolean;
  /** Where a read without `onUnreadable` reports a skipped message (default `console.warn`). */
  warn?: (message: string) => void;
  /**
   * Create the stream when it is missing (default false). Only set-up and test harnesses,
   * connected as NATS user `admin`, create streams (docs/security.md); a service needs no more
   * than stream-info permission and gets {@link EventLogMissingError} when the stream is absent.
   */
  create?: boolean;
}

/** The event log's JetStream stream does not exist, and this connection does not create it. */
export class EventLogMissingError extends Error {
  constructor(readonly stream: string, readonly subjectPrefix: string) {
    super(
      `JetStream stream ${stream} (the event log, subjects ${subjectPrefix}.>) does not exist. ` +
        `Set-up creates it as NATS user admin: run \`npm run setup\` (or \`node scripts/nats-streams.js\`) with the same BULWARK_ES_STREAM and BULWARK_ES_PREFIX.`,
    );
    this.name = 'EventLogMissingError';
  }
}

/**
 * The event log stream's configuration (file storage, `allow_direct`, `deny_delete`,
 * `deny_purge`, a 2 min duplicate window, no limits), as set-up creates it.
 */
export function eventLogStreamConfig(stream: string, subjectPrefix: string): Partial<StreamConfig> & { name: string } {
  return {
    name: stream,
    subjects: [`${subjectPrefix}.>`],
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
  };
}

/**
 * The end of one event stream's subject.
 * - `lastSeq`: sequence of the subject's last message (what the next publish must expect);
 * - `revision`, `eventSeq`: the last revision any message of the subject claims, and that
 *   message's sequence (null = no event stream: the subject holds only messages without revision);
 * - `decoded`: that message read back (it may be unreadable);
 * - `eventId`: its event id when it is readable.
 */
interface Tail {
  lastSeq: number;
  revision: number | null;
  eventSeq: number | null;
  decoded: DecodedMessage | null;
  eventId: string | null;
}

/** The direct-get API (exposed by the JetStreamManager implementation, not by its interface). */
interface DirectGet {
  getMessage(stream: string, query: MsgQuery): Promise<StoredMsg>;
}

type MsgQuery = { last_by_subj: string } | { seq: number } | { seq: number; next_by_subj: string };

/** Where a read looks: the consumer's filter, the subjects whose last message ends it, the client-side check. */
interface ReadFilter {
  filter: string | string[];
  ends: string[];
  accept: (subject: string) => boolean;
}

/**
 * {@link EventStore} on one JetStream stream (docs/architecture.md "Streams and events").
 *
 * Layout: stream `ES` (file storage, `allow_direct`, `deny_delete`, `deny_purge`, 2 min
 * duplicate window, no limits), one subject per event stream `es.<category>.<id>`; one message
 * per event with headers Bulwark-Stream-Id / -Revision / -Event-Type / -Event-Id and body
 * JSON `{ type, data, metadata }`. The stream sequence is the global position.
 *
 * Append: check the batch (catalogue, schema, metadata, size: InvalidEventError), direct-get the
 * subject's last message (its revision and sequence; skipped when the store remembers the tail it
 * wrote last, or for `no_stream`, which assumes an empty subject: the guard checks either), then
 * publish each event with `Nats-Expected-Last-Subject-Sequence` = the sequence of the subject's
 * previous message (0 for a new stream) and `Nats-Msg-Id` = `<streamId>:<revision>`. A rejected
 * expectation (API error 10071), or a dedupe hit on a message that is not ours, is a conflict;
 * the stream tail is then compared by event id before WrongExpectedRevisionError is thrown, so a
 * retry of an append that already landed succeeds (also after the duplicate window).
 *
 * Atomicity: nats-server 2.9 has no atomic batch publish, so a multi-event append is a chain
 * of single publishes guarded by the subject sequence. If the chain breaks midway (connection
 * loss, crash, or a concurrent writer that read the stream between two publishes) the stream
 * holds a prefix of the batch and the call fails; retrying the same append (same event ids)
 * completes it. With nats-server >= 2.12, atomic batch publish would close this gap.
 *
 * Pipelining: the publishes of one append wait for each other's acknowledgement, since each
 * must expect the previous one's subject sequence, known only from its ack; publishing later
 * events unguarded (or with guessed sequences) could leave a revision gap or interleave with
 * another writer, which msg-id dedupe alone does not prevent (docs/event-store.md "Bulk reads,
 * trusting the log on replay, appends"). Appends to different streams are independent and
 * pipeline on the one connection: publishes go through a {@link JetStreamPublisher} (acks on one
 * reply subscription, no per-publish request set-up), which writes the publishes of one
 * event-loop turn together while others are in flight, so the appends released by one batch of
 * acks go out in one socket write. The store remembers the tail it wrote last per subject, so an
 * append after its own skips the direct get (the guard catches a tail moved by someone else:
 * the append re-plans on the stored tail).
 *
 * Reads use ordered consumers (memory storage, `inactive_threshold` a few seconds) that are
 * deleted when the read ends; they never write to the log. A read ends at the last message
 * matching its filter when it starts (direct get `last_by_subj`), and stops exactly when it has
 * seen that sequence: the server's pending counts are never trusted to end a read (nats-server
 * 2.9 can under-count them, which cut reads short).
 *
 * Hash chain (docs/event-store.md): each publish carries the `prevHash` / `hash` computed on the
 * tail it is guarded by, so a lost race re-chains on the new tail.
 *
 * Unreadable messages (see {@link readStoredMessage}) are skipped by every read and reported.
 * Revisions come from the Bulwark-Revision header: a skipped message that carries one keeps its
 * revision (reads show a gap there, and append continues after it), one without a revision is
 * ignored by reads and OCC alike (append continues after the last revision any message claims).
 */
export class JetStreamEventStore implements EventStore {
  private readonly subscriptions = new Set<JsSubscription>();
  private readonly warned = new Set<number>();
  /** Tails this store wrote last, by subject: an append's first plan needs no direct get (see `append`). */
  private readonly tails = new Map<string, Tail>();
  /** Event publishes (acks on one subscription, writes of one event-loop turn together). */
  private readonly publisher: JetStreamPublisher;
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
    private readonly validate: boolean,
    private readonly warn: (message: string) => void,
  ) {
    this.publisher = new JetStreamPublisher(nc);
  }

  /**
   * Open the store on `nc`. The stream must exist unless `opts.create` (then a missing one is
   * created; an existing stream is left as it is); its subjects must cover `<prefix>.>`.
   * @throws EventLogMissingError when the stream is missing and `opts.create` is not set
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
      if (!opts.create) throw new EventLogMissingError(stream, prefix);
      try {
        info = await jsm.streams.add(eventLogStreamConfig(stream, prefix));
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
    return new JetStreamEventStore(
      nc,
      jsm,
      nc.jetstream(),
      stream,
      prefix,
      direct,
      serverAtLeast(nc.info?.version, 2, 10),
      inactiveMs,
      opts.validate ?? true,
      opts.warn ?? ((m) => console.warn(m)),
    );
  }

  /**
   * See {@link EventStore.append}. Errors other than a conflict or a refused event (timeouts,
   * connection loss) leave the outcome unknown: retry the same append (same event ids), it is
   * idempotent.
   */
  async append(streamId: string, events: NewEvent[], expected: ExpectedRevision, opts: AppendOptions = {}): Promise<AppendResult> {
    this.assertOpen();
    assertStreamId(streamId);
    assertExpected(expected);
    const ids = batchEventIds(events);
    const prepared = prepareBatch(streamId, events, this.validate, opts.preserveChain);
    const subject = subjectForStream(this.subjectPrefix, streamId);
    const loose = expected === 'any' || expected === 'stream_exists';
    let pending = 0; // with 'any'/'stream_exists': events before this index are written
    const decide = async (tail: Tail | null): Promise<AppendPlan> => {
      // With a revision check the whole batch is re-decided from the stored tail (which may hold
      // our own prefix); without one only the unwritten rest is appended wherever the tail is.
      const planIds = loose ? ids.slice(pending) : ids;
      const current = tail?.revision ?? null;
      const plan = planAppend(expected, current, tail?.eventId ?? null, planIds);
      if (plan.kind !== 'lookup') return plan;
      return planAppend(expected, current, tail?.eventId ?? null, planIds, await this.storedRefs(streamId, tail, plan.from, plan.count));
    };
    for (let attempt = 0; ; attempt++) {
      // The first attempt may plan on an assumed tail (no round trip): the one this store itself
      // last wrote, or for `no_stream` none. The publish guard checks it against the server, so a
      // wrong one costs a re-plan, never a wrong write; any answer but 'write' is decided again
      // on the stored tail.
      const cached = attempt === 0 ? this.tails.get(subject) : undefined;
      const assumed = cached !== undefined || (attempt === 0 && expected === 'no_stream');
      let tail = cached ?? (assumed ? null : await this.tail(subject));
      let plan = await decide(tail);
      if (assumed && plan.kind !== 'write') {
        this.tails.delete(subject);
        tail = await this.tail(subject);
        plan = await decide(tail);
      }
      if (plan.kind === 'stored') return { nextExpectedRevision: plan.last.revision, position: plan.last.position };
      if (plan.kind !== 'write') throw new WrongExpectedRevisionError(streamId, expected, tail?.revision ?? null);
      const start = (loose ? pending : 0) + plan.from;
      // Chained on the tail this attempt read; the subject-sequence guard makes a lost race a re-plan.
      const { prevHash, chained } = await this.chainHead(streamId, tail);
      const sealed = sealBatch(streamId, prepared, start, (tail?.revision ?? -1) + 1, prevHash, chained, opts.preserveChain);
      const bodies = sealed.bodies.map((b) => encoder.encode(b));
      this.tails.delete(subject); // unknown until the publishes are acknowledged
      const out = await this.publishChain(subject, streamId, events, ids, bodies, start, tail);
      if (out.ok) {
        this.rememberTail(subject, streamId, out.revision, out.seq, sealed.events[sealed.events.length - 1]);
        return { nextExpectedRevision: out.revision, position: out.seq };
      }
      // Lost a race at event `out.failedAt`: decide again on the new tail (a retry of this very
      // batch may have landed meanwhile; anything else is a conflict at the next plan).
      if (loose) pending = out.failedAt;
      if (attempt + 1 >= MAX_ATTEMPTS) {
        const t = await this.tail(subject);
        throw new WrongExpectedRevisionError(streamId, expected, t?.revision ?? null);
      }
    }
  }

  /**
   * Remember a subject's tail after this store's acknowledged publish of `e` (revision
   * `revision`, sequence `seq`, the subject's last message since every publish is guarded).
   * Bounded: past {@link MAX_CACHED_TAILS} subjects the oldest is forgotten.
   */
  private rememberTail(subject: string, streamId: string, revision: number, seq: number, e: SealedEvent): void {
    const event: RecordedEvent = { type: e.type, data: e.data, metadata: e.metadata, streamId, revision, position: seq };
    this.tails.delete(subject);
    if (this.tails.size >= MAX_CACHED_TAILS) this.tails.delete(this.tails.keys().next().value as string);
    this.tails.set(subject, { lastSeq: seq, revision, eventSeq: seq, decoded: { ok: true, event }, eventId: e.metadata.eventId });
  }

  async readStream(streamId: string, opts: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    assertStreamId(streamId);
    const from = intOption('fromRevision', opts.fromRevision, 0, 0);
    const max = intOption('maxCount', opts.maxCount, Number.MAX_SAFE_INTEGER, 0);
    const report = unreadableReporter(opts.onUnreadable, this.warned, this.warn);
    return this.readStreamWith(streamId, from, max, report);
  }

  private async readStreamWith(streamId: string, from: number, max: number, report: (u: UnreadableEvent) => void): Promise<RecordedEvent[]> {
    const subject = subjectForStream(this.subjectPrefix, streamId);
    const tail = await this.tail(subject);
    if (!tail || max === 0 || (tail.revision !== null && from > tail.revision)) return [];
    if (from === tail.revision && tail.eventSeq === tail.lastSeq && tail.decoded) {
      // Only the last message can be in the window: no scan.
      if (tail.decoded.ok) return [tail.decoded.event];
      report(tail.decoded.unreadable);
      return [];
    }
    const out: RecordedEvent[] = [];
    for await (const m of this.scan(subject, [subject], 1, tail.lastSeq)) {
      const d = readStoredMessage(m.subject, m.seq, m.headers, m.data);
      if (!d.ok) {
        if (d.unreadable.revision === null || d.unreadable.revision >= from) report(d.unreadable);
        continue;
      }
      if (d.event.revision < from) continue;
      out.push(d.event);
      if (out.length >= max) break;
    }
    return out;
  }

  async streamRevision(streamId: string): Promise<number | null> {
    this.assertOpen();
    assertStreamId(streamId);
    const tail = await this.tail(subjectForStream(this.subjectPrefix, streamId));
    return tail?.revision ?? null;
  }

  /**
   * See {@link EventStore.streamMessageCounts}: the per-subject message counts of one stream-info
   * request (`subjects_filter` `<prefix>.>`, paged by the client), by the stream id of each subject
   * (as reads name them); subjects that name no stream id are left out.
   */
  async streamMessageCounts(): Promise<Map<string, number>> {
    this.assertOpen();
    const info = await this.jsm.streams.info(this.stream, { subjects_filter: `${this.subjectPrefix}.>` });
    const out = new Map<string, number>();
    for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
      const id = streamIdFromSubject(subject);
      if (id !== null) out.set(id, (out.get(id) ?? 0) + n);
    }
    return out;
  }

  readAll(opts: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    return eventsOfBatches(this.readAllBatches(opts));
  }

  /**
   * See {@link EventStore.readAllBatches}: each batch is what arrived from the server together
   * (decoded in one synchronous pass), cut at `batchSize`.
   */
  readAllBatches(opts: ReadAllBatchesOptions = {}): AsyncIterable<RecordedEvent[]> {
    this.assertOpen();
    const { from, max, categories, size } = readAllWindow(opts);
    const where = this.filterFor(categories);
    const report = unreadableReporter(opts.onUnreadable, this.warned, this.warn);
    // Each iteration is a new read that ends at the end known when it starts.
    return { [Symbol.asyncIterator]: () => this.readAllFrom(where, from, max, size, report) };
  }

  private async *readAllFrom(where: ReadFilter, from: number, max: number, size: number, report: (u: UnreadableEvent) => void): AsyncGenerator<RecordedEvent[]> {
    if (max === 0) return;
    let n = 0;
    for await (const msgs of this.scanBatches(where.filter, where.ends, from, undefined)) {
      let out: RecordedEvent[] = [];
      for (const m of msgs) {
        if (!where.accept(m.subject)) continue;
        const d = readStoredMessage(m.subject, m.seq, m.headers, m.data);
        if (!d.ok) {
          report(d.unreadable);
          continue;
        }
        out.push(d.event);
        if (++n >= max) break;
        if (out.length >= size) {
          yield out;
          out = [];
        }
      }
      if (out.length) yield out;
      if (n >= max) return;
    }
  }

  subscribeToAll(opts: SubscribeOptions, handler: (e: RecordedEvent) => Promise<void>): Subscription {
    this.assertOpen();
    const from = Math.max(1, intOption('fromPosition', opts.fromPosition, 1, 0));
    const { filter, accept } = this.filterFor(normaliseCategories(opts.categories));
    const report = unreadableReporter(opts.onUnreadable, this.warned, this.warn);
    const sub = new JsSubscription(
      (startSeq) => this.orderedConsumer(filter, startSeq),
      from,
      (m) => {
        if (!accept(m.subject)) return undefined;
        const d = readStoredMessage(m.subject, m.seq, m.headers, m.data);
        if (d.ok) return handler(d.event);
        report(d.unreadable);
        return undefined;
      },
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
    this.publisher.release();
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
  }

  private assertOpen(): void {
    if (this.closed || this.nc.isClosed()) throw new EventStoreClosedError();
  }

  /** A stored message by query (direct get when the stream allows it), null when there is none. */
  private async getMessage(query: MsgQuery): Promise<StoredMsg | null> {
    try {
      return this.direct ? await this.direct.getMessage(this.stream, query) : await this.jsm.streams.getMessage(this.stream, query);
    } catch (e) {
      if (isNoMessage(e)) return null;
      throw e;
    }
  }

  /**
   * The end of a stream's subject, null when the subject has no message. When its last message
   * claims no revision (a foreign message), the subject is scanned for the last one that does.
   */
  private async tail(subject: string): Promise<Tail | null> {
    const m = await this.getMessage({ last_by_subj: subject });
    if (!m) return null;
    let revision = headerRevision(m.header);
    let eventSeq: number | null = m.seq;
    let decoded: DecodedMessage | null = readStoredMessage(m.subject, m.seq, m.header, m.data);
    if (revision === null) {
      eventSeq = null;
      decoded = null;
      for await (const x of this.scan(subject, [subject], 1, m.seq)) {
        const r = headerRevision(x.headers);
        if (r === null) continue;
        revision = r;
        eventSeq = x.seq;
        decoded = readStoredMessage(x.subject, x.seq, x.headers, x.data);
      }
    }
    return { lastSeq: m.seq, revision, eventSeq, decoded, eventId: decoded?.ok ? decoded.event.metadata.eventId : null };
  }

  /** Event id stored at a sequence, null when the message is not a readable event. */
  private async eventIdAt(seq: number): Promise<string | null> {
    const m = await this.getMessage({ seq });
    if (!m) return null;
    const d = readStoredMessage(m.subject, m.seq, m.header, m.data);
    return d.ok ? d.event.metadata.eventId : null;
  }

  /** Refs of revisions `from .. from+count-1` of a stream (for the idempotency check); unreadable ones are missing. */
  private async storedRefs(streamId: string, tail: Tail | null, from: number, count: number): Promise<StoredRef[]> {
    if (tail && count === 1 && from === tail.revision) {
      return tail.eventId !== null && tail.eventSeq !== null ? [{ revision: from, eventId: tail.eventId, position: tail.eventSeq }] : [];
    }
    // Skipped messages are reported by the reads that return the stream, not by this lookup.
    const events = await this.readStreamWith(streamId, from, count, () => undefined);
    return events.map((e) => ({ revision: e.revision, eventId: e.metadata.eventId, position: e.position }));
  }

  /**
   * The hash a stream's next event chains to: its last event's stored hash; for a stream ending in
   * pre-hash events, the hash they would have had ({@link headHashOf}, one read of the stream);
   * genesis after an unreadable last message (the chain restarts there; verify reports that message).
   */
  private async chainHead(streamId: string, tail: Tail | null): Promise<{ prevHash: string; chained: boolean }> {
    if (!tail || !tail.decoded?.ok) return { prevHash: GENESIS_HASH, chained: false };
    const last = tail.decoded.event;
    if (last.metadata.hash) return { prevHash: last.metadata.hash, chained: true };
    const all = await this.readStreamWith(streamId, 0, Number.MAX_SAFE_INTEGER, () => undefined);
    return { prevHash: headHashOf(all.filter((e) => e.revision <= last.revision)), chained: false };
  }

  /**
   * Publish events `start..` after `tail` (`bodies[0]` is event `start`'s), each guarded by the previous one's sequence
   * (so one at a time: the next guard is the previous ack's sequence; see the class comment, "Pipelining").
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
    let prevSeq = tail?.lastSeq ?? 0;
    let revision = tail?.revision ?? -1;
    for (let i = start; i < events.length; i++) {
      revision++;
      const h = wireHeaders([
        [EventHeaders.streamId, streamId],
        [EventHeaders.revision, String(revision)],
        [EventHeaders.eventType, events[i].type],
        [EventHeaders.eventId, ids[i]],
        [PublishHeaders.msgId, `${streamId}:${revision}`],
        [PublishHeaders.expectedLastSubjectSequence, String(prevSeq)],
      ]);
      let ack: PubAck;
      try {
        ack = await this.publisher.publish(subject, bodies[i - start], h);
      } catch (e) {
        if (apiErrorCode(e) === WRONG_LAST_SEQUENCE) return { ok: false, failedAt: i };
        throw e;
      }
      // The dedupe check runs before the sequence check: a duplicate is ours only if it holds our event.
      if (ack.duplicate && (await this.eventIdAt(ack.seq)) !== ids[i]) return { ok: false, failedAt: i };
      prevSeq = ack.seq;
    }
    return { ok: true, revision, seq: prevSeq };
  }

  /**
   * Consumer filter for a category set, the subjects whose last message ends a read, and the
   * client-side check that completes the filter.
   */
  private filterFor(categories: string[] | undefined): ReadFilter {
    const all = `${this.subjectPrefix}.>`;
    if (!categories) return { filter: all, ends: [all], accept: () => true };
    const start = this.subjectPrefix.length + 1;
    const accept = (subject: string) => categories.includes(subject.slice(start, subject.indexOf('.', start)));
    const subjects = categories.map((c) => `${this.subjectPrefix}.${c}.>`);
    if (subjects.length === 1) return { filter: subjects[0], ends: subjects, accept };
    // Several filter subjects need nats-server 2.10 (2.9 ignores `filter_subjects`); before that, filter here.
    return { filter: this.multiFilter ? subjects : all, ends: subjects, accept };
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

  /** Sequence of the last message matching any of `subjects` now; 0 when none does. */
  private async lastMatching(subjects: string[]): Promise<number> {
    const lasts = await Promise.all(subjects.map((s) => this.getMessage({ last_by_subj: s })));
    return Math.max(0, ...lasts.map((m) => m?.seq ?? 0));
  }

  /** Whether a message matching any of `subjects` exists in `fromSeq..endSeq`. */
  private async anyMatching(subjects: string[], fromSeq: number, endSeq: number): Promise<boolean> {
    const next = await Promise.all(subjects.map((s) => this.getMessage({ seq: fromSeq, next_by_subj: s })));
    return next.some((m) => m !== null && m.seq <= endSeq);
  }

  /** {@link scanBatches} one message at a time. */
  private async *scan(filter: string | string[], ends: string[], startSeq: number, endSeq: number | undefined): AsyncGenerator<JsMsg> {
    for await (const batch of this.scanBatches(filter, ends, startSeq, endSeq)) yield* batch;
  }

  /**
   * Messages matching `filter` from `startSeq` through `endSeq`, in order, each once, in arrays of
   * what arrived together; `endSeq` defaults to the last message matching `ends` when the scan
   * starts (so it is a message the consumer will deliver). The scan ends when it has seen a
   * message at or past `endSeq`; pending counts are not used.
   *
   * The ordered consumer hands each message to a callback that only buffers it (no promise, timer
   * or iterator step per message); the scan wakes once per network read and yields what came
   * (hundreds of messages), so the per-message cost is the decode alone. Pulls of
   * {@link PULL_BATCH} keep the server sending ahead while the caller works on a batch; the
   * buffer holds at most what arrived meanwhile (bounded by the read's end).
   *
   * When the feed goes quiet it checks (direct get) whether a matching message is still due: if
   * none is, the scan is over; if one is and the feed stays quiet, or when the feed ends early,
   * it resumes on a new consumer after the last message seen. Consumers are deleted when the
   * scan ends.
   * @throws Error when consumers keep failing to deliver anything
   */
  private async *scanBatches(filter: string | string[], ends: string[], startSeq: number, endSeq: number | undefined): AsyncGenerator<JsMsg[]> {
    const end = endSeq ?? (await this.lastMatching(ends));
    let last = startSeq - 1; // the last sequence handed out (a reset never repeats or skips one)
    for (let barren = 0; last < end; ) {
      if (barren > MAX_READ_RESTARTS) throw new Error(`JetStream read of ${this.stream} stalled at sequence ${last} of ${end}`);
      const consumer = await this.orderedConsumer(filter, last + 1);
      const before = last;
      let buffered: JsMsg[] = [];
      let ended = false;
      let wake: (() => void) | null = null;
      const poke = () => {
        const w = wake;
        wake = null;
        w?.();
      };
      let msgs: ConsumerMessages | null = null;
      try {
        msgs = await consumer.consume({
          max_messages: PULL_BATCH,
          callback: (m) => {
            buffered.push(m);
            poke();
          },
        });
        msgs.closed().then(
          () => ((ended = true), poke()),
          () => ((ended = true), poke()),
        );
        for (let idle = 0; ; ) {
          if (buffered.length === 0) {
            if (ended) break; // the feed ended early: a new consumer
            const woken = new Promise<void>((resolve) => (wake = resolve));
            const r = await idleRace(woken, IDLE_PROBE_MS);
            if (r === 'idle' && buffered.length === 0 && !ended) {
              wake = null;
              if (!(await this.anyMatching(ends, last + 1, end))) return; // nothing left up to the end
              if (++idle >= MAX_IDLE_PROBES) break; // due but not coming: a new consumer
            }
            continue;
          }
          idle = 0;
          const got = buffered;
          buffered = [];
          const out: JsMsg[] = [];
          let done = false;
          for (const m of got) {
            if (m.seq <= last) continue;
            if (m.seq > end) {
              done = true;
              break;
            }
            last = m.seq;
            out.push(m);
            if (m.seq >= end) {
              done = true;
              break;
            }
          }
          if (out.length) yield out;
          if (done) return;
        }
      } finally {
        await msgs?.close().catch(() => undefined);
        await consumer.delete().catch(() => undefined);
      }
      barren = last > before ? 0 : barren + 1;
    }
  }
}

/** The settled value of `p`, or 'idle' when it has not settled within `ms` (`p` keeps running). */
async function idleRace<T>(p: Promise<T>, ms: number): Promise<T | 'idle'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([p, new Promise<'idle'>((resolve) => (timer = setTimeout(() => resolve('idle'), ms)))]);
  } finally {
    clearTimeout(timer);
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
