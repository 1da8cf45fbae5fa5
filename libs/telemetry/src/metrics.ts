import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Bulwark metric name (docs/observability.md has type, labels, unit, owner and how each
 * is derived). Dashboards and alert rules are checked against this list.
 */
export const METRIC_NAMES = [
  'bulwark_orders_total',
  'bulwark_risk_decisions_total',
  'bulwark_breaker_events_total',
  'bulwark_position_margin_ratio',
  'bulwark_position_liquidation_distance_ratio',
  'bulwark_equity_usdt',
  'bulwark_drawdown_ratio',
  'bulwark_event_append_seconds',
  'bulwark_consumer_pending',
  'bulwark_dead_letters_total',
  'bulwark_venue_request_seconds',
  'bulwark_venue_weight_used',
  'bulwark_tick_to_order_seconds',
  'bulwark_position_stop_coverage_ratio',
  'bulwark_service_role',
  'bulwark_live_feed_lag_seconds',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** The metrics only a live feed has (market-data with a demo or live venue): a replay of files, the demo's mode, has none. */
export const LIVE_FEED_METRIC_NAMES: readonly MetricName[] = ['bulwark_live_feed_lag_seconds'];

/** One symbol's live-feed lag, as the market-data service reports it (LiveMarketData.lags of @bulwark/application). */
export interface LiveFeedLagSample {
  venue: string;
  symbol: string;
  /** Seconds from the close of the last bar replayed to now. */
  seconds: number;
}

/** The processes that serve /metrics, /healthz and /readyz. */
export const TELEMETRY_PROCESSES = ['market-data', 'signals', 'risk', 'execution', 'stop-monitor', 'accounting', 'gateway', 'alerter'] as const;
export type TelemetryProcess = (typeof TELEMETRY_PROCESSES)[number];

/** Local default port of each process's metrics/health server when BULWARK_METRICS_PORT is unset. */
export const METRICS_PORTS: Readonly<Record<TelemetryProcess, number>> = {
  'market-data': 9101,
  signals: 9102,
  risk: 9103,
  execution: 9104,
  'stop-monitor': 9105,
  accounting: 9106,
  gateway: 9107,
  alerter: 9108,
};

/** Append latency buckets (s): a JetStream publish with an expected sequence takes about a millisecond on one host. */
const APPEND_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
/** Venue request buckets (s): the paper venue answers in microseconds, Binance's REST in tens to hundreds of ms. */
const VENUE_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Tick-to-order buckets (s): several NATS hops and appends, ms to a second. */
const TICK_TO_ORDER_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The metrics of one process in its own registry (never prom-client's global one), with
 * Node's default process metrics and the default label `service` on every series.
 */
export class BulwarkMetrics {
  readonly registry = new Registry();
  /** Order status transitions appended (one per order event; `status` is the order's status after it, domain `OrderStatus`). */
  readonly orders: Counter<'venue' | 'symbol' | 'status'>;
  /** Entry decisions appended by risk: decision approved|denied, reason the DenialReason ("none" when approved). */
  readonly riskDecisions: Counter<'decision' | 'reason'>;
  /** Breaker and kill-switch events appended by risk, by event type. */
  readonly breakerEvents: Counter<'type'>;
  readonly marginRatio: Gauge<'account' | 'symbol'>;
  readonly liquidationDistance: Gauge<'account' | 'symbol'>;
  readonly equity: Gauge<'account'>;
  readonly drawdown: Gauge<'account' | 'window'>;
  readonly eventAppendSeconds: Histogram<string>;
  readonly consumerPending: Gauge<'service'>;
  readonly deadLetters: Counter<'service' | 'reason'>;
  readonly venueRequestSeconds: Histogram<'venue' | 'endpoint'>;
  readonly venueWeightUsed: Gauge<'venue'>;
  readonly tickToOrderSeconds: Histogram<string>;
  readonly stopCoverage: Gauge<'account' | 'symbol'>;
  /** 1 for the role this instance has now (active: holds the service's lease; standby: waits for it), 0 for the other. */
  readonly serviceRole: Gauge<'role'>;
  /** Per live symbol: seconds from the close of the last bar replayed to now, read from {@link liveFeedLags} at each scrape. */
  readonly liveFeedLag: Gauge<'venue' | 'symbol'>;
  /** Where the live-feed lag comes from (market-data's live feed sets it; null: no series). */
  liveFeedLags: (() => readonly LiveFeedLagSample[]) | null = null;

  /**
   * @param service the process's name, the default label `service` of every series
   * @param defaultMetrics collect Node's process metrics (heap, event loop lag, CPU, …)
   */
  constructor(readonly service: string, defaultMetrics = true) {
    const r = this.registry;
    r.setDefaultLabels({ service });
    if (defaultMetrics) collectDefaultMetrics({ register: r });
    const registers = [r];
    this.orders = new Counter({ name: 'bulwark_orders_total', help: 'Order status transitions appended, by the status reached', labelNames: ['venue', 'symbol', 'status'], registers });
    this.riskDecisions = new Counter({ name: 'bulwark_risk_decisions_total', help: 'Entry decisions of risk (approved or denied with the reason code)', labelNames: ['decision', 'reason'], registers });
    this.breakerEvents = new Counter({ name: 'bulwark_breaker_events_total', help: 'Breaker, kill-switch and resume events appended by risk, by event type', labelNames: ['type'], registers });
    this.marginRatio = new Gauge({ name: 'bulwark_position_margin_ratio', help: 'Isolated margin ratio of an open position: maintenance margin / margin balance (Binance)', labelNames: ['account', 'symbol'], registers });
    this.liquidationDistance = new Gauge({ name: 'bulwark_position_liquidation_distance_ratio', help: '|mark - liquidation price| / mark of an open position', labelNames: ['account', 'symbol'], registers });
    this.equity = new Gauge({ name: 'bulwark_equity_usdt', help: 'Account equity (wallet balance + unrealised PnL), USDT', labelNames: ['account'], registers });
    this.drawdown = new Gauge({ name: 'bulwark_drawdown_ratio', help: 'Drawdown of equity below the window base (daily: start of the UTC day, monthly: start of the UTC month, lifetime: peak)', labelNames: ['account', 'window'], registers });
    this.eventAppendSeconds = new Histogram({ name: 'bulwark_event_append_seconds', help: 'Time to append a batch of events to the event store', buckets: APPEND_BUCKETS, registers });
    this.consumerPending = new Gauge({ name: 'bulwark_consumer_pending', help: "Stored events not yet delivered to the service's durable consumer (JetStream num_pending, sampled)", labelNames: ['service'], registers });
    this.deadLetters = new Counter({ name: 'bulwark_dead_letters_total', help: 'Messages dead-lettered, by reason code', labelNames: ['service', 'reason'], registers });
    this.venueRequestSeconds = new Histogram({ name: 'bulwark_venue_request_seconds', help: 'Duration of venue requests, by endpoint', labelNames: ['venue', 'endpoint'], buckets: VENUE_BUCKETS, registers });
    this.venueWeightUsed = new Gauge({ name: 'bulwark_venue_weight_used', help: 'Request weight used in the current minute as the venue reports it (Binance X-MBX-USED-WEIGHT-1m; the paper venue: 0)', labelNames: ['venue'], registers });
    this.tickToOrderSeconds = new Histogram({ name: 'bulwark_tick_to_order_seconds', help: 'Market tick received by the first service acting on it -> order sent to the venue', buckets: TICK_TO_ORDER_BUCKETS, registers });
    this.serviceRole = new Gauge({ name: 'bulwark_service_role', help: "This instance's role: 1 for the role it has (active holds the service's lease and acts; standby waits for it), 0 for the other", labelNames: ['role'], registers });
    const lags = () => this.liveFeedLags?.() ?? [];
    this.liveFeedLag = new Gauge({
      name: 'bulwark_live_feed_lag_seconds',
      help: "Seconds from the close of the live feed's last replayed 1m bar to now (0-60 while it keeps up; more: behind or stalled, and bars are not traded)",
      labelNames: ['venue', 'symbol'],
      registers,
      collect() {
        this.reset(); // a symbol no longer fed has no series
        for (const l of lags()) this.set({ venue: l.venue, symbol: l.symbol }, l.seconds);
      },
    });
    this.stopCoverage = new Gauge({ name: 'bulwark_position_stop_coverage_ratio', help: 'Position quantity covered by live stops / position quantity', labelNames: ['account', 'symbol'], registers });
  }
}

