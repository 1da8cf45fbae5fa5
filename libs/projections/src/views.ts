/*
 * The read models the gateway serves and the dashboard draws, as JSON. One shape per view;
 * the projection library computes them (from the event log, plus live mark prices), the
 * gateway returns them unchanged, the dashboard reads them. Decimals are strings (USDT for
 * money, the quote asset for prices, the base asset for quantities); times are epoch ms (UTC).
 */

/** A breaker or protection event on an account's timeline. */
export interface BreakerView {
  /** Event type: TradingPaused, DrawdownAlert, DailyTradeLimitWarning, DailyTradeLimitReached, LifetimeDrawdownBreached, TradingResumed, TradingStateChanged, ProtectionWarning, ProtectionFailed, MarginLevelAlert, VenueAlert, OrderStatusUnknown. */
  type: string;
  ts: number;
  /** Breaker reason or new state (e.g. DAILY_LOSS_LIMIT, KILL_SWITCH). */
  reason: string | null;
  /** One line for a person. */
  detail: string;
  eventId: string;
}

/** `GET /api/accounts` (list) and the head of `GET /api/accounts/:id`. */
export interface AccountListItem {
  accountId: string;
  venue: string | null;
  symbol: string | null;
  leverage: number | null;
  /** ACTIVE, REDUCING, HALTED … (the account policy's trading state). */
  tradingState: string;
  equity: string;
  openPositions: number;
}

/** `GET /api/accounts/:id`. */
export interface AccountView extends AccountListItem {
  /** The AccountOpened configuration with later reconfigurations applied (the policy's config). */
  config: Record<string, unknown> | null;
  capital: string;
  walletBalance: string;
  unrealisedPnl: string;
  realisedPnl: string;
  fees: string;
  funding: string;
  /** Σ liquidation clearance fees (USDT). */
  liquidationFees: string;
  peakEquity: string;
  /** Current drawdown from the peak (USDT, >= 0) and as a fraction of the peak. */
  drawdown: string;
  drawdownFraction: string;
  maxDrawdown: string;
  maxDrawdownFraction: string;
  tradesToday: number;
  pnlToday: string;
  /** Paused by a breaker: the reason and until when (null when not paused). */
  paused: { reason: string; day: string | null; month: string | null } | null;
  breakers: BreakerView[];
  /** Time of the last event or mark folded in. */
  asOf: number;
}

/** `GET /api/accounts/:id/positions`: open positions. */
export interface PositionView {
  positionStreamId: string;
  venue: string;
  symbol: string;
  side: 'LONG' | 'SHORT';
  quantity: string;
  entryPrice: string;
  leverage: number;
  /** Last mark price seen (live `md.mark`), else the last fill price; `markSource` says which. */
  markPrice: string;
  markSource: 'mark' | 'fill';
  markTs: number | null;
  notional: string;
  /** Isolated margin of the position: its initial margin at the fill (entry notional ÷ leverage), the isolated wallet balance the stop-monitor's guards and the liquidation price use. */
  isolatedMargin: string;
  unrealisedPnl: string;
  /** Binance isolated liquidation price (domain `liquidationPrice`), null if it cannot be liquidated or the rules are unknown. */
  liquidationPrice: string | null;
  /** |mark − liquidation| / mark, a fraction (0.12 = 12 %), null without a liquidation price. */
  liquidationDistance: string | null;
  /**
   * Share of the entry-to-liquidation distance left at the mark, (mark − LP) ÷ (entry − LP): 1 at
   * the entry, 0 at liquidation, negative beyond it. The stop-monitor's liquidation-distance guard
   * warns at `guards.liquidationDistanceWarn` and closes at `guards.liquidationDistanceClose` of it.
   * Null without a liquidation price.
   */
  liquidationDistanceShare: string | null;
  /** Maintenance margin / margin balance (domain `marginRatio`), a fraction; null when unknown. */
  marginRatio: string | null;
  maintenanceMargin: string | null;
  stopPrice: string | null;
  takeProfitPrice: string | null;
  /** The guard thresholds the stop-monitor uses, for colouring the meter. */
  guards: { marginRatioWarn: string; marginRatioClose: string; liquidationDistanceWarn: string; liquidationDistanceClose: string } | null;
  openedAt: number;
}

/** `GET /api/accounts/:id/orders`. */
export interface OrderView {
  clientOrderId: string;
  purpose: string | null;
  symbol: string | null;
  side: string | null;
  type: string | null;
  quantity: string | null;
  status: string;
  filledQuantity: string;
  averageFillPrice: string | null;
  fees: string;
  createdAt: number | null;
  updatedAt: number | null;
}

/** `GET /api/accounts/:id/fills`. */
export interface FillView {
  clientOrderId: string;
  tradeId: string;
  symbol: string;
  side: string;
  price: string;
  quantity: string;
  fee: string;
  feeAsset: string | null;
  /** Maker or taker when the venue says. */
  liquidity: string | null;
  ts: number;
}

/** `GET /api/accounts/:id/equity`: one point per fill, funding, equity mark or live mark that moved equity. */
export interface EquityPoint {
  ts: number;
  equity: string;
  /** Drawdown from the running peak (USDT, >= 0). */
  drawdown: string;
}

/** A live mark price (`GET /api/market/:venue/:symbol/mark`, and `event: mark` on `GET /api/stream`): price in the quote asset, `ts` market time. */
export interface MarkPriceView {
  venue: string;
  symbol: string;
  price: string;
  ts: number;
}

/** What each `data:` line of `GET /api/stream` holds for an event (every `event:` but `mark`). `ts` is market time. */
export interface StreamedEventView {
  eventId: string;
  type: string;
  streamId: string;
  ts: number;
  accountId: string | null;
  data: unknown;
}

/** `GET /api/datasets`: a candle file of the data directory a backtest can run on. `from`/`to` are the UTC days its name gives (2025-11-10), null when it gives none. */
export interface DatasetView {
  id: string;
  /** Path relative to the data directory. */
  file: string;
  venue: string;
  symbol: string;
  interval: string;
  from: string | null;
  to: string | null;
}
