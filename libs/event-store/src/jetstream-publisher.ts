// JetStream publishes awaiting their acknowledgements, many in flight on one connection.
import { createInbox, ErrorCode, Events, type Msg, type MsgHdrs, MsgHdrsImpl, type NatsConnection, NatsError, type PubAck, type Subscription } from 'nats';

/** JetStream publish header names (as nats.js's `JetStreamClient.publish` sets them). */
export const PublishHeaders = {
  msgId: 'Nats-Msg-Id',
  expectedLastSubjectSequence: 'Nats-Expected-Last-Subject-Sequence',
} as const;

/**
 * Headers of one publish, written to their wire form at once. nats.js's `headers()` keeps a Map
 * of arrays and, for every `set`/`append`, canonicalises the name and searches the names already
 * there; it then builds the wire form again in `encode()`, which is all a publish reads (a few KiB
 * of garbage per event). The form is the same: `NATS/1.0\r\n` then `Name: value\r\n` per header
 * in order, then `\r\n`. Values are trimmed, as nats.js does.
 * @param pairs header names (HTTP tokens, as the constants of this library) and values
 * @throws NatsError `BAD_HEADER` for a value holding `\r` or `\n` (as nats.js)
 */
export function wireHeaders(pairs: ReadonlyArray<readonly [string, string]>): MsgHdrs {
  let text = 'NATS/1.0\r\n';
  for (const [k, v] of pairs) {
    if (v.includes('\r') || v.includes('\n')) throw new NatsError('invalid header value - \\r and \\n are not allowed.', ErrorCode.BadHeader);
    text += `${k}: ${v.trim()}\r\n`;
  }
  return new WireHeaders(encoder.encode(`${text}\r\n`));
}

/** A `MsgHdrs` whose wire form is given (see {@link wireHeaders}); only for publishing. */
class WireHeaders extends MsgHdrsImpl {
  constructor(private readonly wire: Uint8Array) {
    super();
  }

  override encode(): Uint8Array {
    return this.wire;
  }
}

/** How long a publish waits for its acknowledgement (nats.js's JetStream default). */
export const DEFAULT_ACK_TIMEOUT_MS = 5_000;

interface Waiting {
  /** Where it was published: a permissions violation names the subject, not the publish. */
  subject: string;
  resolve: (ack: PubAck) => void;
  reject: (e: Error) => void;
  /** `performance.now()` ms after which the publish fails with a timeout. */
  deadline: number;
}

interface Queued {
  subject: string;
  data: Uint8Array;
  headers: MsgHdrs;
  id: number;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * Publishes to JetStream and awaits each acknowledgement, for any number in flight on one
 * connection. The same protocol as nats.js's `JetStreamClient.publish` (a core publish with a
 * reply subject; the server answers a PubAck, an API error, or no-responders), without its
 * per-call request set-up: every call there builds a request object and a timeout, each
 * capturing a stack, and races two promises, which on a loaded 2-core machine cost more CPU than
 * the store's own work per append. Here:
 * - all acknowledgements come to one subscription `<inbox>.*`, the reply subject naming the publish;
 * - one timer fails publishes past their deadline (all have the same timeout, so deadlines
 *   are in publish order);
 * - a publish made while others are in flight waits for the end of the event-loop turn, so the
 *   publishes of many appends, released together by acknowledgements that came in one read,
 *   go to the socket in one write (nats.js writes at the first microtask after a publish, which
 *   the several awaits of an append's continuation pass). One at a time, a publish goes out at once.
 *
 * Errors a publish rejects with, as `JetStreamClient.publish`'s:
 * - an API error (e.g. `err_code` 10071, wrong last subject sequence): a `NatsError` with `api_error`;
 * - no stream captures the subject: `NatsError` code `503` (no responders);
 * - no acknowledgement within the timeout: `NatsError` code `TIMEOUT` (the outcome is unknown);
 * - the user may not publish to the subject: `NatsError` code `PERMISSIONS_VIOLATION` (the server
 *   drops the message and says so on the connection, `-ERR 'Permissions Violation for Publish to
 *   "<subject>"'`, which nats.js reports as a status; as nats.js does for its requests, the oldest
 *   publish in flight to that subject fails: the server answers publishes in order);
 * - the connection closes or the reply subscription fails: `NatsError` `CONNECTION_CLOSED` or the
 *   subscription's error.
 */
export class JetStreamPublisher {
  private sub: Subscription | null = null;
  private prefix = '';
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;
  private queue: Queued[] = [];
  private flushScheduled = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private releaseWhenIdle = false;
  /** The connection's status while this publisher has a reply subscription (stopped with it). */
  private status: { stop(): void } | null = null;

  /**
   * @param nc the connection (the caller's; stays open)
   * @param timeoutMs how long each publish waits for its acknowledgement (ms)
   */
  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs = DEFAULT_ACK_TIMEOUT_MS,
  ) {}

  /**
   * Publish `data` to `subject` with `headers` (JetStream's msg-id and expectation headers
   * included, see {@link PublishHeaders}) and resolve with the server's acknowledgement.
   * @throws NatsError as listed in the class comment
   */
  publish(subject: string, data: Uint8Array, headers: MsgHdrs): Promise<PubAck> {
    let sub: Subscription;
    try {
      sub = this.subscription();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    const id = this.nextId++;
    const busy = this.waiting.size > 0;
    const acked = new Promise<PubAck>((resolve, reject) => {
      this.waiting.set(id, { subject, resolve, reject, deadline: performance.now() + this.timeoutMs });
    });
    if (this.timer === null) this.arm(this.timeoutMs);
    if (!busy) {
      this.send({ subject, data, headers, id }, sub);
    } else {
      this.queue.push({ subject, data, headers, id });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    }
    return acked;
  }

  /**
   * Release the reply subscription whenever nothing is in flight, from now on (a later publish
   * subscribes again, and its subscription goes when it is answered): for an owner that closes.
   */
  release(): void {
    this.releaseWhenIdle = true;
    this.maybeRelease();
  }

  private subscription(): Subscription {
    if (this.sub) return this.sub;
    this.watchStatus();
    // The connection's inbox prefix (a custom one may be all its permissions allow).
    const inboxPrefix = (this.nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix;
    this.prefix = `${createInbox(inboxPrefix)}.`;
    const sub = this.nc.subscribe(`${this.prefix}*`, { callback: (err, msg) => (err ? this.failAll(err) : this.answer(msg)) });
    this.sub = sub;
    void sub.closed.then(
      () => this.lost(sub, NatsError.errorForCode(ErrorCode.ConnectionClosed)),
      (e: Error) => this.lost(sub, e),
    );
    return sub;
  }

  /**
   * Follow the connection's status for publish permission violations (while the reply
   * subscription lasts, see {@link release}): without this a refused publish would wait out its timeout and be
   * reported as TIMEOUT, an unknown outcome, though the server said it stored nothing.
   */
  private watchStatus(): void {
    if (this.status) return;
    const status = this.nc.status();
    this.status = status as unknown as { stop(): void };
    void (async () => {
      for await (const s of status) {
        const ctx = (s as { permissionContext?: { operation?: string; subject?: string } }).permissionContext;
        if (s.type === Events.Error && s.data === ErrorCode.PermissionsViolation && ctx?.operation === 'publish' && ctx.subject) this.refused(ctx.subject);
      }
    })().catch(() => undefined);
  }

  /** The server refused a publish to `subject`: the oldest in flight there fails with PERMISSIONS_VIOLATION. */
  private refused(subject: string): void {
    for (const [id, w] of this.waiting) {
      if (w.subject !== subject) continue;
      const err = new NatsError(`Permissions Violation for Publish to "${subject}"`, ErrorCode.PermissionsViolation);
      err.permissionContext = { operation: 'publish', subject };
      this.fail(id, err);
      return;
    }
  }

  private lost(sub: Subscription, e: Error): void {
    if (this.sub !== sub) return;
    this.sub = null;
    this.failAll(e);
  }

  private flush(): void {
    this.flushScheduled = false;
    const queued = this.queue;
    this.queue = [];
    for (const q of queued) {
      if (!this.waiting.has(q.id)) continue; // failed meanwhile (timeout, connection closed)
      if (!this.sub) {
        this.fail(q.id, NatsError.errorForCode(ErrorCode.ConnectionClosed));
        continue;
      }
      this.send(q, this.sub);
    }
  }

  private send(q: Queued, sub: Subscription): void {
    try {
      if (sub.isClosed()) throw NatsError.errorForCode(ErrorCode.ConnectionClosed);
      this.nc.publish(q.subject, q.data, { reply: `${this.prefix}${q.id}`, headers: q.headers });
    } catch (e) {
      this.fail(q.id, e as Error);
    }
  }

  /** An acknowledgement (or error answer) arrived on the reply subscription. */
  private answer(msg: Msg): void {
    const id = Number(msg.subject.slice(this.prefix.length));
    const w = this.waiting.get(id);
    if (!w) return; // timed out already
    this.waiting.delete(id);
    try {
      w.resolve(parseAck(msg));
    } catch (e) {
      w.reject(e as Error);
    }
    this.maybeRelease();
  }

  private fail(id: number, e: Error): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    w.reject(e);
    this.maybeRelease();
  }

  private failAll(e: Error): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of all) w.reject(e);
    this.maybeRelease();
  }

  /** Fail the publishes past their deadline; check again at the next deadline. */
  private sweep(): void {
    this.timer = null;
    const now = performance.now();
    for (const [id, w] of this.waiting) {
      if (w.deadline > now) {
        this.arm(w.deadline - now);
        return;
      }
      this.fail(id, NatsError.errorForCode(ErrorCode.Timeout));
    }
  }

  private arm(ms: number): void {
    // Unreferenced: while a publish waits, its connection keeps the process alive.
    this.timer = setTimeout(() => this.sweep(), Math.max(1, Math.ceil(ms)));
    this.timer.unref?.();
  }

  private maybeRelease(): void {
    if (!this.releaseWhenIdle || this.waiting.size > 0 || !this.sub) return;
    const sub = this.sub;
    this.sub = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (!sub.isClosed()) sub.unsubscribe();
    this.status?.stop();
    this.status = null;
  }
}

/**
 * The PubAck of a JetStream answer.
 * @throws NatsError for an API error (`api_error` set), no responders, or an answer that is no PubAck
 */
function parseAck(msg: Msg): PubAck {
  if (msg.data.length === 0) {
    const code = msg.headers?.code ?? 0;
    if (code === 503) throw NatsError.errorForCode(ErrorCode.NoResponders);
    throw new NatsError(msg.headers?.description || `empty JetStream answer (status ${code})`, code ? String(code) : ErrorCode.JetStreamInvalidAck);
  }
  const a = JSON.parse(decoder.decode(msg.data)) as Partial<PubAck> & { error?: { code: number; err_code?: number; description?: string } };
  if (a.error) {
    const err = new NatsError(a.error.description ?? `JetStream error ${a.error.code}`, String(a.error.code));
    err.api_error = a.error as NatsError['api_error'];
    throw err;
  }
  if (!a.stream || typeof a.seq !== 'number') throw NatsError.errorForCode(ErrorCode.JetStreamInvalidAck);
  return { stream: a.stream, seq: a.seq, duplicate: a.duplicate === true, domain: a.domain };
}
