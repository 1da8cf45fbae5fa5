import { randomBytes } from 'node:crypto';
import {
  type Context,
  type Link,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  context,
  isSpanContextValid,
  propagation,
  trace,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import type { IdGenerator, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/**
 * Ends spans without sending them anywhere. The SDK registers its tracer provider only when it
 * has a span processor: without export this one keeps spans real (ids, traceparent in events,
 * trace_id in logs, the tick-to-order clock) at the cost of the spans' short life in memory.
 */
class DiscardingSpanProcessor implements SpanProcessor {
  onStart(): void {}
  onEnd(): void {}
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** The tracer every Bulwark span is made with. */
export const TRACER_NAME = 'bulwark';
const tracer = () => trace.getTracer(TRACER_NAME);

/**
 * Trace ids that carry the moment their trace started, like AWS X-Ray's: the first 12 hex
 * digits are the wall-clock epoch milliseconds when the root span was created, then the
 * marker `b1`, then 18 random hex digits (72 random bits). A trace starts where a market
 * tick (or a request) is received, so any process of the trace can tell how long ago that
 * was without another field on the wire ({@link traceStartMs}). Span ids are random.
 */
export class TimedIdGenerator implements IdGenerator {
  constructor(private readonly now: () => number = Date.now) {}
  generateTraceId(): string {
    return this.now().toString(16).padStart(12, '0').slice(-12) + TRACE_ID_MARKER + randomBytes(9).toString('hex');
  }
  generateSpanId(): string {
    return randomBytes(8).toString('hex');
  }
}
const TRACE_ID_MARKER = 'b1';

/** The wall-clock start (epoch ms) a {@link TimedIdGenerator} trace id carries, or null for another id. */
export function traceStartMs(traceId: string): number | null {
  if (!/^[0-9a-f]{32}$/.test(traceId) || traceId.slice(12, 14) !== TRACE_ID_MARKER) return null;
  const ms = parseInt(traceId.slice(0, 12), 16);
  // Plausibility: between 2020 and 2100.
  return ms > 1_577_836_800_000 && ms < 4_102_444_800_000 ? ms : null;
}

/** Settings of the trace SDK, from the standard OTEL_* variables only. */
export interface TracingSettings {
  /** False when OTEL_SDK_DISABLED=true: no SDK, no spans, no ids. */
  enabled: boolean;
  /** True when spans leave the process: OTEL_TRACES_EXPORTER is unset or `otlp` and an OTLP endpoint is set. */
  exporting: boolean;
}

/**
 * Read the standard variables: OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER (`none` = no export;
 * only `otlp` is supported, over HTTP), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT /
 * OTEL_EXPORTER_OTLP_ENDPOINT (no endpoint = no export). The exporter itself reads the rest
 * (headers, timeout, compression).
 * @throws Error for an OTEL_TRACES_EXPORTER other than none or otlp
 */
export function tracingSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): TracingSettings {
  const enabled = (env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() !== 'true';
  const exporter = (env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase();
  if (exporter !== '' && exporter !== 'none' && exporter !== 'otlp') throw new Error(`OTEL_TRACES_EXPORTER must be otlp or none, got ${JSON.stringify(env.OTEL_TRACES_EXPORTER)}`);
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT || '';
  return { enabled, exporting: enabled && exporter !== 'none' && endpoint !== '' };
}

/**
 * Start OpenTelemetry's Node SDK for a process, before Nest: W3C trace context, the
 * {@link TimedIdGenerator}, no automatic instrumentation (every span is made by hand), no
 * resource detectors beyond the service name, no OTel metrics or logs, and an OTLP/HTTP exporter only when
 * {@link tracingSettingsFromEnv} says spans leave the process. `extraProcessors` lets a test
 * collect spans in memory. The SDK's modules are loaded only here: OTEL_SDK_DISABLED=true keeps
 * them out of the process (docs/observability.md has the memory either way).
 * @returns a function that flushes and stops the SDK, or null when OTEL_SDK_DISABLED=true
 */
export async function startTracing(service: string, opts: { env?: NodeJS.ProcessEnv; extraProcessors?: SpanProcessor[] } = {}): Promise<(() => Promise<void>) | null> {
  const settings = tracingSettingsFromEnv(opts.env);
  if (!settings.enabled) return null;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const spanProcessors: SpanProcessor[] = [...(opts.extraProcessors ?? [])];
  if (settings.exporting) {
    const [{ BatchSpanProcessor }, { OTLPTraceExporter }] = await Promise.all([import('@opentelemetry/sdk-trace-base'), import('@opentelemetry/exporter-trace-otlp-http')]);
    spanProcessors.push(new BatchSpanProcessor(new OTLPTraceExporter()));
  }
  if (spanProcessors.length === 0) spanProcessors.push(new DiscardingSpanProcessor());
  const sdk = new NodeSDK({
    serviceName: `bulwark-${service}`,
    idGenerator: new TimedIdGenerator(),
    spanProcessors,
    textMapPropagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
    instrumentations: [],
    // Traces only: metrics are Prometheus's (/metrics), logs pino's. Unset, the SDK would start
    // OTLP metric and log exporters of its own (OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER default otlp).
    metricReaders: [],
    logRecordProcessors: [],
    resourceDetectors: [],
    autoDetectResources: false,
  });
  sdk.start();
  return () => sdk.shutdown();
}

/** Header carrier for NATS message headers (`MsgHdrs` has get/set/keys). */
interface HeaderBag {
  get(k: string): string;
  set(k: string, v: string): void;
  keys(): string[];
}
const headerGetter: TextMapGetter<HeaderBag | undefined> = {
  get: (h, k) => (h ? h.get(k) || undefined : undefined),
  keys: (h) => (h ? h.keys() : []),
};
const headerSetter: TextMapSetter<HeaderBag> = { set: (h, k, v) => h.set(k, v) };

/** Write the active trace context (W3C `traceparent`, `tracestate`, and `baggage` with the correlation id) into NATS headers. */
export function injectTraceHeaders(headers: HeaderBag, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, headerSetter);
}

/** The trace context carried by NATS headers (ROOT_CONTEXT when none). */
export function extractTraceHeaders(headers: HeaderBag | undefined): Context {
  return propagation.extract(ROOT_CONTEXT, headers, headerGetter);
}

/** The active span's W3C `traceparent`, for an event's metadata; undefined outside a trace. */
export function activeTraceparent(ctx: Context = context.active()): string | undefined {
  const sc = trace.getSpanContext(ctx);
  if (!sc || !isSpanContextValid(sc)) return undefined;
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 1).toString(16).padStart(2, '0')}`;
}

/** The context a `traceparent` names (ROOT_CONTEXT for none or a malformed one). */
export function contextOfTraceparent(traceparent: string | undefined): Context {
  const m = traceparent ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent) : null;
  if (!m) return ROOT_CONTEXT;
  const sc = { traceId: m[1], spanId: m[2], traceFlags: parseInt(m[3], 16) & 1, isRemote: true };
  return isSpanContextValid(sc) ? trace.setSpanContext(ROOT_CONTEXT, sc) : ROOT_CONTEXT;
}

/** The W3C baggage entry that carries the correlation id (the originating candle or request) across requests. */
export const CORRELATION_BAGGAGE = 'bulwark.correlation_id';

/** `ctx` with the correlation id set (what every log line of the work carries; requests made in it pass it on as baggage). */
export function withCorrelation(ctx: Context, correlationId: string | undefined): Context {
  if (!correlationId) return ctx;
  const bag = propagation.getBaggage(ctx) ?? propagation.createBaggage();
  return propagation.setBaggage(ctx, bag.setEntry(CORRELATION_BAGGAGE, { value: correlationId }));
}

/** The correlation id of a context, if any. */
export function correlationOf(ctx: Context = context.active()): string | undefined {
  return propagation.getBaggage(ctx)?.getEntry(CORRELATION_BAGGAGE)?.value;
}

/**
 * The fields every pino log line carries (nestjs-pino `mixin`): `trace_id` and `span_id` of
 * the active span and `correlation_id`, each only when known.
 */
export function logContextFields(): Record<string, string> {
  const ctx = context.active();
  const out: Record<string, string> = {};
  const sc = trace.getSpanContext(ctx);
  if (sc && isSpanContextValid(sc)) {
    out.trace_id = sc.traceId;
    out.span_id = sc.spanId;
  }
  const corr = correlationOf(ctx);
  if (corr) out.correlation_id = corr;
  return out;
}

/** Options of one span made by hand. */
export interface SpanOptions {
  kind?: SpanKind;
  parent?: Context;
  attributes?: Record<string, string | number | boolean>;
  links?: Link[];
}

/**
 * Run `fn` inside a new span (child of `parent`, default the active context) and end it; an
 * exception marks the span as an error and is rethrown.
 */
export async function inSpan<T>(name: string, opts: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = opts.parent ?? context.active();
  const span = tracer().startSpan(name, { kind: opts.kind ?? SpanKind.INTERNAL, attributes: opts.attributes, links: opts.links }, parent);
  try {
    return await context.with(trace.setSpan(parent, span), () => fn(span));
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    span.end();
  }
}

/** The trace id of the active span, or null outside a trace. */
export function activeTraceId(ctx: Context = context.active()): string | null {
  const sc = trace.getSpanContext(ctx);
  return sc && isSpanContextValid(sc) ? sc.traceId : null;
}

export { SpanKind };
