import { type RecordedEvent, Streams, Subjects, streamCategory } from '@bulwark/contracts';
import { dec, shortHash } from '@bulwark/domain';
import { type EventStore, InMemoryEventStore } from '@bulwark/event-store';
import { loadMarginPair, readCandles } from '@bulwark/market-data';
import { type MarginPairView, type MarginPositionView, rebuildMarginReadModels } from '@bulwark/projections';
import { DEFAULT_DONCHIAN_ATR, type DonchianAtrParams } from '@bulwark/strategies';
import { type AccountPolicy, type BreakerLine, describeBreaker } from '../backtest';
import { InProcessSystem } from '../in-process';
import { replayCandles, type ReplayCounters } from '../replay';
import type { MarginExecutionOptions } from './margin-execution';
import { PaperMarginPort } from './paper-margin-port';

/** What to backtest on Binance spot isolated margin (the demo's `--market spot-margin`, in one process). */
export interface SpotMarginBacktestConfig {
  accountId: string;
  /** The isolated pair, Binance id (default BTCUSDT; its rules from the recorded files, loadMarginPair). */
  symbol?: string;
  /** Spot 1m candle CSV (e.g. the demo's defaultSpotMarginCandles()). */
  candles: string;
  /** USDT deposited in the spot wallet and moved into the pair's isolated account before the first candle. */
  capital: string;
  /** The account's leverage; the desk borrows up to min(leverage, 10), as the demo sets BULWARK_MARGIN_LEVERAGE. */
  leverage: number;
  /** Risk per trade in percent of the isolated equity, e.g. "1". */
  riskPct: string;
  confirmHighLeverage?: boolean;
  /** Most of the equity one entry may commit as its own margin, a fraction (default "0.5", as BULWARK_MARGIN_MAX_MARGIN_FRACTION). */
  maxMarginFraction?: string;
  policy?: AccountPolicy;
  strategy?: Partial<DonchianAtrParams>;
  /** Window [from, to), epoch ms; null: the whole file. */
  from?: number | null;
  to?: number | null;
  /** Store to write the log to (a fresh in-memory store by default). */
  store?: EventStore;
  /** Execution's spot-margin log lines (default: none). */
  log?: MarginExecutionOptions['log'];
}

/** A spot-margin run's pair and positions, folded by the projection library (the demo's MarginDemoReport). */
export interface MarginRunReport {
  symbol: string;
  positions: MarginPositionView[];
  pair: MarginPairView | null;
  /** Margin-level alerts and reductions in log order (`bar direction (level)`, `reduction at level`). */
  guard: string[];
  liquidations: number;
}

/** What a spot-margin backtest did. */
export interface SpotMarginBacktestResult {
  accountId: string;
  margin: MarginRunReport;
  candles: number;
  /** Path steps replayed (4 a candle). */
  steps: number;
  /** The strategy's intents (IntentEmitted), each assessed by risk. */
  intents: number;
  /** Breaker and guard events of the account, market time (forced closes are not among them). */
  breakers: BreakerLine[];
  /** Events of this account appended by the run, per stream category. */
  eventsAppended: number;
  eventsByCategory: Record<string, number>;
  /** The run's positions in the store. */
  firstPosition: number;
  lastPosition: number;
  wallMs: number;
  store: EventStore;
}

/**
 * The pair's read model and guard lines from its `margin-<accountId>-<symbol>` events.
 * @param events the pair's events in log order (others are ignored)
 */
export function marginRunReport(events: readonly RecordedEvent[], accountId: string, symbol: string): MarginRunReport {
  const own = events.filter((e) => e.streamId === Streams.margin(accountId, symbol));
  const models = rebuildMarginReadModels(own);
  const guard = own
    .filter((e) => e.type === 'MarginLevelAlert' || e.type === 'MarginCallReductionTriggered')
    .map((e) => {
      const d = e.data as { bar?: string; direction?: string; marginLevel: string | null };
      const level = d.marginLevel === null ? 'nothing owed' : dec(d.marginLevel).toDecimalPlaces(4).toFixed();
      return e.type === 'MarginLevelAlert' ? `${d.bar} ${d.direction} (${level})` : `reduction at ${level}`;
    });
  const positions = models.positions.filter((p) => p.accountId === accountId);
  return { symbol, positions, pair: models.pairs.find((p) => p.accountId === accountId && p.symbol === symbol) ?? null, guard, liquidations: positions.filter((p) => p.status === 'LIQUIDATED').length };
}

/**
 * Backtest Binance spot isolated margin in one process through the code the distributed
 * services run (`npm run demo -- --market spot-margin`): the services over an in-memory store
 * (InProcessSystem) with execution's MarginExecution on a PaperMarginPort, the account opened on
 * venue `binance-margin`, the capital deposited in the spot wallet and moved into the pair's
 * isolated account, donchian-atr attached, and the candles replayed through the replay clock
 * (no funding: spot has none). Each step walks the port's engine, then the margin watch looks
 * once, as the demo's local venue is driven. The same candles give the same positions as the demo.
 * @throws Error when the window holds no candle; the services' refusals (ReplayClockError) of the
 *   account, the transfer (MarginCommandError) or the strategy
 */
export async function runSpotMarginBacktest(cfg: SpotMarginBacktestConfig, onProgress?: (c: ReplayCounters) => void): Promise<SpotMarginBacktestResult> {
  const t0 = Date.now();
  const symbol = cfg.symbol ?? 'BTCUSDT';
  const venue = 'binance-margin' as const;
  const from = cfg.from ?? null;
  const to = cfg.to ?? null;
  let first: number | null = null;
  for await (const c of readCandles(cfg.candles)) {
    if ((from === null || c.openTime >= from) && (to === null || c.openTime < to)) {
      first = c.openTime;
      break;
    }
  }
  if (first === null) throw new Error(`no candle in ${cfg.candles} in the window ${from === null ? 'start' : new Date(from).toISOString()} – ${to === null ? 'end' : new Date(to).toISOString()}`);
  const at = from ?? first;
  const store = cfg.store ?? new InMemoryEventStore();
  const firstPosition = (await store.lastPosition()) + 1;

  // The capital waits in the spot wallet, as the demo's local venue starts the account.
  const port = new PaperMarginPort({ accountId: cfg.accountId, rules: [loadMarginPair(symbol).rules] });
  port.deposit('USDT', dec(cfg.capital));
  const riskFraction = dec(cfg.riskPct).div(100);
  const sys = await InProcessSystem.create(store, undefined, undefined, {
    accountId: cfg.accountId, symbols: [symbol], venue: port, log: cfg.log,
    risk: { leverage: Math.min(cfg.leverage, 10), riskFraction, maxMarginFraction: dec(cfg.maxMarginFraction ?? '0.5') },
  });
  try {
    await sys.command(Subjects.openAccount, {
      accountId: cfg.accountId, venue, symbol, capital: cfg.capital, leverage: cfg.leverage, riskFraction: riskFraction.toFixed(),
      highLeverageConfirmed: cfg.confirmHighLeverage ?? false, venueBalance: cfg.capital, at, ...cfg.policy,
    });
    await sys.margin!.transfer({ accountId: cfg.accountId, symbol, asset: 'USDT', amount: cfg.capital, direction: 'TO_MARGIN', by: 'backtest' });
    await sys.drain();
    await sys.command(Subjects.attachStrategy, { accountId: cfg.accountId, venue, symbol, strategy: 'donchian-atr', params: { ...DEFAULT_DONCHIAN_ATR, ...cfg.strategy }, at });
    const counters = await replayCandles(sys.clock(), { runId: cfg.accountId, venue, symbol, candlesFile: cfg.candles, from, to, schedule: [] }, [], {
      onCandle: (_c, c) => onProgress?.(c),
    });

    const tag = shortHash(cfg.accountId);
    const ours: RecordedEvent[] = [];
    let lastPosition = firstPosition - 1;
    for await (const e of store.readAll({ fromPosition: firstPosition })) {
      lastPosition = e.position;
      // The account's trading log: stream ids carry the account id, order ids its hash; the replay journal is the clock's.
      if (!e.streamId.startsWith('replay-') && (e.streamId.includes(cfg.accountId) || e.streamId.includes(tag))) ours.push(e);
    }
    const eventsByCategory: Record<string, number> = {};
    const breakers: BreakerLine[] = [];
    let intents = 0;
    for (const e of ours) {
      const cat = streamCategory(e.streamId);
      eventsByCategory[cat] = (eventsByCategory[cat] ?? 0) + 1;
      if (e.type === 'IntentEmitted') intents++;
      const b = describeBreaker(e);
      if (b && b.type !== 'ForcedClose') breakers.push(b);
    }
    return {
      accountId: cfg.accountId, margin: marginRunReport(ours, cfg.accountId, symbol), candles: counters.candles, steps: counters.steps, intents, breakers,
      eventsAppended: ours.length, eventsByCategory, firstPosition, lastPosition, wallMs: Date.now() - t0, store,
    };
  } finally {
    await sys.margin?.stop();
  }
}
