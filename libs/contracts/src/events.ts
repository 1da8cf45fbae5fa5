import { z } from 'zod';
import {
  ClientOrderId,
  ConditionalOrderType,
  DecimalString,
  EntryType,
  EpochMs,
  OrderSplit,
  Identifier,
  OrderPurpose,
  OrderSide,
  OrderType,
  PositionSide,
  ProtectionMode,
  PositiveDecimalString,
  Symbol,
  TimeInForce,
  TradingDay,
  VenueId,
} from './primitives';
import { Candle, EquitySnapshot, ReplayStartRequest } from './messages';

// ---------------------------------------------------------------------------------------
// Instrument rules: stream `rules-<venue>-<symbol>`, written by execution (from the venue).
// ---------------------------------------------------------------------------------------

/** One Binance leverage bracket (`GET /fapi/v1/leverageBracket`). Notionals in USDT. */
export const LeverageBracket = z.object({
  bracket: z.number().int().positive(),
  initialLeverage: z.number().int().positive(),
  notionalFloor: DecimalString,
  notionalCap: DecimalString,
  maintMarginRatio: DecimalString,
  cum: DecimalString,
});
export type LeverageBracket = z.infer<typeof LeverageBracket>;

export const InstrumentRules = z.object({
  venue: VenueId,
  symbol: Symbol,
  baseAsset: z.string(),
  quoteAsset: z.string(),
  tickSize: PositiveDecimalString,
  minPrice: DecimalString,
  maxPrice: DecimalString,
  stepSize: PositiveDecimalString,
  minQty: PositiveDecimalString,
  maxQty: PositiveDecimalString,
  marketStepSize: PositiveDecimalString,
  marketMaxQty: PositiveDecimalString,
  minNotional: DecimalString,
  takerFeeRate: DecimalString,
  makerFeeRate: DecimalString,
  liquidationFeeRate: DecimalString,
  brackets: z.array(LeverageBracket).min(1),
});
export type InstrumentRules = z.infer<typeof InstrumentRules>;

export const InstrumentRulesRecorded = InstrumentRules.extend({
  /** Where the rules came from (file path or endpoint), for the audit. */
  source: z.string(),
});

// ---------------------------------------------------------------------------------------
// Account policy: stream `account-<accountId>`, written by risk.
// ---------------------------------------------------------------------------------------

/**
 * Which price triggers the account's stops (Binance's `workingType` names): MARK_PRICE (the
 * default) = the venue's mark price, CONTRACT_PRICE = the last traded price. On the live venues
 * stop-monitor evaluates MARK_PRICE stops on every mark-price update, CONTRACT_PRICE stops on
 * the closed candles' path; the account's exchange stops carry the same `workingType`.
 * Replays (paper, local venue) evaluate every stop on the candle path.
 */
export const WorkingType = z.enum(['MARK_PRICE', 'CONTRACT_PRICE']);
export type WorkingType = z.infer<typeof WorkingType>;

export const AccountConfig = z.object({
  accountId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  /** Trading capital in USDT. */
  capital: PositiveDecimalString,
  /** Requested leverage (integer, 1..125). */
  leverage: z.number().int().min(1).max(125),
  /** Upper bound on leverage whatever is requested (default 20). */
  leverageCap: z.number().int().min(1).max(125),
  /** Risk per trade as a fraction of equity, e.g. "0.01" for 1 %. */
  riskFraction: DecimalString,
  /** Initial margin of one entry may use at most this fraction of available margin (default 0.5). */
  maxMarginFraction: DecimalString,
  /** A stop closer to liquidation than this fraction of the entry-to-liquidation distance is denied (default 0.1). */
  liquidationBufferFraction: DecimalString,
  maxTradesPerDay: z.number().int().positive(),
  /** Daily realised loss limit as a fraction of capital (e.g. "0.03"); null = none. */
  dailyLossLimitFraction: DecimalString.nullable(),
  /** Daily realised profit target as a fraction of capital; reaching it ends the day's entries; null = none. */
  dailyProfitTargetFraction: DecimalString.nullable(),
  /** Monthly drawdown limit (realised + unrealised) as a fraction of the month's starting equity (default 0.04). */
  maxMonthlyDrawdownFraction: DecimalString,
  /**
   * Cost guard: an entry whose taker fees at entry and at the stop exceed this fraction of its
   * risk amount is denied COST_TOO_HIGH (default 0.5); null = no guard (accounts opened before v4).
   */
  maxFeeRiskFraction: DecimalString.nullable(),
  /**
   * Lifetime drawdown kill switch: equity this fraction below its peak (since the account opened
   * or the last resume from this switch) halts and flattens the account (default 0.1); null = off
   * (accounts opened before v4).
   */
  maxLifetimeDrawdownFraction: DecimalString.nullable(),
  /** Pause entries after this many losing trades in a row (resumed by command); null = off (the default). */
  losingStreakPause: z.number().int().positive().nullable(),
  /** Entries are denied MARGIN_UTILISATION_LIMIT while used margin ÷ equity is at or above this (default 0.95; v1–v3: 0.95). */
  maxMarginUtilisationFraction: DecimalString,
  marginMode: z.literal('ISOLATED'),
  /** Where stops live: INTERNAL = stop-monitor (default on paper and the local venue; BOTH on Binance demo-trading and live, docs/risk.md), EXCHANGE = reduce-only algo orders at the venue, BOTH = internal first, exchange stop as the backstop. */
  protection: ProtectionMode,
  /** The price the account's stops trigger on (default MARK_PRICE). */
  workingType: WorkingType,
  /** Leverage above 5x needs an explicit confirmation; it is recorded here. */
  highLeverageConfirmed: z.boolean(),
  /** The venue's wallet balance when the configuration was accepted (capital may not exceed it). */
  venueBalance: DecimalString,
});
export type AccountConfig = z.infer<typeof AccountConfig>;

/** Who gave an account command, when it said (absent in events recorded before it was). */
const AccountCommandBy = { by: z.string().min(1).max(100).optional() };
export const AccountOpened = AccountConfig.extend(AccountCommandBy);
/** A changed configuration of an open account (the whole new configuration). */
export const AccountReconfigured = AccountConfig.extend(AccountCommandBy);

/** Trading state, the kill switch (after NautilusTrader's TradingState). */
export const TradingState = z.enum(['ACTIVE', 'REDUCING', 'HALTED']);
export type TradingState = z.infer<typeof TradingState>;

export const TradingStateChanged = z.object({
  state: TradingState,
  previous: TradingState,
  reason: z.string().min(1),
  by: z.string().min(1),
});

/** 80 % of the day's entries are used (e.g. 40 of 50). */
export const DailyTradeLimitWarning = z.object({ tradingDay: TradingDay, count: z.number().int(), limit: z.number().int() });
/** The day's entries are used up: new entries are denied until 00:00 UTC; closes are always allowed. */
export const DailyTradeLimitReached = z.object({ tradingDay: TradingDay, count: z.number().int(), limit: z.number().int() });

/** The first equity seen in a UTC month: the base of that month's drawdown. */
export const MonthOpened = z.object({ month: z.string().regex(/^\d{4}-\d{2}$/), equity: DecimalString });

/** Monthly drawdown (realised + unrealised) crossed a share of its limit (0.5 and 0.75 by default). */
export const DrawdownAlert = z.object({
  month: z.string(),
  /** Share of the limit that was crossed, e.g. "0.5". */
  threshold: DecimalString,
  equity: DecimalString,
  monthStartEquity: DecimalString,
  drawdown: DecimalString,
  drawdownFraction: DecimalString,
  limitFraction: DecimalString,
});



/** Every input and intermediate value of a sizing decision ("why this size"). */
export const RiskAssessment = z.object({
  side: OrderSide,
  entryPrice: DecimalString,
  stopPrice: DecimalString,
  takeProfitPrice: DecimalString.nullable(),
  equity: DecimalString,
  availableMargin: DecimalString,
  riskFraction: DecimalString,
  riskAmount: DecimalString,
  stopDistance: DecimalString,
  feePerUnit: DecimalString,
  lossPerUnit: DecimalString,
  rawQuantity: DecimalString,
  marginCappedQuantity: DecimalString,
  quantity: DecimalString,
  notional: DecimalString,
  requestedLeverage: z.number().int(),
  leverageCap: z.number().int(),
  bracketMaxLeverage: z.number().int(),
  leverage: z.number().int(),
  bracket: z.number().int(),
  maintMarginRatio: DecimalString,
  maintAmount: DecimalString,
  initialMargin: DecimalString,
  maxMargin: DecimalString,
  liquidationPrice: DecimalString.nullable(),
  liquidationDistance: DecimalString.nullable(),
  stopToLiquidation: DecimalString.nullable(),
  requiredBuffer: DecimalString.nullable(),
  lossAtStop: DecimalString,
  takerFeeRate: DecimalString,
  /** Fee rate of the entry order: the maker rate for a POST_ONLY entry, else the taker rate (absent before entry types: the taker rate). The exit at the stop always pays the taker rate. */
  entryFeeRate: DecimalString.optional(),
  /** Taker fees of the sized quantity at the entry and at the stop, USDT (quantity × feePerUnit); absent before the cost guard. */
  feesAtStop: DecimalString.optional(),
  /** feesAtStop ÷ riskAmount: the share of the trade's risk budget its fees take. */
  feeRiskShare: DecimalString.optional(),
  /** The account's cost guard when assessed (null: none). */
  maxFeeRiskFraction: DecimalString.nullable().optional(),
  /** On an ABOVE_MAX_QTY / COST_TOO_HIGH denial: the largest quantity (base asset, market step multiple) that passes at the requested stop; null: none. */
  maxQuantity: DecimalString.nullable().optional(),
  /** On a STOP_TOO_CLOSE_TO_LIQUIDATION / COST_TOO_HIGH denial: the nearest stop (USDT, on the tick) that passes with the other inputs unchanged; null: none. */
  recommendedStop: DecimalString.nullable().optional(),
  /** On an ABOVE_MAX_QTY / STOP_TOO_CLOSE_TO_LIQUIDATION / COST_TOO_HIGH denial: the highest integer leverage below the granted one that passes at the requested stop; null: none. */
  maxLeverage: z.number().int().nullable().optional(),
});
export type RiskAssessment = z.infer<typeof RiskAssessment>;

export const DenialReason = z.enum([
  'INVALID_INTENT',
  'STOP_ON_WRONG_SIDE',
  'TRADING_PAUSED',
  'TRADING_HALTED',
  'TRADING_REDUCING',
  'DAILY_PROFIT_TARGET',
  'DAILY_TRADE_LIMIT',
  'DAILY_LOSS_LIMIT',
  'MONTHLY_DRAWDOWN_LIMIT',
  'POSITION_ALREADY_OPEN',
  'NO_EQUITY',
  'BELOW_MIN_QTY',
  'BELOW_MIN_NOTIONAL',
  'ABOVE_MAX_QTY',
  'INSUFFICIENT_MARGIN',
  'STOP_TOO_CLOSE_TO_LIQUIDATION',
  'COST_TOO_HIGH',
  'MARGIN_UTILISATION_LIMIT',
  'UNKNOWN_ACCOUNT',
  'ENTRY_ORDER_RESTING',
  'SPLIT_BELOW_MINIMUM',
  /** No instrument rules are recorded for the intent's venue and symbol (execution records them when it first trades the symbol or lists it in BULWARK_SYMBOLS): nothing to size with. */
  'UNKNOWN_SYMBOL',
]);
export type DenialReason = z.infer<typeof DenialReason>;

const IntentRef = {
  intentId: Identifier,
  signalStreamId: z.string(),
};

/**
 * Accounting's equity answer as an entry decision records it: the EquitySnapshot without its
 * account id (the decision names it) and its `asOf`, which says when accounting last saw a mark
 * and differs after a restart while the decision does not depend on it.
 */
export const DecisionEquity = EquitySnapshot.omit({ accountId: true, asOf: true });
export type DecisionEquity = z.infer<typeof DecisionEquity>;

export const EntryApproved = z.object({
  ...IntentRef,
  accountId: Identifier,
  clientOrderId: ClientOrderId,
  venue: VenueId,
  symbol: Symbol,
  side: OrderSide,
  /** The venue order type: MARKET, or LIMIT for every other entry type. */
  type: OrderType,
  quantity: PositiveDecimalString,
  /** The entry type the intent asked for (absent in events written before entry types: MARKET). */
  entryType: EntryType.optional(),
  /** LIMIT: the limit price (USDT, on the tick); null for MARKET. */
  price: PositiveDecimalString.nullable().optional(),
  /** LIMIT: GTC (LIMIT), GTX (POST_ONLY), IOC or FOK; null for MARKET. */
  timeInForce: TimeInForce.nullable().optional(),
  /** A resting entry (LIMIT, POST_ONLY): when execution cancels what has not filled, epoch ms (the close of the `expiresAfterBars`-th bar after the signal's); null otherwise. */
  goodTillDate: EpochMs.nullable().optional(),
  /**
   * A split entry (absent: one order of `quantity`): its child orders in the order they are sent,
   * quantities summing to `quantity`, each within the venue's limits; `intervalMs` the SLICES
   * pacing; `deadline` (epoch ms) when what has not been sent is given up and what rests is
   * cancelled.
   */
  split: z
    .object({
      style: z.enum(['SLICES', 'ICEBERG']),
      intervalMs: z.number().int().nonnegative(),
      deadline: EpochMs,
      children: z.array(z.object({ clientOrderId: ClientOrderId, quantity: PositiveDecimalString })).min(2).max(50),
    })
    .optional(),
  leverage: z.number().int().min(1).max(125),
  stopPrice: PositiveDecimalString,
  takeProfitPrice: PositiveDecimalString.nullable(),
  tradingDay: TradingDay,
  assessment: RiskAssessment,
  /** Accounting's answer the decision was taken on, so `replay --rerun` can decide it again (absent in events written before it was recorded). */
  equitySnapshot: DecisionEquity.optional(),
});
export type EntryApproved = z.infer<typeof EntryApproved>;

export const EntryDenied = z.object({
  ...IntentRef,
  accountId: Identifier,
  reason: DenialReason,
  detail: z.string(),
  tradingDay: TradingDay,
  /** The values computed before the denial, where sizing got that far. */
  assessment: RiskAssessment.partial().nullable(),
  /** Accounting's answer the decision was taken on (see EntryApproved.equitySnapshot). */
  equitySnapshot: DecisionEquity.optional(),
});
export type EntryDenied = z.infer<typeof EntryDenied>;

/** Risk let a spot-margin entry through (not halted, reducing or paused; under the daily trade count, which counts futures and margin entries together). Execution opens it. */
export const MarginEntryApproved = z.object({
  requestId: Identifier,
  accountId: Identifier,
  symbol: Symbol,
  side: PositionSide,
  stopPrice: PositiveDecimalString,
  takeProfitPrice: PositiveDecimalString.nullable(),
  by: z.string().min(1),
  tradingDay: TradingDay,
  /** This entry's number on the trading day. */
  count: z.number().int().positive(),
});

/** Risk refused a spot-margin entry, and why. */
export const MarginEntryDenied = z.object({
  requestId: Identifier,
  accountId: Identifier,
  symbol: Symbol,
  reason: DenialReason,
  detail: z.string(),
  by: z.string().min(1),
  tradingDay: TradingDay,
});

/** The net result of a closed position, recorded by risk for the daily/monthly limits. */
export const PositionResultRecorded = z.object({
  positionStreamId: z.string(),
  netPnl: DecimalString,
  tradingDay: TradingDay,
  month: z.string().regex(/^\d{4}-\d{2}$/),
});

export const BreakerReason = z.enum(['DAILY_LOSS_LIMIT', 'DAILY_PROFIT_TARGET', 'MONTHLY_DRAWDOWN_LIMIT', 'LOSING_STREAK', 'LIFETIME_DRAWDOWN_LIMIT']);
export type BreakerReason = z.infer<typeof BreakerReason>;

/** Entries are blocked: for the rest of `tradingDay` (daily loss / profit target) or until resumed (monthly drawdown). */
export const TradingPaused = z.object({
  reason: BreakerReason,
  tradingDay: TradingDay,
  month: z.string(),
  /** The amount that tripped the breaker (USDT, positive): the loss, the drawdown or the profit. */
  loss: DecimalString,
  limit: DecimalString,
});

/**
 * Equity (realised + unrealised, USDT) rose above the recorded peak of the lifetime drawdown
 * switch by more than a step (ACCOUNT_DEFAULTS.peakStep of it): the new peak. Throttled so a
 * rising account does not write an event per mark; the peak used is at most that step low.
 */
export const EquityPeakRaised = z.object({ peakEquity: DecimalString });
/**
 * The lifetime drawdown kill switch fired: equity is `drawdownFraction` below `peakEquity`, at or
 * beyond `limitFraction`. Followed by TradingStateChanged HALTED and FlattenRequested (by risk);
 * only `bulwark account resume` with a reason lets trading start again (re-basing the peak).
 */
export const LifetimeDrawdownBreached = z.object({
  peakEquity: DecimalString,
  equity: DecimalString,
  drawdown: DecimalString,
  drawdownFraction: DecimalString,
  limitFraction: DecimalString,
});

/**
 * Used margin ÷ equity crossed the alert line (ACCOUNT_DEFAULTS.marginUtilisationAlert, 90 %):
 * HIGH going up, NORMAL coming back down. While at or above the account's
 * maxMarginUtilisationFraction entries are denied MARGIN_UTILISATION_LIMIT.
 */
export const MarginUtilisationChanged = z.object({
  level: z.enum(['HIGH', 'NORMAL']),
  usedMargin: DecimalString,
  equity: DecimalString,
  utilisation: DecimalString,
  threshold: DecimalString,
});

/** Entries are allowed again after a pause, by an explicit command with a reason. */
export const TradingResumed = z.object({
  reason: z.string().min(1),
  by: z.string().min(1),
  pausedReason: BreakerReason,
  month: z.string(),
  tradingDay: TradingDay,
  /** Equity at the resume: the new base of the month's drawdown. */
  equity: DecimalString,
});

// ---------------------------------------------------------------------------------------
// Signals: stream `signal-<accountId>`, written by signals.
// ---------------------------------------------------------------------------------------

export const StrategyAttached = z.object({
  accountId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  strategy: z.string(),
  params: z.record(z.string(), z.union([z.number(), z.string()])),
  /** How its entries go to the venue (absent: MARKET) and a resting entry's life in bars. */
  entryType: EntryType.optional(),
  expiresAfterBars: z.number().int().positive().optional(),
  /** How a large entry is split into child orders (absent: never). */
  split: OrderSplit.optional(),
});

export const IntentEmitted = z.object({
  intentId: Identifier,
  accountId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  side: OrderSide,
  /** Reference entry price (the closing price the decision was made on). */
  entryPrice: PositiveDecimalString,
  /** Technical stop. */
  stopPrice: DecimalString,
  takeProfitPrice: DecimalString.nullable(),
  strategy: z.string(),
  reason: z.string(),
  candleOpenTime: EpochMs,
  /** How to enter (absent: MARKET). LIMIT, POST_ONLY, IOC and FOK are limit orders at `entryPrice`. */
  entryType: EntryType.optional(),
  /** A resting entry (LIMIT, POST_ONLY): cancel what has not filled after this many bars (whole bars after the signal's). */
  expiresAfterBars: z.number().int().positive().optional(),
  /** The bar length the strategy trades, ms (with `expiresAfterBars`, where the expiry falls). */
  barIntervalMs: z.number().int().positive().optional(),
  /** How a large entry is split (absent: never) and the signal bar's base volume (the split's volume limit). */
  split: OrderSplit.optional(),
  barVolume: DecimalString.optional(),
});
export type IntentEmitted = z.infer<typeof IntentEmitted>;

// ---------------------------------------------------------------------------------------
// Venue account settings: stream `venue-<accountId>-<venue>`, written by execution.
// ---------------------------------------------------------------------------------------

export const VenueAccountFunded = z.object({ accountId: Identifier, asset: z.string(), amount: PositiveDecimalString });
export const PositionModeSet = z.object({ mode: z.literal('ONE_WAY') });
export const MarginModeSet = z.object({ symbol: Symbol, marginMode: z.literal('ISOLATED') });
export const LeverageSet = z.object({ symbol: Symbol, leverage: z.number().int().min(1).max(125), maxNotional: DecimalString });

// ---------------------------------------------------------------------------------------
// Orders: stream `order-<clientOrderId>`, written by execution.
// ---------------------------------------------------------------------------------------

export const OrderInitialized = z.object({
  clientOrderId: ClientOrderId,
  accountId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  side: OrderSide,
  /** MARKET / LIMIT orders, or a conditional (algo) order whose venueOrderId is the venue's algo id. */
  type: z.union([OrderType, ConditionalOrderType]),
  quantity: PositiveDecimalString,
  price: DecimalString.nullable(),
  timeInForce: TimeInForce.nullable(),
  reduceOnly: z.boolean(),
  purpose: OrderPurpose,
  leverage: z.number().int().min(1).max(125).nullable(),
  /** Entry: the approving risk event; protective: the stop stream that triggered it. */
  sourceStreamId: z.string(),
  sourceEventId: z.string(),
  /** For a triggered stop: the price the trigger crossed, where the paper venue fills it; for a conditional order: its trigger price. */
  triggerPrice: DecimalString.nullable(),
  /** A resting entry: execution cancels what has not filled at the first market step at or after this time, epoch ms (EntryApproved.goodTillDate). */
  goodTillDate: EpochMs.nullable().optional(),
  /** A child of a split entry: the approved entry's client order id (EntryApproved.clientOrderId). */
  parentClientOrderId: ClientOrderId.optional(),
});
export type OrderInitialized = z.infer<typeof OrderInitialized>;

export const OrderSubmitted = z.object({ clientOrderId: ClientOrderId });
export const OrderAccepted = z.object({ clientOrderId: ClientOrderId, venueOrderId: z.string() });
export const OrderRejected = z.object({ clientOrderId: ClientOrderId, code: z.string(), message: z.string() });
export const OrderDenied = z.object({ clientOrderId: ClientOrderId, code: z.string(), message: z.string() });
export const OrderCancelRequested = z.object({ clientOrderId: ClientOrderId, reason: z.string() });
export const OrderCanceled = z.object({ clientOrderId: ClientOrderId });
export const OrderCancelRejected = z.object({ clientOrderId: ClientOrderId, code: z.string(), message: z.string() });
export const OrderExpired = z.object({ clientOrderId: ClientOrderId });
/** A request timed out: the outcome is unknown until the venue is queried by client order id. */
export const OrderStatusUnknown = z.object({ clientOrderId: ClientOrderId, detail: z.string() });

export const OrderFilled = z.object({
  clientOrderId: ClientOrderId,
  venueOrderId: z.string(),
  tradeId: z.string(),
  accountId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  side: OrderSide,
  purpose: OrderPurpose,
  /** Quantity of this fill (base asset). */
  quantity: PositiveDecimalString,
  price: PositiveDecimalString,
  /** quantity × price, USDT. */
  quoteQuantity: DecimalString,
  /** Commission of this fill, USDT (positive = paid). */
  fee: DecimalString,
  feeAsset: z.string(),
  liquidity: z.enum(['TAKER', 'MAKER']),
  /** Cumulative filled quantity and what is left. */
  filledQuantity: DecimalString,
  leavesQuantity: DecimalString,
  /** Leverage in force at the venue for this symbol when it filled. */
  leverage: z.number().int().min(1).max(125),
  /** Liquidation clearance fee charged on a liquidation fill (the rest of the isolated margin), else "0". */
  liquidationFee: DecimalString,
});
export type OrderFilled = z.infer<typeof OrderFilled>;

// ---------------------------------------------------------------------------------------
// Positions: stream `position-<account>-<venue>-<symbol>-<n>`, written by accounting.
// ---------------------------------------------------------------------------------------

const FillRef = { clientOrderId: ClientOrderId, tradeId: z.string(), purpose: OrderPurpose };

export const PositionOpened = z.object({
  accountId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  sequence: z.number().int().positive(),
  side: PositionSide,
  quantity: PositiveDecimalString,
  entryPrice: PositiveDecimalString,
  leverage: z.number().int(),
  fee: DecimalString,
  ...FillRef,
});
export const PositionIncreased = z.object({
  quantity: PositiveDecimalString,
  price: PositiveDecimalString,
  newQuantity: PositiveDecimalString,
  newEntryPrice: PositiveDecimalString,
  fee: DecimalString,
  ...FillRef,
});
export const PositionReduced = z.object({
  quantity: PositiveDecimalString,
  price: PositiveDecimalString,
  newQuantity: PositiveDecimalString,
  /** Gross PnL of the reduced part, before fees. */
  realisedPnl: DecimalString,
  fee: DecimalString,
  ...FillRef,
});
const ClosingTotals = {
  accountId: Identifier,
  quantity: PositiveDecimalString,
  price: PositiveDecimalString,
  realisedPnl: DecimalString,
  fee: DecimalString,
  /** Lifetime totals of the position. */
  totalRealisedPnl: DecimalString,
  totalFees: DecimalString,
  totalFunding: DecimalString,
  /** totalRealisedPnl − totalFees + totalFunding. */
  netPnl: DecimalString,
  ...FillRef,
};
export const PositionClosed = z.object(ClosingTotals);
/** Here netPnl = totalRealisedPnl − totalFees + totalFunding − liquidationFee (the clearance fee is a loss). */
export const PositionLiquidated = z.object({ ...ClosingTotals, liquidationFee: DecimalString });
/** A funding settlement. `amount` > 0 = received, < 0 = paid. */
/**
 * Stream `ledger-<accountId>` (accounting): the equity peak or the deepest drawdown changed at a
 * mark (realised + unrealised, USDT; the fraction is of the peak). Recorded when either moves,
 * so a restarted accounting reports them as if it had never stopped.
 */
export const EquityMarked = z.object({
  peakEquity: DecimalString,
  maxDrawdown: DecimalString,
  maxDrawdownFraction: DecimalString,
});

export const FundingApplied = z.object({
  fundingTime: EpochMs,
  rate: DecimalString,
  markPrice: PositiveDecimalString,
  positionQuantity: DecimalString,
  amount: DecimalString,
});

// ---------------------------------------------------------------------------------------
// Stops: stream `stop-<positionStreamId>`, written by stop-monitor.
// ---------------------------------------------------------------------------------------

/**
 * Price levels that guard a position beyond its stop (isolated margin, Binance math):
 * the margin ratio (maintenance margin ÷ margin balance) reaches 90 % / 95 %, and the price
 * comes within 10 % / 5 % of the entry-to-liquidation distance. Null when not reachable.
 */
export const ProtectionGuards = z.object({
  liquidationPrice: DecimalString.nullable(),
  marginRatioWarnPrice: DecimalString.nullable(),
  marginRatioClosePrice: DecimalString.nullable(),
  liquidationDistanceWarnPrice: DecimalString.nullable(),
  liquidationDistanceClosePrice: DecimalString.nullable(),
});
export type ProtectionGuards = z.infer<typeof ProtectionGuards>;

export const StopPlaced = z.object({
  positionStreamId: z.string(),
  accountId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  positionSide: PositionSide,
  quantity: PositiveDecimalString,
  stopPrice: PositiveDecimalString,
  takeProfitPrice: PositiveDecimalString.nullable(),
  entryClientOrderId: ClientOrderId,
  entryPrice: PositiveDecimalString,
  guards: ProtectionGuards,
});
/** A guard level was crossed: a warning (the position is kept). */
export const ProtectionWarning = z.object({
  kind: z.enum(['MARGIN_RATIO', 'LIQUIDATION_DISTANCE']),
  level: PositiveDecimalString,
  observedPrice: PositiveDecimalString,
  /** "0.9" (margin ratio) or "0.1" (share of the entry-to-liquidation distance left). */
  threshold: DecimalString,
});
export const StopTriggered = z.object({
  /** STOP_LOSS / TAKE_PROFIT: the trader's levels; MARGIN_RATIO / LIQUIDATION_DISTANCE: a forced close by a guard. */
  kind: z.enum(['STOP_LOSS', 'TAKE_PROFIT', 'MARGIN_RATIO', 'LIQUIDATION_DISTANCE']),
  /** The price at which the mark path crossed the level (the level itself, or the gap price). */
  triggerPrice: PositiveDecimalString,
  level: PositiveDecimalString,
  closeClientOrderId: ClientOrderId,
  side: OrderSide,
  quantity: PositiveDecimalString,
  attempt: z.number().int().positive(),
  /** Where to close (v2); v1 events carry them only in the stream's StopPlaced. */
  accountId: Identifier.optional(),
  venue: VenueId.optional(),
  symbol: Symbol.optional(),
});
export const StopCancelled = z.object({ reason: z.enum(['POSITION_CLOSED', 'POSITION_LIQUIDATED']) });
/**
 * The position the stop protects changed size (a further trade of the entry, a partial close):
 * the stop now covers `quantity`, and the guards are recomputed at the new average entry.
 */
export const StopResized = z.object({
  quantity: PositiveDecimalString,
  entryPrice: PositiveDecimalString,
  guards: ProtectionGuards,
  /** The position event that changed the size (`PositionIncreased` / `PositionReduced`). */
  cause: z.enum(['POSITION_INCREASED', 'POSITION_REDUCED']),
});
/**
 * The close order of a triggered stop ended without closing the position (rejected, expired,
 * denied). The stop stays triggered and sends the close again at `retryAt` (market time).
 */
export const CloseRejected = z.object({
  closeClientOrderId: ClientOrderId,
  attempt: z.number().int().positive(),
  code: z.string(),
  message: z.string(),
  /** Market time (epoch ms) from which the next attempt is sent. */
  retryAt: EpochMs,
});
/**
 * A triggered stop could not close its position after `attempts` tries: an operator must look.
 * Retrying goes on; execution records a `VenueAlert PROTECTION_FAILED` for it.
 */
export const ProtectionFailed = z.object({
  positionStreamId: z.string(),
  accountId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  attempts: z.number().int().positive(),
  lastCode: z.string(),
  lastMessage: z.string(),
});

// ---------------------------------------------------------------------------------------
// Spot isolated margin: stream `margin-<accountId>-<symbol>` (the pair's isolated account:
// transfers, loans, interest, its positions and the guard's crossings).
// ---------------------------------------------------------------------------------------

/** The margin level (total asset value ÷ (borrowed + interest)) crossed one of the pair's bars. */
export const MarginLevelAlert = z.object({
  accountId: Identifier,
  symbol: Symbol,
  bar: z.enum(['transferOut', 'borrow', 'marginCall', 'liquidation']),
  threshold: DecimalString,
  direction: z.enum(['DOWN', 'UP']),
  /** The observed margin level; null = nothing borrowed. */
  marginLevel: DecimalString.nullable(),
  price: PositiveDecimalString,
});

/** The automatic reduction at the margin-call level: trade this much back toward the borrow bar. */
export const MarginCallReductionTriggered = z.object({
  accountId: Identifier,
  symbol: Symbol,
  orderSide: OrderSide,
  quantity: PositiveDecimalString,
  marginLevel: DecimalString,
  price: PositiveDecimalString,
});

/** What a margin command or event is about: one isolated pair of one account. */
const MarginPair = { accountId: Identifier, symbol: Symbol };
/** Who asked (a user, `stop-monitor`, `guard`) and when, epoch ms of the venue's answer. */
const MarginBy = { by: z.string().min(1), at: EpochMs };

/** An asset moved between the spot wallet and the pair's isolated margin account (Binance `POST /sapi/v1/asset/transfer` MAIN_ISOLATED_MARGIN / ISOLATED_MARGIN_MAIN). */
export const MarginTransferred = z.object({
  ...MarginPair,
  asset: z.string().min(1),
  amount: PositiveDecimalString,
  direction: z.enum(['TO_MARGIN', 'TO_SPOT']),
  /** The venue's transaction id. */
  tranId: z.string(),
  ...MarginBy,
});

/** A loan taken in the pair's isolated account, explicitly (`POST /sapi/v1/margin/borrow-repay` type BORROW) or by a MARGIN_BUY order. */
export const MarginBorrowed = z.object({
  ...MarginPair,
  asset: z.string().min(1),
  amount: PositiveDecimalString,
  /** The venue's transaction id, or the client order id of the MARGIN_BUY order that borrowed. */
  tranId: z.string(),
  ...MarginBy,
});

/** A repayment: Binance pays the outstanding interest first, then principal. `principal + interest` = the amount repaid. */
export const MarginRepaid = z.object({
  ...MarginPair,
  asset: z.string().min(1),
  principal: DecimalString,
  interest: DecimalString,
  /** The venue's transaction id, or the client order id of the AUTO_REPAY order that repaid. */
  tranId: z.string(),
  ...MarginBy,
});

/**
 * One interest accrual on a loan (Binance `GET /sapi/v1/margin/interestHistory`): principal ×
 * daily rate ÷ 24, charged when the loan is taken (ON_BORROW) and at every full UTC hour it is
 * outstanding (PERIODIC). `quoteValue` = interest valued in the quote asset at `price`, the
 * pair's price at the accrual (equal to `interest` for a quote-asset loan).
 */
export const MarginInterestCharged = z.object({
  ...MarginPair,
  asset: z.string().min(1),
  principal: PositiveDecimalString,
  interest: DecimalString,
  dailyRate: DecimalString,
  type: z.enum(['ON_BORROW', 'PERIODIC']),
  txId: z.string(),
  price: PositiveDecimalString,
  quoteValue: DecimalString,
  at: EpochMs,
});

/** A margin command the venue or Bulwark refused, with the venue's code: the books are unchanged. */
export const MarginCommandRejected = z.object({
  ...MarginPair,
  command: z.enum(['TRANSFER_TO_MARGIN', 'TRANSFER_TO_SPOT', 'BORROW', 'REPAY', 'OPEN', 'CLOSE', 'CANCEL']),
  /** The request (an approved entry's requestId), null when none was given. */
  requestId: Identifier.nullable(),
  /** OPEN / CLOSE: the position's sequence, else null. */
  sequence: z.number().int().positive().nullable(),
  asset: z.string().nullable(),
  amount: DecimalString.nullable(),
  code: z.string(),
  message: z.string(),
  ...MarginBy,
});

/**
 * A spot isolated-margin position was opened by a filled entry order (MARGIN_BUY: the
 * shortfall borrowed at placement). A long borrows the quote asset, a short the base asset.
 * Its stop is Bulwark's internal stop (the Iron Exit): spot margin has no reduce-only stop order.
 */
export const MarginPositionOpened = z.object({
  ...MarginPair,
  /** `<n>`-th position of the pair, from 1. */
  sequence: z.number().int().positive(),
  side: PositionSide,
  /** Base quantity held (long: bought minus the base commission; short: sold). */
  quantity: PositiveDecimalString,
  /** Volume-weighted fill price, quote per base. */
  entryPrice: PositiveDecimalString,
  /** Base bought (long, before the base commission) or sold (short) by the entry's fills. */
  entryQuantity: PositiveDecimalString,
  /** Quote paid (long) or received (short) for the fills, before commission. */
  entryQuote: PositiveDecimalString,
  /** The entry's commission in each asset (Binance takes it from the asset received: base for a buy, quote for a sell). */
  baseCommission: DecimalString,
  quoteCommission: DecimalString,
  /** The entry's commission valued in quote at the fill price (for display; the result revalues a base commission at the exit). */
  commissionQuote: DecimalString,
  stopPrice: PositiveDecimalString,
  takeProfitPrice: PositiveDecimalString.nullable(),
  /** The loss at the stop the sizing allowed, quote. */
  riskAmount: PositiveDecimalString,
  /** The approved entry request (MarginEntryApproved.requestId) this carries out; null for a direct open. */
  requestId: Identifier.nullable(),
  clientOrderId: ClientOrderId,
  orderId: z.string(),
  ...MarginBy,
});

/**
 * The position must close: its internal stop or take-profit was reached (at the index price,
 * quote per base), the guard's margin-call level, or an operator's close / the kill switch
 * (OPERATOR_CLOSE). The market close with AUTO_REPAY follows, and is retried until it fills.
 */
export const MarginStopTriggered = z.object({
  ...MarginPair,
  sequence: z.number().int().positive(),
  kind: z.enum(['STOP_LOSS', 'TAKE_PROFIT', 'MARGIN_CALL_REDUCTION', 'OPERATOR_CLOSE']),
  triggerPrice: PositiveDecimalString,
  price: PositiveDecimalString,
  /** OPERATOR_CLOSE: who and why (e.g. `flatten: kill switch` by ops); absent for the automatic exits. */
  reason: z.string().min(1).optional(),
  by: z.string().min(1).optional(),
  at: EpochMs,
});

/**
 * The position ended. status STOPPED_OUT = the internal stop closed it, LIQUIDATED = the venue
 * did, CLOSED = anything else (a user, the take-profit, the kill switch). Amounts in quote,
 * valued at the exit price (`marginClosePnl`): realisedPnl = (exitPrice − entryPrice) ×
 * entryQuantity (a short: the negation); commissionQuote and interestQuote are every commission
 * and interest of the position; netPnl = realisedPnl − commissionQuote − interestQuote −
 * shortfall, which is the change of the pair's equity valued at the exit price.
 */
export const MarginPositionClosed = z.object({
  ...MarginPair,
  sequence: z.number().int().positive(),
  status: z.enum(['CLOSED', 'STOPPED_OUT', 'LIQUIDATED']),
  reason: z.string().min(1),
  quantity: PositiveDecimalString,
  exitPrice: PositiveDecimalString,
  exitQuote: PositiveDecimalString,
  realisedPnl: DecimalString,
  commissionQuote: DecimalString,
  interestQuote: DecimalString,
  /** A loan the liquidation could not cover (the venue's insurance), quote; "0" otherwise. */
  shortfall: DecimalString,
  netPnl: DecimalString,
  /** The pair's equity after the close and its repayments (quote at the index price): the equity risk's drawdown limits observe. */
  equityAfter: DecimalString,
  clientOrderId: ClientOrderId.nullable(),
  ...MarginBy,
});

// ---------------------------------------------------------------------------------------
// Venue reconciliation and alerts: stream `venue-<accountId>-<venue>`, written by execution.
// ---------------------------------------------------------------------------------------

/** A difference between what the venue reports and what the event log says, and what execution did about it. */
export const ReconciliationDifference = z.object({
  symbol: Symbol,
  kind: z.enum([
    'UNKNOWN_POSITION', // the venue holds a position the log does not know
    'MISSING_POSITION', // the log has an open position the venue does not hold
    'POSITION_QUANTITY_MISMATCH',
    'UNKNOWN_ORDER', // an open order at the venue that no order stream knows
    'ORDER_NOT_OPEN', // an order the log thinks is open is done at the venue
    'UNKNOWN_PROTECTIVE_ORDER',
    'MISSING_PROTECTIVE_ORDER', // an exchange stop the log placed is not at the venue
  ]),
  clientOrderId: z.string().nullable(),
  /** What the log says (a quantity, a status), null when the log has nothing. */
  expected: z.string().nullable(),
  /** What the venue says, null when the venue has nothing. */
  observed: z.string().nullable(),
  /** RECORDED = noted only; PROTECTED = an emergency stop was placed; RESTORED = the missing exchange stop was placed again; ADOPTED = the venue's order was taken into the log. */
  action: z.enum(['RECORDED', 'PROTECTED', 'RESTORED', 'ADOPTED']),
  detail: z.string(),
});

/** One reconciliation pass finished: what was compared and how many differences it found. */
export const ReconciliationCompleted = z.object({
  symbol: Symbol,
  trigger: z.enum(['STARTUP', 'PERIODIC', 'RECONNECT']),
  openOrders: z.number().int().nonnegative(),
  protectiveOrders: z.number().int().nonnegative(),
  positions: z.number().int().nonnegative(),
  differences: z.number().int().nonnegative(),
  /** USDT wallet balance reported by the venue. */
  walletBalance: DecimalString,
});

// ---------------------------------------------------------------------------------------
// Operator commands on an account (stream `account-<accountId>`, written by risk), carried
// out by execution. Each records who asked and why.
// ---------------------------------------------------------------------------------------

/** Close everything: the account is set HALTED first, then every order is cancelled and every position closed reduce-only. */
export const FlattenRequested = z.object({ by: z.string().min(1), reason: z.string().min(1) });
/** Close one position reduce-only at market. */
export const PositionCloseRequested = z.object({ symbol: Symbol, by: z.string().min(1), reason: z.string().min(1) });
/** Cancel one resting order. */
export const OrderCancelCommanded = z.object({ clientOrderId: ClientOrderId, by: z.string().min(1), reason: z.string().min(1) });

/**
 * A service met a stored event it could not apply while rebuilding or consuming (unknown type,
 * invalid data, a transition its aggregate does not allow): recorded once in
 * `quarantine-<service>`, the event is skipped and the service goes on.
 */
export const PoisonEventQuarantined = z.object({
  service: z.string().min(1),
  streamId: z.string(),
  /** Revision in its stream; null for a stored message that carries none (it could not be read at all). */
  revision: z.number().int().nonnegative().nullable(),
  /** Position in the global log (0 when unknown). */
  position: z.number().int().nonnegative(),
  eventType: z.string(),
  reason: z.string(),
});

/**
 * An instance of a service took its lease and acts (docs/architecture.md "Standby and takeover"),
 * recorded in `lease-<service>` by that instance once it has rebuilt its state: which instance,
 * how it came to hold the lease, and how long the service had nobody acting.
 */
export const ServiceActivated = z.object({
  service: z.string().min(1),
  instance: z.string().min(1),
  /** FIRST: nobody held the lease; RELEASED: the previous holder handed it over; EXPIRED: the previous holder stopped renewing it (it died). */
  reason: z.enum(['FIRST', 'RELEASED', 'EXPIRED']),
  previousInstance: z.string().nullable(),
  /** Epoch ms the lease became free (a release), null when not timed (an expiry, a first start). */
  freedAt: z.number().int().nonnegative().nullable(),
  /** Epoch ms this instance took the lease. */
  acquiredAt: z.number().int().nonnegative(),
  /** Epoch ms it acted: state rebuilt, consuming the log, answering requests. */
  activeAt: z.number().int().nonnegative(),
});

/** The active instance of a service stopped acting and handed its lease over (a graceful stop). */
export const ServiceLeaseReleased = z.object({
  service: z.string().min(1),
  instance: z.string().min(1),
  /** Why it stopped: the signal, e.g. SIGTERM. */
  reason: z.string().min(1),
});

/**
 * A split entry will send no more children (on `venue-<account>-<venue>`, by execution): all
 * were sent (COMPLETED), its deadline came (DEADLINE), the next child would have taken the loss
 * at the stop past the approved risk (RISK_LIMIT), the parent was cancelled by an operator
 * (CANCELLED), the kill switch halted the account (HALTED) or a stop or target of the symbol
 * triggered (STOP_TRIGGERED). Children still resting are cancelled with it (except COMPLETED).
 */
export const EntrySplitEnded = z.object({
  parentClientOrderId: ClientOrderId,
  symbol: Symbol,
  reason: z.enum(['COMPLETED', 'DEADLINE', 'RISK_LIMIT', 'CANCELLED', 'HALTED', 'STOP_TRIGGERED']),
  /** Children sent, of how many. */
  sent: z.number().int().nonnegative(),
  children: z.number().int().positive(),
  /** What the sent children filled, base asset. */
  filledQuantity: DecimalString,
  detail: z.string(),
});

/** Something at the venue that an operator must know now (a ban stops every call until it ends). */
export const VenueAlert = z.object({
  /**
   * MARK_PRICE_STALE: no mark price reached stop-monitor for `BULWARK_MARK_STALE_SECONDS` while a
   * mark-price stop was armed (it polls `GET /fapi/v1/premiumIndex` meanwhile);
   * MARK_PRICE_RESUMED: the mark-price stream is back (polling ended). Both on `monitor-<account>`.
   */
  kind: z.enum(['IP_BANNED', 'RATE_LIMITED', 'CLOCK_SKEW', 'USER_STREAM_DOWN', 'PROTECTION_FAILED', 'MARK_PRICE_STALE', 'MARK_PRICE_RESUMED']),
  detail: z.string(),
  /** When the condition ends (ban end), null when unknown. */
  until: EpochMs.nullable(),
});

// ---------------------------------------------------------------------------------------
// Replay runs: stream `replay-<runId>`, written by market-data. The replay clock's journal,
// not trading facts: a restarted market-data resumes an unfinished run from its last
// checkpoint. Checkpoints are written every few seconds of wall time, not per step.
// ---------------------------------------------------------------------------------------

/**
 * Stream `candles-<venue>-<symbol>` (market-data's live feeds): a live candle all of whose steps
 * every service has handled, with the feed run that replayed it. A restarted market-data resumes
 * after the last one (back-filling the gap from the venue), and warm-ups and audits of live
 * trading find the market they saw in the log. File replays record nothing here: their candle
 * file is named in the run's journal.
 */
export const CandleClosed = z.object({ runId: Identifier, venue: VenueId, symbol: Symbol, candle: Candle });

/** A replay run was accepted: the request as received and the number of candles in its window. */
export const ReplayStarted = z.object({ request: ReplayStartRequest, total: z.number().int().nonnegative() });
/**
 * Every service acknowledged every step before `nextSeq` (the first step a resumed run sends
 * again), after `candles` whole candles up to `marketTime` (the last one's open time) and the
 * first `commandsSent` operator commands of the run's schedule (in time order).
 */
export const ReplayStepsAcknowledged = z.object({
  nextSeq: z.number().int().nonnegative(),
  candles: z.number().int().nonnegative(),
  marketTime: EpochMs,
  commandsSent: z.number().int().nonnegative(),
});
/** A restarted market-data took the run up again at `nextSeq` (steps from there may reach a service twice). */
export const ReplayResumed = z.object({ nextSeq: z.number().int().nonnegative(), resumes: z.number().int().positive() });
/**
 * The run ended: COMPLETED (every candle replayed), FAILED (a service refused or stayed silent
 * past the stall limit, or the data failed), CANCELLED (by an operator), ABANDONED (found
 * unfinished at start-up after nobody could still be waiting for it).
 */
export const ReplayFinished = z.object({
  outcome: z.enum(['COMPLETED', 'FAILED', 'CANCELLED', 'ABANDONED']),
  candles: z.number().int().nonnegative(),
  steps: z.number().int().nonnegative(),
  detail: z.string().nullable(),
});

// ---------------------------------------------------------------------------------------
// Hash-chain checkpoints: stream `chain-<account>`, written by the event store's checkpointer
// (docs/event-store.md "Checkpoints").
// ---------------------------------------------------------------------------------------

/** One stream's chain head: the hash (SHA-256, hex) stored on its event at `revision`. */
export const ChainHead = z.object({
  streamId: z.string().regex(/^[a-z]+-[A-Za-z0-9_-]{1,180}$/),
  revision: z.number().int().nonnegative(),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ChainHead = z.infer<typeof ChainHead>;

/**
 * The heads of an account's streams that moved since the account's previous checkpoint, as the
 * log held them through global position `throughPosition`. A later rewrite of any of those events
 * (even one that recomputes every hash after it) no longer matches the checkpoint.
 */
export const ChainCheckpointRecorded = z.object({
  accountId: Identifier,
  throughPosition: z.number().int().positive(),
  heads: z.array(ChainHead).min(1).max(300),
});

// ---------------------------------------------------------------------------------------
// Gateway users: stream `user-<username>`, written by `bulwark user` (set-up, NATS user admin).
// Password and API-key hashes are NOT events: they live in the credentials bucket.
// ---------------------------------------------------------------------------------------

/** The gateway's roles, each including the ones before it: viewer reads, trader commands, admin manages users. */
export const UserRole = z.enum(['viewer', 'trader', 'admin']);
export type UserRole = z.infer<typeof UserRole>;
/** A gateway user name (also the id of its stream). */
export const Username = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected [A-Za-z0-9_-]{1,64}');
export const UserCreated = z.object({ username: Username, role: UserRole, by: z.string().min(1) });
export const UserRoleChanged = z.object({ username: Username, role: UserRole, by: z.string().min(1) });
export const UserDisabled = z.object({ username: Username, by: z.string().min(1), reason: z.string().min(1) });

// ---------------------------------------------------------------------------------------
// The catalogue.
// ---------------------------------------------------------------------------------------

/** Every event type with its data schema and current schema version. */
export const EventCatalogue = {
  InstrumentRulesRecorded: { schema: InstrumentRulesRecorded, version: 1 },
  AccountOpened: { schema: AccountOpened, version: 4 },
  EntryApproved: { schema: EntryApproved, version: 1 },
  EntryDenied: { schema: EntryDenied, version: 1 },
  PositionResultRecorded: { schema: PositionResultRecorded, version: 1 },
  TradingPaused: { schema: TradingPaused, version: 1 },
  AccountReconfigured: { schema: AccountReconfigured, version: 4 },
  TradingStateChanged: { schema: TradingStateChanged, version: 1 },
  DailyTradeLimitWarning: { schema: DailyTradeLimitWarning, version: 1 },
  DailyTradeLimitReached: { schema: DailyTradeLimitReached, version: 1 },
  MonthOpened: { schema: MonthOpened, version: 1 },
  EquityPeakRaised: { schema: EquityPeakRaised, version: 1 },
  LifetimeDrawdownBreached: { schema: LifetimeDrawdownBreached, version: 1 },
  MarginUtilisationChanged: { schema: MarginUtilisationChanged, version: 1 },
  DrawdownAlert: { schema: DrawdownAlert, version: 1 },
  TradingResumed: { schema: TradingResumed, version: 1 },
  ProtectionWarning: { schema: ProtectionWarning, version: 1 },
  MarginLevelAlert: { schema: MarginLevelAlert, version: 1 },
  MarginCallReductionTriggered: { schema: MarginCallReductionTriggered, version: 1 },
  MarginEntryApproved: { schema: MarginEntryApproved, version: 1 },
  MarginEntryDenied: { schema: MarginEntryDenied, version: 1 },
  MarginTransferred: { schema: MarginTransferred, version: 1 },
  MarginBorrowed: { schema: MarginBorrowed, version: 1 },
  MarginRepaid: { schema: MarginRepaid, version: 1 },
  MarginInterestCharged: { schema: MarginInterestCharged, version: 1 },
  MarginCommandRejected: { schema: MarginCommandRejected, version: 1 },
  MarginPositionOpened: { schema: MarginPositionOpened, version: 1 },
  MarginStopTriggered: { schema: MarginStopTriggered, version: 1 },
  MarginPositionClosed: { schema: MarginPositionClosed, version: 1 },
  StrategyAttached: { schema: StrategyAttached, version: 1 },
  IntentEmitted: { schema: IntentEmitted, version: 1 },
  VenueAccountFunded: { schema: VenueAccountFunded, version: 1 },
  PositionModeSet: { schema: PositionModeSet, version: 1 },
  MarginModeSet: { schema: MarginModeSet, version: 1 },
  LeverageSet: { schema: LeverageSet, version: 1 },
  OrderInitialized: { schema: OrderInitialized, version: 1 },
  OrderSubmitted: { schema: OrderSubmitted, version: 1 },
  OrderAccepted: { schema: OrderAccepted, version: 1 },
  OrderRejected: { schema: OrderRejected, version: 1 },
  OrderDenied: { schema: OrderDenied, version: 1 },
  OrderCancelRequested: { schema: OrderCancelRequested, version: 1 },
  OrderCanceled: { schema: OrderCanceled, version: 1 },
  OrderCancelRejected: { schema: OrderCancelRejected, version: 1 },
  OrderExpired: { schema: OrderExpired, version: 1 },
  OrderStatusUnknown: { schema: OrderStatusUnknown, version: 1 },
  OrderFilled: { schema: OrderFilled, version: 1 },
  PositionOpened: { schema: PositionOpened, version: 1 },
  PositionIncreased: { schema: PositionIncreased, version: 1 },
  PositionReduced: { schema: PositionReduced, version: 1 },
  PositionClosed: { schema: PositionClosed, version: 1 },
  PositionLiquidated: { schema: PositionLiquidated, version: 1 },
  FundingApplied: { schema: FundingApplied, version: 1 },
  EquityMarked: { schema: EquityMarked, version: 1 },
  StopPlaced: { schema: StopPlaced, version: 2 },
  StopTriggered: { schema: StopTriggered, version: 2 },
  StopCancelled: { schema: StopCancelled, version: 1 },
  StopResized: { schema: StopResized, version: 1 },
  CloseRejected: { schema: CloseRejected, version: 1 },
  ProtectionFailed: { schema: ProtectionFailed, version: 1 },
  FlattenRequested: { schema: FlattenRequested, version: 1 },
  PositionCloseRequested: { schema: PositionCloseRequested, version: 1 },
  OrderCancelCommanded: { schema: OrderCancelCommanded, version: 1 },
  PoisonEventQuarantined: { schema: PoisonEventQuarantined, version: 1 },
  ServiceActivated: { schema: ServiceActivated, version: 1 },
  ServiceLeaseReleased: { schema: ServiceLeaseReleased, version: 1 },
  ReconciliationDifference: { schema: ReconciliationDifference, version: 1 },
  ReconciliationCompleted: { schema: ReconciliationCompleted, version: 1 },
  VenueAlert: { schema: VenueAlert, version: 1 },
  EntrySplitEnded: { schema: EntrySplitEnded, version: 1 },
  CandleClosed: { schema: CandleClosed, version: 1 },
  ReplayStarted: { schema: ReplayStarted, version: 1 },
  ReplayStepsAcknowledged: { schema: ReplayStepsAcknowledged, version: 1 },
  ReplayResumed: { schema: ReplayResumed, version: 1 },
  ReplayFinished: { schema: ReplayFinished, version: 1 },
  ChainCheckpointRecorded: { schema: ChainCheckpointRecorded, version: 1 },
  UserCreated: { schema: UserCreated, version: 1 },
  UserRoleChanged: { schema: UserRoleChanged, version: 1 },
  UserDisabled: { schema: UserDisabled, version: 1 },
} as const;

export type EventCatalogue = typeof EventCatalogue;
export type EventType = keyof EventCatalogue;
/** The data of an event type. */
export type EventData<T extends EventType> = z.infer<EventCatalogue[T]['schema']>;
/** A domain event: a type and its data (metadata is added by the service that appends it). */
export type DomainEvent<T extends EventType = EventType> = T extends EventType ? { type: T; data: EventData<T> } : never;

/** Build a domain event with its data checked by the compiler. */
export function event<T extends EventType>(type: T, data: EventData<T>): DomainEvent<T> {
  return { type, data } as DomainEvent<T>;
}

export function isEventType(type: string): type is EventType {
  return Object.prototype.hasOwnProperty.call(EventCatalogue, type);
}

/**
 * Bring an event written with an older schema version up to the current one, where that can
 * be done without inventing facts.
 * - AccountOpened v1 (before the risk engine's configuration): no daily profit target, no
 *   high-leverage confirmation recorded, and the venue balance taken as the capital.
 * - AccountOpened / AccountReconfigured v1–v2 (before the trigger price type): `workingType`
 *   MARK_PRICE, the default.
 * - AccountOpened / AccountReconfigured v1–v3 (before the cost guard, the lifetime drawdown
 *   switch and the losing-streak pause): all three null, off (the account was opened without
 *   them; a reconfigure sets them); the margin-utilisation stop at its default 0.95, which only
 *   refuses entries a venue would refuse for margin anyway.
 * - StopPlaced v1 (before protection guards): not upcastable (the entry price and the guard
 *   levels were never recorded); it stays invalid and is reported as such.
 */
export function upcast(type: string, data: unknown, schemaVersion: number): unknown {
  let d = data;
  if (type === 'AccountOpened' && schemaVersion < 2 && d && typeof d === 'object') {
    const v1 = d as Record<string, unknown>;
    d = { dailyProfitTargetFraction: null, highLeverageConfirmed: false, venueBalance: v1.capital, ...v1 };
  }
  if ((type === 'AccountOpened' || type === 'AccountReconfigured') && schemaVersion < 3 && d && typeof d === 'object') {
    d = { workingType: 'MARK_PRICE', ...(d as Record<string, unknown>) };
  }
  if ((type === 'AccountOpened' || type === 'AccountReconfigured') && schemaVersion < 4 && d && typeof d === 'object') {
    d = { maxFeeRiskFraction: null, maxLifetimeDrawdownFraction: null, losingStreakPause: null, maxMarginUtilisationFraction: '0.95', ...(d as Record<string, unknown>) };
  }
  return d;
}

/**
 * Validate an event read from the store or the bus (after upcasting it from its schema version).
 * @returns the typed event, or the reason it is invalid (never throws).
 */
export function parseEvent(type: string, data: unknown, schemaVersion?: number): { ok: true; event: DomainEvent } | { ok: false; reason: string } {
  if (!isEventType(type)) return { ok: false, reason: `unknown event type "${type}"` };
  const current = EventCatalogue[type].version;
  if (schemaVersion !== undefined && schemaVersion > current) return { ok: false, reason: `${type} v${schemaVersion} is newer than this code (v${current})` };
  const r = EventCatalogue[type].schema.safeParse(schemaVersion !== undefined && schemaVersion < current ? upcast(type, data, schemaVersion) : data);
  if (!r.success) return { ok: false, reason: `${type}${schemaVersion !== undefined ? ` v${schemaVersion}` : ''}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}` };
  return { ok: true, event: { type, data: r.data } as DomainEvent };
}
