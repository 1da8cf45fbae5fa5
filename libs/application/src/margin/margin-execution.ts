import {
  type EventData,
  Identifier,
  type MarginAccountAnswer,
  type MarginAccountQuery,
  type MarginCloseRequest,
  type MarginLoanRequest,
  type MarginTransferRequest,
  type MarketTick,
  type RecordedEvent,
  Symbol as SymbolId,
} from '@bulwark/contracts';
import { dec, type MarginPairRules, str } from '@bulwark/domain';
import type { EventStore } from '@bulwark/event-store';
import { loadMarginPair } from '@bulwark/market-data';
import type { EventAppender } from '@bulwark/messaging';
import { secretFromEnv } from '../venue-config';
import { MarginDesk, type MarginDeskError, type MarginRiskSettings, type MarginVenuePort, valueAccount } from './margin-desk';
import { MarginWatch, type MarginWatchStep } from './margin-watch';

/**
 * Which spot isolated-margin venue execution drives, from the environment (off unless
 * BULWARK_MARGIN_VENUE is set):
 * - `binance-margin-local`: the local venue (`bulwark venue serve --venue binance-margin`) at
 *   BULWARK_MARGIN_REST / BULWARK_MARGIN_WS;
 * - `binance-margin-live`: api.binance.com, only with BULWARK_LIVE_TRADING=yes.
 * The account (BULWARK_MARGIN_ACCOUNT_ID), its pairs (BULWARK_MARGIN_SYMBOLS, default BTCUSDT),
 * its keys (BINANCE_MARGIN_API_KEY / _SECRET or their _FILE), the watch interval
 * (BULWARK_MARGIN_WATCH_MS, default 1000) and the sizing (BULWARK_MARGIN_LEVERAGE default 3,
 * BULWARK_MARGIN_RISK_FRACTION default 0.01, BULWARK_MARGIN_MAX_MARGIN_FRACTION default 0.5).
 */
export interface MarginVenueSettings {
  kind: 'binance-margin-local' | 'binance-margin-live';
  accountId: string;
  symbols: string[];
  apiKey: string;
  apiSecret: string;
  restBase: string | null;
  wsBase: string | null;
  watchMs: number;
  risk: MarginRiskSettings;
  /**
   * Driven by the replay clock (BULWARK_MARGIN_DRIVEN=yes, local venue only, set by the demo):
   * each market step of the pair walks the local venue to the step's time and the watch looks
   * once, so a replay is deterministic; otherwise the watch looks every `watchMs`.
   */
  driven: boolean;
}

/** The margin settings are unusable; the message names the variable (never a secret's value). */
export class MarginConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MarginConfigError';
  }
}

/**
 * @returns the settings, or null when BULWARK_MARGIN_VENUE is not set (no spot-margin account here)
 * @throws MarginConfigError naming the missing or invalid variable
 */
export function marginSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): MarginVenueSettings | null {
  const kind = env.BULWARK_MARGIN_VENUE;
  if (!kind) return null;
  if (kind !== 'binance-margin-local' && kind !== 'binance-margin-live') throw new MarginConfigError(`BULWARK_MARGIN_VENUE must be binance-margin-local or binance-margin-live, got "${kind}"`);
  const accountId = env.BULWARK_MARGIN_ACCOUNT_ID ?? '';
  if (!Identifier.safeParse(accountId).success) throw new MarginConfigError('BULWARK_MARGIN_ACCOUNT_ID must name the Bulwark account ([A-Za-z0-9_-]{1,64}) these keys trade');
  const symbols = (env.BULWARK_MARGIN_SYMBOLS || 'BTCUSDT').split(',').map((x) => x.trim()).filter(Boolean);
  for (const sym of symbols) if (!SymbolId.safeParse(sym).success) throw new MarginConfigError(`BULWARK_MARGIN_SYMBOLS: "${sym}" is not a symbol such as BTCUSDT`);
  const apiKey = secretFromEnv(env, 'BINANCE_MARGIN_API_KEY', MarginConfigError);
  const apiSecret = secretFromEnv(env, 'BINANCE_MARGIN_API_SECRET', MarginConfigError);
  if (!apiKey || !apiSecret) throw new MarginConfigError(`BULWARK_MARGIN_VENUE=${kind} needs BINANCE_MARGIN_API_KEY and BINANCE_MARGIN_API_SECRET (or their _FILE)`);
  const restBase = env.BULWARK_MARGIN_REST || null;
  const wsBase = env.BULWARK_MARGIN_WS || null;
  if (kind === 'binance-margin-local' && (!restBase || !wsBase)) throw new MarginConfigError('BULWARK_MARGIN_VENUE=binance-margin-local needs BULWARK_MARGIN_REST and BULWARK_MARGIN_WS (printed by `bulwark venue serve --venue binance-margin`)');
  if (kind === 'binance-margin-live' && env.BULWARK_LIVE_TRADING !== 'yes') throw new MarginConfigError('BULWARK_MARGIN_VENUE=binance-margin-live trades real money: set BULWARK_LIVE_TRADING=yes to confirm');
  const num = (name: string, dflt: string, ok: (x: number) => boolean, what: string): string => {
    const v = env[name] ?? dflt;
    if (!ok(Number(v))) throw new MarginConfigError(`${name} must be ${what}, got "${v}"`);
    return v;
  };
  const watchMs = Number(num('BULWARK_MARGIN_WATCH_MS', '1000', (x) => Number.isInteger(x) && x >= 50 && x <= 60_000, 'an integer number of ms in 50..60000'));
  const leverage = Number(num('BULWARK_MARGIN_LEVERAGE', '3', (x) => Number.isInteger(x) && x >= 1 && x <= 10, 'an integer in 1..10'));
  const riskFraction = num('BULWARK_MARGIN_RISK_FRACTION', '0.01', (x) => x > 0 && x <= 0.05, 'a fraction in (0, 0.05]');
  const maxMarginFraction = num('BULWARK_MARGIN_MAX_MARGIN_FRACTION', '0.5', (x) => x > 0 && x <= 1, 'a fraction in (0, 1]');
  const driven = env.BULWARK_MARGIN_DRIVEN === 'yes';
  if (driven && kind !== 'binance-margin-local') throw new MarginConfigError('BULWARK_MARGIN_DRIVEN=yes drives the local venue\'s clock: only with BULWARK_MARGIN_VENUE=binance-margin-local');
  return { kind, accountId, symbols, apiKey, apiSecret, restBase, wsBase, watchMs, driven, risk: { leverage, riskFraction: dec(riskFraction), maxMarginFraction: dec(maxMarginFraction) } };
}

/** A refused margin command as execution answers it (the service turns it into `{error:{code,message}}`). */
export class MarginCommandError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = 'MarginCommandError';
  }
}

/**
 * A margin venue the host can close and, driven by the replay clock, walk to a market time: the
 * local venue over HTTP (`advanceLocalClock(ts)`, resolves to its market time, epoch ms), or an
 * in-process engine that takes the step itself (`applyStep(tick)`, PaperMarginPort; returns its
 * market time). When both exist `applyStep` is used.
 */
export type ClosableMarginVenue = MarginVenuePort & {
  close(): Promise<void>;
  advanceLocalClock?(ts: number): Promise<number>;
  applyStep?(tick: MarketTick): number;
};

export interface MarginExecutionOptions {
  settings: MarginVenueSettings;
  store: EventStore;
  appender: EventAppender;
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
  /** Builds the venue (default: BinanceMarginVenue, loaded only here, so a process without margin never loads ccxt for it). */
  venue?: (s: MarginVenueSettings, rules: MarginPairRules[]) => Promise<ClosableMarginVenue>;
  /** Rules per pair (default: the recorded files, loadMarginPair). */
  rules?: (symbol: string) => MarginPairRules;
  /** Market time (default Date.now). */
  now?: () => number;
}

/**
 * Execution's spot isolated-margin side for one account: one MarginDesk and one MarginWatch per
 * pair on one venue connection. It carries out approved entries (MarginEntryApproved on the
 * account stream, each once), the kill switch and operator closes (FlattenRequested,
 * PositionCloseRequested), and answers transfers, loans, closes and account queries. The watch
 * runs from start-up, so a position recorded before a restart is protected again before any
 * new command is taken.
 */
export class MarginExecution {
  readonly accountId: string;
  private venue: ClosableMarginVenue | null = null;
  private readonly desks = new Map<string, MarginDesk>();
  private readonly watches = new Map<string, MarginWatch>();
  private lastWatchError = '';
  /** Driven mode: the time of the last market step walked. */
  private marketNow = 0;

  constructor(private readonly o: MarginExecutionOptions) {
    this.accountId = o.settings.accountId;
  }

  async start(): Promise<void> {
    const s = this.o.settings;
    const rulesOf = this.o.rules ?? ((symbol: string) => loadMarginPair(symbol).rules);
    const rules = s.symbols.map((sym) => rulesOf(sym));
    this.venue = await (this.o.venue ?? defaultVenue)(s, rules);
    // Driven by the replay, market time is the last step's; otherwise the wall clock.
    const now = this.o.now ?? (s.driven ? () => this.marketNow : Date.now);
    for (const r of rules) {
      const desk = new MarginDesk({ accountId: s.accountId, rules: r, venue: this.venue, store: this.o.store, appender: this.o.appender, risk: s.risk, now });
      this.desks.set(r.symbol, desk);
      const watch = new MarginWatch(desk, { rules: r, now });
      this.watches.set(r.symbol, watch);
      if (!s.driven) watch.start(s.watchMs, (step) => this.watched(r.symbol, step), (e) => this.watchFailed(r.symbol, e));
    }
    this.o.log.info(`spot margin: account ${s.accountId} on ${s.kind}, pairs ${s.symbols.join(', ')}, ${s.driven ? 'driven by the replay clock' : `watched every ${s.watchMs} ms`}`);
  }

  /** Driven mode wants every market step (the venue moves with them); otherwise none. */
  get wantsSteps(): boolean {
    return this.o.settings.driven;
  }

  /**
   * Driven mode: one market step of a pair this host trades (venue `binance-margin`): the local
   * venue walks to the step's time (an in-process engine applies the step itself), then the
   * watch looks once (exits, guard, interest, reconciliation). A failure to reach the venue is
   * thrown: the clock sends the step again.
   */
  async onTick(tick: MarketTick): Promise<void> {
    if (!this.o.settings.driven || tick.venue !== 'binance-margin') return;
    const watch = this.watches.get(tick.symbol);
    if (!watch || !this.venue || (!this.venue.applyStep && !this.venue.advanceLocalClock)) return;
    const t0 = Date.now();
    if (this.venue.applyStep) {
      // An in-process engine walks the tick's own step; market time is the tick's.
      this.venue.applyStep(tick);
      this.marketNow = tick.ts;
    } else this.marketNow = await this.venue.advanceLocalClock!(tick.ts);
    const t1 = Date.now();
    this.watched(tick.symbol, await watch.observe());
    const t2 = Date.now();
    if (t2 - t0 > 5_000) this.o.log.warn(`${tick.symbol}: the step at ${new Date(tick.ts).toISOString()} took ${t2 - t0} ms (venue clock ${t1 - t0} ms, watch ${t2 - t1} ms)`);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.watches.values()].map((w) => w.stop()));
    await this.venue?.close();
    this.venue = null;
  }

  /** Events of the account stream (and margin streams) this host acts on. */
  async onEvent(e: RecordedEvent): Promise<void> {
    if (e.type === 'MarginEntryApproved') {
      const d = e.data as EventData<'MarginEntryApproved'>;
      if (d.accountId !== this.accountId) return;
      const desk = this.desks.get(d.symbol);
      if (!desk) return this.o.log.warn(`approved margin entry ${d.requestId} for ${d.symbol}: this execution trades ${[...this.desks.keys()].join(', ')} only`);
      const r = await desk.open({ side: d.side, stopPrice: dec(d.stopPrice), takeProfitPrice: d.takeProfitPrice === null ? null : dec(d.takeProfitPrice), by: d.by, requestId: d.requestId });
      if (!r.ok && r.error.code !== 'ALREADY_HANDLED') this.o.log.warn(`margin entry ${d.requestId} refused: ${r.error.code} ${r.error.message}`);
      return;
    }
    const account = e.streamId === `account-${this.accountId}`;
    if (account && e.type === 'FlattenRequested') {
      const d = e.data as EventData<'FlattenRequested'>;
      for (const desk of this.desks.values()) await this.closeIfOpen(desk, `flatten: ${d.reason}`, d.by);
    } else if (account && e.type === 'PositionCloseRequested') {
      const d = e.data as EventData<'PositionCloseRequested'>;
      const desk = this.desks.get(d.symbol);
      if (desk) await this.closeIfOpen(desk, d.reason, d.by);
    }
  }

  /** The kill switch's and an operator's close: the trigger is recorded first, so a close the venue refuses is retried by the watch until it fills. */
  private async closeIfOpen(desk: MarginDesk, reason: string, by: string): Promise<void> {
    const { state } = await desk.state();
    if (!state.open) return;
    const price = (await desk.account()).venue.indexPrice;
    const r = await desk.triggerAndClose('OPERATOR_CLOSE', price, this.o.now ? this.o.now() : this.o.settings.driven ? this.marketNow : Date.now(), { reason, by });
    if (!r.ok) this.o.log.error(`close of ${desk.symbol} refused (${r.error.code} ${r.error.message}); the watch retries`);
  }

  transfer(req: MarginTransferRequest) {
    const desk = this.desk(req.accountId, req.symbol);
    const amount = dec(req.amount);
    return this.answer(req.direction === 'TO_MARGIN' ? desk.transferToMargin(req.asset, amount, req.by) : desk.transferToSpot(req.asset, amount, req.by));
  }

  loan(req: MarginLoanRequest) {
    const desk = this.desk(req.accountId, req.symbol);
    if (req.action === 'BORROW') {
      if (req.amount === 'ALL') throw new MarginCommandError('INVALID_AMOUNT', 'a borrow needs an amount (ALL is for repay)');
      return this.answer(desk.borrow(req.asset, dec(req.amount), req.by));
    }
    return this.answer(desk.repay(req.asset, req.amount === 'ALL' ? 'ALL' : dec(req.amount), req.by)).then((r) => ({ tranId: r.tranId, principal: str(r.principal), interest: str(r.interest) }));
  }

  close(req: MarginCloseRequest) {
    return this.answer(this.desk(req.accountId, req.symbol).close(req.reason, req.by, 'CLOSED', req.sequence)).then((r) => ({ sequence: r.sequence, netPnl: str(r.netPnl) }));
  }

  /** The venue's view of the pair. @throws MarginCommandError UNKNOWN_PAIR; the venue's read error as VENUE_UNAVAILABLE. */
  async account(q: MarginAccountQuery): Promise<MarginAccountAnswer> {
    const desk = this.desk(q.accountId, q.symbol);
    let a: Awaited<ReturnType<MarginDesk['account']>>;
    try {
      a = await desk.account();
    } catch (e) {
      throw new MarginCommandError('VENUE_UNAVAILABLE', `the venue did not answer for ${q.symbol}: ${(e as Error).message}`);
    }
    const v = a.venue;
    return {
      accountId: q.accountId, symbol: q.symbol,
      assets: [v.base, v.quote].map((x) => ({ asset: x.asset, free: str(x.free), locked: str(x.locked), borrowed: str(x.borrowed), interest: str(x.interest), netAsset: str(x.netAsset) })),
      indexPrice: str(v.indexPrice), marginLevel: a.equity.marginLevel === null ? null : str(a.equity.marginLevel.toDecimalPlaces(8)),
      marginLevelStatus: v.marginLevelStatus, liquidationPrice: str(v.liquidatePrice), equity: str(valueAccount(v).equity.toDecimalPlaces(8)),
    };
  }

  private desk(accountId: string, symbol: string): MarginDesk {
    if (accountId !== this.accountId) throw new MarginCommandError('UNKNOWN_ACCOUNT', `this execution trades spot margin for ${this.accountId}, not ${accountId}`);
    const d = this.desks.get(symbol);
    if (!d) throw new MarginCommandError('UNKNOWN_PAIR', `${accountId} trades the isolated pairs ${[...this.desks.keys()].join(', ')}, not ${symbol}`);
    return d;
  }

  private async answer<T>(p: Promise<{ ok: true; value: T } | { ok: false; error: MarginDeskError }>): Promise<T> {
    const r = await p;
    if (!r.ok) throw new MarginCommandError(r.error.code, r.error.message);
    return r.value;
  }

  private watched(symbol: string, s: MarginWatchStep): void {
    this.lastWatchError = '';
    if (s.exit) this.o.log.info(`${symbol}: ${s.exit} at ${str(s.price)}${s.closeError ? ` — close refused ${s.closeError.code} ${s.closeError.message}; retried on the next look` : ''}`);
  }

  private watchFailed(symbol: string, e: unknown): void {
    const m = `${symbol}: the margin watch could not read the venue (${(e as Error)?.message ?? String(e)}); it looks again`;
    // One line per distinct failure, not one a second.
    if (m !== this.lastWatchError) this.o.log.error(m);
    this.lastWatchError = m;
  }
}

async function defaultVenue(s: MarginVenueSettings): Promise<ClosableMarginVenue> {
  const { BinanceMarginVenue, RateBudget } = await import('@bulwark/venues');
  // Driven by a replay, the local venue sees a market hour in a second of wall time: Binance's
  // per-minute weights would throttle the replay's clock, not a trader (the venue's own limiter is off too).
  const budget = s.driven ? new RateBudget(undefined, undefined, { weightPer1m: 100_000_000, ordersPer10s: 1_000_000, ordersPer1m: 10_000_000 }) : undefined;
  return new BinanceMarginVenue({
    ...(budget ? { budget } : {}),
    accountId: s.accountId, apiKey: s.apiKey, apiSecret: s.apiSecret, mode: s.kind === 'binance-margin-live' ? 'live' : 'local',
    restBase: s.restBase ?? undefined, wsBase: s.wsBase ?? undefined, symbols: s.symbols,
    ...(process.env['BULWARK_MARGIN_VENUE_LOG'] === 'yes' ? { log: (line: string) => console.error(`[binance-margin] ${line}`) } : {}),
  });
}
