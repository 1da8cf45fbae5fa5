import { z } from 'zod';
import { ClientOrderId, DecimalString, EntryType, EpochMs, OrderSplit, Identifier, PositiveDecimalString, Symbol, VenueId } from './primitives';

/** A closed 1-minute (or other interval) candle. `openTime` is the bar's open, epoch ms UTC. */
export const Candle = z.object({
  openTime: EpochMs,
  interval: z.string(),
  open: PositiveDecimalString,
  high: PositiveDecimalString,
  low: PositiveDecimalString,
  close: PositiveDecimalString,
  volume: DecimalString,
});
export type Candle = z.infer<typeof Candle>;

/**
 * One step of the market's intra-bar price path (open → low → high → close for a rising
 * bar, open → high → low → close for a falling one). The price moves from `from` to `to`:
 * continuously when `gap` is false, as a jump when it is true (the first step of a bar,
 * from the previous close to this open). `pathIndex` 0 is the open, 3 the close; the
 * close step carries the closed `candle`, and a step at a funding settlement carries it.
 * The path's price stands in for the mark price until mark data is wired.
 */
export const MarketTick = z.object({
  runId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  /** Global, gap-free tick number of the replay (0-based). */
  seq: z.number().int().nonnegative(),
  /** Market time of this step, epoch ms. */
  ts: EpochMs,
  candleOpenTime: EpochMs,
  pathIndex: z.number().int().min(0).max(3),
  from: PositiveDecimalString,
  to: PositiveDecimalString,
  gap: z.boolean(),
  candle: Candle.nullable(),
  funding: z.object({ fundingTime: EpochMs, rate: DecimalString }).nullable(),
  /** The bar's traded volume (base asset), on every step of it: the paper venue's liquidity model spreads it over the steps. */
  barVolume: DecimalString.nullable().optional(),
  /**
   * A live feed catching up after a restart: this candle closed before the feed started. Stops,
   * guards and accounting act on it as on any other (a level crossed during the gap is crossed);
   * strategies learn from it but do not trade on it (its moment has passed).
   */
  backfill: z.boolean().optional(),
});
export type MarketTick = z.infer<typeof MarketTick>;

/** Ask market-data for the closed candles it serves (a replay's file, the live feed's history): `from <= openTime < to`. */
export const CandlesRequest = z.object({
  venue: VenueId,
  symbol: Symbol,
  from: EpochMs,
  to: EpochMs,
  /** At most this many candles per answer (1–1000); `next` says where the following page starts. */
  limit: z.number().int().min(1).max(1000).default(1000),
});
export type CandlesRequest = z.infer<typeof CandlesRequest>;
/** One page of candles; `next` = the open time to ask from for the rest, null when there is no more. */
export const CandlesPage = z.object({ candles: z.array(Candle), next: EpochMs.nullable() });
export type CandlesPage = z.infer<typeof CandlesPage>;

/**
 * Which clock steps a service needs next: every step, only a bar's close, or none (it holds
 * nothing that a price can move). The replay clock skips a phase nobody needs; a service
 * that would do nothing with a step is not asked, so skipping keeps the replay identical.
 */
export const ClockInterest = z.enum(['STEP', 'CLOSE', 'NONE']);
export type ClockInterest = z.infer<typeof ClockInterest>;

/** What a service answers to a clock step or a sync: how many events it has appended so far, and what it needs next. */
export const ClockAck = z.object({
  service: z.string(),
  appended: z.number().int().nonnegative(),
  idle: z.boolean(),
  interest: ClockInterest.default('STEP'),
  /**
   * Which appender counted `appended` (one per service instance): a restarted service counts from
   * 0 again, so a count is compared only with the same instance's.
   */
  instance: z.string().max(64).optional(),
  /**
   * The last clock step this process handled (sync answers), so a resumed replay knows how far
   * the clock it replaces got: steps below it reached every service that wanted them.
   */
  lastStep: z.object({ runId: Identifier, seq: z.number().int().nonnegative() }).nullable().optional(),
});
export type ClockAck = z.infer<typeof ClockAck>;

export const AccountQuery = z.object({ accountId: Identifier });
export type AccountQuery = z.infer<typeof AccountQuery>;

/** Accounting's answer to "what can this account trade with now" (all USDT). */
export const EquitySnapshot = z.object({
  accountId: Identifier,
  known: z.boolean(),
  walletBalance: DecimalString,
  unrealisedPnl: DecimalString,
  equity: DecimalString,
  usedMargin: DecimalString,
  availableMargin: DecimalString,
  openPositions: z.number().int().nonnegative(),
  asOf: EpochMs,
});
export type EquitySnapshot = z.infer<typeof EquitySnapshot>;

/** The accounting read model of one account, for the demo's summary. */
export const AccountSummary = z.object({
  accountId: Identifier,
  capital: DecimalString,
  realisedPnl: DecimalString,
  fees: DecimalString,
  funding: DecimalString,
  liquidationFees: DecimalString,
  unrealisedPnl: DecimalString,
  finalEquity: DecimalString,
  maxDrawdown: DecimalString,
  maxDrawdownFraction: DecimalString,
  peakEquity: DecimalString,
  positionsOpened: z.number().int(),
  positionsClosed: z.number().int(),
  liquidations: z.number().int(),
  fills: z.number().int(),
  openPositions: z.number().int(),
  closesByPurpose: z.record(z.string(), z.number().int()),
});
export type AccountSummary = z.infer<typeof AccountSummary>;

/** Open or reconfigure an account; omitted fields take the policy defaults (docs/risk.md). */
export const OpenAccountRequest = z.object({
  accountId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  capital: DecimalString,
  leverage: z.number(),
  riskFraction: DecimalString.optional(),
  leverageCap: z.number().optional(),
  maxTradesPerDay: z.number().optional(),
  dailyLossLimitFraction: DecimalString.nullable().optional(),
  dailyProfitTargetFraction: DecimalString.nullable().optional(),
  maxMonthlyDrawdownFraction: DecimalString.optional(),
  /** Cost guard: the largest share of an entry's risk amount its taker fees may take (default 0.5); null = off. */
  maxFeeRiskFraction: DecimalString.nullable().optional(),
  /** Lifetime drawdown kill switch: this fraction below the equity peak halts and flattens (default 0.1); null = off. */
  maxLifetimeDrawdownFraction: DecimalString.nullable().optional(),
  /** Pause entries after this many losing trades in a row (default null: off). */
  losingStreakPause: z.number().int().nullable().optional(),
  /** Entries are denied while used margin ÷ equity is at or above this (default 0.95). */
  maxMarginUtilisationFraction: DecimalString.optional(),
  marginMode: z.string().optional(),
  /** INTERNAL, EXCHANGE or BOTH: where the protective stops live (default BOTH when execution trades Binance demo-trading or live, else INTERNAL; docs/risk.md). */
  protection: z.string().optional(),
  /** MARK_PRICE (default) or CONTRACT_PRICE: the price the account's stops trigger on. */
  workingType: z.string().optional(),
  highLeverageConfirmed: z.boolean().optional(),
  /** The venue's wallet balance (the paper deposit for the paper venue). */
  venueBalance: DecimalString,
  /** Who asks (the gateway's authenticated user, the CLI's --by); recorded in AccountOpened / AccountReconfigured. */
  by: z.string().min(1).max(100).optional(),
  /** Market time of the command (replay); wall clock when absent. */
  at: EpochMs.optional(),
});
export type OpenAccountRequest = z.infer<typeof OpenAccountRequest>;

export const SetTradingStateRequest = z.object({
  accountId: Identifier,
  state: z.enum(['ACTIVE', 'REDUCING', 'HALTED']),
  reason: z.string().min(1),
  by: z.string().min(1),
  /** Market time of the command (replay); wall clock when absent. */
  at: EpochMs.optional(),
});
export type SetTradingStateRequest = z.infer<typeof SetTradingStateRequest>;

export const ResumeTradingRequest = z.object({ accountId: Identifier, reason: z.string().min(1), by: z.string().min(1), at: EpochMs.optional() });
export type ResumeTradingRequest = z.infer<typeof ResumeTradingRequest>;

/**
 * Operator commands that act on orders and positions (recorded on the account stream with who
 * and why, carried out by execution): flatten the whole account (HALTED first), close one
 * position, cancel one order.
 */
export const FlattenRequest = z.object({ accountId: Identifier, reason: z.string().min(1), by: z.string().min(1), at: EpochMs.optional() });
export type FlattenRequest = z.infer<typeof FlattenRequest>;
export const ClosePositionRequest = z.object({ accountId: Identifier, symbol: Symbol, reason: z.string().min(1), by: z.string().min(1), at: EpochMs.optional() });
export type ClosePositionRequest = z.infer<typeof ClosePositionRequest>;
export const CancelOrderRequest = z.object({ accountId: Identifier, clientOrderId: ClientOrderId, reason: z.string().min(1), by: z.string().min(1), at: EpochMs.optional() });
export type CancelOrderRequest = z.infer<typeof CancelOrderRequest>;

export const AttachStrategyRequest = z.object({
  accountId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  strategy: z.string(),
  params: z.record(z.string(), z.union([z.number(), z.string()])),
  /** Market time of the command (replay); wall clock when absent. */
  at: EpochMs.optional(),
  /** How the strategy's entries go to the venue (absent: MARKET); a LIMIT or POST_ONLY entry needs `expiresAfterBars`. */
  entryType: EntryType.optional(),
  /** A resting entry's life in whole bars after the signal's. */
  expiresAfterBars: z.number().int().min(1).max(1000).optional(),
  /** How a large entry is split into child orders (absent: never). */
  split: OrderSplit.optional(),
});
export type AttachStrategyRequest = z.infer<typeof AttachStrategyRequest>;

/**
 * A trader's manual entry (gateway → signals): side, technical stop and optional take-profit.
 * Signals records it as an `IntentEmitted` with `strategy: 'manual'` at the last closing price it
 * has seen for the instrument (refused `NO_MARKET_PRICE` without one); risk sizes and protects it
 * like a strategy's intent. Answered with `{ events: [{ eventId, type, streamId, revision, data }] }`.
 */
export const ManualEntryRequest = z.object({
  accountId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  side: z.enum(['BUY', 'SELL']),
  stopPrice: PositiveDecimalString,
  takeProfitPrice: PositiveDecimalString.nullable().optional(),
  /** Who asked (the authenticated user), named in the intent's reason. */
  by: z.string().min(1).max(100),
  /** Correlation of the request (e.g. the gateway's request id); a fresh one when absent. */
  requestId: Identifier.optional(),
  /** How the entry goes to the venue (absent: MARKET); LIMIT, POST_ONLY, IOC and FOK are limit orders at the last close. */
  entryType: EntryType.optional(),
  /** A LIMIT or POST_ONLY entry's life in whole bars after the last closed one. */
  expiresAfterBars: z.number().int().min(1).max(1000).optional(),
});
export type ManualEntryRequest = z.infer<typeof ManualEntryRequest>;

// ---------------------------------------------------------------------------------------
// Spot isolated margin (Binance): operator commands on one account's isolated pair. An entry
// goes through risk (`Subjects.marginEntry`: pause, kill switch and the daily trade count,
// recorded on the account stream), which execution carries out; transfers, loans, repayments
// and closes go to execution (`Subjects.margin(...)`), which answers with the venue's result.
// ---------------------------------------------------------------------------------------

const MarginPairRef = { accountId: Identifier, symbol: Symbol };
const MarginWho = { by: z.string().min(1).max(100), requestId: Identifier.optional() };

/** A spot-margin entry: side, the technical stop and an optional take-profit. Risk sizes nothing here: execution sizes from the venue's equity. */
export const MarginEntryRequest = z.object({
  ...MarginPairRef,
  side: z.enum(['LONG', 'SHORT']),
  stopPrice: PositiveDecimalString,
  takeProfitPrice: PositiveDecimalString.nullable().optional(),
  ...MarginWho,
});
export type MarginEntryRequest = z.infer<typeof MarginEntryRequest>;

/** Move `amount` of `asset` between the spot wallet and the pair's isolated account. */
export const MarginTransferRequest = z.object({
  ...MarginPairRef,
  asset: z.string().regex(/^[A-Z0-9]{2,20}$/, 'expected an asset such as USDT'),
  amount: PositiveDecimalString,
  direction: z.enum(['TO_MARGIN', 'TO_SPOT']),
  ...MarginWho,
});
export type MarginTransferRequest = z.infer<typeof MarginTransferRequest>;

/** Borrow `amount`, or repay `amount` / ALL (interest first) of `asset` in the pair's isolated account. */
export const MarginLoanRequest = z.object({
  ...MarginPairRef,
  asset: z.string().regex(/^[A-Z0-9]{2,20}$/, 'expected an asset such as USDT'),
  amount: z.union([PositiveDecimalString, z.literal('ALL')]),
  action: z.enum(['BORROW', 'REPAY']),
  ...MarginWho,
});
export type MarginLoanRequest = z.infer<typeof MarginLoanRequest>;

/** Close the pair's open position at market with AUTO_REPAY; with `sequence`, only if that is the position open (a close aimed at one position never lands on the next). */
export const MarginCloseRequest = z.object({ ...MarginPairRef, sequence: z.number().int().positive().optional(), reason: z.string().min(1).max(200), ...MarginWho });
export type MarginCloseRequest = z.infer<typeof MarginCloseRequest>;

/** The venue's view of the pair's isolated account. */
export const MarginAccountQuery = z.object(MarginPairRef);
export type MarginAccountQuery = z.infer<typeof MarginAccountQuery>;

/** Execution's answer to a margin account query: balances per asset, margin level and liquidation price as the venue reports them. */
export const MarginAccountAnswer = z.object({
  accountId: Identifier,
  symbol: Symbol,
  assets: z.array(z.object({ asset: z.string(), free: DecimalString, locked: DecimalString, borrowed: DecimalString, interest: DecimalString, netAsset: DecimalString })),
  indexPrice: DecimalString,
  /** Total asset value ÷ (borrowed + interest), null with nothing owed. */
  marginLevel: DecimalString.nullable(),
  marginLevelStatus: z.string(),
  liquidationPrice: DecimalString,
  /** Net asset value in quote at the index price. */
  equity: DecimalString,
});
export type MarginAccountAnswer = z.infer<typeof MarginAccountAnswer>;

/** Start a candle replay in market-data. It answers at once; progress and the end are published. */
export const ReplayStartRequest = z.object({
  runId: Identifier,
  venue: VenueId,
  symbol: Symbol,
  candlesFile: z.string(),
  fundingFile: z.string().nullable(),
  /** 0 = as fast as the pipeline takes it; N = N× market time. */
  speed: z.number().nonnegative(),
  /** Optional window of the file to replay (epoch ms, inclusive start, exclusive end). */
  from: EpochMs.nullable(),
  to: EpochMs.nullable(),
  /**
   * Operator commands to send at a market time (e.g. resume trading after a pause), so a
   * replay with people in the loop stays deterministic. Sent before the first step at or
   * after `at`; a refusal is logged and the replay goes on.
   */
  schedule: z.array(z.object({ at: EpochMs, subject: z.string(), payload: z.unknown() })).default([]),
});
export type ReplayStartRequest = z.infer<typeof ReplayStartRequest>;

export const ReplayProgress = z.object({
  runId: Identifier,
  candles: z.number().int(),
  total: z.number().int(),
  ticks: z.number().int(),
  marketTime: EpochMs,
  done: z.boolean(),
  error: z.string().nullable(),
  /**
   * What the replay clock waits for right now, null (or absent, from older publishers) when it
   * waits for nothing: the service that does not answer, since when (wall clock, epoch ms), and why
   * (e.g. "no answer to step 1234"). The clock retries the same step until the stall limit.
   */
  waitingFor: z.object({ service: z.string(), since: EpochMs, reason: z.string() }).nullable().optional(),
});
export type ReplayProgress = z.infer<typeof ReplayProgress>;

/** Stop a replay run for good (the operator gave up on it, e.g. Ctrl-C in the demo): it is not resumed after a restart. */
export const ReplayCancelRequest = z.object({ runId: Identifier, reason: z.string().min(1).max(200) });
export type ReplayCancelRequest = z.infer<typeof ReplayCancelRequest>;

/**
 * Change the pace of a running replay: `speed` as in {@link ReplayStartRequest} (0 = as fast as
 * the pipeline takes it, N = N× market time), from the next candle on. Pace is wall time only:
 * the steps, the events and the decisions do not depend on it, so it is not journaled (a run
 * resumed after a restart goes on at its start request's speed).
 */
export const ReplayPaceRequest = z.object({ runId: Identifier, speed: z.number().nonnegative().finite() });
export type ReplayPaceRequest = z.infer<typeof ReplayPaceRequest>;

/** A reply carrying a typed failure instead of a result. */
export const ErrorReply = z.object({ error: z.object({ code: z.string(), message: z.string() }) });
export type ErrorReply = z.infer<typeof ErrorReply>;

/** A message a service could not accept, kept with its reason in the dead-letter stream (`dlq.<service>`). */
export interface DeadLetter {
  service: string;
  subject: string;
  reason: string;
  payload: string;
  receivedAt: number;
}

export const Services = ['market-data', 'signals', 'risk', 'execution', 'stop-monitor', 'accounting'] as const;
export type ServiceName = (typeof Services)[number];

/**
 * NATS subjects. Domain events live in the JetStream stream `ES` under `es.<category>.<id>`;
 * everything here is core NATS request/reply or fire-and-forget.
 */
export const Subjects = {
  /** Replay clock: one market step, delivered to one service at a time, answered with a ClockAck. */
  clock: (service: ServiceName) => `bulwark.clock.${service}`,
  /** "Answer when your consumers have caught up", answered with a ClockAck. */
  sync: (service: ServiceName) => `bulwark.sync.${service}`,
  health: (service: ServiceName) => `bulwark.health.${service}`,
  equity: 'bulwark.accounting.equity',
  summary: 'bulwark.accounting.summary',
  openAccount: 'bulwark.risk.open-account',
  reconfigureAccount: 'bulwark.risk.reconfigure-account',
  setTradingState: 'bulwark.risk.trading-state',
  resumeTrading: 'bulwark.risk.resume',
  flatten: 'bulwark.risk.flatten',
  closePosition: 'bulwark.risk.close-position',
  cancelOrder: 'bulwark.risk.cancel-order',
  attachStrategy: 'bulwark.signals.attach',
  /** A spot-margin entry (`MarginEntryRequest`): risk decides and records it; execution opens it. */
  marginEntry: 'bulwark.risk.margin-entry',
  /** Spot-margin commands answered by execution: transfer (`MarginTransferRequest`), loan (`MarginLoanRequest`), close (`MarginCloseRequest`), account (`MarginAccountQuery`). */
  margin: (command: 'transfer' | 'loan' | 'close' | 'account') => `bulwark.execution.margin.${command}`,
  /** A trader's manual entry (`ManualEntryRequest`), recorded by signals as a `strategy: 'manual'` intent. */
  manualEntry: 'bulwark.signals.manual-entry',
  replayStart: 'bulwark.market-data.replay.start',
  candles: 'bulwark.market-data.candles',
  replayProgress: (runId: string) => `bulwark.market-data.replay.progress.${runId}`,
  /** Stop a running (or resumable) replay for good: `{ runId, reason }` → `{ runId, cancelled }`; recorded as ReplayFinished CANCELLED. */
  replayCancel: 'bulwark.market-data.replay.cancel',
  /** Change a running replay's pace: `{ runId, speed }` (`ReplayPaceRequest`) → `{ runId, paced }`; paced is false when that run is not running here. */
  replayPace: 'bulwark.market-data.replay.pace',
  /** Live market data (published by market-data for any observer). */
  candle: (venue: string, symbol: string) => `md.candle.${venue}.${symbol}`,
  mark: (venue: string, symbol: string) => `md.mark.${venue}.${symbol}`,
} as const;
