import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import {
  AccountSummary,
  type AttachStrategyRequest,
  type OpenAccountRequest,
  type RecordedEvent,
  ReplayProgress,
  type ReplayStartRequest,
  Streams,
  Subjects,
  streamCategory,
  type VenueId,
} from '@bulwark/contracts';
import { type AccountPolicy, type AccountSetMember, accountSet, type BreakerLine, describeBreaker, type MarginRunReport, marginRunReport, type MonthLine, monthLines, SINGLE_ACCOUNT_ENV, tradesFromLog, unfinishedReplays, worstR } from '@bulwark/application';
import { accountEvolve, accountInitialState, dec, shortHash } from '@bulwark/domain';
import { JetStreamEventStore, StreamAccounts } from '@bulwark/event-store';
import { histogramQuantiles } from '@bulwark/telemetry';
import { instrumentFiles, loadMarginPair, projectRoot, readCandles, resolveDataDir } from '@bulwark/market-data';
import {
  type BusConfig,
  type ClockWait,
  clockSettingsFromEnv,
  connectNats,
  createUser,
  CredentialsStore,
  credentialsBucketFromEnv,
  hashPassword,
  readUser,
  RefusedError,
  requestJson,
  UserStoreError,
} from '@bulwark/messaging';
import { JSONCodec, type NatsConnection, type Subscription } from 'nats';
import type { BinanceMarginLocal } from '@bulwark/binance-local';
import { GatewayPortInUseError, type LocalFuturesVenue, type RunningGateway, type RunningServices, type RestartPolicy, ServiceStartError, type SupervisorEvent, startGateway, startLocalVenue, startServices } from './processes';

const json = JSONCodec();

export interface DemoOptions {
  candles: string;
  funding: string | null;
  speed: number;
  capital: string;
  leverage: number;
  riskPct: string;
  /** Confirms leverage above 5x (recorded in AccountOpened). */
  confirmHighLeverage: boolean;
  /** Paper deposit (the venue balance), USDT; defaults to the capital. */
  paperBalance?: string;
  /** Risk policy overrides (fractions), e.g. a daily loss limit. */
  policy?: AccountPolicy;
  /** Operator commands sent at a market time during the replay (e.g. a resume after a pause). */
  schedule?: ReplayStartRequest['schedule'];
  /** How the strategy's entries go to the venue (default MARKET) and a resting entry's life in bars (`--entry-type`, `--expires-after-bars`). */
  entry?: Pick<AttachStrategyRequest, 'entryType' | 'expiresAfterBars' | 'split'>;
  from: number | null;
  to: number | null;
  /** The account id, and the run's: with `accounts`, the prefix of the set's ids (`<accountId>-1..N`). */
  accountId: string;
  /**
   * Trade N accounts (1..10) at once on the same candles, with different risk settings
   * (`accountSet` of @bulwark/application: account i risks 0.5 + 0.5·i % at 3x, 5x, 2x, 4x, 1x, …;
   * `riskPct` and `leverage` are then the set's). One execution serves them all: on the paper
   * venue, which holds every account; on a local venue, through a generated accounts file
   * (BULWARK_ACCOUNTS_FILE) whose keys the local venue serves too. Absent: one account,
   * `accountId`, with `riskPct` and `leverage`.
   */
  accounts?: number;
  bus: BusConfig;
  logDir: string;
  onStart?: (total: number) => void;
  /** Called once the services answer, before the account is opened (tests inject faults here, e.g. kill a service). */
  onServicesReady?: (nc: NatsConnection, services: RunningServices) => Promise<void>;
  onProgress?: (p: ReplayProgress) => void;
  /**
   * What the run waits for, at least every second while it waits and once with null when it
   * no longer does: the clock's wait (a silent service), or market-data itself when no progress
   * came for a few seconds (it publishes at least once a second while a run lasts).
   */
  onWait?: (w: ClockWait | null) => void;
  /** The supervisor's events: each service's pid at start, exits and restarts. */
  onServiceEvent?: (e: SupervisorEvent) => void;
  /**
   * Give up when the run waits this long for one service, or hears nothing from market-data
   * this long (seconds; default BULWARK_STALL_LIMIT_SECONDS, else 600). Passed to the services.
   */
  stallLimitSeconds?: number;
  /** More environment for the service processes (e.g. BULWARK_CLOCK_TIMEOUT_SECONDS in tests). */
  serviceEnv?: Record<string, string>;
  /** How crashed services are restarted (default DEFAULT_RESTART_POLICY). */
  restart?: Partial<RestartPolicy>;
  /** Two instances of each service: one active, one standby that takes over when it dies or stops (docs/architecture.md "Standby and takeover"). */
  standby?: boolean;
  /**
   * paper (default): the in-process paper venue; binance-local: `bulwark venue serve` through
   * ccxt binanceusdm; bitget-local: `bulwark venue serve --venue bitget-local` through ccxt
   * bitget (Bitget USDT-M: its recorded rules, tiers and fees; the same recorded prices).
   */
  venue?: 'paper' | LocalFuturesVenue;
  /**
   * futures (default): Binance USDⓈ-M on the venue above. spot-margin: Binance spot isolated
   * margin on the local spot-margin venue (ccxt `binance`), priced by the same spot candles the
   * replay feeds the strategy, its clock driven by the replay; the capital is deposited in the
   * spot wallet and moved into the pair's isolated account first.
   */
  market?: 'futures' | 'spot-margin';
  /** Where the protective stops live (default INTERNAL). */
  protection?: 'INTERNAL' | 'EXCHANGE' | 'BOTH';
  /**
   * Start the gateway (dashboard and API) beside the services, with a login made for the run:
   * `onReady` gets its URL and the login before the replay starts; `afterRun` runs once the
   * report is ready, while every process is still up (the demo keeps the gateway open there).
   */
  gateway?: {
    port: number;
    /** When `port` is taken, take a free one instead of failing (the default port was not chosen by the user). */
    anyPortIfTaken?: boolean;
    onReady?: (g: DemoGateway) => void;
    afterRun?: (report: DemoReport) => Promise<void>;
  };
}

/** The gateway of a demo run: the dashboard's URL and the login created for the run (role admin). */
export interface DemoGateway {
  url: string;
  username: string;
  password: string;
  logFile: string;
}

/** The user every demo run logs in as; each run gives it a new password (the last run's stops working). */
export const DEMO_USERNAME = 'demo';

/**
 * Make the run's login: user `demo` (role admin) with a new random password, recorded as
 * `bulwark user add` records users (UserCreated in the log, the Argon2id hash in the credentials
 * bucket). User administration is an admin act, so this one step connects as NATS user `admin`.
 */
async function makeDemoLogin(bus: BusConfig, env: NodeJS.ProcessEnv): Promise<{ username: string; password: string }> {
  const password = randomBytes(12).toString('base64url');
  const nc = await connectNats({ user: 'admin', servers: bus.natsUrl, name: 'bulwark-demo-login' });
  try {
    const store = await JetStreamEventStore.connect(nc, { stream: bus.esStream, subjectPrefix: bus.esPrefix });
    const creds = await CredentialsStore.open(nc, credentialsBucketFromEnv(env));
    if (await readUser(store, DEMO_USERNAME)) await creds.setPasswordHash(DEMO_USERNAME, await hashPassword(password));
    else await createUser(store, creds, { username: DEMO_USERNAME, role: 'admin', password, by: 'bulwark demo' });
    await store.close();
  } finally {
    await nc.drain().catch(() => undefined);
  }
  return { username: DEMO_USERNAME, password };
}

/** One account's part of a demo run: its settings, its summary (the accounting read model) and its decisions and events (the log). */
export interface DemoAccountReport {
  accountId: string;
  /** Risk per trade, % of equity, and leverage, as opened. */
  riskPct: string;
  leverage: number;
  summary: AccountSummary;
  intents: number;
  approvals: number;
  denials: Record<string, number>;
  orders: number;
  fills: number;
  stopsHit: number;
  takeProfitsHit: number;
  forcedCloses: number;
  liquidations: number;
  /** Losing trades in a row: the longest run, and the run at the end (the account aggregate's count). */
  longestLosingStreak: number;
  losingStreakAtEnd: number;
  /** Each month against its monthly drawdown limit. */
  months: MonthLine[];
  /** The worst trade in R (net PnL ÷ the risk amount of its approval). */
  worstTradeR: string;
  /** Breaker and guard events in the order they happened (market time). */
  breakers: BreakerLine[];
  eventsByCategory: Record<string, number>;
  /** Events of this account's streams (its account, signal, order, position, stop, venue, ledger streams). */
  eventsAppended: number;
}

/** The run's tick-to-order latency: execution's `bulwark_tick_to_order_seconds` histogram (a market tick received → its order sent to the venue), p50 and p99 estimated from its buckets. */
export interface TickToOrder {
  orders: number;
  p50Ms: number | null;
  p99Ms: number | null;
}

/** A demo run: its first account's report (the only one unless `accounts`), every account's, and the run's figures. */
export interface DemoReport extends DemoAccountReport {
  /** Every account of the run, in order (one unless `accounts`). */
  accounts: DemoAccountReport[];
  candles: number;
  steps: number;
  firstPosition: number;
  lastPosition: number;
  /** Events the run appended to the log: every account's, the replay's journal, the rules. */
  runEvents: number;
  /** From the replay's start request to its last step, ms (the services' start-up not included). */
  replayMs: number;
  /** runEvents per second of replayMs. */
  eventsPerSecond: number;
  /** null when execution's metrics could not be read. */
  tickToOrder: TickToOrder | null;
  wallMs: number;
  /** Restarts of each service that was restarted during the run (absent when none was). */
  restarts: Partial<Record<string, number>>;
  /** spot-margin runs: the pair's read model (MarginProjection) at the end. */
  margin?: MarginDemoReport;
}

/** What a spot-margin run did, from the one projection library (the backtest's shape). */
export type MarginDemoReport = MarginRunReport;

/** A demo failed for a reason a user can act on. */
export class DemoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoError';
  }
}

/** A request to a running service; its typed refusal becomes a DemoError naming the subject. */
async function request<T>(nc: NatsConnection, subject: string, payload: unknown, timeout = 30_000): Promise<T> {
  try {
    return (await requestJson(nc, subject, payload, timeout)) as T;
  } catch (e) {
    if (e instanceof RefusedError) throw new DemoError(`${subject}: ${e.message}`);
    throw e;
  }
}

/**
 * Change the pace of a demo's running replay (its run id is the account id): `speed` 0 = as fast
 * as the pipeline takes it, N = N× market time, from the next candle on. Wall time only: the run's
 * log is the same at any pace.
 * @returns false when market-data is not running that run
 * @throws DemoError for a refused request (e.g. a negative speed); Error when market-data does not answer within 10 s
 */
export async function paceReplay(bus: Pick<BusConfig, 'natsUrl'>, runId: string, speed: number): Promise<boolean> {
  const nc = await connectNats({ user: 'driver', servers: bus.natsUrl, name: 'bulwark-cli-pace' });
  try {
    return (await request<{ runId: string; paced: boolean }>(nc, Subjects.replayPace, { runId, speed }, 10_000)).paced;
  } finally {
    await nc.close();
  }
}

/** The run's account id: `demo-<UTC yyyymmddhhmmss>-<4 hex>`, so runs never mix. */
export function newAccountId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `demo-${stamp}-${Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0')}`;
}

/** The spot-margin default window when neither a candle file nor a window is given: the three days around the 2024-08-05 crash (a month driven step by step through the venue takes about half an hour). */
export const SPOT_MARGIN_DEFAULT_WINDOW = { from: Date.parse('2024-08-04T00:00:00Z'), to: Date.parse('2024-08-07T00:00:00Z') } as const;

/** The spot-margin demo's default: the recorded BTCUSDT spot month around the 2024-08-05 crash. */
export function defaultSpotMarginCandles(): string {
  return path.join(instrumentFiles(resolveDataDir(), 'binance-spot').klines1m, 'BTCUSDT-1m-2024-07-26_2024-08-25.csv');
}

/** Defaults of the demo: the violent month of November 2025 on Binance USDⓈ-M BTCUSDT. */
export function defaultDemoFiles(): { candles: string; funding: string } {
  const files = instrumentFiles(resolveDataDir());
  return { candles: files.defaultCandles, funding: files.fundingRates };
}

/**
 * Does an event belong to this account's trading log? Stream ids carry the account id, order
 * ids its hash. The replay run's journal (`replay-<runId>`, market-data's checkpoints) is the
 * clock's bookkeeping, not the account's: it is left out.
 */
export function belongsTo(e: RecordedEvent, accountId: string, tag = shortHash(accountId)): boolean {
  if (e.streamId.startsWith('replay-')) return false;
  return e.streamId.includes(accountId) || e.streamId.includes(tag);
}

/** After this long without progress from market-data, the demo says it waits for market-data. */
const MARKET_DATA_QUIET_MS = 3_000;

/** A wait as the progress bar shows it: "waiting for execution since 12 s: no answer to step 1234". */
export function describeWait(w: ClockWait, now = Date.now()): string {
  return `waiting for ${w.service} since ${Math.max(0, Math.round((now - w.since) / 1000))} s: ${w.reason}`;
}

/**
 * Run the main job: start the six services as processes, open a fresh account, attach the
 * strategy, replay the candles through the paper venue, and report from the accounting
 * read model and the event log. Always stops the processes it started.
 */
export async function runDemo(o: DemoOptions): Promise<DemoReport> {
  if (!existsSync(o.candles)) throw new DemoError(`candle file not found: ${o.candles}`);
  const t0 = Date.now();
  let stallLimitMs: number;
  try {
    stallLimitMs = o.stallLimitSeconds !== undefined ? o.stallLimitSeconds * 1000 : clockSettingsFromEnv().stall.stallLimitMs;
  } catch (e) {
    throw new DemoError((e as Error).message);
  }
  if (!(stallLimitMs > 0)) throw new DemoError(`the stall limit must be a positive number of seconds, got ${o.stallLimitSeconds}`);
  // As the `driver` user (docs/security.md). Reconnect for ever: the run waits out a NATS restart like any other stall.
  const nc = await connectNats({ user: 'driver', servers: o.bus.natsUrl, name: 'bulwark-cli' }).catch((e) => {
    throw new DemoError(`${(e as Error).message}; run npm run setup`);
  });
  // Set-up (or the caller, as admin) created the streams; the driver may only read them.
  const store = await JetStreamEventStore.connect(nc, { stream: o.bus.esStream, subjectPrefix: o.bus.esPrefix }).catch(async (e) => {
    await nc.close();
    throw new DemoError((e as Error).message);
  });
  const firstPosition = (await store.lastPosition()) + 1;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NATS_URL: o.bus.natsUrl,
    BULWARK_ES_STREAM: o.bus.esStream,
    BULWARK_ES_PREFIX: o.bus.esPrefix,
    BULWARK_DLQ_STREAM: o.bus.dlqStream,
    BULWARK_DLQ_PREFIX: o.bus.dlqPrefix,
    BULWARK_CONSUMER_SUFFIX: o.bus.consumerSuffix,
    BULWARK_DATA_DIR: resolveDataDir(),
    BULWARK_VENUE: 'paper',
    BULWARK_STALL_LIMIT_SECONDS: String(stallLimitMs / 1000),
    // A service restarted during the run rebuilds from this run's part of the log only: earlier runs are finished business.
    BULWARK_REBUILD_FROM_POSITION: String(firstPosition),
    ...o.serviceEnv,
  };
  const root = projectRoot(__dirname);
  const spotMargin = o.market === 'spot-margin';
  if (spotMargin && o.venue !== undefined && o.venue !== 'paper') throw new DemoError(`--market spot-margin runs on the local spot-margin venue; --venue ${o.venue} is a futures venue`);
  if (spotMargin && o.accounts !== undefined) throw new DemoError('--market spot-margin trades one account: leave --accounts out');
  const members = demoMembers(o);
  const marginVenue = spotMargin ? await startMarginVenue(o, env) : null;
  const set = o.accounts === undefined ? undefined : { accountIds: members.map((m) => m.accountId), dir: path.join(root, 'var', 'accounts', o.accountId) };
  const local = o.venue === 'binance-local' || o.venue === 'bitget-local' ? await startLocalVenue({ root, env, logDir: o.logDir, accountId: o.accountId, venue: o.venue, accountSet: set }) : null;
  if (local) {
    // An account set's keys are in its accounts file: single-account keys of the caller's shell would be refused beside it.
    if (set) for (const name of SINGLE_ACCOUNT_ENV) delete env[name];
    Object.assign(env, local.executionEnv);
  }
  const services = await startServices({ root, nc, env, logDir: o.logDir, restart: o.restart, onEvent: o.onServiceEvent, instances: o.standby ? 2 : 1 }).catch(async (e) => {
    await local?.stop();
    await marginVenue?.close();
    throw e;
  });
  let gateway: RunningGateway | null = null;
  if (o.gateway) {
    try {
      const login = await makeDemoLogin(o.bus, env);
      gateway = await startGateway({ root, env, logDir: o.logDir, port: o.gateway.port }).catch((e: unknown) => {
        if (!(e instanceof GatewayPortInUseError && o.gateway?.anyPortIfTaken)) throw e;
        return startGateway({ root, env, logDir: o.logDir, port: 0 });
      });
      o.gateway.onReady?.({ url: gateway.url, ...login, logFile: gateway.logFile });
    } catch (e) {
      await services.stop();
      await local?.stop();
      await marginVenue?.close();
      // The run never started: its driver connection goes too (else it keeps the caller's process alive).
      await nc.drain().catch(() => undefined);
      throw e instanceof ServiceStartError || e instanceof UserStoreError ? new DemoError(e.message) : e;
    }
  }
  let finished = false;
  // A run that did not finish is cancelled, so a later market-data does not resume it.
  const cancelRun = (reason: string) => (finished ? Promise.resolve() : request(nc, Subjects.replayCancel, { runId: o.accountId, reason }, 3_000).then(() => undefined, () => undefined));
  const stopAll = async () => {
    await gateway?.stop();
    await services.stop();
    await local?.stop();
    await marginVenue?.close();
  };
  const exitCodes: Partial<Record<NodeJS.Signals, number>> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  const onSignal = (signal: NodeJS.Signals) => void cancelRun(`the demo was interrupted (${signal})`).then(stopAll).then(() => process.exit(exitCodes[signal] ?? 1));
  for (const sig of Object.keys(exitCodes)) process.once(sig, onSignal);
  let watchdog: NodeJS.Timeout | null = null;
  let sub: Subscription | null = null;
  try {
    // Runs left unfinished in this log by an earlier demo are nobody's any more: never resume them.
    for (const r of await unfinishedReplays(store)) {
      await request(nc, Subjects.replayCancel, { runId: r.request.runId, reason: `a new demo (${o.accountId}) started` }, 5_000).catch(() => undefined);
    }
    await o.onServicesReady?.(nc, services);
    const venue: VenueId = spotMargin ? 'binance-margin' : o.venue === 'bitget-local' ? 'bitget-usdtm' : 'binance-usdm';
    const symbol = 'BTCUSDT';
    for (const m of members) {
      const open: OpenAccountRequest = {
        accountId: m.accountId, venue, symbol, capital: o.capital, leverage: m.leverage,
        riskFraction: dec(m.riskPct).div(100).toFixed(),
        highLeverageConfirmed: o.confirmHighLeverage,
        venueBalance: o.paperBalance ?? o.capital,
        ...(o.protection ? { protection: o.protection } : {}),
        ...o.policy,
        ...(o.from !== null ? { at: o.from } : {}),
      };
      await request(nc, Subjects.openAccount, open);
      // Spot margin: the capital waits in the spot wallet; it goes into the pair's isolated account first.
      if (spotMargin) await request(nc, Subjects.margin('transfer'), { accountId: m.accountId, symbol, asset: 'USDT', amount: o.capital, direction: 'TO_MARGIN', by: 'demo' });
      await request(nc, Subjects.attachStrategy, { accountId: m.accountId, venue, symbol, strategy: 'donchian-atr', params: {}, ...o.entry, ...(o.from !== null ? { at: o.from } : {}) });
    }
    let lastHeard = Date.now();
    let clockWait: ClockWait | null = null;
    let shown: ClockWait | null = null;
    const progress = nc.subscribe(Subjects.replayProgress(o.accountId));
    sub = progress;
    const done = new Promise<ReplayProgress>((resolve, reject) => {
      // What the run waits for: the clock's own wait, or market-data when it went quiet (restarting).
      const tick = () => {
        const now = Date.now();
        const w = clockWait ?? (now - lastHeard > MARKET_DATA_QUIET_MS ? { service: 'market-data', since: lastHeard, reason: 'no progress from market-data (down or restarting?)' } : null);
        if (w || shown) o.onWait?.(w);
        shown = w;
        if (w && now - w.since > stallLimitMs + (w.service === 'market-data' ? 0 : 30_000)) {
          reject(new DemoError(`gave up: ${describeWait(w, now)} (stall limit ${stallLimitMs / 1000} s: --stall-limit or BULWARK_STALL_LIMIT_SECONDS; service logs in ${o.logDir})`));
        }
      };
      watchdog = setInterval(tick, 1_000);
      void (async () => {
        for await (const m of progress) {
          const p = ReplayProgress.safeParse(json.decode(m.data));
          if (!p.success) continue;
          lastHeard = Date.now();
          clockWait = p.data.waitingFor ?? null;
          o.onProgress?.(p.data);
          if (p.data.done) {
            resolve(p.data);
            return;
          }
        }
      })();
    });
    const start: ReplayStartRequest = {
      runId: o.accountId, venue, symbol, candlesFile: path.resolve(o.candles), fundingFile: o.funding && !spotMargin ? path.resolve(o.funding) : null,
      speed: o.speed, from: o.from, to: o.to, schedule: o.schedule ?? [],
    };
    const replayT0 = Date.now();
    const started = await request<{ total: number }>(nc, Subjects.replayStart, start);
    o.onStart?.(started.total);
    const end = await done;
    const replayMs = Date.now() - replayT0;
    finished = true;
    if (end.error) throw new DemoError(`replay failed: ${end.error} (service logs in ${o.logDir})`);
    const tickToOrder = await tickToOrderOf(services);
    const fromLog = await reportsFromLog(store, members.map((m) => m.accountId), firstPosition);
    const accounts: DemoAccountReport[] = [];
    for (const m of members) {
      const summary = AccountSummary.parse(await request(nc, Subjects.summary, { accountId: m.accountId }));
      accounts.push({ ...fromLog.accounts.get(m.accountId)!, ...m, summary });
    }
    const restarts = Object.fromEntries(Object.entries(services.restarts()).filter(([, n]) => n > 0));
    const result: DemoReport = {
      ...accounts[0], accounts, candles: end.candles, steps: end.ticks, firstPosition, lastPosition: fromLog.lastPosition, runEvents: fromLog.runEvents,
      replayMs, eventsPerSecond: replayMs > 0 ? Math.round((fromLog.runEvents * 1000) / replayMs) : fromLog.runEvents, tickToOrder, wallMs: Date.now() - t0, restarts,
    };
    if (spotMargin) result.margin = await marginReport(store, o.accountId, symbol, firstPosition);
    if (o.gateway?.afterRun) {
      // The caller keeps the dashboard open: its own Ctrl-C handling, not the run's (the run is over).
      for (const sig of Object.keys(exitCodes)) process.removeListener(sig, onSignal);
      await o.gateway.afterRun(result);
    }
    return result;
  } finally {
    if (watchdog) clearInterval(watchdog);
    sub?.unsubscribe();
    for (const sig of Object.keys(exitCodes)) process.removeListener(sig, onSignal);
    await cancelRun('the demo stopped before the run ended');
    await stopAll();
    await nc.drain().catch(() => undefined);
  }
}

/**
 * The local spot-margin venue for a spot-margin run, in this process: the pair's recorded rules,
 * priced by the run's candle file from the run's first candle, the capital in the account's spot
 * wallet; the services reach it through ccxt with keys made for the run, and the replay clock
 * drives it (BULWARK_MARGIN_DRIVEN). Adds the services' environment to `env`.
 */
async function startMarginVenue(o: DemoOptions, env: NodeJS.ProcessEnv): Promise<BinanceMarginLocal> {
  let first: number | null = null;
  for await (const c of readCandles(o.candles)) {
    if (o.from === null || c.openTime >= o.from) {
      first = c.openTime;
      break;
    }
  }
  if (first === null) throw new DemoError(`no candle in ${o.candles} from ${o.from === null ? 'its start' : new Date(o.from).toISOString()}`);
  const apiKey = `demo-${randomBytes(16).toString('hex')}`;
  const apiSecret = randomBytes(32).toString('hex');
  // Loaded only for a spot-margin demo: the local venue is not part of the CLI's start-up.
  const { startBinanceMarginLocal } = await import('@bulwark/binance-local');
  const venue = await startBinanceMarginLocal({
    port: 0, host: '127.0.0.1', accounts: [{ accountId: o.accountId, apiKey, apiSecret, spot: { USDT: o.capital } }], pair: loadMarginPair('BTCUSDT'), candlesFile: path.resolve(o.candles), startTime: first,
    // The replay walks a month in minutes: Binance's per-minute request weights would throttle the clock, not the trader.
    limits: { weightPerMinute: 10_000_000, ordersPer10s: 100_000, ordersPerMinute: 1_000_000 },
  });
  Object.assign(env, {
    BULWARK_MARGIN_VENUE: 'binance-margin-local', BULWARK_MARGIN_ACCOUNT_ID: o.accountId, BINANCE_MARGIN_API_KEY: apiKey, BINANCE_MARGIN_API_SECRET: apiSecret,
    BULWARK_MARGIN_REST: venue.url, BULWARK_MARGIN_WS: venue.wsUrl, BULWARK_MARGIN_DRIVEN: 'yes', BULWARK_MARGIN_LEVERAGE: String(Math.min(o.leverage, 10)),
    BULWARK_MARGIN_RISK_FRACTION: dec(o.riskPct).div(100).toFixed(),
  });
  return venue;
}

/** A spot-margin run's pair and positions from the log, folded by the projection library. */
export async function marginReport(store: JetStreamEventStore, accountId: string, symbol: string, fromPosition: number): Promise<MarginDemoReport> {
  const events: RecordedEvent[] = [];
  for await (const e of store.readAll({ fromPosition, categories: ['margin'] })) events.push(e);
  return marginRunReport(events, accountId, symbol);
}

/**
 * The accounts of a run: one account (`accountId` with `riskPct` and `leverage`), or the set of
 * `accounts` (see DemoOptions.accounts).
 * @throws DemoError for a set size outside 1..10
 */
function demoMembers(o: Pick<DemoOptions, 'accountId' | 'accounts' | 'riskPct' | 'leverage'>): AccountSetMember[] {
  if (o.accounts === undefined) return [{ accountId: o.accountId, riskPct: o.riskPct, leverage: o.leverage }];
  try {
    return accountSet(o.accountId, o.accounts);
  } catch (e) {
    throw new DemoError(`--accounts: ${(e as Error).message}`);
  }
}

/**
 * The tick-to-order latency execution measured during the run, read from its `/metrics` before
 * the processes stop (bulwark_tick_to_order_seconds); null when its telemetry cannot be read.
 */
async function tickToOrderOf(services: RunningServices): Promise<TickToOrder | null> {
  const t = services.telemetry().execution;
  if (!t) return null;
  try {
    const res = await fetch(`http://${t.host}:${t.port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return null;
    const { count, quantiles } = histogramQuantiles(await res.text(), 'bulwark_tick_to_order_seconds', [0.5, 0.99]);
    const ms = (q: number | null) => (q === null ? null : Math.round(q * 10_000) / 10);
    return { orders: count, p50Ms: ms(quantiles[0]), p99Ms: ms(quantiles[1]) };
  } catch {
    return null;
  }
}

/** One account's decisions and events, counted from the log. */
type AccountLogReport = Omit<DemoAccountReport, 'accountId' | 'riskPct' | 'leverage' | 'summary'>;

/**
 * Count each account's decisions and events in the log from `fromPosition` (reading never
 * changes it), in one pass: an event is an account's when its stream is (order streams by their
 * OrderInitialized; the replay's journal and the rules are nobody's).
 * @returns per account its report, the log's last position and the events of the run
 */
export async function reportsFromLog(store: JetStreamEventStore, accountIds: readonly string[], fromPosition: number): Promise<{ accounts: Map<string, AccountLogReport>; lastPosition: number; runEvents: number }> {
  const owners = new StreamAccounts();
  const ours = new Map<string, RecordedEvent[]>(accountIds.map((id) => [id, []]));
  let lastPosition = fromPosition - 1;
  let runEvents = 0;
  for await (const e of store.readAll({ fromPosition })) {
    lastPosition = e.position;
    runEvents++;
    const owner = owners.of(e);
    if (owner !== null) ours.get(owner)?.push(e);
  }
  return { accounts: new Map(accountIds.map((id) => [id, accountLogReport(id, ours.get(id)!)])), lastPosition, runEvents };
}

/** One account's report from its events (in log order). */
function accountLogReport(accountId: string, events: readonly RecordedEvent[]): AccountLogReport {
  const denials: Record<string, number> = {};
  const eventsByCategory: Record<string, number> = {};
  let intents = 0, approvals = 0, orders = 0, fills = 0, stopsHit = 0, takeProfitsHit = 0, forcedCloses = 0, liquidations = 0;
  const breakers: BreakerLine[] = [];
  for (const e of events) {
    const cat = streamCategory(e.streamId);
    const breaker = describeBreaker(e);
    if (breaker && breaker.type !== 'ForcedClose') breakers.push(breaker); // forced closes are counted on their own line
    eventsByCategory[cat] = (eventsByCategory[cat] ?? 0) + 1;
    switch (e.type) {
      case 'IntentEmitted': intents++; break;
      case 'EntryApproved': approvals++; break;
      case 'EntryDenied': {
        const r = (e.data as { reason: string }).reason;
        denials[r] = (denials[r] ?? 0) + 1;
        break;
      }
      case 'OrderInitialized': orders++; break;
      case 'OrderFilled': fills++; break;
      case 'StopTriggered': {
        const kind = (e.data as { kind: string }).kind;
        if (kind === 'STOP_LOSS') stopsHit++;
        else if (kind === 'TAKE_PROFIT') takeProfitsHit++;
        else forcedCloses++;
        break;
      }
      case 'PositionLiquidated': liquidations++; break;
    }
  }
  // The account aggregate's own fold gives its losing streaks; its stream, the months.
  const accountEvents = events.filter((e) => e.streamId === Streams.account(accountId));
  const account = accountEvents.reduce((st, e) => accountEvolve(st, e as never), accountInitialState());
  return {
    intents, approvals, denials, orders, fills, stopsHit, takeProfitsHit, forcedCloses, liquidations, breakers, eventsByCategory, eventsAppended: events.length,
    longestLosingStreak: account.longestLosingStreak, losingStreakAtEnd: account.losingStreak, months: monthLines(accountEvents), worstTradeR: worstR(tradesFromLog(events)),
  };
}
