import {
  AccountConfig,
  type BreakerReason,
  type DenialReason,
  type DomainEvent,
  type EntryApproved,
  type EntryType,
  type DecisionEquity,
  type EquitySnapshot,
  type EventData,
  event,
  type IntentEmitted,
  type ProtectionMode,
  type TimeInForce,
  type TradingState,
  type WorkingType,
} from '@bulwark/contracts';
import type { Decider } from './decider';
import { clientOrderIdFor, tradingDayOf } from './ids';
import { ceilToStep, D, dec, floorToStep, min, str, ZERO } from './money';
import { MonotoneTests } from './monotone';
import { err, ok, type Rejection, type Result, assertNever } from './result';
import type { Rules } from './rules';
import { MAX_CHILDREN, maxChildQuantity, splitQuantity } from './order-split';
import { sizeEntry } from './sizing';

/** Defaults and ranges of the account policy (docs/risk.md lists each rule with its event). */
export const ACCOUNT_DEFAULTS = {
  leverageCap: 20,
  riskFraction: '0.01',
  maxMarginFraction: '0.5',
  liquidationBufferFraction: '0.1',
  maxTradesPerDay: 50,
  dailyLossLimitFraction: null as string | null,
  dailyProfitTargetFraction: null as string | null,
  maxMonthlyDrawdownFraction: '0.04',
  /** Cost guard: taker fees at entry and stop may take at most this share of the risk amount. */
  maxFeeRiskFraction: '0.5' as string | null,
  /** Lifetime drawdown kill switch: this far below the equity peak the account is halted and flattened. */
  maxLifetimeDrawdownFraction: '0.1' as string | null,
  /** Pause after this many losing trades in a row (null: off). */
  losingStreakPause: null as number | null,
  /** The recorded peak moves when equity exceeds it by more than this share (EquityPeakRaised is throttled). */
  peakStep: '0.001',
  /** Entries are denied while used margin ÷ equity is at or above this. */
  maxMarginUtilisationFraction: '0.95',
  /** Used margin ÷ equity at which MarginUtilisationChanged HIGH is recorded (NORMAL below it again). */
  marginUtilisationAlert: '0.9',
  /** The price stops trigger on when the request names none (Binance's own default is CONTRACT_PRICE: exchange stops always carry it). */
  workingType: 'MARK_PRICE' as WorkingType,
  /** Leverage above this needs `highLeverageConfirmed`. */
  confirmLeverageAbove: 5,
  /** Share of the daily trade limit that raises the warning (40 of 50). */
  tradeWarningShare: '0.8',
  /** Shares of the monthly drawdown limit that raise alerts (2 % and 3 % of a 4 % limit). */
  drawdownAlertShares: ['0.5', '0.75'] as const,
} as const;

/** Allowed ranges; a refusal names the field, the value and the range. */
export const ACCOUNT_RANGES = {
  leverage: [1, 125],
  leverageCap: [1, 125],
  riskFraction: ['0.005', '0.1'],
  maxMonthlyDrawdownFraction: ['0.001', '0.5'],
  dailyLossLimitFraction: ['0.001', '0.5'],
  dailyProfitTargetFraction: ['0.001', '10'],
  maxTradesPerDay: [1, 10_000],
  maxMarginFraction: ['0.01', '1'],
  liquidationBufferFraction: ['0', '0.9'],
  maxFeeRiskFraction: ['0.01', '1'],
  maxLifetimeDrawdownFraction: ['0.05', '0.5'],
  losingStreakPause: [1, 100],
  maxMarginUtilisationFraction: ['0.5', '1'],
} as const;

/** State of the account policy aggregate (stream `account-<accountId>`). */
export interface AccountState {
  config: EventData<'AccountOpened'> | null;
  tradingState: TradingState;
  /** Approved entries so far; the next entry's client order id uses this + 1. */
  entries: number;
  day: string | null;
  tradesToday: number;
  pnlToday: D;
  /** Day on which the daily loss limit or profit target paused entries, and why. */
  pausedForDay: { day: string; reason: 'DAILY_LOSS_LIMIT' | 'DAILY_PROFIT_TARGET' } | null;
  month: string | null;
  /** Base of the month's drawdown: the first equity seen in the month, or the equity at a resume. */
  monthBase: D | null;
  alertsThisMonth: ReadonlySet<string>;
  /** Paused by the monthly drawdown limit; holds until a ResumeTrading command. */
  monthlyPause: { month: string } | null;
  recordedPositions: ReadonlySet<string>;
  /** Intents already assessed: a redelivered intent is not assessed twice. */
  assessedIntents: ReadonlySet<string>;
  /** The lifetime drawdown switch's peak: the capital, raised by EquityPeakRaised, re-based at a resume from the switch. */
  lifetimePeak: D | null;
  /** The lifetime drawdown switch fired and has not been resumed from. */
  lifetimeBreach: boolean;
  /** Losing trades in a row now (net PnL < 0), the longest run so far, and the net loss of the current run (USDT, positive). */
  losingStreak: number;
  longestLosingStreak: number;
  streakLoss: D;
  /** Paused by the losing-streak rule; holds until a ResumeTrading command. */
  streakPause: boolean;
  /** Used margin ÷ equity is at or above the alert line (MarginUtilisationChanged HIGH, not yet NORMAL). */
  utilisationHigh: boolean;
  /**
   * The last approved resting entry (LIMIT, POST_ONLY) may rest at the venue until this time,
   * epoch ms (its goodTillDate); null: none. Risk does not follow order outcomes, so it holds
   * new entries until then (the entry may still fill): never two entries resting at once.
   */
  restingEntryUntil: number | null;
}

/**
 * The protection of an account whose request names none (docs/risk.md "Account
 * configuration"): BOTH — the internal stop first, a reduce-only exchange stop at the venue as
 * the backstop should Bulwark lose the venue — when execution trades a live venue (Binance
 * demo-trading or live); INTERNAL on the paper and the local venue, so replays keep their results.
 * @param liveVenue execution trades Binance demo-trading or live (`BULWARK_VENUE` binance-demo / binance-live)
 */
export function defaultProtection(liveVenue: boolean): ProtectionMode {
  return liveVenue ? 'BOTH' : 'INTERNAL';
}

/** What validation needs to know besides the request: whether execution trades a live venue (the protection default). */
export interface AccountContext {
  liveVenue: boolean;
}

/** A configuration as a person or a program gives it (validated into AccountConfig). */
export interface AccountConfigInput {
  accountId: string;
  venue: string;
  symbol: string;
  capital: string;
  leverage: number;
  leverageCap?: number;
  riskFraction?: string;
  maxMarginFraction?: string;
  liquidationBufferFraction?: string;
  maxTradesPerDay?: number;
  dailyLossLimitFraction?: string | null;
  dailyProfitTargetFraction?: string | null;
  maxMonthlyDrawdownFraction?: string;
  /** The cost guard's share (default 0.5); null turns it off. */
  maxFeeRiskFraction?: string | null;
  /** The lifetime drawdown switch (default 0.1); null turns it off. */
  maxLifetimeDrawdownFraction?: string | null;
  /** Losing trades in a row that pause entries (default null: off). */
  losingStreakPause?: number | null;
  /** Used margin ÷ equity at which entries are denied (default 0.95). */
  maxMarginUtilisationFraction?: string;
  marginMode?: string;
  protection?: string;
  /** MARK_PRICE (default) or CONTRACT_PRICE. */
  workingType?: string;
  highLeverageConfirmed?: boolean;
  /** The venue's wallet balance (USDT): capital may not exceed it. */
  venueBalance: string;
}

export type AccountCommand =
  /** `context` defaults to a replay venue (protection INTERNAL when the request names none). */
  | { kind: 'OpenAccount'; config: AccountConfigInput; context?: AccountContext; by?: string }
  | { kind: 'ReconfigureAccount'; config: AccountConfigInput; context?: AccountContext; by?: string }
  /**
   * `rules`: the instrument rules recorded for the intent's venue and symbol; null when none are
   * recorded, which denies the entry UNKNOWN_SYMBOL (there is nothing to size it with).
   */
  | { kind: 'AssessEntry'; intent: IntentEmitted; signalStreamId: string; equity: EquitySnapshot; rules: Rules | null; ts: number }
  /** `busy`: the pair has a position open, or an approved entry not yet opened or refused (one position per isolated pair). */
  | { kind: 'AssessMarginEntry'; request: { requestId: string; accountId: string; symbol: string; side: 'LONG' | 'SHORT'; stopPrice: string; takeProfitPrice?: string | null; by: string }; ts: number; busy?: boolean }
  | { kind: 'RecordPositionResult'; positionStreamId: string; netPnl: D; ts: number }
  /** `usedMargin` (USDT) feeds the margin-utilisation alert; absent: no utilisation reading. */
  | { kind: 'ObserveEquity'; equity: D; ts: number; usedMargin?: D }
  | { kind: 'ResumeTrading'; reason: string; by: string; equity: D; ts: number }
  | { kind: 'SetTradingState'; state: TradingState; reason: string; by: string }
  /** Operator: HALTED first (nothing re-enters), then every order cancelled and every position closed (execution). */
  | { kind: 'Flatten'; reason: string; by: string }
  | { kind: 'ClosePosition'; symbol: string; reason: string; by: string }
  | { kind: 'CancelOrder'; clientOrderId: string; reason: string; by: string };

export type AccountRejectionCode = 'ACCOUNT_EXISTS' | 'UNKNOWN_ACCOUNT' | 'INVALID_CONFIG' | 'MARGIN_MODE_NOT_SUPPORTED' | 'CONFIRMATION_REQUIRED' | 'CAPITAL_ABOVE_BALANCE' | 'NOT_PAUSED' | 'INVALID_COMMAND';

/** A refused command. Configuration refusals name the field, the value and the allowed range. */
export interface AccountRejection extends Rejection<AccountRejectionCode> {
  field?: string;
  value?: unknown;
  allowed?: string;
}

export function accountInitialState(): AccountState {
  return {
    config: null,
    tradingState: 'ACTIVE',
    entries: 0,
    day: null,
    tradesToday: 0,
    pnlToday: ZERO,
    pausedForDay: null,
    month: null,
    monthBase: null,
    alertsThisMonth: new Set(),
    monthlyPause: null,
    recordedPositions: new Set(),
    assessedIntents: new Set(),
    lifetimePeak: null,
    lifetimeBreach: false,
    losingStreak: 0,
    longestLosingStreak: 0,
    streakLoss: ZERO,
    streakPause: false,
    utilisationHigh: false,
    restingEntryUntil: null,
  };
}

/**
 * Add to a grow-only id set shared by successive states. Copying the set on every event made
 * folding a long account stream quadratic; the set only ever grows and deciders run on the
 * latest state, so an earlier state seeing a later id changes no decision. A fold from the
 * log starts from a fresh set.
 */
function withItem(set: ReadonlySet<string>, item: string): ReadonlySet<string> {
  (set as Set<string>).add(item);
  return set;
}

/** Roll the daily counters to a UTC day (YYYY-MM-DD); events carry their day so evolve needs no clock. */
function rollToDay(s: AccountState, day: string): AccountState {
  return s.day === day ? s : { ...s, day, tradesToday: 0, pnlToday: ZERO, pausedForDay: s.pausedForDay?.day === day ? s.pausedForDay : null };
}

export function accountEvolve(state: AccountState, e: DomainEvent): AccountState {
  switch (e.type) {
    case 'AccountOpened':
    case 'AccountReconfigured':
      return { ...state, config: e.data, lifetimePeak: state.lifetimePeak ?? dec(e.data.capital) };
    case 'EquityPeakRaised':
      return { ...state, lifetimePeak: dec(e.data.peakEquity) };
    case 'LifetimeDrawdownBreached':
      return { ...state, lifetimeBreach: true };
    case 'MarginUtilisationChanged':
      return { ...state, utilisationHigh: e.data.level === 'HIGH' };
    case 'TradingStateChanged':
      return { ...state, tradingState: e.data.state };
    case 'EntryApproved': {
      const s = rollToDay(state, e.data.tradingDay);
      const restingEntryUntil = e.data.split?.deadline ?? e.data.goodTillDate ?? s.restingEntryUntil;
      return { ...s, entries: s.entries + 1, tradesToday: s.tradesToday + 1, assessedIntents: withItem(s.assessedIntents, e.data.intentId), restingEntryUntil };
    }
    case 'EntryDenied': {
      const s = rollToDay(state, e.data.tradingDay);
      return { ...s, assessedIntents: withItem(s.assessedIntents, e.data.intentId) };
    }
    case 'MarginEntryApproved': {
      const s = rollToDay(state, e.data.tradingDay);
      return { ...s, entries: s.entries + 1, tradesToday: s.tradesToday + 1, assessedIntents: withItem(s.assessedIntents, e.data.requestId) };
    }
    case 'MarginEntryDenied': {
      const s = rollToDay(state, e.data.tradingDay);
      return { ...s, assessedIntents: withItem(s.assessedIntents, e.data.requestId) };
    }
    case 'PositionResultRecorded': {
      const s = rollToDay(state, e.data.tradingDay);
      const net = dec(e.data.netPnl);
      const streak = net.lt(0) ? { losingStreak: s.losingStreak + 1, streakLoss: s.streakLoss.minus(net) } : { losingStreak: 0, streakLoss: ZERO };
      return {
        ...s, ...streak, longestLosingStreak: Math.max(s.longestLosingStreak, streak.losingStreak),
        pnlToday: s.pnlToday.plus(e.data.netPnl), recordedPositions: withItem(s.recordedPositions, e.data.positionStreamId),
      };
    }
    case 'MonthOpened':
      return { ...state, month: e.data.month, monthBase: dec(e.data.equity), alertsThisMonth: new Set() };
    case 'DrawdownAlert':
      return { ...state, alertsThisMonth: withItem(state.alertsThisMonth, e.data.threshold) };
    case 'TradingPaused': {
      const s = rollToDay(state, e.data.tradingDay);
      const r = e.data.reason;
      if (r === 'MONTHLY_DRAWDOWN_LIMIT') return { ...s, monthlyPause: { month: e.data.month } };
      if (r === 'LOSING_STREAK') return { ...s, streakPause: true };
      if (r === 'DAILY_LOSS_LIMIT' || r === 'DAILY_PROFIT_TARGET') return { ...s, pausedForDay: { day: e.data.tradingDay, reason: r } };
      return s;
    }
    case 'TradingResumed':
      switch (e.data.pausedReason) {
        // A resume re-bases the month's drawdown on the equity at the resume (alerts start over).
        case 'MONTHLY_DRAWDOWN_LIMIT':
          return { ...state, monthlyPause: null, month: e.data.month, monthBase: dec(e.data.equity), alertsThisMonth: new Set() };
        // The operator accepted the loss: the lifetime switch watches from the equity at the resume.
        case 'LIFETIME_DRAWDOWN_LIMIT':
          return { ...state, lifetimeBreach: false, lifetimePeak: dec(e.data.equity) };
        case 'LOSING_STREAK':
          return { ...state, streakPause: false, losingStreak: 0, streakLoss: ZERO };
        default:
          return { ...state, pausedForDay: null };
      }
    default:
      return state;
  }
}

type FieldCheck = [field: string, okay: boolean, value: unknown, allowed: string];

/**
 * Validate an account configuration and fill in the defaults (protection: {@link defaultProtection}
 * of `context.liveVenue`; workingType MARK_PRICE).
 * @returns the AccountConfig to record, or a refusal naming the field, the value and the allowed range.
 */
export function validateAccountConfig(input: AccountConfigInput, context: AccountContext = { liveVenue: false }): Result<EventData<'AccountOpened'>, AccountRejection> {
  const refuse = (code: AccountRejectionCode, field: string, value: unknown, allowed: string, why?: string): Result<never, AccountRejection> =>
    err({ code, field, value, allowed, message: `${field} = ${JSON.stringify(value)} is refused: ${why ?? `allowed ${allowed}`}` });
  if ((input.marginMode ?? 'ISOLATED') !== 'ISOLATED') {
    return refuse('MARGIN_MODE_NOT_SUPPORTED', 'marginMode', input.marginMode, 'ISOLATED', 'only isolated margin is supported (cross margin is not, yet)');
  }
  const cfg = {
    accountId: input.accountId,
    venue: input.venue,
    symbol: input.symbol,
    capital: input.capital,
    leverage: input.leverage,
    leverageCap: input.leverageCap ?? ACCOUNT_DEFAULTS.leverageCap,
    riskFraction: input.riskFraction ?? ACCOUNT_DEFAULTS.riskFraction,
    maxMarginFraction: input.maxMarginFraction ?? ACCOUNT_DEFAULTS.maxMarginFraction,
    liquidationBufferFraction: input.liquidationBufferFraction ?? ACCOUNT_DEFAULTS.liquidationBufferFraction,
    maxTradesPerDay: input.maxTradesPerDay ?? ACCOUNT_DEFAULTS.maxTradesPerDay,
    dailyLossLimitFraction: input.dailyLossLimitFraction ?? ACCOUNT_DEFAULTS.dailyLossLimitFraction,
    dailyProfitTargetFraction: input.dailyProfitTargetFraction ?? ACCOUNT_DEFAULTS.dailyProfitTargetFraction,
    maxMonthlyDrawdownFraction: input.maxMonthlyDrawdownFraction ?? ACCOUNT_DEFAULTS.maxMonthlyDrawdownFraction,
    maxFeeRiskFraction: input.maxFeeRiskFraction === undefined ? ACCOUNT_DEFAULTS.maxFeeRiskFraction : input.maxFeeRiskFraction,
    maxLifetimeDrawdownFraction: input.maxLifetimeDrawdownFraction === undefined ? ACCOUNT_DEFAULTS.maxLifetimeDrawdownFraction : input.maxLifetimeDrawdownFraction,
    losingStreakPause: input.losingStreakPause === undefined ? ACCOUNT_DEFAULTS.losingStreakPause : input.losingStreakPause,
    maxMarginUtilisationFraction: input.maxMarginUtilisationFraction ?? ACCOUNT_DEFAULTS.maxMarginUtilisationFraction,
    marginMode: 'ISOLATED' as const,
    protection: (input.protection ?? defaultProtection(context.liveVenue)) as ProtectionMode,
    workingType: (input.workingType ?? ACCOUNT_DEFAULTS.workingType) as WorkingType,
    highLeverageConfirmed: input.highLeverageConfirmed ?? false,
    venueBalance: input.venueBalance,
  };
  // Integer ranges first, so their refusal names the range rather than a schema message.
  const R0 = ACCOUNT_RANGES;
  const intChecks: FieldCheck[] = [
    ['leverage', Number.isInteger(cfg.leverage) && cfg.leverage >= R0.leverage[0] && cfg.leverage <= R0.leverage[1], cfg.leverage, `an integer in ${R0.leverage[0]}..${R0.leverage[1]}`],
    ['leverageCap', Number.isInteger(cfg.leverageCap) && cfg.leverageCap >= R0.leverageCap[0] && cfg.leverageCap <= R0.leverageCap[1], cfg.leverageCap, `an integer in ${R0.leverageCap[0]}..${R0.leverageCap[1]}`],
    ['maxTradesPerDay', Number.isInteger(cfg.maxTradesPerDay) && cfg.maxTradesPerDay >= R0.maxTradesPerDay[0] && cfg.maxTradesPerDay <= R0.maxTradesPerDay[1], cfg.maxTradesPerDay, `an integer in ${R0.maxTradesPerDay.join('..')}`],
    [
      'losingStreakPause',
      cfg.losingStreakPause === null || (Number.isInteger(cfg.losingStreakPause) && cfg.losingStreakPause >= R0.losingStreakPause[0] && cfg.losingStreakPause <= R0.losingStreakPause[1]),
      cfg.losingStreakPause,
      `an integer in ${R0.losingStreakPause.join('..')} or null (off)`,
    ],
  ];
  const badInt = intChecks.find(([, okay]) => !okay);
  if (badInt) return refuse('INVALID_CONFIG', badInt[0], badInt[2], badInt[3]);
  const r = AccountConfig.safeParse(cfg);
  if (!r.success) {
    const i = r.error.issues[0];
    const field = i.path.join('.');
    return refuse('INVALID_CONFIG', field, (cfg as Record<string, unknown>)[field], i.message, i.message);
  }
  const c = r.data;
  const inRange = (v: string | null, [lo, hi]: readonly [string, string]) => v === null || (dec(v).gte(lo) && dec(v).lte(hi));
  const R = ACCOUNT_RANGES;
  const checks: FieldCheck[] = [
    ['leverage', c.leverage >= R.leverage[0] && c.leverage <= R.leverage[1], c.leverage, `an integer in ${R.leverage[0]}..${R.leverage[1]}`],
    ['leverageCap', c.leverageCap >= R.leverageCap[0] && c.leverageCap <= R.leverageCap[1], c.leverageCap, `an integer in ${R.leverageCap[0]}..${R.leverageCap[1]}`],
    ['leverage', c.leverage <= c.leverageCap, c.leverage, `at most the leverage cap ${c.leverageCap}`],
    ['riskFraction', inRange(c.riskFraction, R.riskFraction), c.riskFraction, `${R.riskFraction[0]}..${R.riskFraction[1]} (0.5 %..10 % per trade)`],
    ['maxMonthlyDrawdownFraction', inRange(c.maxMonthlyDrawdownFraction, R.maxMonthlyDrawdownFraction), c.maxMonthlyDrawdownFraction, R.maxMonthlyDrawdownFraction.join('..')],
    ['dailyLossLimitFraction', inRange(c.dailyLossLimitFraction, R.dailyLossLimitFraction), c.dailyLossLimitFraction, `${R.dailyLossLimitFraction.join('..')} or null`],
    ['dailyProfitTargetFraction', inRange(c.dailyProfitTargetFraction, R.dailyProfitTargetFraction), c.dailyProfitTargetFraction, `${R.dailyProfitTargetFraction.join('..')} or null`],
    ['maxTradesPerDay', c.maxTradesPerDay >= R.maxTradesPerDay[0] && c.maxTradesPerDay <= R.maxTradesPerDay[1], c.maxTradesPerDay, R.maxTradesPerDay.join('..')],
    ['maxMarginFraction', inRange(c.maxMarginFraction, R.maxMarginFraction), c.maxMarginFraction, R.maxMarginFraction.join('..')],
    ['liquidationBufferFraction', inRange(c.liquidationBufferFraction, R.liquidationBufferFraction), c.liquidationBufferFraction, R.liquidationBufferFraction.join('..')],
    ['maxFeeRiskFraction', inRange(c.maxFeeRiskFraction, R.maxFeeRiskFraction), c.maxFeeRiskFraction, `${R.maxFeeRiskFraction.join('..')} or null (off)`],
    ['maxLifetimeDrawdownFraction', inRange(c.maxLifetimeDrawdownFraction, R.maxLifetimeDrawdownFraction), c.maxLifetimeDrawdownFraction, `${R.maxLifetimeDrawdownFraction.join('..')} (5 %..50 %) or null (off)`],
    ['maxMarginUtilisationFraction', inRange(c.maxMarginUtilisationFraction, R.maxMarginUtilisationFraction), c.maxMarginUtilisationFraction, R.maxMarginUtilisationFraction.join('..')],
  ];
  const bad = checks.find(([, okay]) => !okay);
  if (bad) return refuse('INVALID_CONFIG', bad[0], bad[2], bad[3]);
  if (c.leverage > ACCOUNT_DEFAULTS.confirmLeverageAbove && !c.highLeverageConfirmed) {
    return refuse('CONFIRMATION_REQUIRED', 'highLeverageConfirmed', false, 'true', `leverage ${c.leverage}x is above ${ACCOUNT_DEFAULTS.confirmLeverageAbove}x and needs an explicit confirmation`);
  }
  if (dec(c.capital).gt(c.venueBalance)) {
    return refuse('CAPITAL_ABOVE_BALANCE', 'capital', c.capital, `at most the venue balance ${c.venueBalance}`);
  }
  return ok(c);
}

/** The equity answer as a decision records it (contracts DecisionEquity: no account id, no asOf). */
function decisionEquity(e: EquitySnapshot): DecisionEquity {
  const { accountId: _account, asOf: _asOf, ...recorded } = e;
  return recorded;
}

function deny(c: Extract<AccountCommand, { kind: 'AssessEntry' }>, reason: DenialReason, detail: string, day: string, assessment: EventData<'EntryDenied'>['assessment'] = null) {
  const { intent, signalStreamId } = c;
  return event('EntryDenied', { intentId: intent.intentId, signalStreamId, accountId: intent.accountId, reason, detail, tradingDay: day, assessment, equitySnapshot: decisionEquity(c.equity) });
}

/** Equity tests of the breakers and alerts, remembered (see MonotoneTests): most observations are settled by a comparison. */
const EQUITY_TESTS = new MonotoneTests();

/**
 * The lifetime drawdown kill switch at one equity observation (realised + unrealised, USDT):
 * - equity above the peak by more than `peakStep` of it → EquityPeakRaised (the new peak);
 * - otherwise, while not already fired: (peak − equity) ÷ peak ≥ maxLifetimeDrawdownFraction →
 *   LifetimeDrawdownBreached, TradingStateChanged HALTED (unless halted) and FlattenRequested, both
 *   by "risk": nothing re-enters, every order is cancelled and every position closed reduce-only.
 * The peak starts at the capital. Off when the account's fraction is null.
 */
function decideLifetime(s: AccountState, equity: D): DomainEvent[] {
  const cfg = s.config!;
  if (cfg.maxLifetimeDrawdownFraction === null) return [];
  const peak = s.lifetimePeak ?? dec(cfg.capital);
  // Both tests can only turn from yes to no as equity rises: answered from earlier ones when they settle it.
  const notAbove = EQUITY_TESTS.holds(peak, 'peak step', equity, () => !equity.gt(peak.mul(dec(ACCOUNT_DEFAULTS.peakStep).plus(1))));
  if (!notAbove) return [event('EquityPeakRaised', { peakEquity: str(equity) })];
  if (s.lifetimeBreach || !peak.gt(0)) return [];
  const limit = dec(cfg.maxLifetimeDrawdownFraction);
  if (!EQUITY_TESTS.holds(peak, `lifetime ${cfg.maxLifetimeDrawdownFraction}`, equity, () => !peak.minus(equity).div(peak).lt(limit))) return [];
  const drawdown = peak.minus(equity);
  const fraction = drawdown.div(peak);
  const reason = `lifetime drawdown ${str(fraction.mul(100).toDecimalPlaces(2, D.ROUND_DOWN))} % of the peak ${str(peak.toDecimalPlaces(2, D.ROUND_DOWN))} USDT reached the limit ${str(limit.mul(100))} %`;
  return [
    event('LifetimeDrawdownBreached', { peakEquity: str(peak), equity: str(equity), drawdown: str(drawdown), drawdownFraction: str(fraction), limitFraction: cfg.maxLifetimeDrawdownFraction }),
    ...(s.tradingState === 'HALTED' ? [] : [event('TradingStateChanged', { state: 'HALTED', previous: s.tradingState, reason, by: 'risk' })]),
    event('FlattenRequested', { by: 'risk', reason }),
  ];
}

/**
 * The margin-utilisation alert: used margin ÷ equity crossing ACCOUNT_DEFAULTS.marginUtilisationAlert
 * upward records MarginUtilisationChanged HIGH, downward NORMAL (equity ≤ 0 counts as fully used).
 */
function decideUtilisation(s: AccountState, usedMargin: D, equity: D): DomainEvent[] {
  const threshold = dec(ACCOUNT_DEFAULTS.marginUtilisationAlert);
  // Utilisation only falls as equity rises (at equity ≤ 0 it is 1, above any threshold ≤ 1).
  const reaches = () => utilisationOf(usedMargin, equity).gte(threshold);
  const high = threshold.lte(1) ? EQUITY_TESTS.holds(usedMargin, `utilisation ${ACCOUNT_DEFAULTS.marginUtilisationAlert}`, equity, reaches) : reaches();
  if (high === s.utilisationHigh) return [];
  const utilisation = utilisationOf(usedMargin, equity);
  return [event('MarginUtilisationChanged', { level: high ? 'HIGH' : 'NORMAL', usedMargin: str(usedMargin), equity: str(equity), utilisation: str(utilisation), threshold: str(threshold) })];
}

/** Used margin ÷ equity; 1 when equity is not positive and margin is used, 0 when nothing is used. */
function utilisationOf(usedMargin: D, equity: D): D {
  if (!usedMargin.gt(0)) return ZERO;
  return equity.gt(0) ? usedMargin.div(equity) : dec(1);
}

/** The drawdown breakers at one equity observation: the month's (MonthOpened, alerts, pause), then the lifetime switch. */
function decideEquity(s: AccountState, equity: D, ts: number): DomainEvent[] {
  const monthly = decideMonthly(s, equity, ts);
  return [...monthly, ...decideLifetime(monthly.reduce(accountEvolve, s), equity)];
}

/** The month's drawdown breakers at one equity observation: MonthOpened, alerts, pause. */
function decideMonthly(s: AccountState, equity: D, ts: number): DomainEvent[] {
  const cfg = s.config!;
  const day = tradingDayOf(ts);
  const month = day.slice(0, 7);
  const out: DomainEvent[] = [];
  let base = s.monthBase;
  let alerts = s.alertsThisMonth;
  if (s.month !== month || base === null) {
    out.push(event('MonthOpened', { month, equity: str(equity) }));
    base = equity;
    alerts = new Set();
  }
  if (base.lte(0)) return out;
  const limit = dec(cfg.maxMonthlyDrawdownFraction);
  // Without a drawdown reaching the lowest alert level nothing is recorded; both only fall as equity rises.
  const lowest = () => ACCOUNT_DEFAULTS.drawdownAlertShares.reduce((m, share) => min(m, limit.mul(share)), limit);
  const reaches = () => {
    const dd = base.minus(equity);
    return dd.gt(0) && dd.div(base).gte(lowest());
  };
  if (!EQUITY_TESTS.holds(base, `monthly ${cfg.maxMonthlyDrawdownFraction}`, equity, reaches)) return out;
  const drawdown = base.minus(equity);
  const fraction = drawdown.div(base);
  for (const share of ACCOUNT_DEFAULTS.drawdownAlertShares) {
    if (!alerts.has(share) && fraction.gte(limit.mul(share))) {
      out.push(event('DrawdownAlert', { month, threshold: share, equity: str(equity), monthStartEquity: str(base), drawdown: str(drawdown), drawdownFraction: str(fraction), limitFraction: cfg.maxMonthlyDrawdownFraction }));
    }
  }
  if (!s.monthlyPause && fraction.gte(limit)) {
    out.push(event('TradingPaused', { reason: 'MONTHLY_DRAWDOWN_LIMIT', tradingDay: day, month, loss: str(drawdown), limit: str(base.mul(limit)) }));
  }
  return out;
}

function decideEntry(s0: AccountState, c: Extract<AccountCommand, { kind: 'AssessEntry' }>): DomainEvent[] {
  const { intent } = c;
  if (s0.assessedIntents.has(intent.intentId)) return []; // at-least-once delivery: already decided
  const cfg = s0.config!;
  const day = tradingDayOf(c.ts);
  // The equity of this assessment is also an observation for the drawdown breakers.
  const observed = c.equity.known ? decideEquity(s0, dec(c.equity.equity), c.ts) : [];
  const s = rollToDay(observed.reduce(accountEvolve, s0), day);
  const out = (...e: DomainEvent[]) => [...observed, ...e];
  const closed = entryGate(s, day);
  if (closed) return out(deny(c, closed.reason, closed.detail, day));
  // Before the equity checks: an unknown symbol is a configuration to fix, not a passing state to wait out.
  if (c.rules === null) {
    return out(deny(c, 'UNKNOWN_SYMBOL', `no instrument rules recorded for ${intent.venue} ${intent.symbol}: execution records a symbol's rules when it first trades it or when BULWARK_SYMBOLS lists it`, day));
  }
  if (!c.equity.known) return out(deny(c, 'NO_EQUITY', 'accounting has no equity for this account yet', day));
  const utilisation = utilisationOf(dec(c.equity.usedMargin), dec(c.equity.equity));
  if (utilisation.gte(cfg.maxMarginUtilisationFraction)) {
    return out(deny(c, 'MARGIN_UTILISATION_LIMIT', `used margin ${str(dec(c.equity.usedMargin).toDecimalPlaces(2, D.ROUND_HALF_UP))} USDT is ${str(utilisation.mul(100).toDecimalPlaces(1, D.ROUND_HALF_UP))} % of equity; entries stop at ${str(dec(cfg.maxMarginUtilisationFraction).mul(100))} %`, day));
  }
  if (c.equity.openPositions > 0) return out(deny(c, 'POSITION_ALREADY_OPEN', `${c.equity.openPositions} position(s) open; one position per symbol in one-way mode`, day));
  if (s.restingEntryUntil !== null && c.ts < s.restingEntryUntil) {
    return out(deny(c, 'ENTRY_ORDER_RESTING', `an approved limit entry may rest at the venue until ${new Date(s.restingEntryUntil).toISOString()}; one entry at a time`, day));
  }
  const order = entryOrder(intent, c.rules);
  if (!order.ok) return out(deny(c, 'INVALID_INTENT', order.error, day));
  const o = order.value;
  const orderType = o.entryType === 'MARKET' ? 'MARKET' : 'LIMIT';
  const entryPrice = o.price ?? dec(intent.entryPrice);
  const plan = splitPlan(intent, o, c.rules, entryPrice);
  if (!plan.ok) return out(deny(c, 'INVALID_INTENT', plan.error, day));
  if (plan.value !== null && (plan.value.maxChild.lt(c.rules.minQty) || plan.value.maxChild.mul(entryPrice).lt(c.rules.minNotional))) {
    return out(deny(c, 'SPLIT_BELOW_MINIMUM', `a child may hold at most ${str(plan.value.maxChild)} at ${str(entryPrice)}: below the venue's minimum quantity ${str(c.rules.minQty)} or notional ${str(c.rules.minNotional)}`, day));
  }
  const sized = sizeEntry({
    side: intent.side,
    entryPrice: o.price ?? dec(intent.entryPrice),
    stopPrice: dec(intent.stopPrice),
    takeProfitPrice: intent.takeProfitPrice === null ? null : dec(intent.takeProfitPrice),
    equity: dec(c.equity.equity),
    availableMargin: dec(c.equity.availableMargin),
    riskFraction: dec(cfg.riskFraction),
    requestedLeverage: cfg.leverage,
    leverageCap: cfg.leverageCap,
    maxMarginFraction: dec(cfg.maxMarginFraction),
    liquidationBufferFraction: dec(cfg.liquidationBufferFraction),
    maxFeeRiskFraction: cfg.maxFeeRiskFraction === null ? null : dec(cfg.maxFeeRiskFraction),
    // A split parent may exceed one order's maximum: its children each keep within it.
    rules: plan.value === null ? c.rules : { ...c.rules, maxQty: plan.value.maxParent, marketMaxQty: plan.value.maxParent },
    ...(o.entryType === 'MARKET' ? {} : { orderType: 'LIMIT' as const, entryFeeRate: o.entryType === 'POST_ONLY' ? c.rules.makerFeeRate : c.rules.takerFeeRate }),
  });
  if (!sized.ok) return out(deny(c, sized.error.code, sized.error.message, day, sized.error.assessment));
  const a = sized.value;
  const clientOrderId = clientOrderIdFor(intent.accountId, s.entries + 1, 'E');
  let split: EntryApproved['split'];
  if (plan.value !== null) {
    const children = splitQuantity(dec(a.quantity), plan.value.maxChild, c.rules, orderType, entryPrice);
    if (!children.ok) return out(deny(c, 'SPLIT_BELOW_MINIMUM', children.error.message, day, a));
    if (children.value.length > 1) {
      const p = plan.value;
      // A resting entry's children live as long as it; a market or IOC/FOK split has its
      // intervals plus a bar per child (a live execution sees one market step per bar).
      const n = children.value.length;
      const deadline = o.goodTillDate ?? c.ts + (n - 1) * p.intervalMs + n * p.barIntervalMs;
      split = { style: p.style, intervalMs: p.intervalMs, deadline, children: children.value.map((q, i) => ({ clientOrderId: `${clientOrderId}-${i + 1}`, quantity: str(q) })) };
    }
  }
  const approved: EntryApproved = {
    intentId: intent.intentId,
    signalStreamId: c.signalStreamId,
    accountId: intent.accountId,
    clientOrderId,
    venue: intent.venue,
    symbol: intent.symbol,
    side: intent.side,
    type: o.entryType === 'MARKET' ? 'MARKET' : 'LIMIT',
    quantity: a.quantity,
    // A market entry's event keeps its pre-entry-type shape, so `replay --rerun` of old logs compares equal.
    ...(o.entryType === 'MARKET' ? {} : { entryType: o.entryType, price: str(o.price!), timeInForce: o.timeInForce, goodTillDate: o.goodTillDate }),
    ...(split ? { split } : {}),
    leverage: a.leverage,
    stopPrice: a.stopPrice,
    takeProfitPrice: a.takeProfitPrice,
    tradingDay: day,
    assessment: a,
    equitySnapshot: decisionEquity(c.equity),
  };
  return out(event('EntryApproved', approved), ...tradeCountAlerts(s, day));
}

/** What a split intent's children may hold, and how they are paced (see {@link splitPlan}). */
interface SplitPlan {
  style: 'SLICES' | 'ICEBERG';
  maxChild: D;
  /** The largest parent: MAX_CHILDREN children of maxChild. */
  maxParent: D;
  intervalMs: number;
  barIntervalMs: number;
}

/**
 * The split an intent asks for (null: none): a child's maximum (`maxChildQuantity`: the venue's
 * maximum for the order type, the notional and volume-share limits), the pacing in ms.
 * @returns the plan, or why the intent cannot be split: ICEBERG needs a LIMIT or POST_ONLY
 *   entry (its children rest at the entry price); pacing in bars needs the bar length.
 */
function splitPlan(intent: IntentEmitted, o: EntryOrder, rules: Rules, price: D): Result<SplitPlan | null, string> {
  const split = intent.split;
  if (!split) return ok(null);
  if (split.style === 'ICEBERG' && o.entryType !== 'LIMIT' && o.entryType !== 'POST_ONLY') return err(`an ICEBERG split sends resting LIMIT children: it needs a LIMIT or POST_ONLY entry, not ${o.entryType}`);
  if (intent.barIntervalMs === undefined) return err('a split entry needs barIntervalMs (its pacing and deadline are in bars)');
  const orderType = o.entryType === 'MARKET' ? 'MARKET' : 'LIMIT';
  const policy = {
    style: split.style,
    maxOrderNotional: split.maxOrderNotional === undefined ? null : dec(split.maxOrderNotional),
    maxVolumeShare: split.maxVolumeShare === undefined ? null : dec(split.maxVolumeShare),
    intervalMs: split.intervalBars * intent.barIntervalMs,
  };
  const maxChild = maxChildQuantity(rules, orderType, price, intent.barVolume === undefined ? null : dec(intent.barVolume), policy);
  return ok({ style: split.style, maxChild, maxParent: maxChild.mul(MAX_CHILDREN), intervalMs: policy.intervalMs, barIntervalMs: intent.barIntervalMs });
}

/** The venue order an intent's entry type asks for (see {@link entryOrder}). */
interface EntryOrder {
  entryType: EntryType;
  /** Limit price on the tick (null for MARKET). */
  price: D | null;
  timeInForce: TimeInForce | null;
  goodTillDate: number | null;
}

const TIME_IN_FORCE: Record<Exclude<EntryType, 'MARKET'>, TimeInForce> = { LIMIT: 'GTC', POST_ONLY: 'GTX', IOC: 'IOC', FOK: 'FOK' };

/**
 * The venue order of an intent's entry: MARKET as before; every other type a LIMIT order at the
 * intent's entry price, moved onto the tick toward the trader (a BUY's floored, a SELL's
 * ceiled: never a worse price than the signal's), with the time in force of its type
 * (LIMIT GTC, POST_ONLY GTX, IOC, FOK). A POST_ONLY order goes one tick further (a BUY one
 * tick below, a SELL one above): the entry price is the last trade, where a buy meets the ask
 * (Binance refuses a GTX that would take, -5022), and one tick away is where a maker joins the
 * book when the spread is one tick, as BTCUSDT's usually is. A resting type (LIMIT, POST_ONLY) expires at the close
 * of the `expiresAfterBars`-th bar after the signal's:
 * goodTillDate = candleOpenTime + (1 + expiresAfterBars) × barIntervalMs (epoch ms).
 * @returns the order, or the reason the intent is invalid: a resting type without
 *   `expiresAfterBars` and `barIntervalMs`, an expiry on a type that does not rest, a price off
 *   the venue's range.
 */
export function entryOrder(intent: IntentEmitted, rules: Rules): Result<EntryOrder, string> {
  const entryType = intent.entryType ?? 'MARKET';
  const resting = entryType === 'LIMIT' || entryType === 'POST_ONLY';
  if (!resting && intent.expiresAfterBars !== undefined) return err(`a ${entryType} entry does not rest and cannot expire after bars`);
  if (entryType === 'MARKET') return ok({ entryType, price: null, timeInForce: null, goodTillDate: null });
  const raw = dec(intent.entryPrice);
  const onTick = intent.side === 'BUY' ? floorToStep(raw, rules.tickSize) : ceilToStep(raw, rules.tickSize);
  // At the last price a post-only order meets the other side and is refused (-5022): it joins the book one tick away.
  const price = entryType !== 'POST_ONLY' ? onTick : intent.side === 'BUY' ? onTick.minus(rules.tickSize) : onTick.plus(rules.tickSize);
  if (!price.gt(0) || price.lt(rules.minPrice) || (rules.maxPrice.gt(0) && price.gt(rules.maxPrice))) {
    return err(`limit price ${str(price)} is outside the venue's price range ${str(rules.minPrice)}..${str(rules.maxPrice)}`);
  }
  let goodTillDate: number | null = null;
  if (resting) {
    if (intent.expiresAfterBars === undefined || intent.barIntervalMs === undefined) return err(`a ${entryType} entry rests at the venue: it needs expiresAfterBars and barIntervalMs`);
    goodTillDate = intent.candleOpenTime + (1 + intent.expiresAfterBars) * intent.barIntervalMs;
  }
  return ok({ entryType, price, timeInForce: TIME_IN_FORCE[entryType], goodTillDate });
}

/**
 * Whether the account takes a new entry on `day` at all, whatever the venue: not HALTED or
 * REDUCING, no monthly, losing-streak or daily pause, and under the day's trade count (which
 * counts futures and spot-margin entries together). Closing is never gated.
 * @returns null when open, else the denial reason and its detail.
 */
function entryGate(s: AccountState, day: string): { reason: DenialReason; detail: string } | null {
  const cfg = s.config!;
  if (s.tradingState === 'HALTED') return { reason: 'TRADING_HALTED', detail: 'trading is halted (kill switch): no new orders' };
  if (s.tradingState === 'REDUCING') return { reason: 'TRADING_REDUCING', detail: 'trading is reducing: only reduce-only orders' };
  if (s.monthlyPause) return { reason: 'TRADING_PAUSED', detail: `monthly drawdown limit reached in ${s.monthlyPause.month}; entries resume only by command` };
  if (s.streakPause) return { reason: 'TRADING_PAUSED', detail: `${s.losingStreak} losing trades in a row (limit ${cfg.losingStreakPause}); entries resume only by command` };
  if (s.pausedForDay?.day === day) {
    const r = s.pausedForDay.reason;
    return { reason: r, detail: `${r === 'DAILY_LOSS_LIMIT' ? 'daily loss limit' : 'daily profit target'} reached on ${day}; entries resume at 00:00 UTC` };
  }
  if (s.tradesToday >= cfg.maxTradesPerDay) return { reason: 'DAILY_TRADE_LIMIT', detail: `${s.tradesToday} of ${cfg.maxTradesPerDay} entries already taken on ${day}; closes are still allowed` };
  return null;
}

/** The warning at the configured share of the day's trade count (40 of 50 by default) and the limit reached, for the entry about to be approved. */
function tradeCountAlerts(s: AccountState, day: string): DomainEvent[] {
  const count = s.tradesToday + 1;
  const limit = s.config!.maxTradesPerDay;
  const warnAt = dec(limit).mul(ACCOUNT_DEFAULTS.tradeWarningShare).ceil().toNumber();
  const extra: DomainEvent[] = [];
  if (count === warnAt && count < limit) extra.push(event('DailyTradeLimitWarning', { tradingDay: day, count, limit }));
  if (count === limit) extra.push(event('DailyTradeLimitReached', { tradingDay: day, count, limit }));
  return extra;
}

/**
 * A spot-margin entry request: through the same gate as a futures entry (`entryGate`), recorded
 * as MarginEntryApproved (counted in the day's trades) or MarginEntryDenied. Sizing is
 * execution's, from the venue's isolated equity. A request seen before decides nothing again.
 */
function decideMarginEntry(s0: AccountState, c: Extract<AccountCommand, { kind: 'AssessMarginEntry' }>): DomainEvent[] {
  const r = c.request;
  if (s0.assessedIntents.has(r.requestId)) return [];
  const day = tradingDayOf(c.ts);
  const s = rollToDay(s0, day);
  const by = r.by;
  if (s.config!.venue !== 'binance-margin') {
    return [event('MarginEntryDenied', { requestId: r.requestId, accountId: r.accountId, symbol: r.symbol, reason: 'INVALID_INTENT', detail: `account ${r.accountId} trades ${s.config!.venue}, not binance-margin`, by, tradingDay: day })];
  }
  const closed = entryGate(s, day) ?? (c.busy ? { reason: 'POSITION_ALREADY_OPEN' as const, detail: `${r.symbol} has a position open or an entry under way; one position per isolated pair` } : null);
  if (closed) return [event('MarginEntryDenied', { requestId: r.requestId, accountId: r.accountId, symbol: r.symbol, reason: closed.reason, detail: closed.detail, by, tradingDay: day })];
  return [
    event('MarginEntryApproved', {
      requestId: r.requestId, accountId: r.accountId, symbol: r.symbol, side: r.side, stopPrice: r.stopPrice, takeProfitPrice: r.takeProfitPrice ?? null, by,
      tradingDay: day, count: s.tradesToday + 1,
    }),
    ...tradeCountAlerts(s, day),
  ];
}

function decideResult(s0: AccountState, c: Extract<AccountCommand, { kind: 'RecordPositionResult' }>): DomainEvent[] {
  if (s0.recordedPositions.has(c.positionStreamId)) return []; // at-least-once delivery: already counted
  const cfg = s0.config!;
  const day = tradingDayOf(c.ts);
  const s = rollToDay(s0, day);
  const out: DomainEvent[] = [event('PositionResultRecorded', { positionStreamId: c.positionStreamId, netPnl: str(c.netPnl), tradingDay: day, month: day.slice(0, 7) })];
  const after = accountEvolve(s, out[0]);
  if (cfg.losingStreakPause !== null && !s.streakPause && after.losingStreak >= cfg.losingStreakPause) {
    out.push(event('TradingPaused', { reason: 'LOSING_STREAK', tradingDay: day, month: day.slice(0, 7), loss: str(after.streakLoss), limit: String(cfg.losingStreakPause) }));
  }
  const dayPnl = s.pnlToday.plus(c.netPnl);
  if (s.pausedForDay?.day !== day) {
    const capital = dec(cfg.capital);
    if (cfg.dailyLossLimitFraction !== null && dayPnl.neg().gte(capital.mul(cfg.dailyLossLimitFraction))) {
      out.push(event('TradingPaused', { reason: 'DAILY_LOSS_LIMIT', tradingDay: day, month: day.slice(0, 7), loss: str(dayPnl.neg()), limit: str(capital.mul(cfg.dailyLossLimitFraction)) }));
    } else if (cfg.dailyProfitTargetFraction !== null && dayPnl.gte(capital.mul(cfg.dailyProfitTargetFraction))) {
      out.push(event('TradingPaused', { reason: 'DAILY_PROFIT_TARGET', tradingDay: day, month: day.slice(0, 7), loss: str(dayPnl), limit: str(capital.mul(cfg.dailyProfitTargetFraction)) }));
    }
  }
  return out;
}

/** The validated configuration with who asked for it, when the command says. */
function withBy(config: EventData<'AccountOpened'>, by: string | undefined): EventData<'AccountOpened'> {
  return by ? { ...config, by } : config;
}

/** An operator command must say who gives it and why. */
function whoAndWhy(c: { reason: string; by: string }, what: string): Result<never, AccountRejection> | null {
  if (!c.reason.trim()) return err({ code: 'INVALID_COMMAND', field: 'reason', value: c.reason, allowed: 'a non-empty reason', message: `${what} needs a reason` });
  if (!c.by.trim()) return err({ code: 'INVALID_COMMAND', field: 'by', value: c.by, allowed: 'who gives the command', message: `${what} needs to say who` });
  return null;
}

/**
 * The account policy decider (risk service). Every entry assessment produces an event —
 * `EntryApproved` with the full sizing assessment or `EntryDenied` with a typed reason —
 * and every breaker is an event with its numbers. Only command misuse (unknown account,
 * invalid configuration, resuming when nothing is paused) is a rejection.
 */
export const accountDecider: Decider<AccountCommand, AccountState, AccountRejection> = {
  initialState: accountInitialState,
  evolve: accountEvolve,
  decide(command, state) {
    if (command.kind !== 'OpenAccount' && !state.config) return err({ code: 'UNKNOWN_ACCOUNT', message: 'account is not open' });
    switch (command.kind) {
      case 'OpenAccount': {
        if (state.config) return err({ code: 'ACCOUNT_EXISTS', message: `account ${state.config.accountId} is already open` });
        const v = validateAccountConfig(command.config, command.context);
        return v.ok ? ok([event('AccountOpened', withBy(v.value, command.by))]) : v;
      }
      case 'ReconfigureAccount': {
        if (command.config.accountId !== state.config!.accountId) return err({ code: 'INVALID_COMMAND', field: 'accountId', value: command.config.accountId, allowed: state.config!.accountId, message: 'the account id cannot change' });
        const v = validateAccountConfig(command.config, command.context);
        return v.ok ? ok([event('AccountReconfigured', withBy(v.value, command.by))]) : v;
      }
      case 'AssessEntry':
        return ok(decideEntry(state, command));
      case 'AssessMarginEntry':
        return ok(decideMarginEntry(state, command));
      case 'RecordPositionResult':
        return ok(decideResult(state, command));
      case 'ObserveEquity': {
        const drawdowns = decideEquity(state, command.equity, command.ts);
        const utilisation = command.usedMargin === undefined ? [] : decideUtilisation(drawdowns.reduce(accountEvolve, state), command.usedMargin, command.equity);
        return ok([...drawdowns, ...utilisation]);
      }
      case 'ResumeTrading': {
        if (!command.reason.trim()) return err({ code: 'INVALID_COMMAND', field: 'reason', value: command.reason, allowed: 'a non-empty reason', message: 'a resume needs a reason' });
        if (!command.by.trim()) return err({ code: 'INVALID_COMMAND', field: 'by', value: command.by, allowed: 'who resumes', message: 'a resume needs to say who' });
        const day = tradingDayOf(command.ts);
        // One resume lifts one pause, the gravest first: each is looked at and answered on its own.
        const paused: BreakerReason | null = state.lifetimeBreach
          ? 'LIFETIME_DRAWDOWN_LIMIT'
          : state.monthlyPause
            ? 'MONTHLY_DRAWDOWN_LIMIT'
            : state.streakPause
              ? 'LOSING_STREAK'
              : state.pausedForDay?.day === day
                ? state.pausedForDay.reason
                : null;
        if (!paused) return err({ code: 'NOT_PAUSED', message: 'trading is not paused' });
        const resumed = event('TradingResumed', { reason: command.reason, by: command.by, pausedReason: paused, month: day.slice(0, 7), tradingDay: day, equity: str(command.equity) });
        // The lifetime switch halted the account: its resume sets it ACTIVE again.
        const active = paused === 'LIFETIME_DRAWDOWN_LIMIT' && state.tradingState !== 'ACTIVE' ? [event('TradingStateChanged', { state: 'ACTIVE', previous: state.tradingState, reason: `resume: ${command.reason}`, by: command.by })] : [];
        return ok([resumed, ...active]);
      }
      case 'SetTradingState': {
        const bad = whoAndWhy(command, 'a trading-state change');
        if (bad) return bad;
        if (command.state === state.tradingState) return ok([]);
        if (state.lifetimeBreach && command.state !== 'HALTED') {
          return err({ code: 'INVALID_COMMAND', field: 'state', value: command.state, allowed: 'HALTED', message: 'the lifetime drawdown switch holds the account: resume it with `bulwark account resume --reason …` (re-bases the peak)' });
        }
        return ok([event('TradingStateChanged', { state: command.state, previous: state.tradingState, reason: command.reason, by: command.by })]);
      }
      case 'Flatten': {
        const bad = whoAndWhy(command, 'a flatten');
        if (bad) return bad;
        const halt = state.tradingState === 'HALTED' ? [] : [event('TradingStateChanged', { state: 'HALTED', previous: state.tradingState, reason: `flatten: ${command.reason}`, by: command.by })];
        return ok([...halt, event('FlattenRequested', { by: command.by, reason: command.reason })]);
      }
      case 'ClosePosition': {
        const bad = whoAndWhy(command, 'a position close');
        if (bad) return bad;
        return ok([event('PositionCloseRequested', { symbol: command.symbol, by: command.by, reason: command.reason })]);
      }
      case 'CancelOrder': {
        const bad = whoAndWhy(command, 'an order cancel');
        if (bad) return bad;
        return ok([event('OrderCancelCommanded', { clientOrderId: command.clientOrderId, by: command.by, reason: command.reason })]);
      }
      default:
        return assertNever(command);
    }
  },
};
