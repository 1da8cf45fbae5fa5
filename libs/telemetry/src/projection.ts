import type { EventData, LeverageBracket, PositionSide } from '@bulwark/contracts';
import { type Bracket, bracketsFromContract, type D, ZERO, dec, maintenanceMargin, marginRatio } from '@bulwark/domain';
import type { BulwarkMetrics } from './metrics';

/** An event as the projection sees it: appended (NewEvent) or consumed (RecordedEvent). */
export interface ProjectedEvent {
  type: string;
  data: unknown;
  metadata: { correlationId: string; tsEvent: number };
}

/**
 * The order status each order event leads to (the domain's order FSM, `OrderStatus`);
 * `OrderFilled` is FILLED or PARTIALLY_FILLED by its leaves quantity. `OrderCancelRejected`
 * returns the order to the status it had, so it is no transition of its own here.
 */
const ORDER_STATUS: Readonly<Record<string, string>> = {
  OrderInitialized: 'INITIALIZED',
  OrderSubmitted: 'SUBMITTED',
  OrderAccepted: 'ACCEPTED',
  OrderRejected: 'REJECTED',
  OrderDenied: 'DENIED',
  OrderCancelRequested: 'PENDING_CANCEL',
  OrderCanceled: 'CANCELED',
  OrderExpired: 'EXPIRED',
  OrderStatusUnknown: 'UNKNOWN',
};

/** Risk's breaker, kill-switch and resume events: `bulwark_breaker_events_total{type}` counts them by type. */
export const BREAKER_EVENT_TYPES: ReadonlySet<string> = new Set([
  'TradingPaused',
  'TradingResumed',
  'TradingStateChanged',
  'LifetimeDrawdownBreached',
  'DrawdownAlert',
  'DailyTradeLimitReached',
]);

interface TrackedPosition {
  accountId: string;
  venue: string;
  symbol: string;
  side: PositionSide;
  quantity: D;
  entryPrice: D;
  leverage: number;
}

interface TrackedStop {
  positionStreamId: string;
  quantity: D;
  liquidationPrice: D | null;
  live: boolean;
}

/** Equity bases of an account's drawdown windows (market time decides the UTC day and month). */
interface EquityWindows {
  day: string;
  dayBase: D;
  month: string;
  monthBase: D;
}

/**
 * Bulwark's domain metrics, derived from the events a process appends (the appender feeds
 * `appended`) and consumes (the transport feeds `consumed`), plus the marks and equity the
 * owning services observe (`marked`, `equityObserved`). The domain stays free of metrics:
 * each number is computed here from what the log already says.
 *
 * Which process shows which series follows from who appends or consumes what:
 * execution: orders (and tick-to-order, in the appender); risk: decisions and breaker events;
 * accounting: equity and drawdown; stop-monitor: margin ratio, liquidation distance and stop
 * coverage (it consumes the position events and the rules, appends the stops, sees every mark
 * while a stop is armed).
 */
export class MetricsProjection {
  /** venue and symbol of each order stream, from its OrderInitialized. */
  private readonly orders = new Map<string, { venue: string; symbol: string }>();
  private readonly positions = new Map<string, TrackedPosition>();
  /** Stops by their stream id (`stop-<positionStreamId>`). */
  private readonly stops = new Map<string, TrackedStop>();
  private readonly brackets = new Map<string, Bracket[]>();
  private readonly windows = new Map<string, EquityWindows>();
  /** Accounts seen opened: what equity is reported for. */
  readonly accounts = new Set<string>();

  /**
   * @param metrics where the numbers go
   * @param orderOf finds venue and symbol of an order stream this process has not seen
   *   initialised (a restarted execution), e.g. from the stream's first event; null = unknown
   */
  /** Symbols whose brackets are being read (`rulesOf`). */
  private readonly fetching = new Set<string>();

  /**
   * @param metrics where the numbers go
   * @param orderOf finds venue and symbol of an order stream this process has not seen
   *   initialised (a restarted execution), e.g. from the stream's first event; null = unknown
   * @param rulesOf finds the latest rules of a symbol whose InstrumentRulesRecorded this
   *   process did not consume (recorded before its consumer existed), e.g. from the rules stream
   */
  constructor(
    private readonly metrics: BulwarkMetrics,
    private readonly orderOf: (streamId: string) => Promise<{ venue: string; symbol: string } | null> = async () => null,
    private readonly rulesOf: (venue: string, symbol: string) => Promise<{ brackets: LeverageBracket[] } | null> = async () => null,
  ) {}

  /** Events this process appended to `streamId` (after the append succeeded). */
  async appended(streamId: string, events: readonly ProjectedEvent[]): Promise<void> {
    for (const e of events) {
      if (streamId.startsWith('order-')) await this.orderEvent(streamId, e);
      else if (e.type === 'EntryApproved') this.metrics.riskDecisions.inc({ decision: 'approved', reason: 'none' });
      else if (e.type === 'EntryDenied') this.metrics.riskDecisions.inc({ decision: 'denied', reason: (e.data as EventData<'EntryDenied'>).reason });
      else if (BREAKER_EVENT_TYPES.has(e.type)) this.metrics.breakerEvents.inc({ type: e.type });
      this.fold(streamId, e);
    }
  }

  /** A stored event this process's consumer delivered. */
  consumed(streamId: string, e: ProjectedEvent): void {
    this.fold(streamId, e);
  }

  private async orderEvent(streamId: string, e: ProjectedEvent): Promise<void> {
    if (e.type === 'OrderInitialized') {
      const d = e.data as EventData<'OrderInitialized'>;
      this.orders.set(streamId, { venue: d.venue, symbol: d.symbol });
    }
    let status = ORDER_STATUS[e.type];
    if (e.type === 'OrderFilled') status = dec((e.data as EventData<'OrderFilled'>).leavesQuantity).isZero() ? 'FILLED' : 'PARTIALLY_FILLED';
    if (!status) return;
    let where = this.orders.get(streamId);
    if (!where) {
      where = (await this.orderOf(streamId).catch(() => null)) ?? { venue: 'unknown', symbol: 'unknown' };
      if (where.venue !== 'unknown') this.orders.set(streamId, where);
    }
    this.metrics.orders.inc({ venue: where.venue, symbol: where.symbol, status });
  }

  /** Fold what the gauges need: accounts, rules, positions, stops. */
  private fold(streamId: string, e: ProjectedEvent): void {
    switch (e.type) {
      case 'AccountOpened':
        this.accounts.add((e.data as EventData<'AccountOpened'>).accountId);
        return;
      case 'InstrumentRulesRecorded': {
        const r = e.data as EventData<'InstrumentRulesRecorded'>;
        this.brackets.set(`${r.venue}:${r.symbol}`, bracketsFromContract(r.brackets));
        return;
      }
      case 'PositionOpened': {
        const p = e.data as EventData<'PositionOpened'>;
        this.positions.set(streamId, { accountId: p.accountId, venue: p.venue, symbol: p.symbol, side: p.side, quantity: dec(p.quantity), entryPrice: dec(p.entryPrice), leverage: p.leverage });
        this.updateCoverage(streamId);
        return;
      }
      case 'PositionIncreased': {
        const p = this.positions.get(streamId);
        const d = e.data as EventData<'PositionIncreased'>;
        if (p) Object.assign(p, { quantity: dec(d.newQuantity), entryPrice: dec(d.newEntryPrice) });
        this.updateCoverage(streamId);
        return;
      }
      case 'PositionReduced': {
        const p = this.positions.get(streamId);
        if (p) p.quantity = dec((e.data as EventData<'PositionReduced'>).newQuantity);
        this.updateCoverage(streamId);
        return;
      }
      case 'PositionClosed':
      case 'PositionLiquidated': {
        const p = this.positions.get(streamId);
        if (p) this.removePositionSeries(p);
        this.positions.delete(streamId);
        return;
      }
      case 'StopPlaced': {
        const d = e.data as EventData<'StopPlaced'>;
        this.stops.set(streamId, { positionStreamId: d.positionStreamId, quantity: dec(d.quantity), liquidationPrice: d.guards.liquidationPrice ? dec(d.guards.liquidationPrice) : null, live: true });
        this.updateCoverage(d.positionStreamId);
        return;
      }
      case 'StopResized': {
        const s = this.stops.get(streamId);
        const d = e.data as EventData<'StopResized'>;
        if (s) Object.assign(s, { quantity: dec(d.quantity), liquidationPrice: d.guards.liquidationPrice ? dec(d.guards.liquidationPrice) : null });
        if (s) this.updateCoverage(s.positionStreamId);
        return;
      }
      case 'StopTriggered':
      case 'StopCancelled': {
        // A triggered stop is spent (its close order is on its way): it covers nothing any more.
        const s = this.stops.get(streamId);
        if (s) s.live = false;
        if (s) this.updateCoverage(s.positionStreamId);
        return;
      }
    }
  }

  private updateCoverage(positionStreamId: string): void {
    const p = this.positions.get(positionStreamId);
    if (!p || p.quantity.isZero()) return;
    const s = this.stops.get(`stop-${positionStreamId}`);
    const covered = s?.live ? s.quantity : ZERO;
    this.metrics.stopCoverage.set({ account: p.accountId, symbol: p.symbol }, covered.div(p.quantity).toNumber());
  }

  private removePositionSeries(p: TrackedPosition): void {
    const labels = { account: p.accountId, symbol: p.symbol };
    this.metrics.stopCoverage.remove(labels);
    this.metrics.marginRatio.remove(labels);
    this.metrics.liquidationDistance.remove(labels);
  }

  /**
   * A mark (or path) price of a symbol: the margin ratio and liquidation distance of every open
   * position on it.
   * - margin ratio = maintenance margin / margin balance (Binance isolated, `marginRatio` in
   *   libs/domain/src/liquidation.ts): MM = |Q|·mark·MMR − cum with the bracket of that
   *   notional; margin balance = isolated margin (Q·entry / leverage) + unrealised PnL. Needs
   *   the symbol's brackets (InstrumentRulesRecorded seen since start); a margin balance <= 0
   *   reports 1 (liquidated).
   * - liquidation distance = |mark − liquidation price| / mark, with the liquidation price of
   *   the position's stop (StopPlaced / StopResized guards).
   */
  marked(venue: string, symbol: string, markPrice: string): void {
    const mark = dec(markPrice);
    if (!mark.gt(0)) return;
    for (const [streamId, p] of this.positions) {
      if (p.venue !== venue || p.symbol !== symbol || p.quantity.isZero()) continue;
      const labels = { account: p.accountId, symbol: p.symbol };
      const brackets = this.bracketsOf(venue, symbol);
      if (brackets && p.leverage >= 1) {
        const sign = p.side === 'LONG' ? 1 : -1;
        const upnl = mark.minus(p.entryPrice).mul(p.quantity).mul(sign);
        const balance = p.quantity.mul(p.entryPrice).div(p.leverage).plus(upnl);
        const mm = maintenanceMargin(p.quantity.mul(mark), brackets).maintenanceMargin;
        const ratio = marginRatio(mm, balance);
        this.metrics.marginRatio.set(labels, ratio === null ? 1 : ratio.toNumber());
      }
      const liq = this.stops.get(`stop-${streamId}`)?.liquidationPrice;
      if (liq) this.metrics.liquidationDistance.set(labels, mark.minus(liq).abs().div(mark).toNumber());
    }
  }

  /** The brackets of a symbol; when unknown, read in the background (this mark goes without margin ratio). */
  private bracketsOf(venue: string, symbol: string): Bracket[] | undefined {
    const key = `${venue}:${symbol}`;
    const known = this.brackets.get(key);
    if (known || this.fetching.has(key)) return known;
    this.fetching.add(key);
    void this.rulesOf(venue, symbol)
      .then((r) => {
        if (r && !this.brackets.has(key)) this.brackets.set(key, bracketsFromContract(r.brackets));
      })
      .catch(noop)
      .finally(() => this.fetching.delete(key));
    return undefined;
  }

  /**
   * Accounting's equity of an account at market time `tsEvent` (epoch ms) and its peak so far:
   * `bulwark_equity_usdt`, and `bulwark_drawdown_ratio` per window =
   * max(0, base − equity) / base with base = the first equity of the UTC day (daily), of the
   * UTC month (monthly, as risk's MonthOpened), or the peak (lifetime). A base <= 0 reports 0.
   */
  equityObserved(accountId: string, equity: string, peakEquity: string, tsEvent: number): void {
    const eq = dec(equity);
    const iso = new Date(tsEvent).toISOString();
    const day = iso.slice(0, 10);
    const month = iso.slice(0, 7);
    let w = this.windows.get(accountId);
    if (!w) {
      w = { day, dayBase: eq, month, monthBase: eq };
      this.windows.set(accountId, w);
    }
    if (w.day !== day) Object.assign(w, { day, dayBase: eq });
    if (w.month !== month) Object.assign(w, { month, monthBase: eq });
    const ratio = (base: D) => (base.gt(0) && base.gt(eq) ? base.minus(eq).div(base).toNumber() : 0);
    this.metrics.equity.set({ account: accountId }, eq.toNumber());
    this.metrics.drawdown.set({ account: accountId, window: 'daily' }, ratio(w.dayBase));
    this.metrics.drawdown.set({ account: accountId, window: 'monthly' }, ratio(w.monthBase));
    this.metrics.drawdown.set({ account: accountId, window: 'lifetime' }, ratio(dec(peakEquity)));
  }
}

/** A failed read of the rules: the next mark tries again. */
function noop(): void {}
