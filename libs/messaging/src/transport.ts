import { type ClockAck, type ClockInterest, type RecordedEvent, Subjects, type ServiceName, parseEvent, streamCategory } from '@bulwark/contracts';
import { decodeStoredEvent } from '@bulwark/event-store';
import { type CustomTransportStrategy, Server, BaseRpcContext } from '@nestjs/microservices';
import {
  type ConsumerMessages,
  JSONCodec,
  type JsMsg,
  type Msg,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { lastValueFrom, defaultIfEmpty } from 'rxjs';
import { SpanKind, contextOfTraceparent, correlationOf, extractTraceHeaders, inSpan, processMetrics, processProjection, withCorrelation } from '@bulwark/telemetry';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import type { EventAppender } from './appender';
import { durableName, ensureLogDurable, resetLogDurable } from './bus-streams';
import type { BusConfig } from './config';
import type { DeadLetters } from './dead-letter';
import { DEFAULT_HANDLER_RETRY, type HandlerRetryPolicy, isUnavailable } from './handler-retry';
import { systemTime } from './replay-clock';
import { deliveredByJetStream } from './nats-connect';
import { INVALID_MESSAGE } from './zod-pipe';

const json = JSONCodec();
/** How long a delivered stored event may go without an ack or a heartbeat before the server delivers it again (ms). */
export const ACK_WAIT_MS = 10_000;

/** Pattern of a handler for stored domain events of a stream category, e.g. `eventPattern('order')`. */
export const eventPattern = (category: string) => `es:${category}`;

/** Context handed to handlers: the subject the message came on. */
export class BulwarkContext extends BaseRpcContext<[string]> {
  get subject(): string {
    return this.args[0];
  }
}

/**
 * What this process needs from the replay clock next. A service sets `get` to a function of
 * its state (e.g. stop-monitor: STEP while any stop is armed); sync answers carry it.
 */
export const clockInterest: { get: () => ClockInterest } = { get: () => 'STEP' };

/** The answer to a clock step: this process's append count and what it needs next. */
export function clockAck(service: ServiceName, appender: EventAppender, interest: ClockInterest): ClockAck {
  return { service, appended: appender.appended, idle: true, interest, instance: appender.instance };
}

export interface BulwarkTransportOptions {
  service: ServiceName;
  nc: NatsConnection;
  bus: BusConfig;
  appender: EventAppender;
  deadLetters: DeadLetters;
  /** How a failing stored-event handler is retried (default {@link DEFAULT_HANDLER_RETRY}). */
  retry?: HandlerRetryPolicy;
  /**
   * Told whether the start-up backlog is consumed: up once the durable consumer's ack floor
   * reached the log's last event of the service's filter when the consumer started (at once
   * for a service without stored-event handlers). Readiness uses it.
   */
  onBacklog?: (up: boolean, detail: Record<string, number | string>) => void;
  /** How often the consumer's num_pending is sampled into `bulwark_consumer_pending` (ms, default 2000). */
  pendingSampleMs?: number;
  /**
   * The service's lease (docs/architecture.md "Standby and takeover"), when the process acts only
   * while it holds one: the durable consumer is pointed back at its ack floor before consuming
   * (what the previous holder had pulled comes again at once, in order), and no ack or answer
   * leaves the process while the lease is not `valid()` (a process frozen past the TTL waits
   * until it has renewed, or is told it lost the lease and stops).
   */
  lease?: { valid(): boolean };
}

/**
 * A NestJS transport over NATS that keeps Nest at the edge:
 * - `@MessagePattern(subject)` handlers answer core-NATS requests, one at a time per
 *   subject (JSON in, JSON out; a typed `{error:{code,message}}` on failure).
 * - `@EventPattern(eventPattern(category))` handlers receive stored domain events through
 *   ONE durable JetStream pull consumer per service on `<prefix>.>`, so the service sees
 *   the log in its global order, misses nothing while down, and acks only after the
 *   handler finished (at-least-once: handlers are idempotent). A failing handler is retried
 *   in place, the consumer waiting: without limit while a dependency does not answer
 *   (`isUnavailable`: a service restarting, NATS away), else up to 5 tries and then the
 *   event is dead-lettered (`HandlerRetryPolicy`). Heartbeats hold a running message; after
 *   a crash the server delivers it again within ACK_WAIT_MS.
 * - Every message is validated at the boundary: an undecodable or schema-invalid message
 *   is dead-lettered with its reason and acknowledged; the service keeps running.
 * - Built in: `bulwark.sync.<service>` (answers when the consumer has caught up and no
 *   handler runs; the replay clock's barrier) and `bulwark.health.<service>`.
 */
export class BulwarkTransport extends Server implements CustomTransportStrategy {
  private subs: Subscription[] = [];
  private messages: ConsumerMessages | null = null;
  private inFlight = 0;
  private lastError: string | null = null;
  private durable = '';
  private consumeLoop: Promise<void> | null = null;
  /** The last clock step this process handled: a repeated step (a clock retry) is answered without running it again. */
  private lastStep: { runId: string; seq: number } | null = null;
  /** Aborted by close(): a handler waiting to be retried hands its message back instead. */
  private readonly closing = new AbortController();
  private sampler: NodeJS.Timeout | null = null;

  constructor(private readonly opts: BulwarkTransportOptions) {
    super();
  }

  on(): void {
    // Status events are not used.
  }

  unwrap<T>(): T {
    return this.opts.nc as T;
  }

  async listen(callback: (...optionalParams: unknown[]) => void): Promise<void> {
    try {
      await this.start();
      callback();
    } catch (e) {
      callback(e);
    }
  }

  private async start(): Promise<void> {
    const { service } = this.opts;
    await this.whileLeaseValid();
    await this.opts.deadLetters.checkStream();
    for (const [pattern, handler] of this.messageHandlers) {
      if (handler.isEventHandler) continue;
      this.serveRequests(pattern);
    }
    const categories = [...this.messageHandlers.entries()].filter(([p, h]) => h.isEventHandler && p.startsWith('es:')).map(([p]) => p.slice(3));
    if (categories.length > 0) await this.startConsumer();
    else this.opts.onBacklog?.(true, { consumer: 'none' });
    // Ready only once the durable consumer exists: a new durable starts at the end of the log, so an
    // event appended between a "ready" answer and its creation (a launcher opening the account as
    // soon as every service answers, on a busy machine) would never be delivered.
    this.serveBuiltIn(Subjects.sync(service), () => this.sync());
    this.serveBuiltIn(Subjects.health(service), async () => ({ service, ready: true, inFlight: this.inFlight, lastError: this.lastError }));
  }

  /**
   * Sample the durable consumer: `bulwark_consumer_pending{service}` = num_pending, and the
   * start-up backlog (the filter's last stream sequence when the consumer started) is consumed
   * once the ack floor reaches it. Fast (250 ms) until then, every `pendingSampleMs` after.
   */
  private sampleConsumer(backlogEnd: number): void {
    const { nc, bus, service } = this.opts;
    let caughtUp = false;
    const tick = async () => {
      if (this.closing.signal.aborted) return;
      try {
        const info = await (await nc.jetstreamManager()).consumers.info(bus.esStream, this.durable);
        processMetrics().consumerPending.set({ service }, info.num_pending);
        if (!caughtUp) {
          caughtUp = info.ack_floor.stream_seq >= backlogEnd || (info.num_pending === 0 && info.num_ack_pending === 0 && this.inFlight === 0);
          this.opts.onBacklog?.(caughtUp, { backlogEnd, ackFloor: info.ack_floor.stream_seq, pending: info.num_pending });
        }
      } catch (e) {
        // NATS away: the nats readiness check says so; sample again later.
        if (!caughtUp) this.opts.onBacklog?.(false, { backlogEnd, error: String(e) });
      }
      if (!this.closing.signal.aborted) this.sampler = setTimeout(() => void tick(), caughtUp ? this.opts.pendingSampleMs ?? 2000 : 250).unref();
    };
    void tick();
  }

  private serveBuiltIn(subject: string, fn: () => Promise<unknown>): void {
    const sub = this.opts.nc.subscribe(subject);
    this.subs.push(sub);
    void (async () => {
      for await (const m of sub) {
        if (deliveredByJetStream(m, subject)) continue; // not a request (docs/security.md)
        try {
          const out = await fn();
          await this.whileLeaseValid();
          m.respond(json.encode(out));
        } catch (e) {
          m.respond(json.encode({ error: { code: 'INTERNAL', message: String(e) } }));
        }
      }
    })();
  }

  private serveRequests(subject: string): void {
    const sub = this.opts.nc.subscribe(subject);
    this.subs.push(sub);
    void (async () => {
      for await (const m of sub) {
        // A stored message a consumer's deliver subject aimed here is nobody's request (docs/security.md).
        if (deliveredByJetStream(m, subject)) await this.opts.deadLetters.send(m.subject, `a JetStream delivery on ${subject}, not a request: refused`, m.data).catch(() => undefined);
        else await this.tracedRequest(subject, m);
      }
    })();
  }

  /**
   * Handle a request in a span that continues the requester's trace (W3C `traceparent` in the
   * NATS headers). A clock step always starts a trace: a market tick received is where a
   * trade's trace begins (and what `bulwark_tick_to_order_seconds` measures from).
   */
  private tracedRequest(pattern: string, m: Msg): Promise<void> {
    const isClock = pattern === Subjects.clock(this.opts.service);
    const parent = isClock ? ROOT_CONTEXT : extractTraceHeaders(m.headers);
    const tick = isClock ? tickOf(m) : null;
    // A tick's correlation is its candle; a request's comes with it (W3C baggage).
    const correlation = tick ? `candle-${tick.venue}-${tick.symbol}-${tick.candleOpenTime}` : correlationOf(parent);
    const attributes: Record<string, string> = { 'messaging.system': 'nats', 'messaging.destination.name': m.subject, 'bulwark.service': this.opts.service };
    if (correlation) attributes['bulwark.correlation_id'] = correlation;
    return inSpan(`${this.opts.service} ${pattern}`, { kind: SpanKind.SERVER, parent: withCorrelation(parent, correlation), attributes }, () => this.handleRequest(pattern, m));
  }

  private async handleRequest(pattern: string, m: Msg): Promise<void> {
    this.inFlight++;
    try {
      let data: unknown;
      try {
        data = m.data.length ? json.decode(m.data) : {};
      } catch (e) {
        await this.opts.deadLetters.send(m.subject, `not JSON: ${String(e)}`, m.data, 'not_json');
        if (m.reply) m.respond(json.encode({ error: { code: INVALID_MESSAGE, message: 'payload is not JSON' } }));
        return;
      }
      const handler = this.getHandlerByPattern(pattern)!;
      const step = pattern === Subjects.clock(this.opts.service) ? clockStepOf(data) : null;
      if (step && this.lastStep?.runId === step.runId && step.seq <= this.lastStep.seq) {
        // The clock retried a step whose answer it did not get (timeout, NATS restart): steps of
        // a run come in seq order, so this one is done here; running it again would apply it twice.
        if (m.reply) m.respond(json.encode(clockAck(this.opts.service, this.opts.appender, clockInterest.get())));
        return;
      }
      try {
        const out$ = this.transformToObservable(await handler(data, new BulwarkContext([m.subject])));
        const out = await lastValueFrom(out$.pipe(defaultIfEmpty(null)));
        if (step) this.lastStep = step;
        await this.whileLeaseValid();
        if (m.reply) m.respond(json.encode(out ?? {}));
      } catch (e) {
        const err = rpcError(e);
        if (err.code === INVALID_MESSAGE) await this.opts.deadLetters.send(m.subject, err.message, m.data, 'invalid_message');
        else this.noteError(`${pattern}: ${err.message}`);
        if (m.reply) m.respond(json.encode({ error: err }));
      }
    } finally {
      this.inFlight--;
    }
  }

  private async startConsumer(): Promise<void> {
    const { nc, bus, service } = this.opts;
    const jsm = await nc.jetstreamManager();
    this.durable = durableName(service, bus);
    if (this.opts.lease) await resetLogDurable(nc, bus, this.durable, ACK_WAIT_MS);
    // The handler holds a message for as long as it runs (heartbeats extend it): after a crash
    // the message goes to the restarted process within ACK_WAIT_MS, not after a minute.
    // No delivery limit: the server never drops a message unseen (failures are dead-lettered by the transport).
    // A durable made by an earlier version (a 60 s ack wait, 5 deliveries at most) gets these limits.
    await ensureLogDurable(nc, bus, this.durable, ACK_WAIT_MS, (e) => this.noteError(`consumer ${this.durable}: limits not updated: ${String(e)}`));
    const consumer = await nc.jetstream().consumers.get(bus.esStream, this.durable);
    const start = await jsm.consumers.info(bus.esStream, this.durable);
    this.sampleConsumer(start.delivered.stream_seq + start.num_pending);
    this.messages = await consumer.consume({ max_messages: 512 });
    const messages = this.messages;
    this.consumeLoop = (async () => {
      for await (const m of messages) await this.handleStored(m);
    })();
  }

  private async handleStored(m: JsMsg): Promise<void> {
    this.inFlight++;
    try {
      let recorded: RecordedEvent;
      try {
        recorded = decodeStoredEvent(m.subject, m.seq, m.headers, m.data);
      } catch (e) {
        await this.opts.deadLetters.send(m.subject, `undecodable stored event: ${String(e)}`, m.data, 'undecodable');
        m.term();
        return;
      }
      const handler = this.getHandlerByPattern(eventPattern(streamCategory(recorded.streamId)));
      if (!handler) {
        m.ack();
        return;
      }
      const parsed = parseEvent(recorded.type, recorded.data, recorded.metadata.schemaVersion);
      if (!parsed.ok) {
        await this.opts.deadLetters.send(m.subject, parsed.reason, m.data, 'invalid_event');
        m.term();
        return;
      }
      const event = { ...recorded, data: parsed.event.data };
      // The event's own trace context (set by the appender) is continued: the work it causes is part of the same trace.
      const parent = withCorrelation(recorded.metadata.traceparent ? contextOfTraceparent(recorded.metadata.traceparent) : extractTraceHeaders(m.headers), recorded.metadata.correlationId);
      const attributes = { 'messaging.system': 'nats', 'messaging.destination.name': m.subject, 'bulwark.service': this.opts.service, 'bulwark.event_type': recorded.type, 'bulwark.stream_id': recorded.streamId, 'bulwark.correlation_id': recorded.metadata.correlationId };
      await inSpan(`${this.opts.service} consume ${recorded.type}`, { kind: SpanKind.CONSUMER, parent, attributes }, async () => {
        const started = Date.now();
        await this.runStored(m, recorded, () => handler(event, new BulwarkContext([m.subject])));
        processProjection().consumed(recorded.streamId, event);
        // In the event's trace: the line carries its trace, span and correlation ids (LOG_LEVEL=debug).
        this.logger.debug?.(`handled ${recorded.type} ${recorded.streamId}@${recorded.revision} in ${Date.now() - started} ms`);
      });
    } finally {
      this.inFlight--;
    }
  }

  /**
   * Run a stored event's handler until it succeeds (then ack), in place: the consumer does not
   * move on meanwhile, so the log's order holds and the clock's sync waits for it. A dependency
   * that did not answer is waited out without limit; another failure is dead-lettered after
   * `maxFailures` tries (see {@link HandlerRetryPolicy}). While waiting, the message's ack
   * deadline is extended; on shutdown it is handed back (nak) for the next instance.
   */
  private async runStored(m: JsMsg, recorded: RecordedEvent, run: () => Promise<unknown>): Promise<void> {
    const heartbeat = setInterval(() => {
      try {
        m.working();
      } catch {
        // NATS away: the server redelivers after the ack wait, and the handler's own outcome decides.
      }
    }, ACK_WAIT_MS / 3);
    try {
      await this.runUntilDone(m, recorded, run);
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async runUntilDone(m: JsMsg, recorded: RecordedEvent, run: () => Promise<unknown>): Promise<void> {
    const policy = this.opts.retry ?? DEFAULT_HANDLER_RETRY;
    let backoff = policy.initialBackoffMs;
    for (let failures = 1; ; failures++) {
      try {
        const out$ = this.transformToObservable(await run());
        await lastValueFrom(out$.pipe(defaultIfEmpty(null)));
        await this.whileLeaseValid();
        m.ack();
        return;
      } catch (e) {
        const err = rpcError(e);
        const unavailable = isUnavailable(e);
        // One line per failure, but a long outage is logged at the first try and every 10th after.
        if (!unavailable || failures === 1 || failures % 10 === 0) {
          this.noteError(`${recorded.type} ${recorded.metadata.eventId} (${recorded.streamId}@${recorded.revision}) try ${failures}: ${err.message}${unavailable ? ' (a dependency did not answer: waiting for it)' : ''}`);
        }
        if (!unavailable && failures >= policy.maxFailures) {
          await this.opts.deadLetters.send(m.subject, `handler failed ${failures} times: ${err.message}`, m.data, 'handler_failed');
          m.term();
          return;
        }
        if (this.closing.signal.aborted) {
          m.nak();
          return;
        }
        await systemTime.sleep(backoff, this.closing.signal);
        backoff = Math.min(backoff * 2, policy.maxBackoffMs);
        if (this.closing.signal.aborted) {
          m.nak();
          return;
        }
      }
    }
  }

  /**
   * Resolve once this process may act (at once without a lease): an ack or an answer sent by a
   * process whose lease may have passed to another instance would count for the wrong one.
   */
  private async whileLeaseValid(): Promise<void> {
    const lease = this.opts.lease;
    while (lease && !lease.valid() && !this.closing.signal.aborted) await systemTime.sleep(20, this.closing.signal);
  }

  private noteError(message: string): void {
    this.lastError = message;
    this.logger.error?.(message);
  }

  /** Answer once every stored event delivered so far has been handled and nothing runs. */
  private async sync(): Promise<ClockAck> {
    const { nc, bus, service } = this.opts;
    const jsm = this.durable ? await nc.jetstreamManager() : null;
    for (let i = 0; ; i++) {
      let caughtUp = this.inFlight === 0;
      if (caughtUp && jsm) {
        const info = await jsm.consumers.info(bus.esStream, this.durable);
        caughtUp = info.num_pending === 0 && info.num_ack_pending === 0 && this.inFlight === 0;
      }
      if (caughtUp) return { ...clockAck(service, this.opts.appender, clockInterest.get()), lastStep: this.lastStep };
      await new Promise((r) => setTimeout(r, i < 20 ? 0 : 2));
    }
  }

  async close(): Promise<void> {
    this.closing.abort();
    if (this.sampler) clearTimeout(this.sampler);
    this.messages?.stop();
    for (const s of this.subs) s.unsubscribe();
    await this.consumeLoop?.catch(() => undefined);
  }
}

/** Venue, symbol and candle of a clock message (for its correlation id), or null when it has none. */
function tickOf(m: Msg): { venue: string; symbol: string; candleOpenTime: number } | null {
  try {
    const d = json.decode(m.data) as { venue?: unknown; symbol?: unknown; candleOpenTime?: unknown } | null;
    return d && typeof d.venue === 'string' && typeof d.symbol === 'string' && typeof d.candleOpenTime === 'number' ? { venue: d.venue, symbol: d.symbol, candleOpenTime: d.candleOpenTime } : null;
  } catch {
    return null;
  }
}

/** The run and step number of a clock message, or null when it has none (the handler's schema check answers that). */
function clockStepOf(data: unknown): { runId: string; seq: number } | null {
  const d = data as { runId?: unknown; seq?: unknown } | null;
  return d && typeof d.runId === 'string' && Number.isInteger(d.seq) ? { runId: d.runId, seq: d.seq as number } : null;
}

function rpcError(e: unknown): { code: string; message: string } {
  const any = e as { code?: unknown; message?: unknown; error?: unknown; getError?: () => unknown };
  const inner = typeof any?.getError === 'function' ? any.getError() : any?.error ?? any;
  if (inner && typeof inner === 'object') {
    const o = inner as { code?: unknown; message?: unknown };
    if (typeof o.code === 'string' && typeof o.message === 'string') return { code: o.code, message: o.message };
    if (typeof o.message === 'string') return { code: 'HANDLER_ERROR', message: o.message };
  }
  return { code: 'HANDLER_ERROR', message: String(inner) };
}
