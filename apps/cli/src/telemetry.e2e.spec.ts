/**
 * End-to-end telemetry: the six services as processes replay one real day (2025-11-21,
 * Binance USDⓈ-M BTCUSDT, paper venue) while
 * - Debian's Prometheus (`/usr/bin/prometheus`, its own temp storage, a config generated here
 *   for this run's metrics ports, scrape every second) scrapes every service's /metrics, and
 * - an OTLP/HTTP receiver started here on a free port collects every service's spans.
 * Then: every name of METRIC_NAMES but the live feed's has data in Prometheus; a trade is one trace whose spans
 * cover signals (intent) → risk (decision) → execution (order submit, fill) → accounting
 * (booking); service logs carry trace and correlation ids.
 * A kill switch (REDUCING) late in the day makes risk record a breaker event; a malformed clock
 * message makes execution dead-letter it.
 * On a nats-server of its own (free port, store in the temp dir): core subjects (clock steps,
 * requests) are not isolated by the bus configuration, so on a shared server another run's
 * messages could reach these services and their counters.
 * Needs the services built, `npm run setup` (nats-server and its private config), and
 * /usr/bin/prometheus.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Services, Subjects } from '@bulwark/contracts';
import { freePort, privateNatsServerCommand } from '@bulwark/messaging';
import { LIVE_FEED_METRIC_NAMES, METRIC_NAMES } from '@bulwark/telemetry';
import { until } from '@bulwark/testing';
import { JSONCodec, type NatsConnection } from 'nats';
import { type DemoReport, runDemo } from './demo';
import { realDayAt10x } from './real-day.fixture';
import { dropIsolatedBus, isolatedBus, openIsolatedBus } from './isolated-bus';

const PROMETHEUS = '/usr/bin/prometheus';
const json = JSONCodec();
const bus = isolatedBus('tel');
const accountId = `tel-${bus.tag}`;
const tmp = mkdtempSync(path.join(os.tmpdir(), `bulwark-telemetry-${bus.tag}-`));
const logDir = path.join(tmp, 'logs');
let natsServer: ChildProcess | null = null;

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: Array<{ key: string; value: { stringValue?: string } }>;
}
interface Span extends OtlpSpan {
  service: string;
  attrs: Record<string, string>;
}

let nc: NatsConnection;
let report: DemoReport;
let prometheus: ChildProcess | null = null;
let promUrl = '';
let otlp: Server;
const spans: Span[] = [];
const readyz: Record<string, number> = {};
const t0 = Date.now();
/** OTLP exports the receiver has begun and not yet answered (their spans are not all in `spans` yet). */
let exportsInFlight = 0;

/** Collect OTLP/HTTP JSON exports (what @opentelemetry/exporter-trace-otlp-http sends). */
function startOtlpReceiver(): Promise<number> {
  otlp = createServer((req, res) => {
    exportsInFlight++;
    res.once('close', () => exportsInFlight--);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
      };
      for (const rs of body.resourceSpans ?? []) {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) spans.push({ ...s, service, attrs: Object.fromEntries((s.attributes ?? []).map((a) => [a.key, a.value.stringValue ?? ''])) });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => otlp.listen(0, '127.0.0.1', () => resolve((otlp.address() as { port: number }).port)));
}

async function promApi(pathAndQuery: string): Promise<unknown> {
  const r = await fetch(`${promUrl}${pathAndQuery}`);
  const body = (await r.json()) as { status: string; data: unknown; error?: string };
  if (body.status !== 'success') throw new Error(`prometheus ${pathAndQuery}: ${body.error}`);
  return body.data;
}

/** Start Prometheus on a free port scraping the services' telemetry ports every second. */
async function startPrometheus(targets: Record<string, { host: string; port: number }>): Promise<void> {
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    ...Object.entries(targets).flatMap(([service, t]) => [`  - job_name: bulwark-${service}`, '    static_configs:', `      - targets: ['${t.host}:${t.port}']`]),
    '',
  ].join('\n');
  writeFileSync(path.join(tmp, 'prometheus.yml'), config);
  prometheus = spawn(PROMETHEUS, [`--config.file=${path.join(tmp, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(tmp, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  prometheus.stderr!.on('data', (d) => (stderr += String(d)));
  promUrl = `http://127.0.0.1:${port}`;
  await until('prometheus ready', async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : null), { timeoutMs: 60_000, detail: () => `prometheus stderr:\n${stderr}` });
  // Every target scraped once before the replay starts.
  await until('every target up', async () => {
    const d = (await promApi('/api/v1/targets')) as { activeTargets: Array<{ health: string }> };
    return d.activeTargets.length === Services.length && d.activeTargets.every((t) => t.health === 'up') ? true : null;
  }, { timeoutMs: 60_000, detail: () => `prometheus stderr:\n${stderr}` });
}

beforeAll(async () => {
  if (!existsSync(PROMETHEUS)) throw new Error(`${PROMETHEUS} is missing: apt-get install -y prometheus`);
  const natsPort = await freePort();
  const server = privateNatsServerCommand(natsPort, path.join(tmp, 'js'));
  natsServer = spawn(server.bin, server.args, { stdio: 'ignore' });
  bus.natsUrl = `nats://127.0.0.1:${natsPort}`;
  nc = await until('nats-server', () => openIsolatedBus(bus, 'telemetry-e2e'), { timeoutMs: 60_000 });
  const otlpPort = await startOtlpReceiver();
  report = await runDemo({
    ...realDayAt10x(),
    speed: 0,
    accountId,
    bus,
    logDir,
    schedule: [{ at: Date.parse('2025-11-21T22:00:00Z'), subject: Subjects.setTradingState, payload: { accountId, state: 'REDUCING', reason: 'e2e: telemetry breaker event', by: 'e2e-operator' } }],
    serviceEnv: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
      OTEL_TRACES_EXPORTER: 'otlp',
      // A replay makes spans far faster than a live market: a queue that never drops them.
      OTEL_BSP_MAX_QUEUE_SIZE: '200000',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4096',
      OTEL_BSP_SCHEDULE_DELAY: '500',
      // The transport's line per handled event is at debug level: it is written inside the event's trace.
      LOG_LEVEL: 'debug',
    },
    onServicesReady: async (_nc, services) => {
      const targets = await until('every service logged its telemetry address', async () => {
        const t = services.telemetry();
        return Object.keys(t).length === Services.length ? t : null;
      }, { timeoutMs: 60_000 });
      for (const [service, t] of Object.entries(targets)) {
        readyz[service] = await until(`${service} /readyz 200`, async () => {
          const r = await fetch(`http://${t.host}:${t.port}/readyz`);
          return r.status === 200 ? r.status : null;
        }, { timeoutMs: 60_000 });
      }
      await startPrometheus(targets);
      // One malformed clock step: execution dead-letters it (bulwark_dead_letters_total).
      await nc.request(Subjects.clock('execution'), json.encode({ seq: 'not a tick' }), { timeout: 5000 });
    },
  });
  // The services flushed their spans when they stopped (SIGTERM): the receiver has read every export it was sent.
  await until('the OTLP receiver to finish the exports in flight', () => exportsInFlight === 0, { timeoutMs: 60_000, detail: () => `${exportsInFlight} exports in flight, ${spans.length} spans` });
}, 600_000);

afterAll(async () => {
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await new Promise((r) => otlp?.close(() => r(undefined)));
  await dropIsolatedBus(nc, bus).catch(() => undefined);
  await nc?.drain();
  if (natsServer && natsServer.exitCode === null) {
    const exited = new Promise((r) => natsServer!.once('exit', r));
    natsServer.kill('SIGTERM');
    await exited;
  }
  if (process.env.KEEP_TELEMETRY_E2E !== '1') rmSync(tmp, { recursive: true, force: true });
});

describe('metrics and probes of the six services, scraped by Prometheus during a real day', () => {
  it('the day traded (the run the metrics describe)', () => {
    expect(report.candles).toBe(1440);
    expect(report.fills).toBeGreaterThanOrEqual(2);
    expect(Object.keys(readyz).sort()).toEqual([...Services].sort());
  });

  // The live feed's lag exists only with a demo or live venue (live-feed.spec and metrics.spec cover it).
  it.each(METRIC_NAMES.filter((n) => !LIVE_FEED_METRIC_NAMES.includes(n)))('%s has series in Prometheus', async (name) => {
    const match = encodeURIComponent(`{__name__=~"${name}(_bucket|_count|_sum)?"}`);
    const series = (await promApi(`/api/v1/series?match[]=${match}&start=${t0 / 1000}&end=${Date.now() / 1000}`)) as Array<Record<string, string>>;
    expect(series.length).toBeGreaterThan(0);
    // Every series names the process it came from.
    for (const s of series) expect(Services as readonly string[]).toContain(s.service);
  }, 60_000);

  /** The largest value a series reached during the run. */
  const maxOver = async (expr: string): Promise<number> => {
    const range = Math.ceil((Date.now() - t0) / 1000) + 60;
    const d = (await promApi(`/api/v1/query?query=${encodeURIComponent(`max(max_over_time(${expr}[${range}s]))`)}`)) as { result: Array<{ value: [number, string] }> };
    return d.result.length ? Number(d.result[0].value[1]) : NaN;
  };

  it('the numbers are the run\'s: filled orders, decisions, the kill switch, one dead letter, a paper venue weight of 0, stops covering positions', async () => {
    expect(await maxOver('bulwark_orders_total{service="execution",status="FILLED",venue="binance-usdm",symbol="BTCUSDT"}')).toBeGreaterThanOrEqual(2);
    expect(await maxOver('bulwark_risk_decisions_total{service="risk",decision="approved"}')).toBeGreaterThanOrEqual(1);
    expect(await maxOver('bulwark_breaker_events_total{service="risk",type="TradingStateChanged"}')).toBe(1);
    expect(await maxOver('bulwark_dead_letters_total{service="execution",reason="invalid_message"}')).toBe(1);
    expect(await maxOver('bulwark_venue_weight_used{service="execution",venue="binance-usdm"}')).toBe(0);
    expect(await maxOver('bulwark_position_stop_coverage_ratio{service="stop-monitor"}')).toBe(1);
    expect(await maxOver('bulwark_equity_usdt{service="accounting"}')).toBeGreaterThan(9000);
    const liq = await maxOver('bulwark_position_liquidation_distance_ratio{service="stop-monitor"}');
    expect(liq).toBeGreaterThan(0);
    expect(liq).toBeLessThan(1);
    // Tick to order: a handful of NATS hops and appends on one host, well under the 10 s clock timeout.
    const orders = await maxOver('bulwark_tick_to_order_seconds_count');
    const seconds = await maxOver('bulwark_tick_to_order_seconds_sum');
    expect(orders).toBeGreaterThanOrEqual(1);
    expect(seconds / orders).toBeGreaterThan(0);
    expect(seconds / orders).toBeLessThan(10);
    console.log(`tick to order: ${orders} orders, mean ${((seconds / orders) * 1000).toFixed(1)} ms`);
  }, 60_000);
});

describe('traces of the day', () => {
  const types = (s: Span) => (s.attrs['bulwark.event_types'] ?? '').split(',');

  it('a trade is one trace: signals (intent) → risk (decision) → execution (submit, fill) → accounting (booking)', () => {
    const booking = spans.find((s) => types(s).includes('PositionOpened'));
    expect(booking).toBeDefined();
    const trace = spans.filter((s) => s.traceId === booking!.traceId);
    const appended = (service: string, type: string) => trace.some((s) => s.service === `bulwark-${service}` && types(s).includes(type));
    expect(appended('signals', 'IntentEmitted')).toBe(true);
    expect(appended('risk', 'EntryApproved')).toBe(true);
    expect(appended('execution', 'OrderSubmitted')).toBe(true);
    expect(appended('execution', 'OrderFilled')).toBe(true);
    expect(appended('accounting', 'PositionOpened')).toBe(true);
    expect(appended('stop-monitor', 'StopPlaced')).toBe(true);
    // Connected: one root (the clock step signals received), every other span's parent is in the trace.
    const ids = new Set(trace.map((s) => s.spanId));
    const roots = trace.filter((s) => !s.parentSpanId);
    expect(roots.map((s) => s.name)).toEqual(['signals bulwark.clock.signals']);
    expect(trace.filter((s) => s.parentSpanId && !ids.has(s.parentSpanId))).toEqual([]);
    // The spans name the candle they came from: the entry's (the intent's), then the fill's (the next bar's open).
    const intent = trace.find((s) => types(s).includes('IntentEmitted'))!;
    expect(roots[0].attrs['bulwark.correlation_id']).toBe(intent.attrs['bulwark.correlation_id']);
    const candles = new Set(trace.map((s) => s.attrs['bulwark.correlation_id']).filter(Boolean));
    expect(candles.size).toBeLessThanOrEqual(2);
    for (const c of candles) expect(c).toMatch(/^candle-binance-usdm-BTCUSDT-\d+$/);
  });

  it('service logs carry trace_id, span_id and correlation_id on lines written inside a trace', () => {
    const lines = readdirSync(logDir).flatMap((f) => readFileSync(path.join(logDir, f), 'utf8').split('\n'));
    const traced = lines.filter((l) => l.startsWith('{') && l.includes('"trace_id"')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(traced.length).toBeGreaterThan(0);
    for (const l of traced) {
      expect(l.trace_id).toMatch(/^[0-9a-f]{32}$/);
      expect(l.span_id).toMatch(/^[0-9a-f]{16}$/);
    }
    // The transport's line for the booking of a fill: in the fill's trace, with its candle.
    const booked = traced.find((l) => l.service === 'accounting' && String(l.msg).startsWith('handled OrderFilled '));
    expect(booked).toBeDefined();
    expect(booked!.correlation_id).toMatch(/^candle-binance-usdm-BTCUSDT-\d+$/);
    expect(spans.some((s) => s.traceId === booked!.trace_id && s.spanId === booked!.span_id && s.name === 'accounting consume OrderFilled')).toBe(true);
  });
});
