import type { LeverageBracket } from '@bulwark/contracts';
import { BulwarkMetrics } from './metrics';
import { MetricsProjection } from './projection';
import { activeTraceId, traceStartMs } from './tracing';

let metrics: BulwarkMetrics | null = null;
let projection: MetricsProjection | null = null;
let orderOf: (streamId: string) => Promise<{ venue: string; symbol: string } | null> = async () => null;
let rulesOf: (venue: string, symbol: string) => Promise<{ brackets: LeverageBracket[] } | null> = async () => null;

/**
 * The process's metrics. `initProcessMetrics` names the process (a service's bootstrap does);
 * code that runs without it (the in-process backtest, tests) gets an unnamed registry without
 * Node's default metrics, so observing is always safe.
 */
export function processMetrics(): BulwarkMetrics {
  metrics ??= new BulwarkMetrics('unknown', false);
  return metrics;
}

/** The process's metrics projection (fed by the appender and the transport). */
export function processProjection(): MetricsProjection {
  projection ??= new MetricsProjection(processMetrics(), (s) => orderOf(s), (v, s) => rulesOf(v, s));
  return projection;
}

/** Create the process's registry for `service`, with Node's default metrics (replacing any earlier one). */
export function initProcessMetrics(service: string): BulwarkMetrics {
  metrics = new BulwarkMetrics(service);
  projection = null;
  return metrics;
}

/**
 * How the projection reads what it did not see happen (set by the service's runtime from its
 * event store): venue and symbol of an order stream, the latest rules of a symbol.
 */
export function setProjectionResolvers(r: {
  orderOf: (streamId: string) => Promise<{ venue: string; symbol: string } | null>;
  rulesOf: (venue: string, symbol: string) => Promise<{ brackets: LeverageBracket[] } | null>;
}): void {
  orderOf = r.orderOf;
  rulesOf = r.rulesOf;
}

/**
 * `bulwark_tick_to_order_seconds` for an order sent to the venue now (its OrderSubmitted is
 * being appended): now − the start of the active trace. A trace starts where the first service
 * acting on a market tick received it (its id carries that moment, `TimedIdGenerator`), and
 * only events correlated to a candle (`candle-…`) come from a tick: an operator's close is not
 * counted. Both times are wall clocks of the hosts involved (same host: exact; else NTP skew).
 * @returns the observed seconds, or null when not applicable
 */
export function observeTickToOrder(correlationId: string, now = Date.now()): number | null {
  if (!correlationId.startsWith('candle-')) return null;
  const traceId = activeTraceId();
  const start = traceId ? traceStartMs(traceId) : null;
  if (start === null || now < start) return null;
  const seconds = (now - start) / 1000;
  processMetrics().tickToOrderSeconds.observe(seconds);
  return seconds;
}
