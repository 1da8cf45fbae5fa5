import { type AccountSummary, type AttachStrategyRequest, type Candle, type EventData, type OpenAccountRequest, type RecordedEvent, type ReplayStartRequest, Streams, Subjects, type VenueId } from '@bulwark/contracts';
import { accountEvolve, accountInitialState, type D, dec, shortHash, str, ZERO } from '@bulwark/domain';
import { type EventStore, InMemoryEventStore } from '@bulwark/event-store';
import { type FundingRate, readCandleBatches, readFundingRates } from '@bulwark/market-data';
import { DEFAULT_DONCHIAN_ATR, type DonchianAtrParams } from '@bulwark/strategies';
import { InProcessSystem } from './in-process';
import { replayCandles, type ReplayCounters } from './replay';
import { paperVenueFactory, type VenueFactory } from './venue-factory';

/** What to backtest: data, money, leverage, risk, the strategy's parameters, the window. */
/** The risk policy a run may override (OpenAccountRequest's policy fields). */
export type AccountPolicy = Partial<
  Pick<OpenAccountRequest, 'leverageCap' | 'maxTradesPerDay' | 'dailyLossLimitFraction' | 'dailyProfitTargetFraction' | 'maxMonthlyDrawdownFraction' | 'maxFeeRiskFraction' | 'maxLifetimeDrawdownFraction' | 'losingStreakPause'>
>;

export interface BacktestConfig {
  accountId: string;
  venue?: VenueId;
  symbol?: string;
  candles: string;
  funding: string | null;
  capital: string;
  leverage: number;
  /** Risk per trade in percent of equity, e.g. "1". */
  riskPct: string;
  confirmHighLeverage: boolean;
  /** Risk policy overrides (fractions, as `bulwark account open` sends them); omitted: the policy's defaults (docs/risk.md). */
  policy?: AccountPolicy;
  strategy?: Partial<DonchianAtrParams>;
  /** How the strategy's entries go to the venue (default MARKET) and a resting entry's life in bars. */
  entry?: Pick<AttachStrategyRequest, 'entryType' | 'expiresAfterBars' | 'split'>;
  from?: number | null;
  to?: number | null;
  schedule?: ReplayStartRequest['schedule'];
  /** Store to write the log to (a fresh in-memory store by default). */
  store?: EventStore;
  /** Execution's venue (default: the paper venue, or what the environment names). */
  venueFactory?: VenueFactory;
}

/** A hole in the data: bars missing between two bars, or bars that are flat with zero volume (filled holes). */
export interface DataGap {
  kind: 'MISSING_BARS' | 'FLAT_ZERO_VOLUME';
  from: number;
  to: number;
  bars: number;
}

/** One closed position of the backtest. */
export interface TradeResult {
  positionStreamId: string;
  side: string;
  openedAt: number;
  closedAt: number;
  netPnl: string;
  riskAmount: string;
  /** Net PnL in multiples of the risk taken (R). */
  r: string;
  closedBy: string;
}

export interface BacktestStats {
  trades: number;
  wins: number;
  winRate: string;
  averageR: string;
  realisedPnl: string;
  fees: string;
  funding: string;
  netPnl: string;
  maxDrawdown: string;
  maxDrawdownFraction: string;
  /** Annualised Sharpe ratio of daily equity returns (√365, no risk-free rate). */
  sharpe: string;
  /** Share of candles with a position open. */
  exposure: string;
  liquidations: number;
  finalEquity: string;
  /** Losing trades in a row: the longest run and the run at the end (the account aggregate's own count). */
  longestLosingStreak: number;
  losingStreakAtEnd: number;
  /** The worst trade in R (net PnL ÷ its risk amount), "0" without trades. */
  worstTradeR: string;
}

export interface BacktestResult {
  config: Omit<BacktestConfig, 'store'>;
  interval: number;
  counters: ReplayCounters;
  summary: AccountSummary;
  stats: BacktestStats;
  trades: TradeResult[];
  /** Equity after each candle close where it changed (epoch ms, USDT string), plus the first and last. */
  equityCurve: Array<{ t: number; equity: string }>;
  breakers: BreakerLine[];
  /** Each month against its monthly drawdown limit ({@link monthLines}). */
  months: MonthLine[];
  gaps: DataGap[];
  decisions: { intents: number; approvals: number; denials: Record<string, number> };
  eventsAppended: number;
  wallMs: number;
  candlesPerSecond: number;
  store: EventStore;
}

/**
 * The gaps of a candle series fed in order, one candle at a time: missing bars (a step larger
 * than the series' interval, the step between its first two bars) and runs of flat zero-volume
 * bars (how some tools fill holes). Reported, never bridged. {@link findGaps} scans a file with
 * it; the backtest feeds it the candles it replays (one read of the file instead of two).
 */
export class GapScan {
  readonly gaps: DataGap[] = [];
  /** Open time of the first candle (epoch ms), null before it. */
  first: number | null = null;
  count = 0;
  private prev: number | null = null;
  private step = 0;
  private flat: DataGap | null = null;

  add(c: Candle): void {
    this.count++;
    this.first ??= c.openTime;
    if (this.prev !== null) {
      const step = c.openTime - this.prev;
      if (this.step === 0) this.step = step;
      if (step > this.step) this.gaps.push({ kind: 'MISSING_BARS', from: this.prev + this.step, to: c.openTime, bars: step / this.step - 1 });
    }
    const isFlat = c.open === c.high && c.high === c.low && c.low === c.close && dec(c.volume).isZero();
    if (isFlat) {
      if (this.flat && this.flat.to === c.openTime) {
        this.flat.to = c.openTime + this.interval;
        this.flat.bars++;
      } else {
        this.flat = { kind: 'FLAT_ZERO_VOLUME', from: c.openTime, to: c.openTime + this.interval, bars: 1 };
        this.gaps.push(this.flat);
      }
    }
    this.prev = c.openTime;
  }

  /** The series' interval in ms (60,000 until a second bar says otherwise). */
  get interval(): number {
    return this.step || 60_000;
  }
}

/**
 * Scan a candle file for gaps ({@link GapScan}) within [from, to): its interval, gaps, first
 * open time and number of candles.
 */
export async function findGaps(file: string, from: number | null = null, to: number | null = null): Promise<{ interval: number; gaps: DataGap[]; first: number | null; count: number }> {
  const scan = new GapScan();
  for await (const batch of readCandleBatches(file)) for (const c of batch) if (!outsideWindow(c, from, to)) scan.add(c);
  return { interval: scan.interval, gaps: scan.gaps, first: scan.first, count: scan.count };
}

/** Is the candle outside the window [from, to) (null: unbounded)? */
function outsideWindow(c: Candle, from: number | null, to: number | null): boolean {
  return (from !== null && c.openTime < from) || (to !== null && c.openTime >= to);
}

/** Open time of a file's first candle within [from, to), null when none: read up to it only. */
async function firstOpenTime(file: string, from: number | null, to: number | null): Promise<number | null> {
  for await (const batch of readCandleBatches(file)) for (const c of batch) if (!outsideWindow(c, from, to)) return c.openTime;
  return null;
}

function sharpe(dailyEquity: D[]): D {
  const rets: D[] = [];
  for (let i = 1; i < dailyEquity.length; i++) if (dailyEquity[i - 1].gt(0)) rets.push(dailyEquity[i].div(dailyEquity[i - 1]).minus(1));
  if (rets.length < 2) return ZERO;
  const mean = rets.reduce((a, b) => a.plus(b), ZERO).div(rets.length);
  const variance = rets.reduce((a, b) => a.plus(b.minus(mean).pow(2)), ZERO).div(rets.length - 1);
  if (variance.isZero()) return ZERO;
  return mean.div(variance.sqrt()).mul(dec(365).sqrt());
}

/**
 * One UTC month of an account against its monthly drawdown limit, from the account stream:
 * the base the month's drawdown is measured from (MonthOpened's equity, or the equity at a
 * resume), the limit (base × maxMonthlyDrawdownFraction, USDT), the month's realised net PnL
 * (Σ PositionResultRecorded.netPnl: fees and funding included), whether the monthly pause came,
 * and how far the month's realised loss went past the limit (USDT, ≥ 0: the overshoot of the pause).
 */
export interface MonthLine {
  month: string;
  base: string;
  limit: string;
  realisedNet: string;
  paused: boolean;
  overshoot: string;
}

/**
 * The months of one account (its account stream, in order) against the monthly limit.
 * @param accountEvents the events of `account-<id>`, in revision order
 */
export function monthLines(accountEvents: readonly RecordedEvent[]): MonthLine[] {
  let fraction = ZERO;
  const months = new Map<string, { base: D; net: D; paused: boolean }>();
  const month = (m: string) => months.get(m) ?? months.set(m, { base: ZERO, net: ZERO, paused: false }).get(m)!;
  for (const e of accountEvents) {
    const d = e.data as Record<string, unknown>;
    if (e.type === 'AccountOpened' || e.type === 'AccountReconfigured') fraction = dec(d.maxMonthlyDrawdownFraction as string);
    else if (e.type === 'MonthOpened') month(d.month as string).base = dec(d.equity as string);
    else if (e.type === 'TradingResumed' && d.pausedReason === 'MONTHLY_DRAWDOWN_LIMIT') month(d.month as string).base = dec(d.equity as string);
    else if (e.type === 'TradingPaused' && d.reason === 'MONTHLY_DRAWDOWN_LIMIT') month(d.month as string).paused = true;
    else if (e.type === 'PositionResultRecorded') month(d.month as string).net = month(d.month as string).net.plus(d.netPnl as string);
  }
  return [...months.entries()].map(([m, x]) => {
    const limit = x.base.mul(fraction);
    const past = x.net.neg().minus(limit);
    return { month: m, base: str(x.base), limit: str(limit), realisedNet: str(x.net), paused: x.paused, overshoot: str(past.gt(0) ? past : ZERO) };
  });
}

/** A breaker or guard event for people: when, what, and its numbers in a phrase. */
export interface BreakerLine {
  at: number;
  type: string;
  detail: string;
}

/**
 * Describe an account's breaker and guard events (drawdown alerts, pauses, resumes,
 * kill-switch changes, daily trade limits, protection warnings, forced closes); null for
 * any other event. Shared by the demo's summary and the backtest report.
 */
export function describeBreaker(e: RecordedEvent): BreakerLine | null {
  const d = e.data as Record<string, unknown>;
  const line = (type: string, detail: string): BreakerLine => ({ at: e.metadata.tsEvent, type, detail });
  switch (e.type) {
    case 'DrawdownAlert':
      return line(e.type, `${d.threshold} of the limit (drawdown ${dec(d.drawdownFraction as string).mul(100).toDecimalPlaces(2).toFixed()} %)`);
    case 'TradingPaused':
      return line(e.type, String(d.reason));
    case 'TradingResumed':
      return line(e.type, `after ${d.pausedReason}: ${d.reason}`);
    case 'TradingStateChanged':
      return line(e.type, `${d.previous} → ${d.state}`);
    case 'LifetimeDrawdownBreached':
      return line(e.type, `${dec(d.drawdownFraction as string).mul(100).toDecimalPlaces(2).toFixed()} % below the peak ${dec(d.peakEquity as string).toDecimalPlaces(2).toFixed()} (limit ${dec(d.limitFraction as string).mul(100).toFixed()} %)`);
    case 'ProtectionWarning':
      return line(e.type, String(d.kind));
    case 'DailyTradeLimitWarning':
    case 'DailyTradeLimitReached':
      return line(e.type, `${d.count}/${d.limit}`);
    case 'StopTriggered':
      return d.kind === 'MARGIN_RATIO' || d.kind === 'LIQUIDATION_DISTANCE' ? line('ForcedClose', String(d.kind)) : null;
    default:
      return null;
  }
}

/**
 * The closed positions of an account's log with their result in R (net PnL ÷ the risk amount
 * its approval assessed; "0" when the entry's approval is not in `events`).
 * @param events the account's events in log order (approvals, position streams)
 */
export function tradesFromLog(events: readonly RecordedEvent[]): TradeResult[] {
  const approvals = new Map<string, EventData<'EntryApproved'>>();
  const opened = new Map<string, RecordedEvent>();
  const trades: TradeResult[] = [];
  for (const e of events) {
    const d = e.data as Record<string, unknown>;
    if (e.type === 'EntryApproved') {
      const a = d as EventData<'EntryApproved'>;
      // A split entry's position is opened by one of its children.
      for (const id of [a.clientOrderId, ...(a.split?.children.map((c) => c.clientOrderId) ?? [])]) approvals.set(id, a);
    }
    else if (e.type === 'PositionOpened') opened.set(e.streamId, e);
    else if (e.type === 'PositionClosed' || e.type === 'PositionLiquidated') {
      const o = opened.get(e.streamId);
      const entry = o ? approvals.get((o.data as EventData<'PositionOpened'>).clientOrderId) : undefined;
      const risk = entry ? dec(entry.assessment.riskAmount) : ZERO;
      const net = dec(d.netPnl as string);
      trades.push({
        positionStreamId: e.streamId, side: o ? (o.data as EventData<'PositionOpened'>).side : '?', openedAt: o?.metadata.tsEvent ?? 0, closedAt: e.metadata.tsEvent,
        netPnl: str(net), riskAmount: str(risk), r: risk.gt(0) ? str(net.div(risk).toDecimalPlaces(4)) : '0',
        closedBy: e.type === 'PositionLiquidated' ? 'LIQUIDATION' : (d.purpose as string),
      });
    }
  }
  return trades;
}

/** The worst trade in R ("0" without trades). */
export const worstR = (trades: readonly TradeResult[]): string => str(trades.reduce<D | null>((w, t) => (w === null || dec(t.r).lt(w) ? dec(t.r) : w), null) ?? ZERO);

/** One account of an in-process run: its id, money, leverage, risk, policy, strategy parameters and entries. */
export type BacktestAccount = Pick<BacktestConfig, 'accountId' | 'capital' | 'leverage' | 'riskPct' | 'confirmHighLeverage' | 'policy' | 'strategy' | 'entry'>;

/**
 * Open an account in an in-process system (its venue balance = its capital) and attach the
 * baseline strategy to it on `market`, as `bulwark account open` and `bulwark strategy attach`
 * do; several accounts opened so trade the same candles at once, each with its own settings.
 * @param market the venue and symbol it trades, and the market time of the opening (ms)
 * @throws Error with the service's refusal (e.g. leverage above 5x unconfirmed)
 */
export async function openBacktestAccount(sys: InProcessSystem, a: BacktestAccount, market: { venue: VenueId; symbol: string; at: number }): Promise<void> {
  const { venue, symbol, at } = market;
  await sys.command(Subjects.openAccount, {
    accountId: a.accountId, venue, symbol, capital: a.capital, leverage: a.leverage,
    riskFraction: dec(a.riskPct).div(100).toFixed(), highLeverageConfirmed: a.confirmHighLeverage, venueBalance: a.capital, at,
    ...a.policy,
  });
  await sys.command(Subjects.attachStrategy, {
    accountId: a.accountId, venue, symbol, strategy: 'donchian-atr', params: { ...DEFAULT_DONCHIAN_ATR, ...a.strategy }, at, ...a.entry,
  });
}

/**
 * Run a backtest in one process: the same services and deciders as the distributed system
 * (InProcessSystem), the paper venue, the replay clock over the candle file with funding, and
 * a report computed from the event log and the accounting read model.
 */
export async function runBacktest(cfg: BacktestConfig, onProgress?: (c: ReplayCounters, total: number) => void): Promise<BacktestResult> {
  const t0 = Date.now();
  const venue = cfg.venue ?? 'binance-usdm';
  const symbol = cfg.symbol ?? 'BTCUSDT';
  const from = cfg.from ?? null;
  const to = cfg.to ?? null;
  // The gaps are scanned as the candles are replayed; a progress report needs the total before.
  const total = onProgress ? (await findGaps(cfg.candles, from, to)).count : 0;
  const scan = new GapScan();
  const first = await firstOpenTime(cfg.candles, from, to);
  const funding: FundingRate[] = cfg.funding ? await readFundingRates(cfg.funding) : [];
  const store = cfg.store ?? new InMemoryEventStore();
  const firstPosition = (await store.lastPosition()) + 1;
  // A venue other than Binance's paper default trades the paper engine under that venue's id (its recorded rules and liquidation formula).
  const sys = await InProcessSystem.create(store, cfg.venueFactory ?? (venue === 'binance-usdm' ? undefined : paperVenueFactory(venue)));
  const at = first ?? from ?? 0;
  await openBacktestAccount(sys, cfg, { venue, symbol, at });

  const curve: Array<{ t: number; equity: string }> = [];
  const daily: D[] = [];
  let lastDay = -1;
  let lastEquity = dec(cfg.capital);
  let exposed = 0;
  let watching = false;
  curve.push({ t: at, equity: str(lastEquity) });
  const afterSample = (candle: { openTime: number }, c: ReplayCounters, busy: boolean) => {
    if (busy) exposed++;
    watching = busy;
    const day = Math.floor(candle.openTime / 86_400_000); // the UTC day
    if (day !== lastDay) {
      daily.push(lastEquity);
      lastDay = day;
    }
    onProgress?.(c, total);
  };
  const counters = await replayCandles(sys.clock(), { runId: cfg.accountId, venue, symbol, candlesFile: cfg.candles, from, to, schedule: cfg.schedule ?? [] }, funding, {
    onCandle: (candle, c) => {
      scan.add(candle);
      // Equity moves only while a position is open (and once at its close): sample then (and wait for it only then).
      const busy = sys.accounting.interest() === 'STEP';
      if (!busy && !watching) return afterSample(candle, c, busy);
      return sys.accounting.equityValues(cfg.accountId).then(({ equity: eq }) => {
        if (!eq.eq(lastEquity)) curve.push({ t: candle.openTime, equity: str(eq) });
        lastEquity = eq;
        afterSample(candle, c, busy);
      });
    },
  });
  daily.push(lastEquity);
  curve.push({ t: counters.marketTime, equity: str(lastEquity) });
  const summary = await sys.accounting.summary(cfg.accountId);

  // The log of this account: decisions, trades, breakers.
  const tag = shortHash(cfg.accountId);
  const events: RecordedEvent[] = [];
  for await (const e of store.readAll({ fromPosition: firstPosition })) if (e.streamId.includes(cfg.accountId) || e.streamId.includes(tag)) events.push(e);
  const denials: Record<string, number> = {};
  let intents = 0;
  let approvals = 0;
  const breakers: BacktestResult['breakers'] = [];
  for (const e of events) {
    const breaker = describeBreaker(e);
    if (breaker) breakers.push(breaker);
    if (e.type === 'IntentEmitted') intents++;
    else if (e.type === 'EntryApproved') approvals++;
    else if (e.type === 'EntryDenied') {
      const reason = (e.data as EventData<'EntryDenied'>).reason;
      denials[reason] = (denials[reason] ?? 0) + 1;
    }
  }
  const trades = tradesFromLog(events);
  const wins = trades.filter((t) => dec(t.netPnl).gt(0)).length;
  const accountEvents = events.filter((e) => e.streamId === Streams.account(cfg.accountId));
  const account = accountEvents.reduce((s, e) => accountEvolve(s, e as never), accountInitialState());
  const sumR = trades.reduce((a, t) => a.plus(t.r), ZERO);
  const wallMs = Date.now() - t0;
  const stats: BacktestStats = {
    trades: trades.length,
    wins,
    winRate: trades.length ? str(dec(wins).div(trades.length).toDecimalPlaces(4)) : '0',
    averageR: trades.length ? str(sumR.div(trades.length).toDecimalPlaces(4)) : '0',
    realisedPnl: summary.realisedPnl,
    fees: summary.fees,
    funding: summary.funding,
    netPnl: str(dec(summary.finalEquity).minus(summary.capital)),
    maxDrawdown: summary.maxDrawdown,
    maxDrawdownFraction: summary.maxDrawdownFraction,
    sharpe: str(sharpe(daily).toDecimalPlaces(3)),
    exposure: counters.candles ? str(dec(exposed).div(counters.candles).toDecimalPlaces(4)) : '0',
    liquidations: summary.liquidations,
    finalEquity: summary.finalEquity,
    longestLosingStreak: account.longestLosingStreak,
    losingStreakAtEnd: account.losingStreak,
    worstTradeR: worstR(trades),
  };
  const { store: _s, ...config } = cfg;
  return {
    config, interval: scan.interval, counters, summary, stats, trades, equityCurve: curve, breakers, gaps: scan.gaps,
    months: monthLines(accountEvents),
    decisions: { intents, approvals, denials }, eventsAppended: events.length, wallMs,
    candlesPerSecond: wallMs > 0 ? Math.round((counters.candles * 1000) / wallMs) : counters.candles, store,
  };
}
