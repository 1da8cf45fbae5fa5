import {
  type MarkPricePoller,
  type MarkPriceSubscriber,
  type MarkPriceSubscription,
  MarkPriceMessage,
  MarkPriceWatch,
  type StopMonitorService,
} from '@bulwark/application';
import { Subjects } from '@bulwark/contracts';
import { deliveredByJetStream } from '@bulwark/messaging';
import { JSONCodec, type NatsConnection } from 'nats';

/** Where a refused mark-price message goes (the service's dead letters). */
export type RefuseMessage = (subject: string, reason: string, payload: Uint8Array) => void;

/**
 * Mark prices from core NATS: `md.mark.<venue>.<symbol>` (market-data publishes the venue's
 * Mark Price Stream there on live venues), or `<prefix>.md.mark.…` with a subject prefix
 * (isolated test runs). Each message is validated as a `MarkPriceMessage`; an invalid one is
 * refused (`refuse`, e.g. to the dead letters) and not counted as a mark.
 */
export class NatsMarkPriceSubscriber implements MarkPriceSubscriber {
  private readonly json = JSONCodec();

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: { subjectPrefix?: string; refuse?: RefuseMessage } = {},
  ) {}

  subject(venue: string, symbol: string): string {
    const s = Subjects.mark(venue, symbol);
    return this.opts.subjectPrefix ? `${this.opts.subjectPrefix}.${s}` : s;
  }

  subscribe(venue: string, symbol: string, onMark: (mark: MarkPriceMessage) => void): MarkPriceSubscription {
    const subject = this.subject(venue, symbol);
    // A callback subscription: messages are handed on synchronously, in arrival order.
    const sub = this.nc.subscribe(subject, {
      callback: (err, m) => {
        if (err) return;
        if (deliveredByJetStream(m, subject)) {
          this.opts.refuse?.(subject, 'a JetStream delivery, not a mark price from market-data (docs/security.md)', m.data);
          return;
        }
        let raw: unknown;
        try {
          raw = this.json.decode(m.data);
        } catch (e) {
          this.opts.refuse?.(subject, `not JSON: ${(e as Error).message}`, m.data);
          return;
        }
        const parsed = MarkPriceMessage.safeParse(raw);
        if (!parsed.success) {
          this.opts.refuse?.(subject, `not a mark price: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}`, m.data);
          return;
        }
        onMark(parsed.data);
      },
    });
    return { unsubscribe: () => sub.unsubscribe() };
  }
}

export interface LiveMarkWatchOptions {
  nc: NatsConnection;
  stops: StopMonitorService;
  poller: MarkPricePoller;
  /** No mark for this long (ms) → alert and poll (default 5 000). */
  staleMs?: number;
  /** How often the watch ticks (subscriptions, silence check, one poll per stale symbol), ms (default 1 000). */
  tickMs?: number;
  subjectPrefix?: string;
  refuse?: RefuseMessage;
  log?: (line: string) => void;
}

/** A running mark-price watch; `stop()` ends the timer and the subscriptions. */
export interface LiveMarkWatch {
  readonly watch: MarkPriceWatch;
  stop(): Promise<void>;
}

/**
 * Stop-monitor's live mark-price mode: MARK_PRICE stops are evaluated on every mark from NATS
 * (`stops.enableMarkPrices()`), and the watchdog (`MarkPriceWatch`) ticks every `tickMs`
 * (a tick still running is not overlapped).
 */
export function startLiveMarkWatch(o: LiveMarkWatchOptions): LiveMarkWatch {
  o.stops.enableMarkPrices();
  const subscriber = new NatsMarkPriceSubscriber(o.nc, { subjectPrefix: o.subjectPrefix, refuse: o.refuse });
  const watch = new MarkPriceWatch(o.stops, subscriber, o.poller, { staleMs: o.staleMs, log: o.log });
  let running: Promise<void> | null = null;
  const tick = () => {
    if (running) return;
    running = watch
      .tick()
      .catch((e) => o.log?.(`mark-price watch tick failed: ${(e as Error).message}`))
      .finally(() => (running = null));
  };
  const timer = setInterval(tick, o.tickMs ?? 1_000);
  tick();
  return {
    watch,
    async stop() {
      clearInterval(timer);
      watch.stop();
      await running;
      await watch.settled();
    },
  };
}
