#!/usr/bin/env node
// Tick → order latency (issue 17): the six services as processes over NATS in live mode against
// the local Binance USDⓈ-M venue running on its own clock (`bulwark venue serve --speed S`), at
// several market speeds (S market minutes a wall minute: S/60 closed 1m klines a second), each for
// a fixed wall time with a fresh venue, bus and account. Per speed it reports the closed klines
// and venue messages a second, the events appended a second, the orders sent, the distribution of
// tick → order-sent latency (exact, per order) and how far the live feed lags the venue's clock.
//
// How the latency is measured (wall clocks of one host):
//   tick → order   the first service's receipt of the clock step (the trace start its trace id
//                  carries, `TimedIdGenerator`) → the JetStream timestamp of the order's
//                  OrderSubmitted (execution records it just before the order goes to the venue);
//                  `bulwark_tick_to_order_seconds` observes the same interval after the append's
//                  ack. Only orders correlated to a candle (`candle-…`) count, as in the metric.
//   kline → order  market-data's receipt of the closed kline on the venue's websocket → the same
//                  OrderSubmitted (adds the feed's queue and the candle's earlier path steps).
// Execution's /metrics histogram is scraped too and its bucket-interpolated p99 printed beside.
// Latency degrades at the first speed whose p99 is more than twice that of the lowest speed with
// 10 orders or more, or whose feed falls behind the venue (its lag grows by more than a second over
// the window, or grows while the services replay under 95 % of the klines that arrive).
//
// Wiring (see docs/benchmarks.md): the library's live mode reads only Binance's and Bitget's own
// public streams (market-data's live feed is off for BULWARK_VENUE=binance-local, which is driven
// step by step by the replay clock instead). So two of the six processes are started by this file
// with the library's own classes, as a live venue would run them, pointed at the local venue:
//   market-data (`--role market-data`): MarketDataModule's controller and providers, with
//     `LiveMarketData` (as `liveMarketDataOverNats` builds it: one ReplayClock over NATS, the
//     candles journaled in the log, mark prices on md.mark) reading `BinanceMarketStream` in mode
//     local, starting at the venue's market minute instead of the wall clock's;
//   execution (`--role execution`): ExecutionModule's controller and providers, with the venue
//     opened as for binance-live (`BinanceUsdmVenue`, fills pushed by the user-data stream) in
//     mode local: orders go through ccxt to the local venue and fill on its own clock.
// signals, risk, stop-monitor and accounting are their unchanged services/<name>/dist/main.js.
//
// Usage: node bench/latency.bench.js [--speeds 60,300,900,1800,3000,6000] [--seconds 30]
//          [--start 2025-11-21T00:00:00Z] [--cpu-prof <service>|venue] [--keep-logs]
//   (--cpu-prof profiles that process at the last speed: node --cpu-prof, into a temp directory)
//   (after `npm run setup`; needs Bulwark's NATS with JetStream on NATS_URL or 127.0.0.1:4223)
'use strict';
require('reflect-metadata');
const os = require('node:os');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { setTimeout, clearTimeout, setInterval, clearInterval } = require('node:timers');
const { fetch } = globalThis;

const ROOT = path.join(__dirname, '..');
const SYMBOL = 'BTCUSDT';
const VENUE_ID = 'binance-usdm';
const arg = (name, dflt) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : dflt);

// ------------------------------------------------------------------ child roles

/** market-data: the service's controller and providers, its live feed reading the local venue's streams. */
async function runMarketData() {
  const { Module } = require('@nestjs/common');
  const { Subjects } = require('@bulwark/contracts');
  const app = require('@bulwark/application');
  const { bootstrapService, EVENT_STORE, EventAppender, NATS, NatsClockPort, ReplayClock } = require('@bulwark/messaging');
  const { JSONCodec } = require('nats');
  const { MarketDataController } = require(path.join(ROOT, 'services/market-data/dist/market-data.controller.js'));
  const { LiveFeedService } = require(path.join(ROOT, 'services/market-data/dist/live-feed.service.js'));
  const rest = process.env.BULWARK_VENUE_REST;
  const ws = process.env.BULWARK_VENUE_WS;
  const klineLog = fs.createWriteStream(process.env.BENCH_KLINE_LOG, { flags: 'a' });

  class LocalLiveFeed {
    constructor(nc, appender) {
      this.nc = nc;
      this.appender = appender;
      this.live = null;
    }
    get running() {
      return this.live?.running ?? false;
    }
    feed() {
      return this.running ? this.live : null;
    }
    async onModuleInit() {
      const log = (line) => console.log(JSON.stringify({ level: 30, time: Date.now(), service: 'market-data', msg: line }));
      const { BinanceMarketStream } = app.venuesLib();
      const market = new BinanceMarketStream({ mode: 'local', restBase: rest, wsBase: ws, log, onAlert: (a) => log(`market data alert: ${a.message}`) });
      // When each closed kline reaches this process (before the feed's queue): `<openTime> <wall ms>`.
      const onMessage = market.exchange.handleMessage;
      market.exchange.handleMessage = (client, message) => {
        const m = message && typeof message === 'object' && message.data ? message.data : message;
        if (m && m.e === 'kline' && m.k && m.k.x === true) klineLog.write(`${m.k.t} ${Date.now()}\n`);
        return onMessage(client, message);
      };
      const json = JSONCodec();
      void app.publishMarkPrices(this.nc, VENUE_ID, SYMBOL, market.markPrices(SYMBOL), { log }).catch((e) => log(`mark prices stopped: ${e.message}`));
      // The venue's market time (its last step), not the wall clock's: the feed starts at that minute.
      const index = await (await fetch(`${rest}/fapi/v1/premiumIndex?symbol=${SYMBOL}`)).json();
      const marketNow = Number(index.time);
      // The venue's clock from here on (S market ms a wall ms): the feed's lag and its limit (15 wall seconds, as live) in market time.
      const speed = Number(process.env.BENCH_SPEED);
      const wall0 = Date.now();
      const clock = new ReplayClock(new NatsClockPort(this.nc), app.DOWNSTREAM);
      // The clock's own counters, twice a second (what a step costs: phases sent, skipped, quiesce rounds).
      const clockLog = fs.createWriteStream(process.env.BENCH_CLOCK_LOG, { flags: 'a' });
      this.stats = setInterval(() => clockLog.write(`${JSON.stringify({ t: Date.now(), delivered: clock.phasesDelivered, skipped: clock.phasesSkipped, quiesce: clock.quiesceRounds, retries: clock.retries })}\n`), 500);
      this.live = new app.LiveMarketData(clock, VENUE_ID, [SYMBOL], market, {
        log,
        onCandle: (symbol, candle) => this.nc.publish(Subjects.candle(VENUE_ID, symbol), json.encode(candle)),
        journal: new app.LogCandleJournal(this.appender),
        now: () => marketNow + (Date.now() - wall0) * speed,
        maxLagMs: 15_000 * speed,
      });
      await this.live.start();
      log(`live market data from the local venue ${rest}: ${SYMBOL} from ${new Date(marketNow).toISOString()}`);
    }
    async onModuleDestroy() {
      clearInterval(this.stats);
      await this.live?.stop();
      this.live = null;
      klineLog.end();
    }
  }

  class BenchMarketDataModule {}
  Module({
    controllers: [MarketDataController],
    providers: [
      app.ReplayService,
      { provide: LiveFeedService, useFactory: (nc, appender) => new LocalLiveFeed(nc, appender), inject: [NATS, EventAppender] },
      { provide: app.CandleHistoryServer, useFactory: (store, live) => new app.CandleHistoryServer(store, () => live.feed()), inject: [EVENT_STORE, LiveFeedService] },
    ],
  })(BenchMarketDataModule);
  await bootstrapService('market-data', BenchMarketDataModule);
}

/** execution: the service's controller and providers, trading the local venue through ccxt as a live venue (fills pushed). */
async function runExecution() {
  const { Module } = require('@nestjs/common');
  const { bootstrapService } = require('@bulwark/messaging');
  const { ExecutionService, EXECUTION_VENUE, venuesLib } = require('@bulwark/application');
  const { ExecutionController } = require(path.join(ROOT, 'services/execution/dist/execution.controller.js'));
  const { MarginHost } = require(path.join(ROOT, 'services/execution/dist/margin.host.js'));
  const env = process.env;
  // venueFromEnv's binance-demo / binance-live venue (`pushing`), in mode local.
  const factory = async (_rules, onAlert) => {
    const { BinanceUsdmVenue } = venuesLib();
    const venue = new BinanceUsdmVenue({ accountId: env.BULWARK_ACCOUNT_ID, apiKey: env.BINANCE_API_KEY, apiSecret: env.BINANCE_API_SECRET, onAlert, mode: 'local', restBase: env.BULWARK_VENUE_REST, wsBase: env.BULWARK_VENUE_WS });
    return {
      venue,
      reconcileSeconds: 0,
      // The account it trades: `accountId` before the many-accounts change of OpenedVenue, `accountIds` after it.
      accountId: env.BULWARK_ACCOUNT_ID,
      accountIds: [env.BULWARK_ACCOUNT_ID],
      subscribe: (listener) => {
        venue.onVenueEvents(listener);
        void venue.startUserData();
      },
    };
  };
  class BenchExecutionModule {}
  Module({ controllers: [ExecutionController], providers: [ExecutionService, MarginHost, { provide: EXECUTION_VENUE, useValue: factory }] })(BenchExecutionModule);
  venuesLib(); // loaded at boot, as services/execution/src/main.ts does
  await bootstrapService('execution', BenchExecutionModule);
}

// ------------------------------------------------------------------ orchestrator

const SERVICES = ['market-data', 'signals', 'risk', 'execution', 'stop-monitor', 'accounting'];
const OWN_ROLE = new Set(['market-data', 'execution']);
const STAGE_EVENTS = new Set(['IntentEmitted', 'EntryApproved', 'StopTriggered', 'OrderSubmitted']);
const TELEMETRY_LINE = /telemetry on http:\/\/([^\s:/]+):(\d+)/;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Nearest-rank percentile of a sorted array. */
function pct(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Prometheus histogram_quantile: linear interpolation inside the bucket holding the rank. */
function bucketQuantile(buckets, q) {
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return prevLe; // in +Inf: the highest finite bound
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / Math.max(1e-12, b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

function parseHistogram(text, name) {
  const buckets = [];
  let sum = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    let m = new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)`).exec(line);
    if (m) buckets.push({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), count: Number(m[2]) });
    m = new RegExp(`^${name}_sum(?:\\{[^}]*\\})? (\\S+)`).exec(line);
    if (m) sum = Number(m[1]);
    m = new RegExp(`^${name}_count(?:\\{[^}]*\\})? (\\S+)`).exec(line);
    if (m) count = Number(m[1]);
  }
  buckets.sort((a, b) => a.le - b.le);
  return { buckets, sum, count };
}

/** CPU seconds (user + system) a process has used, from /proc (Linux); null elsewhere or when gone. */
function cpuSeconds(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100 on Linux)
  } catch {
    return null;
  }
}

/** A child process in its own process group, logging to `file`; `lines` sees its stdout line by line. */
function startChild(name, args, env, file, onLine) {
  const log = fs.createWriteStream(file, { flags: 'a' });
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let partial = '';
  child.stdout.on('data', (chunk) => {
    log.write(chunk);
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) onLine?.(l);
  });
  child.stderr.pipe(log, { end: false });
  let exited = false;
  const done = new Promise((resolve) => child.once('exit', (code, signal) => ((exited = true), log.end(), resolve(signal ?? code))));
  return {
    name,
    child,
    file,
    get exited() {
      return exited;
    },
    /** SIGTERM to its process group, SIGKILL after 8 s; resolves once it exited. */
    async stop() {
      if (exited) return;
      const kill = (sig) => {
        try {
          process.kill(-child.pid, sig);
        } catch {
          // gone already
        }
      };
      kill('SIGTERM');
      const t = setTimeout(() => kill('SIGKILL'), 8_000);
      await done;
      clearTimeout(t);
    },
  };
}

/**
 * The environment a child gets: without the launcher's own NATS credentials (each service connects
 * as itself), and with tracing on (the trace ids carry the tick's receipt time the latency is read from).
 */
function childEnv(extra) {
  const drop = new Set(['NATS_NKEY_SEED_FILE', 'NATS_USER', 'NATS_PASSWORD_FILE', 'OTEL_SDK_DISABLED']);
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !drop.has(k))), ...extra };
}

const running = new Set();
/**
 * Stop market-data first (its live feed finishes the candle it replays while the services still
 * answer the clock; stopped together, its clock waited for services already gone and it had to be
 * killed), then the other services, then the venue.
 */
async function stopAll() {
  const stage = (f) => Promise.all([...running].filter(f).map((c) => c.stop().then(() => running.delete(c))));
  await stage((c) => c.name === 'market-data');
  await stage((c) => c.name !== 'venue');
  await stage(() => true);
}

async function runSpeed(o) {
  const { connectNats, createBusStreams, dropBusStreams } = require(path.join(ROOT, 'libs/messaging/dist/index.js'));
  const { JetStreamEventStore } = require(path.join(ROOT, 'libs/event-store/dist/index.js'));
  const { Subjects } = require(path.join(ROOT, 'libs/contracts/dist/index.js'));
  const { traceStartMs } = require(path.join(ROOT, 'libs/telemetry/dist/index.js'));
  const { resolveDataDir } = require(path.join(ROOT, 'libs/market-data/dist/index.js'));
  const { JSONCodec } = require('nats');
  const json = JSONCodec();
  const { speed, seconds } = o;
  const tag = randomBytes(3).toString('hex');
  const bus = {
    natsUrl: process.env.NATS_URL || 'nats://127.0.0.1:4223',
    esStream: `BENCH_LAT_${tag}`,
    esPrefix: `benchlat${tag}`,
    dlqStream: `BENCH_LATDLQ_${tag}`,
    dlqPrefix: `benchlatdlq${tag}`,
    consumerSuffix: `benchlat${tag}`,
  };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bulwark-latency-${speed}x-`));
  const accountId = `lat${speed}x${tag}`;
  const apiKey = randomBytes(32).toString('hex');
  const apiSecret = randomBytes(32).toString('hex');
  const klineLog = path.join(dir, 'klines.log');
  const clockLog = path.join(dir, 'clock.log');
  const nc = await connectNats({ user: 'admin', servers: bus.natsUrl, name: 'bench-latency' });
  await createBusStreams(nc, bus);
  const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
  const jsm = await nc.jetstreamManager();
  const result = { speed, seconds };
  try {
    // 1. The venue on its own clock (keys by environment, never on a command line).
    let urls;
    const venueProf = o.cpuProf === 'venue' ? ['--cpu-prof', `--cpu-prof-dir=${o.profDir}`] : [];
    const venue = startChild('venue', [...venueProf, path.join(ROOT, 'apps/cli/bin/bulwark.js'), 'venue', 'serve', '--port', '0', '--speed', String(speed), '--start', o.start, '--account', accountId, '--balance', '10000'],
      childEnv({ BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: apiSecret }), path.join(dir, 'venue.log'), (line) => {
        urls ??= {};
        const r = /REST\s+(http:\/\/\S+?)\/fapi\//.exec(line);
        const w = /WebSocket\s+(ws:\/\/\S+?)\/ws\b/.exec(line);
        if (r) urls.rest = r[1];
        if (w) urls.ws = w[1];
      });
    running.add(venue);
    for (const end = Date.now() + 30_000; !(urls?.rest && urls?.ws); ) {
      if (venue.exited || Date.now() > end) throw new Error(`venue serve printed no URLs (log ${venue.file})`);
      await sleep(50);
    }
    const venueStartedAt = Date.now();

    // 2. The six services, live against it, each on a free metrics port.
    const env = childEnv({
      NATS_URL: bus.natsUrl, BULWARK_ES_STREAM: bus.esStream, BULWARK_ES_PREFIX: bus.esPrefix, BULWARK_DLQ_STREAM: bus.dlqStream, BULWARK_DLQ_PREFIX: bus.dlqPrefix,
      BULWARK_CONSUMER_SUFFIX: bus.consumerSuffix, BULWARK_DATA_DIR: resolveDataDir(), BULWARK_VENUE: 'binance-local', BULWARK_ACCOUNT_ID: accountId,
      BINANCE_API_KEY: apiKey, BINANCE_API_SECRET: apiSecret, BULWARK_VENUE_REST: urls.rest, BULWARK_VENUE_WS: urls.ws, BULWARK_METRICS_PORT: '0', BENCH_KLINE_LOG: klineLog, BENCH_CLOCK_LOG: clockLog, BENCH_SPEED: String(speed),
    });
    const telemetry = {};
    const procs = {};
    for (const name of SERVICES) {
      const prof = o.cpuProf === name ? ['--cpu-prof', `--cpu-prof-dir=${o.profDir}`] : [];
      const args = OWN_ROLE.has(name) ? [...prof, path.join(__dirname, 'latency.bench.js'), '--role', name] : [...prof, path.join(ROOT, 'services', name, 'dist', 'main.js')];
      const c = startChild(name, args, env, path.join(dir, `${name}.log`), (line) => {
        const t = telemetry[name] ? null : TELEMETRY_LINE.exec(line);
        if (t) telemetry[name] = `http://${t[1]}:${t[2]}`;
      });
      procs[name] = c;
      running.add(c);
    }
    for (const name of SERVICES) {
      for (const end = Date.now() + 90_000; ; ) {
        if (procs[name].exited) throw new Error(`${name} exited during start-up (log ${procs[name].file})`);
        const ok = await nc.request(Subjects.health(name), json.encode({}), { timeout: 500 }).then((m) => json.decode(m.data).ready === true, () => false);
        if (ok && telemetry[name]) break;
        if (Date.now() > end) throw new Error(`${name} not ready in time (log ${procs[name].file})`);
        await sleep(100);
      }
    }
    result.startupSeconds = (Date.now() - venueStartedAt) / 1000;

    // 3. The live feed's candles as market-data publishes them (after each candle's steps).
    let lastCandle = null;
    let candles = 0;
    const sub = nc.subscribe(Subjects.candle(VENUE_ID, SYMBOL));
    void (async () => {
      for await (const m of sub) {
        lastCandle = json.decode(m.data);
        candles++;
      }
    })();
    for (const end = Date.now() + 60_000; lastCandle === null; ) {
      if (Date.now() > end) throw new Error(`no candle from market-data's live feed (logs in ${dir})`);
      await sleep(50);
    }
    /** How far (market ms) the feed's last replayed candle is behind the venue's clock. */
    const lagNow = async () => {
      const idx = await (await fetch(`${urls.rest}/fapi/v1/premiumIndex?symbol=${SYMBOL}`)).json().catch(() => null);
      return idx && lastCandle ? Number(idx.time) - (lastCandle.openTime + 60_000) : null;
    };
    // The venue's clock ran while the services started: let the feed catch up first (at most 20 s;
    // near the feed's capacity the backlog drains slowly, above it never).
    result.catchUpSeconds = null;
    for (const t = Date.now(); Date.now() < t + 20_000; await sleep(250)) {
      const lag = await lagNow();
      if (lag !== null && lag / speed < Math.max(500, (3 * 60_000) / speed)) {
        result.catchUpSeconds = (Date.now() - t) / 1000;
        break;
      }
    }

    // 4. An account and the strategy, as the demo opens and attaches them (market time: the feed's).
    const at = lastCandle.openTime + 60_000;
    const request = async (subject, payload) => {
      const r = json.decode((await nc.request(subject, json.encode(payload), { timeout: 30_000 })).data);
      if (r && r.error) throw new Error(`${subject}: ${JSON.stringify(r.error)}`);
      return r;
    };
    await request(Subjects.openAccount, {
      accountId, venue: VENUE_ID, symbol: SYMBOL, capital: '10000', leverage: 20, highLeverageConfirmed: true, riskFraction: '0.005', venueBalance: '10000',
      // Policy wide open so the breakers do not stop the flow of orders being measured.
      maxTradesPerDay: 10_000, maxMonthlyDrawdownFraction: '0.5', maxFeeRiskFraction: null, maxLifetimeDrawdownFraction: null, dailyLossLimitFraction: null, losingStreakPause: null,
      protection: 'INTERNAL', by: 'bench-latency', at,
    });
    // A short channel and near stops: entries and stop/target closes every few bars.
    await request(Subjects.attachStrategy, { accountId, venue: VENUE_ID, symbol: SYMBOL, strategy: 'donchian-atr', params: { channel: 5, atrPeriod: 5, atrMultiple: 2, rewardRisk: 1 }, at });

    // 5. The measured window.
    const pids = { venue: venue.child.pid, ...Object.fromEntries(SERVICES.map((s) => [s, procs[s].child.pid])), bench: process.pid };
    const natsPid = Number(fs.readFileSync(path.join(ROOT, 'var/nats/nats-server.pid'), 'utf8').trim());
    if (natsPid) pids['nats-server'] = natsPid;
    const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
    const pos0 = await store.lastPosition();
    const candles0 = candles;
    const t0 = Date.now();
    const lags = [];
    const load0 = os.loadavg()[0];
    while (Date.now() - t0 < seconds * 1000) {
      await sleep(500);
      const lag = await lagNow();
      if (lag !== null) lags.push({ t: (Date.now() - t0) / 1000, marketMs: lag });
    }
    result.load = [load0, os.loadavg()[0]];
    const wall = (Date.now() - t0) / 1000;
    const pos1 = await store.lastPosition();
    const candles1 = candles;
    const cpu1 = Object.fromEntries(Object.entries(pids).map(([k, p]) => [k, cpuSeconds(p)]));
    result.cpu = Object.fromEntries(Object.keys(pids).map((k) => [k, cpu0[k] === null || cpu1[k] === null ? null : (cpu1[k] - cpu0[k]) / wall]));
    result.klinesPerSec = (candles1 - candles0) / wall;
    result.nominalKlinesPerSec = speed / 60;
    result.eventsPerSec = (pos1 - pos0) / wall;
    const lagWall = lags.map((l) => l.marketMs / speed / 1000);
    const firstQuarter = lagWall.slice(0, Math.max(1, Math.floor(lagWall.length / 4)));
    const lastQuarter = lagWall.slice(-Math.max(1, Math.floor(lagWall.length / 4)));
    result.lagStart = firstQuarter.reduce((a, b) => a + b, 0) / firstQuarter.length;
    result.lagEnd = lastQuarter.reduce((a, b) => a + b, 0) / lastQuarter.length;
    result.lagMax = Math.max(...lagWall);
    sub.unsubscribe();

    // 6. The metric, as Prometheus would scrape it.
    const metrics = await (await fetch(`${telemetry.execution}/metrics`)).text();
    result.histogram = parseHistogram(metrics, 'bulwark_tick_to_order_seconds');
    // Execution's venue calls (ccxt → the local venue), mean per endpoint over the whole run.
    const venueCalls = {};
    for (const line of metrics.split('\n')) {
      const m = /^bulwark_venue_request_seconds_(sum|count)\{[^}]*endpoint="([^"]+)"[^}]*\} (\S+)/.exec(line);
      if (m) (venueCalls[m[2]] ??= { sum: 0, count: 0 })[m[1]] += Number(m[3]);
    }
    result.venueCalls = venueCalls;
    // The replay clock's work in the window (market-data's counters).
    const clockLines = (fs.existsSync(clockLog) ? fs.readFileSync(clockLog, 'utf8').split('\n') : []).flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return []; // a line being written
      }
    });
    const c0 = clockLines.filter((c) => c.t <= t0).pop() ?? clockLines[0];
    const c1 = clockLines.filter((c) => c.t <= t0 + wall * 1000).pop();
    if (c0 && c1 && c1.t > c0.t) {
      const dt = (c1.t - c0.t) / 1000;
      result.clock = { delivered: (c1.delivered - c0.delivered) / dt, skipped: (c1.skipped - c0.skipped) / dt, quiesce: (c1.quiesce - c0.quiesce) / dt, retries: c1.retries - c0.retries };
    }

    // 7. Every order sent, from the log: trace start (its trace id) → the OrderSubmitted's JetStream timestamp.
    const arrivals = new Map();
    for (const l of fs.existsSync(klineLog) ? fs.readFileSync(klineLog, 'utf8').split('\n') : []) {
      const [t, w] = l.split(' ').map(Number);
      if (t && w && !arrivals.has(t)) arrivals.set(t, w);
    }
    // Closed klines the venue delivered to market-data in the window (whether or not the feed kept up).
    result.receivedPerSec = [...arrivals.values()].filter((w) => w >= t0 && w < t0 + wall * 1000).length / wall;
    const purposes = new Map();
    const stages = new Map();
    const orders = [];
    const counts = {};
    for await (const e of store.readAll({ fromPosition: 1 })) {
      if (/^(Order(Accepted|Filled|Rejected|Denied|StatusUnknown)|EntryApproved|EntryDenied|IntentEmitted)$/.test(e.type)) {
        const k = e.type === 'EntryDenied' || e.type === 'OrderDenied' || e.type === 'OrderRejected' ? `${e.type} ${e.data.reason ?? e.data.code}` : e.type;
        counts[k] = (counts[k] ?? 0) + 1;
      }
      if (e.type === 'OrderInitialized') purposes.set(e.streamId, e.data.purpose);
      const traceId = e.metadata.traceparent ? e.metadata.traceparent.split('-')[1] : null;
      // Each service's part of a trade's trace: when it built its event (tsInit, ms), by trace.
      if (traceId && STAGE_EVENTS.has(e.type)) {
        const st = stages.get(traceId) ?? stages.set(traceId, {}).get(traceId);
        st[e.type] ??= e.metadata.tsInit;
      }
      if (e.type !== 'OrderSubmitted') continue;
      const start = traceId ? traceStartMs(traceId) : null;
      const sm = await jsm.streams.getMessage(bus.esStream, { seq: e.position });
      const stored = (sm.timestamp ? nsOf(sm.timestamp) : null) ?? sm.time.getTime();
      const candle = /^candle-.+-(\d+)$/.exec(e.metadata.correlationId);
      orders.push({
        purpose: purposes.get(e.streamId) ?? '?',
        tick: Boolean(candle),
        tickToOrder: start !== null ? (stored - start) / 1000 : null,
        tickToInit: start !== null ? (e.metadata.tsInit - start) / 1000 : null,
        klineToOrder: candle && arrivals.has(Number(candle[1])) ? (stored - arrivals.get(Number(candle[1]))) / 1000 : null,
        start,
        traceId,
      });
    }
    // Stages: the first service (signals for an entry, stop-monitor for a close) → risk → execution.
    for (const x of orders) {
      const st = (x.traceId && stages.get(x.traceId)) || {};
      const first = st.IntentEmitted ?? st.StopTriggered;
      x.stages = x.start === null || first === undefined ? null : {
        first: (first - x.start) / 1000,
        risk: st.EntryApproved !== undefined && st.IntentEmitted !== undefined ? (st.EntryApproved - st.IntentEmitted) / 1000 : null,
        execution: st.OrderSubmitted !== undefined ? (st.OrderSubmitted - (st.EntryApproved ?? first)) / 1000 : null,
      };
    }
    result.orders = orders;
    result.counts = counts;
    return result;
  } catch (e) {
    result.failed = true;
    throw new Error(`${speed}x: ${e.message} (logs kept in ${dir})`, { cause: e });
  } finally {
    await stopAll();
    await store.close?.().catch?.(() => undefined);
    await dropBusStreams(nc, bus).catch(() => undefined);
    await nc.drain().catch(() => undefined);
    result.logDir = dir;
    if (!o.keepLogs && !result.failed) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** An RFC 3339 timestamp with nanoseconds → epoch ms with the fraction kept. */
function nsOf(ts) {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(ts);
  if (!m) return null;
  const whole = Date.parse(m[1] + m[3]);
  const frac = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return whole + frac;
}

const ms = (s) => (Number.isFinite(s) ? `${(s * 1000).toFixed(s < 0.1 ? 1 : 0)} ms` : '–');

async function main() {
  const speeds = arg('--speeds', '60,300,900,1800,3000,6000').split(',').map(Number);
  const seconds = Number(arg('--seconds', 30));
  const start = arg('--start', '2025-11-21T00:00:00Z');
  const cpuProf = arg('--cpu-prof', null);
  const keepLogs = process.argv.includes('--keep-logs');
  const profDir = cpuProf ? fs.mkdtempSync(path.join(os.tmpdir(), 'bulwark-latency-prof-')) : null;
  const cpus = os.cpus();
  console.log(`machine: ${cpus[0].model}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}, ${new Date().toISOString()}; load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`speeds ${speeds.join(', ')}x, ${seconds} s each, venue clock from ${start}`);
  const stopOnSignal = (sig) => void stopAll().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  const rows = [];
  for (const speed of speeds) {
    const r = await runSpeed({ speed, seconds, start, cpuProf: cpuProf && speed === speeds[speeds.length - 1] ? cpuProf : null, profDir, keepLogs });
    const tick = r.orders.filter((x) => x.tick && x.tickToOrder !== null);
    const lat = tick.map((x) => x.tickToOrder).sort((a, b) => a - b);
    const kline = tick.filter((x) => x.klineToOrder !== null).map((x) => x.klineToOrder).sort((a, b) => a - b);
    const byPurpose = {};
    for (const x of tick) byPurpose[x.purpose] = (byPurpose[x.purpose] ?? 0) + 1;
    const sortedOf = (f) => tick.filter(f).map((x) => x.tickToOrder).sort((a, b) => a - b);
    const entries = sortedOf((x) => x.purpose === 'ENTRY');
    const closes = sortedOf((x) => x.purpose !== 'ENTRY');
    const row = {
      speed, klinesPerSec: r.klinesPerSec, received: r.receivedPerSec, nominal: r.nominalKlinesPerSec, eventsPerSec: r.eventsPerSec, orders: tick.length, otherOrders: r.orders.length - tick.length, byPurpose,
      p50: pct(lat, 0.5), p90: pct(lat, 0.9), p99: pct(lat, 0.99), max: lat[lat.length - 1] ?? NaN, mean: lat.reduce((a, b) => a + b, 0) / (lat.length || 1),
      k50: pct(kline, 0.5), k99: pct(kline, 0.99), kn: kline.length,
      h: r.histogram, h99: bucketQuantile(r.histogram.buckets, 0.99), h50: bucketQuantile(r.histogram.buckets, 0.5),
      lagStart: r.lagStart, lagEnd: r.lagEnd, lagMax: r.lagMax, cpu: r.cpu, startup: r.startupSeconds,
    };
    rows.push(row);
    console.log(`\n${speed}x: ${row.received.toFixed(1)} closed klines/s received from the venue (nominal ${row.nominal.toFixed(1)}; ${(row.received * 8).toFixed(0)} venue messages/s: a kline and a mark price per path step), ${row.klinesPerSec.toFixed(1)} replayed through the services, ${row.eventsPerSec.toFixed(0)} events appended/s; start-up ${row.startup.toFixed(1)} s, the feed ${r.catchUpSeconds === null ? 'did not catch up with the venue in 20 s' : `caught up with the venue in ${r.catchUpSeconds.toFixed(1)} s`}`);
    console.log(`  ${row.orders} tick-driven orders (${Object.entries(byPurpose).map(([k, v]) => `${k} ${v}`).join(', ')}), ${row.otherOrders} others; tick → order p50 ${ms(row.p50)}, p90 ${ms(row.p90)}, p99 ${ms(row.p99)}, max ${ms(row.max)}, mean ${ms(row.mean)}`);
    console.log(`  by purpose: entries (${entries.length}) p50 ${ms(pct(entries, 0.5))}, max ${ms(entries[entries.length - 1])}; closes of stops and targets (${closes.length}) p50 ${ms(pct(closes, 0.5))}, max ${ms(closes[closes.length - 1])}`);
    const stageLine = (label, list) => {
      const ok = list.filter((x) => x.stages);
      if (!ok.length) return;
      const med = (k) => ms(pct(ok.map((x) => x.stages[k]).filter((v) => v !== null).sort((a, b) => a - b), 0.5));
      console.log(`  ${label} (${ok.length}), medians: first service ${med('first')}, risk ${med('risk')}, execution ${med('execution')}`);
    };
    stageLine('entries: tick → intent (signals), → approval (risk), → OrderSubmitted (execution, with its venue calls before the order)', tick.filter((x) => x.purpose === 'ENTRY'));
    stageLine('closes: tick → StopTriggered (stop-monitor), → OrderSubmitted (execution)', tick.filter((x) => x.purpose !== 'ENTRY'));
    for (const x of [...tick].sort((a, b) => b.tickToOrder - a.tickToOrder).slice(0, 3)) {
      console.log(`  slow: ${x.purpose} ${ms(x.tickToOrder)}${x.stages ? ` (first service ${ms(x.stages.first)}, risk ${ms(x.stages.risk ?? NaN)}, execution ${ms(x.stages.execution ?? NaN)})` : ''}`);
    }
    console.log(`  execution's venue calls (mean over the run): ${Object.entries(r.venueCalls).map(([k, v]) => `${k} ${ms(v.sum / v.count)} ×${v.count}`).join(', ')}`);
    if (!r.clock) console.log('  replay clock: no counters read');
    else console.log(`  replay clock: ${r.clock.delivered.toFixed(0)} phases delivered/s, ${r.clock.skipped.toFixed(0)} skipped/s, ${r.clock.quiesce.toFixed(0)} quiesce rounds/s (5 syncs each), ${r.clock.retries} retries`);
    console.log(`  log: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    console.log(`  kline received → order (${row.kn} orders): p50 ${ms(row.k50)}, p99 ${ms(row.k99)}`);
    console.log(`  bulwark_tick_to_order_seconds: count ${row.h.count}, mean ${ms(row.h.sum / (row.h.count || 1))}, bucket-interpolated p50 ${ms(row.h50)}, p99 ${ms(row.h99)}`);
    console.log(`  feed lag behind the venue clock (wall s): first quarter ${row.lagStart.toFixed(2)}, last quarter ${row.lagEnd.toFixed(2)}, max ${row.lagMax.toFixed(2)}`);
    console.log(`  load average (1 min) at the window's start and end: ${r.load.map((l) => l.toFixed(1)).join(' → ')}`);
    console.log(`  CPU (cores): ${Object.entries(row.cpu).map(([k, v]) => `${k} ${v === null ? '?' : v.toFixed(2)}`).join(', ')}`);
  }
  // The reference: the lowest rate with at least 10 tick-driven orders (a p99 of fewer is their max).
  const base = rows.find((r) => r.orders >= 10) ?? rows[0];
  console.log('\n| speed | klines/s received (venue msgs/s) | klines/s replayed | events appended/s | tick-driven orders | p50 | p90 | p99 | max | kline → order p50 / p99 | metric p99 (buckets) | feed lag start → end |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  let degraded = null;
  for (const r of rows) {
    // Falls behind: the lag grew by more than a second, or it grew while the services replayed under 95 % of what arrived.
    const behind = r.lagEnd - r.lagStart > 1 || (r.lagEnd > r.lagStart && r.klinesPerSec < 0.95 * r.received);
    const slow = r.speed > base.speed && r.p99 > 2 * base.p99;
    if (!degraded && (behind || slow)) degraded = { r, why: [slow ? `p99 ${ms(r.p99)} > 2 × ${ms(base.p99)} at ${base.speed}x` : null, behind ? `the feed falls behind (replays ${r.klinesPerSec.toFixed(1)} of ${r.received.toFixed(1)} klines/s, lag ${r.lagStart.toFixed(1)} → ${r.lagEnd.toFixed(1)} s)` : null].filter(Boolean).join('; ') };
    console.log(`| ${r.speed}x | ${r.received.toFixed(1)} (${(r.received * 8).toFixed(0)}) | ${r.klinesPerSec.toFixed(1)} | ${r.eventsPerSec.toFixed(0)} | ${r.orders} | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${ms(r.max)} | ${ms(r.k50)} / ${ms(r.k99)} | ${ms(r.h99)} | ${r.lagStart.toFixed(2)} → ${r.lagEnd.toFixed(2)} s |`);
  }
  const kept = degraded ? rows.filter((r) => r.speed < degraded.r.speed).pop() : rows[rows.length - 1];
  if (kept) console.log(`sustained without degradation: ${kept.speed}x, ${kept.klinesPerSec.toFixed(1)} closed klines/s (${(kept.klinesPerSec * 4).toFixed(0)} clock steps/s), ${kept.eventsPerSec.toFixed(0)} events appended/s (p99 < 100 orders is their max)`);
  console.log(degraded ? `\nlatency degrades at ${degraded.r.speed}x (${degraded.r.klinesPerSec.toFixed(1)} closed klines/s, ${degraded.r.eventsPerSec.toFixed(0)} events/s): ${degraded.why}` : `\nno degradation up to ${rows[rows.length - 1].speed}x (p99 within 2 × the lowest rate's, the feed keeps up)`);
  if (profDir) console.log(`CPU profile of ${cpuProf} at ${speeds[speeds.length - 1]}x: ${profDir}`);
}

const role = arg('--role', null);
const run = role === 'market-data' ? runMarketData : role === 'execution' ? runExecution : main;
run().catch(async (e) => {
  console.error(e);
  if (!role) await stopAll();
  process.exit(1);
});
