import type { DomainEvent, EventData, RecordedEvent } from '@bulwark/contracts';
import {
  type AccountState,
  accountEvolve,
  accountInitialState,
  type D,
  dec,
  type LedgerTotals,
  type OrderEvent,
  orderEvolve,
  orderInitialState,
  type OrderState,
  type PositionEvent,
  positionEvolve,
  positionInitialState,
  type PositionState,
  stopEvolve,
  stopInitialState,
  type StopState,
  str,
  walletBalanceOf,
  ZERO,
} from '@bulwark/domain';

/*
 * The folds every read model is made of, one per idea: the replay (`rebuildReadModels`), the
 * audits and the gateway's incremental `AccountProjection` all step these same functions, so
 * they cannot disagree. Each takes events that passed `screenEvent` (valid, upcast).
 */

/** Position events that book a fill (FundingApplied is the other position event). */
export const POSITION_FILL_TYPES: ReadonlySet<string> = new Set(['PositionOpened', 'PositionIncreased', 'PositionReduced', 'PositionClosed', 'PositionLiquidated']);
/** Every event of a position stream. */
export const POSITION_TYPES: ReadonlySet<string> = new Set([...POSITION_FILL_TYPES, 'FundingApplied']);
/** Every event of an order stream. */
export const ORDER_TYPES: ReadonlySet<string> = new Set([
  'OrderInitialized', 'OrderSubmitted', 'OrderAccepted', 'OrderRejected', 'OrderDenied', 'OrderCancelRequested',
  'OrderCanceled', 'OrderCancelRejected', 'OrderExpired', 'OrderStatusUnknown', 'OrderFilled',
]);

/** The key that ties a venue fill to the position events it produced: `<clientOrderId>/<tradeId>`. */
export function fillKey(clientOrderId: string, tradeId: string): string {
  return `${clientOrderId}/${tradeId}`;
}

const domainEvent = (e: { type: string; data: unknown }) => ({ type: e.type, data: e.data }) as DomainEvent;

// ---------------------------------------------------------------------------------------
// Position, order, stop and account policy: the domain's own evolve functions
// ---------------------------------------------------------------------------------------

/** One event of a position stream into its state (other types leave it unchanged). */
export function evolvePosition(s: PositionState, e: { type: string; data: unknown }): PositionState {
  return POSITION_TYPES.has(e.type) ? positionEvolve(s, domainEvent(e) as PositionEvent) : s;
}

/** Fold a position stream's events (other types are ignored). */
export function foldPosition(events: readonly { type: string; data: unknown }[]): PositionState {
  return events.reduce(evolvePosition, positionInitialState());
}

/**
 * One event of an order stream into its state. A type that is not an order event, or a
 * transition the order table does not allow (a corrupt stream), leaves the state unchanged
 * and is returned as a problem (`<stream>#<revision>: <why>`); never throws.
 */
export function stepOrder(state: OrderState, e: RecordedEvent): { state: OrderState; problem: string | null } {
  if (!ORDER_TYPES.has(e.type)) return { state, problem: `${e.streamId}#${e.revision}: ${e.type} is not an order event` };
  try {
    return { state: orderEvolve(state, domainEvent(e) as OrderEvent), problem: null };
  } catch (err) {
    return { state, problem: `${e.streamId}#${e.revision}: ${(err as Error).message}` };
  }
}

/**
 * Fold an order stream. A transition the order table does not allow is reported, the event
 * skipped, and the fold goes on.
 * @returns the state, the status after each event, and the problems met
 */
export function foldOrder(events: readonly RecordedEvent[]): { state: OrderState; after: string[]; problems: string[] } {
  let state = orderInitialState();
  const after: string[] = [];
  const problems: string[] = [];
  for (const e of events) {
    const r = stepOrder(state, e);
    state = r.state;
    if (r.problem) problems.push(r.problem);
    after.push(state.status);
  }
  return { state, after, problems };
}

/** Fold a stop stream (StopPlaced, StopResized, StopTriggered …) with the stop aggregate's evolve. */
export function evolveStop(s: StopState, e: { type: string; data: unknown }): StopState {
  return stopEvolve(s, domainEvent(e));
}

export function foldStop(events: readonly { type: string; data: unknown }[]): StopState {
  return events.reduce(evolveStop, stopInitialState());
}

/** The account policy state (`account-<id>`) with the account aggregate's evolve. */
export function evolvePolicy(s: AccountState, e: { type: string; data: unknown }): AccountState {
  return accountEvolve(s, domainEvent(e));
}

export function foldPolicy(events: readonly { type: string; data: unknown }[]): AccountState {
  return events.reduce(evolvePolicy, accountInitialState());
}

// ---------------------------------------------------------------------------------------
// The ledger (the definitions of the accounting service's book())
// ---------------------------------------------------------------------------------------

/** A serialisable ledger (USDT as decimal strings). */
export interface LedgerSnapshot {
  /** From AccountOpened (accounting ignores later reconfigurations of the capital); 0 when there is no valid AccountOpened. */
  capital: string;
  capitalKnown: boolean;
  /** Σ realisedPnl of PositionReduced / PositionClosed / PositionLiquidated. */
  realisedPnl: string;
  /** Σ fee of every position fill event. */
  fees: string;
  /** Σ FundingApplied.amount (+ received, − paid). */
  funding: string;
  /** Σ PositionLiquidated.liquidationFee. */
  liquidationFees: string;
  /** capital + realised − fees + funding − liquidation fees (`walletBalanceOf`). */
  walletBalance: string;
  positionsOpened: number;
  positionsClosed: number;
  liquidations: number;
  /** Position fill events (one per booked fill, two for a one-way flip), as accounting counts them. */
  fills: number;
  closesByPurpose: Record<string, number>;
}

/**
 * One account's ledger, booked event by event exactly as accounting's `book()` does: capital
 * from the first AccountOpened, fees / realised PnL / liquidation fees / counts from the
 * position fill events, funding from FundingApplied. Sums commute, so the order the position
 * events arrive in across streams does not matter.
 */
export class LedgerFold implements LedgerTotals {
  capital: D = ZERO;
  capitalKnown = false;
  realisedPnl: D = ZERO;
  fees: D = ZERO;
  funding: D = ZERO;
  liquidationFees: D = ZERO;
  positionsOpened = 0;
  positionsClosed = 0;
  liquidations = 0;
  fills = 0;
  readonly closesByPurpose: Record<string, number> = {};

  /** Book one event (account or position stream); other types are ignored. */
  apply(e: { type: string; data: unknown }): void {
    if (e.type === 'AccountOpened') {
      if (this.capitalKnown) return; // accounting keeps the first capital
      this.capital = dec((e.data as EventData<'AccountOpened'>).capital);
      this.capitalKnown = true;
      return;
    }
    if (e.type === 'FundingApplied') {
      this.funding = this.funding.plus(dec((e.data as EventData<'FundingApplied'>).amount));
      return;
    }
    if (!POSITION_FILL_TYPES.has(e.type)) return;
    const d = e.data as { fee: string; realisedPnl?: string; purpose: string; liquidationFee?: string };
    this.fills++;
    this.fees = this.fees.plus(dec(d.fee));
    if (e.type === 'PositionOpened') this.positionsOpened++;
    if (d.realisedPnl !== undefined) this.realisedPnl = this.realisedPnl.plus(dec(d.realisedPnl));
    if (e.type === 'PositionClosed' || e.type === 'PositionLiquidated') {
      this.positionsClosed++;
      this.closesByPurpose[d.purpose] = (this.closesByPurpose[d.purpose] ?? 0) + 1;
      if (e.type === 'PositionLiquidated') {
        this.liquidations++;
        this.liquidationFees = this.liquidationFees.plus(dec(d.liquidationFee ?? '0'));
      }
    }
  }

  walletBalance(): D {
    return walletBalanceOf(this);
  }

  snapshot(): LedgerSnapshot {
    const s = str;
    return {
      capital: s(this.capital), capitalKnown: this.capitalKnown, realisedPnl: s(this.realisedPnl), fees: s(this.fees), funding: s(this.funding),
      liquidationFees: s(this.liquidationFees), walletBalance: s(this.walletBalance()), positionsOpened: this.positionsOpened,
      positionsClosed: this.positionsClosed, liquidations: this.liquidations, fills: this.fills, closesByPurpose: { ...this.closesByPurpose },
    };
  }
}

// ---------------------------------------------------------------------------------------
// Breakers and guards: one line for a person
// ---------------------------------------------------------------------------------------

/** Breaker, guard and venue-alert events shown on an account's timeline (BreakerView). */
export const BREAKER_EVENT_TYPES: ReadonlySet<string> = new Set([
  'TradingPaused', 'DrawdownAlert', 'DailyTradeLimitWarning', 'DailyTradeLimitReached', 'LifetimeDrawdownBreached', 'TradingResumed',
  'TradingStateChanged', 'ProtectionWarning', 'ProtectionFailed', 'MarginLevelAlert', 'VenueAlert', 'OrderStatusUnknown',
]);

/** Breakers and guards of the day audit: the account's breakers, month openings and the stop triggers. */
export const GUARD_EVENT_TYPES: ReadonlySet<string> = new Set([
  'DailyTradeLimitWarning', 'DailyTradeLimitReached', 'MonthOpened', 'DrawdownAlert', 'TradingPaused', 'TradingResumed',
  'TradingStateChanged', 'ProtectionWarning', 'StopTriggered',
]);

/** The reason or new state a breaker event carries (TradingPaused.reason, TradingStateChanged.state …), or null. */
export function breakerReason(type: string, d: Record<string, unknown>): string | null {
  switch (type) {
    case 'TradingPaused':
      return String(d.reason);
    case 'TradingResumed':
      return String(d.pausedReason);
    case 'TradingStateChanged':
      return String(d.state);
    case 'DrawdownAlert':
      return `MONTHLY_DRAWDOWN_${String(d.threshold)}`;
    case 'LifetimeDrawdownBreached':
      return 'LIFETIME_DRAWDOWN_LIMIT';
    case 'ProtectionWarning':
    case 'VenueAlert':
      return String(d.kind);
    case 'ProtectionFailed':
      return 'PROTECTION_FAILED';
    case 'MarginLevelAlert':
      return String(d.bar);
    case 'DailyTradeLimitWarning':
    case 'DailyTradeLimitReached':
      return 'DAILY_TRADE_LIMIT';
    case 'OrderStatusUnknown':
      return 'ORDER_STATUS_UNKNOWN';
    default:
      return null;
  }
}

/** One line for a person about a breaker, guard or venue alert event ('' for other types). */
export function breakerDetail(type: string, d: Record<string, unknown>): string {
  switch (type) {
    case 'DailyTradeLimitWarning':
    case 'DailyTradeLimitReached':
      return `${d.count} of ${d.limit} entries on ${d.tradingDay}`;
    case 'MonthOpened':
      return `${d.month} starts at equity ${d.equity}`;
    case 'DrawdownAlert':
      return `${d.threshold} of the ${d.limitFraction} limit: drawdown ${d.drawdown} (${d.drawdownFraction}) from ${d.monthStartEquity}`;
    case 'TradingPaused':
      return `${d.reason}: ${d.loss} against the limit ${d.limit}`;
    case 'TradingResumed':
      return `after ${d.pausedReason} by ${d.by}: ${d.reason} (equity ${d.equity})`;
    case 'TradingStateChanged':
      return `${d.previous} → ${d.state} by ${d.by}: ${d.reason}`;
    case 'ProtectionWarning':
      return `${d.kind} level ${d.level} (threshold ${d.threshold}) seen at ${d.observedPrice}`;
    case 'StopTriggered':
      return `${d.kind} at ${d.triggerPrice} (level ${d.level}) → ${d.side} ${d.quantity} as ${d.closeClientOrderId}`;
    case 'LifetimeDrawdownBreached':
      return `equity ${d.equity} is ${d.drawdownFraction} below the peak ${d.peakEquity} (limit ${d.limitFraction})`;
    case 'ProtectionFailed':
      return `${d.symbol} position ${d.positionStreamId} not closed after ${d.attempts} attempts: ${d.lastCode} ${d.lastMessage}`;
    case 'MarginLevelAlert':
      return `${d.symbol} margin level ${d.marginLevel ?? '—'} crossed the ${d.bar} bar ${d.threshold} going ${d.direction} at ${d.price}`;
    case 'VenueAlert':
      return `${d.kind}: ${d.detail}`;
    case 'OrderStatusUnknown':
      return `${d.clientOrderId}: ${d.detail}`;
    default:
      return '';
  }
}

/** `2025-11-20 15:45:59.999` (UTC). */
export function utcTime(ts: number): string {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString().replace('T', ' ').replace('Z', '');
}
