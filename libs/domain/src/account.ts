import {
  AccountConfig,
  type DenialReason,
  type DomainEvent,
  type EntryApproved,
  type EquitySnapshot,
  type EventData,
  event,
  type IntentEmitted,
} from '@bulwark/contracts';
import type { Decider } from './decider';
import { clientOrderIdFor, tradingDayOf } from './ids';
import { dec, str, ZERO, type D } from './money';
import { err, ok, type Rejection, type Result, assertNever } from './result';
import type { Rules } from './rules';
import { sizeEntry } from './sizing';

/** Defaults of a new account (DESIGN.md, issue "Risk engine"). */
export const ACCOUNT_DEFAULTS = {
  leverageCap: 20,
  riskFraction: '0.01',
  maxMarginFraction: '0.5',
  liquidationBufferFraction: '0.1',
  maxTradesPerDay: 50,
  dailyLossLimitFraction: null as string | null,
  maxMonthlyDrawdownFraction: '0.04',
} as const;

/** State of the account policy aggregate (stream `account-<accountId>`). */
export interface AccountState {
  config: EventData<'AccountOpened'> | null;
  /** Approved entries so far; the next entry's client order id uses this + 1. */
  entries: number;
  day: string | null;
  tradesToday: number;
  pnlToday: D;
  month: string | null;
  pnlThisMonth: D;
  /** Equity at the start of the current month: capital + net results of earlier months. */
  monthStartEquity: D;
  cumulativePnl: D;
  pausedForDay: string | null;
  pausedForMonth: string | null;
  recordedPositions: ReadonlySet<string>;
  /** Intents already assessed: a redelivered intent is not assessed twice. */
  assessedIntents: ReadonlySet<string>;
}

export type AccountCommand =
  | { kind: 'OpenAccount'; config: unknown }
  | { kind: 'AssessEntry'; intent: IntentEmitted; signalStreamId: string; equity: EquitySnapshot; rules: Rules; ts: number }
  | { kind: 'RecordPositionResult'; positionStreamId: string; netPnl: D; ts: number };

export type AccountRejectionCode = 'ACCOUNT_EXISTS' | 'UNKNOWN_ACCOUNT' | 'INVALID_CONFIG';
export type AccountRejection = Rejection<AccountRejectionCode>;

export function accountInitialState(): AccountState {
  return {
    config: null,
    entries: 0,
    day: null,
    tradesToday: 0,
    pnlToday: ZERO,
    month: null,
    pnlThisMonth: ZERO,
    monthStartEquity: ZERO,
    cumulativePnl: ZERO,
    pausedForDay: null,
    pausedForMonth: null,
    recordedPositions: new Set(),
    assessedIntents: new Set(),
  };
}

/** Roll the daily and monthly counters forward to the day/month of `ts` (UTC). */
function rollTo(s: AccountState, ts: number): AccountState {
  return rollToDay(s, tradingDayOf(ts));
}

/** Roll the counters to a UTC day (YYYY-MM-DD); events carry their day so evolve needs no clock. */
function rollToDay(s: AccountState, day: string): AccountState {
  const month = day.slice(0, 7);
  let next = s;
  if (s.day !== day) next = { ...next, day, tradesToday: 0, pnlToday: ZERO };
  if (s.month !== month) {
    const capital = s.config ? dec(s.config.capital) : ZERO;
    next = { ...next, month, pnlThisMonth: ZERO, monthStartEquity: capital.plus(s.cumulativePnl) };
  }
  return next;
}

export function accountEvolve(state: AccountState, e: DomainEvent): AccountState {
  switch (e.type) {
    case 'AccountOpened':
      return { ...state, config: e.data, monthStartEquity: dec(e.data.capital) };
    case 'EntryApproved': {
      const s = rollToDay(state, e.data.tradingDay);
      return { ...s, entries: s.entries + 1, tradesToday: s.tradesToday + 1, assessedIntents: withItem(s.assessedIntents, e.data.intentId) };
    }
    case 'EntryDenied': {
      const s = rollToDay(state, e.data.tradingDay);
      return { ...s, assessedIntents: withItem(s.assessedIntents, e.data.intentId) };
    }
    case 'PositionResultRecorded': {
      const s = rollToDay(state, e.data.tradingDay);
      const pnl = dec(e.data.netPnl);
      const recorded = withItem(s.recordedPositions, e.data.positionStreamId);
      return {
        ...s,
        pnlToday: s.pnlToday.plus(pnl),
        pnlThisMonth: s.pnlThisMonth.plus(pnl),
        cumulativePnl: s.cumulativePnl.plus(pnl),
        recordedPositions: recorded,
      };
    }
    case 'TradingPaused': {
      const s = rollToDay(state, e.data.tradingDay);
      return e.data.reason === 'DAILY_LOSS_LIMIT' ? { ...s, pausedForDay: e.data.tradingDay } : { ...s, pausedForMonth: e.data.month };
    }
    default:
      return state;
  }
}

function withItem(set: ReadonlySet<string>, item: string): ReadonlySet<string> {
  const next = new Set(set);
  next.add(item);
  return next;
}

/** Validate an account configuration; every refusal names the field, the value and the allowed range. */
export function validateAccountConfig(raw: unknown): Result<EventData<'AccountOpened'>, AccountRejection> {
  const r = AccountConfig.safeParse(raw);
  if (!r.success) {
    const msg = r.error.issues
      .map((i) => `${i.path.join('.')}: ${i.message} (got ${JSON.stringify(pathGet(raw, i.path))})`)
      .join('; ');
    return err({ code: 'INVALID_CONFIG', message: msg });
  }
  const c = r.data;
  const checks: Array<[boolean, string]> = [
    [c.leverage <= c.leverageCap, `leverage ${c.leverage} is above the leverage cap ${c.leverageCap}`],
    [dec(c.riskFraction).gt(0) && dec(c.riskFraction).lte('0.1'), `riskFraction ${c.riskFraction} must be in (0, 0.1]`],
    [dec(c.maxMarginFraction).gt(0) && dec(c.maxMarginFraction).lte(1), `maxMarginFraction ${c.maxMarginFraction} must be in (0, 1]`],
    [dec(c.liquidationBufferFraction).gte(0) && dec(c.liquidationBufferFraction).lt(1), `liquidationBufferFraction ${c.liquidationBufferFraction} must be in [0, 1)`],
    [dec(c.maxMonthlyDrawdownFraction).gt(0) && dec(c.maxMonthlyDrawdownFraction).lte(1), `maxMonthlyDrawdownFraction ${c.maxMonthlyDrawdownFraction} must be in (0, 1]`],
    [c.dailyLossLimitFraction === null || (dec(c.dailyLossLimitFraction).gt(0) && dec(c.dailyLossLimitFraction).lte(1)), `dailyLossLimitFraction ${c.dailyLossLimitFraction} must be in (0, 1]`],
  ];
  const bad = checks.filter(([okay]) => !okay).map(([, m]) => m);
  return bad.length ? err({ code: 'INVALID_CONFIG', message: bad.join('; ') }) : ok(c);
}

function pathGet(o: unknown, p: PropertyKey[]): unknown {
  let cur: unknown = o;
  for (const k of p) cur = cur && typeof cur === 'object' ? (cur as Record<PropertyKey, unknown>)[k] : undefined;
  return cur;
}

function deny(intent: IntentEmitted, signalStreamId: string, reason: DenialReason, detail: string, day: string, assessment: EventData<'EntryDenied'>['assessment'] = null) {
  return event('EntryDenied', { intentId: intent.intentId, signalStreamId, accountId: intent.accountId, reason, detail, tradingDay: day, assessment });
}

function decideEntry(s0: AccountState, c: Extract<AccountCommand, { kind: 'AssessEntry' }>): DomainEvent[] {
  const cfg = s0.config!;
  const s = rollTo(s0, c.ts);
  const day = s.day!;
  const { intent } = c;
  if (s0.assessedIntents.has(intent.intentId)) return []; // at-least-once delivery: already decided
  if (s.pausedForMonth === s.month) return [deny(intent, c.signalStreamId, 'TRADING_PAUSED', `monthly drawdown limit reached in ${s.month}; resume by command`, day)];
  if (s.pausedForDay === day) return [deny(intent, c.signalStreamId, 'DAILY_LOSS_LIMIT', `daily loss limit reached on ${day}`, day)];
  if (s.tradesToday >= cfg.maxTradesPerDay) return [deny(intent, c.signalStreamId, 'DAILY_TRADE_LIMIT', `${s.tradesToday} of ${cfg.maxTradesPerDay} entries already taken on ${day}`, day)];
  if (!c.equity.known) return [deny(intent, c.signalStreamId, 'NO_EQUITY', 'accounting has no equity for this account yet', day)];
  if (c.equity.openPositions > 0) return [deny(intent, c.signalStreamId, 'POSITION_ALREADY_OPEN', `${c.equity.openPositions} position(s) open; one position per symbol in one-way mode`, day)];
  const sized = sizeEntry({
    side: intent.side,
    entryPrice: dec(intent.entryPrice),
    stopPrice: dec(intent.stopPrice),
    takeProfitPrice: intent.takeProfitPrice === null ? null : dec(intent.takeProfitPrice),
    equity: dec(c.equity.equity),
    availableMargin: dec(c.equity.availableMargin),
    riskFraction: dec(cfg.riskFraction),
    requestedLeverage: cfg.leverage,
    leverageCap: cfg.leverageCap,
    maxMarginFraction: dec(cfg.maxMarginFraction),
    liquidationBufferFraction: dec(cfg.liquidationBufferFraction),
    rules: c.rules,
  });
  if (!sized.ok) return [deny(intent, c.signalStreamId, sized.error.code, sized.error.message, day, sized.error.assessment)];
  const a = sized.value;
  const approved: EntryApproved = {
    intentId: intent.intentId,
    signalStreamId: c.signalStreamId,
    accountId: intent.accountId,
    clientOrderId: clientOrderIdFor(intent.accountId, s.entries + 1, 'E'),
    venue: intent.venue,
    symbol: intent.symbol,
    side: intent.side,
    type: 'MARKET',
    quantity: a.quantity,
    leverage: a.leverage,
    stopPrice: a.stopPrice,
    takeProfitPrice: a.takeProfitPrice,
    tradingDay: day,
    assessment: a,
  };
  return [event('EntryApproved', approved)];
}

function decideResult(s0: AccountState, c: Extract<AccountCommand, { kind: 'RecordPositionResult' }>): DomainEvent[] {
  if (s0.recordedPositions.has(c.positionStreamId)) return []; // at-least-once delivery: already counted
  const cfg = s0.config!;
  const s = rollTo(s0, c.ts);
  const out: DomainEvent[] = [
    event('PositionResultRecorded', { positionStreamId: c.positionStreamId, netPnl: str(c.netPnl), tradingDay: s.day!, month: s.month! }),
  ];
  const dayPnl = s.pnlToday.plus(c.netPnl);
  const monthPnl = s.pnlThisMonth.plus(c.netPnl);
  if (cfg.dailyLossLimitFraction !== null && s.pausedForDay !== s.day) {
    const limit = dec(cfg.capital).mul(cfg.dailyLossLimitFraction);
    if (dayPnl.neg().gte(limit)) {
      out.push(event('TradingPaused', { reason: 'DAILY_LOSS_LIMIT', tradingDay: s.day!, month: s.month!, loss: str(dayPnl.neg()), limit: str(limit) }));
    }
  }
  if (s.pausedForMonth !== s.month) {
    const limit = s.monthStartEquity.mul(cfg.maxMonthlyDrawdownFraction);
    if (monthPnl.neg().gte(limit)) {
      out.push(event('TradingPaused', { reason: 'MONTHLY_DRAWDOWN_LIMIT', tradingDay: s.day!, month: s.month!, loss: str(monthPnl.neg()), limit: str(limit) }));
    }
  }
  return out;
}

/**
 * The account policy decider (risk service). Entry assessments always produce an event —
 * `EntryApproved` with the full sizing assessment or `EntryDenied` with a typed reason —
 * so every decision is in the log. Only command misuse (unknown account, bad config) is a
 * rejection.
 */
export const accountDecider: Decider<AccountCommand, AccountState, AccountRejection> = {
  initialState: accountInitialState,
  evolve: accountEvolve,
  decide(command, state) {
    switch (command.kind) {
      case 'OpenAccount': {
        if (state.config) return err({ code: 'ACCOUNT_EXISTS', message: `account ${state.config.accountId} is already open` });
        const v = validateAccountConfig(command.config);
        return v.ok ? ok([event('AccountOpened', v.value)]) : v;
      }
      case 'AssessEntry':
        if (!state.config) return err({ code: 'UNKNOWN_ACCOUNT', message: `account ${command.intent.accountId} is not open` });
        return ok(decideEntry(state, command));
      case 'RecordPositionResult':
        if (!state.config) return err({ code: 'UNKNOWN_ACCOUNT', message: 'account is not open' });
        return ok(decideResult(state, command));
      default:
        return assertNever(command);
    }
  },
};
