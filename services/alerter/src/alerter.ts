import { parseEvent, type RecordedEvent } from '@bulwark/contracts';
import { decodeStoredEvent, EventHeaders } from '@bulwark/event-store';
import { type BusConfig, durableName, ensureLogDurable } from '@bulwark/messaging';
import type { ConsumerMessages, JsMsg, NatsConnection } from 'nats';
import { Counter, type Registry } from 'prom-client';
import type { AlertChannel, ChannelName, ChannelSendError } from './channel';
import { type FormattedAlert, formatAlert, isAlertType } from './format';
import type { SentLedger } from './sent-ledger';

/** Where the alerter logs (Nest's LoggerService has these). */
export interface AlerterLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** How a failed send (or a ledger read/write while NATS is away) is retried: doubling from `initialBackoffMs` up to `maxBackoffMs`, without limit. */
export interface AlertRetryPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
}
export const DEFAULT_ALERT_RETRY: AlertRetryPolicy = { initialBackoffMs: 1_000, maxBackoffMs: 60_000 };

/** A message held this long without an ack or a heartbeat is delivered again (ms); heartbeats every third of it. */
export const ALERTER_ACK_WAIT_MS = 30_000;

/** The alerter's own series, in the process registry (docs/observability.md "Alerts"). */
export class AlerterMetrics {
  /** Alerts handled per channel: outcome sent | already_sent (a redelivery the ledger answered) | not_configured (logged only). */
  readonly alerts: Counter<'channel' | 'type' | 'outcome'>;
  /** Failed send attempts per channel (each is retried; a growing count is a channel that is down). */
  readonly sendFailures: Counter<'channel'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.alerts = new Counter({ name: 'bulwark_alerts_total', help: 'Alert events handled per channel, by outcome (sent, already_sent, not_configured)', labelNames: ['channel', 'type', 'outcome'], registers });
    this.sendFailures = new Counter({ name: 'bulwark_alert_send_failures_total', help: 'Failed alert send attempts per channel (each is retried until delivered)', labelNames: ['channel'], registers });
  }
}

export interface AlerterOptions {
  nc: NatsConnection;
  bus: BusConfig;
  /** The configured channels; every alert goes to each once. */
  channels: AlertChannel[];
  /** Channels without configuration: their alerts are logged at info level instead. */
  unconfigured: ChannelName[];
  ledger: SentLedger;
  /** The account of an event's stream (order streams: from their OrderInitialized); null when unknown. */
  accountOf: (e: RecordedEvent) => Promise<string | null>;
  logger: AlerterLogger;
  metrics: AlerterMetrics;
  retry?: AlertRetryPolicy;
}

/** The alerter is shutting down: the message being handled is handed back (nak) to the next instance. */
class Closing extends Error {}

/**
 * The alerter's durable JetStream consumer `bulwark-alerter` on the event log: every event of an
 * alert type ({@link ALERT_TYPES}) goes to every configured channel, at least once and, through
 * the {@link SentLedger}, at most once per (event id, channel) across crashes and restarts.
 * Events are handled one at a time in log order; an event is acknowledged only once every
 * channel delivered it. A failing channel is retried with backoff without limit and logged at
 * error level each time (the alert is never dropped; the channel that works is not sent twice).
 * A new durable starts at the end of the log: a first deployment does not alert on history.
 */
export class Alerter {
  private messages: ConsumerMessages | null = null;
  private loop: Promise<void> | null = null;
  private readonly closing = new AbortController();
  readonly durable: string;

  constructor(private readonly o: AlerterOptions) {
    this.durable = durableName('alerter', o.bus);
  }

  /** Create (or resume) the durable consumer and start handling the log. */
  async start(): Promise<void> {
    const { nc, bus } = this.o;
    await ensureLogDurable(nc, bus, this.durable, ALERTER_ACK_WAIT_MS, (e) => this.o.logger.error(`consumer ${this.durable}: limits not updated: ${String(e)}`));
    const consumer = await nc.jetstream().consumers.get(bus.esStream, this.durable);
    // Few messages in hand: the ack wait of a buffered message runs while an earlier alert is retried.
    this.messages = await consumer.consume({ max_messages: 64 });
    const messages = this.messages;
    this.loop = (async () => {
      for await (const m of messages) await this.handle(m);
    })().catch((e: unknown) => this.o.logger.error(`the consumer ${this.durable} stopped: ${String(e)}`));
    const channels = this.o.channels.map((c) => c.describe());
    this.o.logger.log(
      `alerter consuming ${bus.esStream} (${bus.esPrefix}.>) as ${this.durable}; channels: ${channels.length ? channels.join(', ') : 'none'}` +
        (this.o.unconfigured.length ? `; not configured (alerts only logged): ${this.o.unconfigured.join(', ')}` : ''),
    );
  }

  /** Stop consuming; an alert being retried is handed back (nak) for the next instance. */
  async close(): Promise<void> {
    this.closing.abort();
    this.messages?.stop();
    await this.loop?.catch(() => undefined);
  }

  private async handle(m: JsMsg): Promise<void> {
    // The type header spares decoding the (many) events that are no alert.
    const headerType = m.headers?.get(EventHeaders.eventType);
    if (headerType && !isAlertType(headerType)) {
      m.ack();
      return;
    }
    let recorded: RecordedEvent;
    try {
      recorded = decodeStoredEvent(m.subject, m.seq, m.headers, m.data);
    } catch (e) {
      this.o.logger.error(`stored message ${m.subject} #${m.seq} is unreadable, no alert can be sent for it: ${(e as Error).message}`);
      m.term();
      return;
    }
    if (!isAlertType(recorded.type)) {
      m.ack();
      return;
    }
    const parsed = parseEvent(recorded.type, recorded.data, recorded.metadata.schemaVersion);
    if (!parsed.ok) {
      this.o.logger.error(`${recorded.type} ${recorded.metadata.eventId} (${recorded.streamId}) breaks its schema, no alert can be sent for it: ${parsed.reason}`);
      m.term();
      return;
    }
    const heartbeat = setInterval(() => {
      try {
        m.working();
      } catch {
        // NATS away: the message comes back after the ack wait and the ledger answers for what was sent.
      }
    }, ALERTER_ACK_WAIT_MS / 3);
    try {
      await this.dispatch({ ...recorded, data: parsed.event.data });
      m.ack();
    } catch (e) {
      if (e instanceof Closing) m.nak();
      else {
        // A fault of this code, not of a channel: logged, and the event comes back in a minute.
        this.o.logger.error(`${recorded.type} ${recorded.metadata.eventId} (${recorded.streamId}) could not be handled: ${(e as Error).stack ?? String(e)}`);
        m.nak(60_000);
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Send one alert event to every channel that has not sent it yet (in parallel: a channel
   * that is down does not hold the others), and log it for the unconfigured ones.
   * @throws Closing when the alerter stops before every channel delivered
   */
  async dispatch(e: RecordedEvent): Promise<void> {
    const accountId = await this.retrying('account lookup', e, () => this.o.accountOf(e));
    const alert = formatAlert(e, accountId);
    for (const name of this.o.unconfigured) {
      this.o.logger.log(`${name} not configured; would have sent: ${alert.text}`);
      this.o.metrics.alerts.inc({ channel: name, type: e.type, outcome: 'not_configured' });
    }
    await Promise.all(this.o.channels.map((c) => this.deliver(c, alert, e)));
  }

  private async deliver(channel: AlertChannel, alert: FormattedAlert, e: RecordedEvent): Promise<void> {
    const { eventId } = e.metadata;
    if (await this.retrying(`${channel.name} ledger read`, e, () => this.o.ledger.wasSent(channel.name, eventId))) {
      this.o.metrics.alerts.inc({ channel: channel.name, type: e.type, outcome: 'already_sent' });
      return;
    }
    const policy = this.o.retry ?? DEFAULT_ALERT_RETRY;
    let backoff = policy.initialBackoffMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await channel.send(alert);
        break;
      } catch (err) {
        this.o.metrics.sendFailures.inc({ channel: channel.name });
        const wait = Math.max(backoff, (err as ChannelSendError).retryAfterMs ?? 0);
        this.o.logger.error(
          `ALERT NOT DELIVERED YET: ${channel.describe()} failed ${attempt} time(s) for ${e.type} ${eventId} (${e.streamId}): ${(err as Error).message}; ` +
            `retrying in ${wait} ms, the event stays unacknowledged until it is delivered`,
        );
        await this.sleep(wait);
        backoff = Math.min(backoff * 2, policy.maxBackoffMs);
      }
    }
    this.o.metrics.alerts.inc({ channel: channel.name, type: e.type, outcome: 'sent' });
    this.o.logger.log(`${channel.name} sent ${e.type} ${eventId}: ${alert.payload.summary}`);
    await this.retrying(`${channel.name} ledger write`, e, () => this.o.ledger.recordSent(channel.name, { eventId, type: e.type, sentAt: Date.now() }));
  }

  /** Run `fn` until it succeeds (NATS away), with backoff; errors are logged. @throws Closing on shutdown */
  private async retrying<T>(what: string, e: RecordedEvent, fn: () => Promise<T>): Promise<T> {
    const policy = this.o.retry ?? DEFAULT_ALERT_RETRY;
    let backoff = policy.initialBackoffMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        this.o.logger.error(`${what} failed for ${e.type} ${e.metadata.eventId} (try ${attempt}): ${(err as Error).message}; retrying in ${backoff} ms`);
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, policy.maxBackoffMs);
      }
    }
  }

  /** Sleep `ms` unless the alerter stops first. @throws Closing on shutdown */
  private sleep(ms: number): Promise<void> {
    const signal = this.closing.signal;
    if (signal.aborted) return Promise.reject(new Closing());
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(new Closing());
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
