import { existsSync } from 'node:fs';
import * as path from 'node:path';
import {
  AccountSummary,
  type OpenAccountRequest,
  type RecordedEvent,
  ReplayProgress,
  type ReplayStartRequest,
  Subjects,
  streamCategory,
} from '@bulwark/contracts';
import { type BreakerLine, describeBreaker } from '@bulwark/application';
import { dec, shortHash } from '@bulwark/domain';
import { JetStreamEventStore } from '@bulwark/event-store';
import { instrumentFiles, projectRoot, resolveDataDir } from '@bulwark/market-data';
import { type BusConfig, RefusedError, requestJson } from '@bulwark/messaging';
import { connect, JSONCodec, type NatsConnection } from 'nats';
import { startLocalVenue, startServices } from './processes';

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
  policy?: Partial<Pick<OpenAccountRequest, 'leverageCap' | 'maxTradesPerDay' | 'dailyLossLimitFraction' | 'dailyProfitTargetFraction' | 'maxMonthlyDrawdownFraction'>>;
  /** Operator commands sent at a market time during the replay (e.g. a resume after a pause). */
  schedule?: ReplayStartRequest['schedule'];
  from: number | null;
  to: number | null;
  accountId: string;
  bus: BusConfig;
  logDir: string;
  onStart?: (total: number) => void;
  /** Called once the services answer, before the account is opened (tests inject faults here). */
  onServicesReady?: (nc: NatsConnection) => Promise<void>;
  onProgress?: (p: ReplayProgress) => void;
  /** paper (default): the in-process paper venue; binance-local: `bulwark venue serve` through ccxt. */
  venue?: 'paper' | 'binance-local';
  /** Where the protective stops live (default INTERNAL). */
  protection?: 'INTERNAL' | 'EXCHANGE' | 'BOTH';
}

export interface DemoReport {
  accountId: string;
  summary: AccountSummary;
  candles: number;
  steps: number;
  intents: number;
  approvals: number;
  denials: Record<string, number>;
  orders: number;
  fills: number;
  stopsHit: number;
  takeProfitsHit: number;
  forcedCloses: number;
  liquidations: number;
  /** Breaker and guard events in the order they happened (market time). */
  breakers: BreakerLine[];
  eventsByCategory: Record<string, number>;
  eventsAppended: number;
  firstPosition: number;
  lastPosition: number;
  wallMs: number;
}

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

/** The run's account id: `demo-<UTC yyyymmddhhmmss>-<4 hex>`, so runs never mix. */
export function newAccountId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `demo-${stamp}-${Math.floor(Math.random() * 0xffff).toString(16).padStart(4, '0')}`;
}

/** Defaults of the demo: the violent month of November 2025 on Binance USDⓈ-M BTCUSDT. */
export function defaultDemoFiles(): { candles: string; funding: string } {
  const files = instrumentFiles(resolveDataDir());
  return { candles: files.defaultCandles, funding: files.fundingRates };
}

/** Does an event belong to this account? Stream ids carry the account id, order ids its hash. */
export function belongsTo(e: RecordedEvent, accountId: string, tag = shortHash(accountId)): boolean {
  return e.streamId.includes(accountId) || e.streamId.includes(tag);
}

/**
 * Run the main job: start the six services as processes, open a fresh account, attach the
 * strategy, replay the candles through the paper venue, and report from the accounting
 * read model and the event log. Always stops the processes it started.
 */
export async function runDemo(o: DemoOptions): Promise<DemoReport> {
  if (!existsSync(o.candles)) throw new DemoError(`candle file not found: ${o.candles}`);
  const t0 = Date.now();
  const nc = await connect({ servers: o.bus.natsUrl, name: 'bulwark-cli' }).catch((e) => {
    throw new DemoError(`cannot reach NATS at ${o.bus.natsUrl} (${String(e)}); run scripts/ensure-nats.sh`);
  });
  const store = await JetStreamEventStore.connect(nc, { stream: o.bus.esStream, subjectPrefix: o.bus.esPrefix });
  const firstPosition = (await store.lastPosition()) + 1;
  const env = {
    ...process.env,
    NATS_URL: o.bus.natsUrl,
    BULWARK_ES_STREAM: o.bus.esStream,
    BULWARK_ES_PREFIX: o.bus.esPrefix,
    BULWARK_DLQ_STREAM: o.bus.dlqStream,
    BULWARK_DLQ_PREFIX: o.bus.dlqPrefix,
    BULWARK_CONSUMER_SUFFIX: o.bus.consumerSuffix,
    BULWARK_DATA_DIR: resolveDataDir(),
    BULWARK_VENUE: 'paper',
  };
  const root = projectRoot(__dirname);
  const local = o.venue === 'binance-local' ? await startLocalVenue({ root, env, logDir: o.logDir, accountId: o.accountId }) : null;
  if (local) {
    Object.assign(env, {
      BULWARK_VENUE: 'binance-local', BULWARK_ACCOUNT_ID: o.accountId, BULWARK_VENUE_REST: local.restBase, BULWARK_VENUE_WS: local.wsBase,
      BINANCE_API_KEY: local.apiKey, BINANCE_API_SECRET: local.apiSecret,
    });
  }
  const services = await startServices({ root, nc, env, logDir: o.logDir }).catch(async (e) => {
    await local?.stop();
    throw e;
  });
  const stopAll = async () => {
    await services.stop();
    await local?.stop();
  };
  const onSignal = () => void stopAll().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  try {
    await o.onServicesReady?.(nc);
    const venue = 'binance-usdm' as const;
    const symbol = 'BTCUSDT';
    const open: OpenAccountRequest = {
      accountId: o.accountId, venue, symbol, capital: o.capital, leverage: o.leverage,
      riskFraction: dec(o.riskPct).div(100).toFixed(),
      highLeverageConfirmed: o.confirmHighLeverage,
      venueBalance: o.paperBalance ?? o.capital,
      ...(o.protection ? { protection: o.protection } : {}),
      ...o.policy,
      ...(o.from !== null ? { at: o.from } : {}),
    };
    await request(nc, Subjects.openAccount, open);
    await request(nc, Subjects.attachStrategy, { accountId: o.accountId, venue, symbol, strategy: 'donchian-atr', params: {}, ...(o.from !== null ? { at: o.from } : {}) });
    const done = new Promise<ReplayProgress>((resolve) => {
      const sub = nc.subscribe(Subjects.replayProgress(o.accountId));
      void (async () => {
        for await (const m of sub) {
          const p = ReplayProgress.safeParse(json.decode(m.data));
          if (!p.success) continue;
          o.onProgress?.(p.data);
          if (p.data.done) {
            sub.unsubscribe();
            resolve(p.data);
          }
        }
      })();
    });
    const start: ReplayStartRequest = {
      runId: o.accountId, venue, symbol, candlesFile: path.resolve(o.candles), fundingFile: o.funding ? path.resolve(o.funding) : null,
      speed: o.speed, from: o.from, to: o.to, schedule: o.schedule ?? [],
    };
    const started = await request<{ total: number }>(nc, Subjects.replayStart, start);
    o.onStart?.(started.total);
    const end = await done;
    if (end.error) throw new DemoError(`replay failed: ${end.error} (service logs in ${o.logDir})`);
    const summary = AccountSummary.parse(await request(nc, Subjects.summary, { accountId: o.accountId }));
    const report = await reportFromLog(store, o.accountId, firstPosition);
    return { ...report, accountId: o.accountId, summary, candles: end.candles, steps: end.ticks, firstPosition, wallMs: Date.now() - t0 };
  } finally {
    process.removeListener('SIGINT', onSignal);
    await stopAll();
    await nc.drain().catch(() => undefined);
  }
}

/** Count this account's decisions and events in the log (reading never changes it). */
export async function reportFromLog(store: JetStreamEventStore, accountId: string, fromPosition: number) {
  const tag = shortHash(accountId);
  const denials: Record<string, number> = {};
  const eventsByCategory: Record<string, number> = {};
  let intents = 0, approvals = 0, orders = 0, fills = 0, stopsHit = 0, takeProfitsHit = 0, forcedCloses = 0, liquidations = 0, appended = 0;
  const breakers: BreakerLine[] = [];
  let lastPosition = fromPosition - 1;
  for await (const e of store.readAll({ fromPosition })) {
    lastPosition = e.position;
    if (!belongsTo(e, accountId, tag)) continue;
    appended++;
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
  return { intents, approvals, denials, orders, fills, stopsHit, takeProfitsHit, forcedCloses, liquidations, breakers, eventsByCategory, eventsAppended: appended, lastPosition };
}
