import type { DomainEvent, RecordedEvent } from '@bulwark/contracts';
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

/** The event as the domain's evolve functions take it: they read only `type` and `data` (no copy per event). */
const domainEvent = (e: { type: string; data: unknown }) => e as DomainEvent;

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

/** Position events that realise PnL (their `realisedPnl` is required). */
export const REALISING_TYPES: ReadonlySet<string> = new Set(['PositionReduced', 'PositionClosed', 'PositionLiquidated']);
/** The types the ledger books ({@link LedgerFold.apply}); it ignores every other. */
export const LEDGER_TYPES: ReadonlySet<string> = new Set([...POSITION_FILL_TYPES, 'FundingApplied', 'AccountOpened']);

/**
 * The decimal amounts of an account or position event that the ledger and the replay's checks
 * use, each parsed once (exact, decimal.js); null where the type has none:
 * - fill types ({@link POSITION_FILL_TYPES}): `fee`, `quantity`; `realisedPnl` (required for
 *   Reduced / Closed / Liquidated, else when present); `liquidationFee` for PositionLiquidated
 *   (absent = 0);
 * - FundingApplied: `amount`; AccountOpened: `capital`.
 * Other types get one shared frozen object of nulls.
 * @throws DecimalError / RangeError when an amount the type needs is missing or not a finite decimal
 */
export function amountsOf(e: { type: string; data: unknown }): EventAmounts {
  // A missing amount (bad data in a trusted log) reaches dec() as undefined and throws there.
  const type = e.type;
  if (!LEDGER_TYPES.has(type)) return NO_AMOUNTS;
  const d = (e.data ?? {}) as Record<string, string>;
  const a: EventAmounts = { fee: null, quantity: null, realisedPnl: null, liquidationFee: null, amount: null, capital: null };
  if (POSITION_FILL_TYPES.has(type)) {
    a.fee = dec(d.fee);
    a.quantity = dec(d.quantity);
    if (REALISING_TYPES.has(type) || d.realisedPnl !== undefined) a.realisedPnl = dec(d.realisedPnl);
    if (type === 'PositionLiquidated') a.liquidationFee = dec(d.liquidationFee ?? '0');
  } else if (type === 'FundingApplied') {
    a.amount = dec(d.amount);
  } else {
    a.capital = dec(d.capital);
  }
  return a;
}

/** The amounts of every other type: none (one frozen object, not one per event). */
const NO_AMOUNTS: EventAmounts = Object.freeze({ fee: null, quantity: null, realisedPnl: null, liquidationFee: null, amount: null, capital: null });

/** See {@link amountsOf}. */
export interface EventAmounts {
  fee: D | null;
  quantity: D | null;
  realisedPnl: D | null;
  liquidationFee: D | null;
  amount: D | null;
  capital: D | null;
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

  /**
   * Book one event (account or position stream); other types are ignored.
   * @param a its amounts, when the caller has them parsed already ({@link amountsOf})
   * @throws DecimalError / RangeError when an amount the type needs is missing or not a decimal (nothing is booked then)
   */
  apply(e: { type: string; data: unknown }, a: EventAmounts = amountsOf(e)): void {
    if (e.type === 'AccountOpened') {
      if (this.capitalKnown) return; // accounting keeps the first capital
      this.capital = a.capital!;
      this.capitalKnown = true;
      return;
    }
    if (e.type === 'FundingApplied') {
      this.funding = this.funding.plus(a.amount!);
      return;
    }
    if (!POSITION_FILL_TYPES.has(e.type)) return;
    const d = e.data as { purpose: string };
    this.fills++;
    this.fees = this.fees.plus(a.fee!);
    if (e.type === 'PositionOpened') this.positionsOpened++;
    if (a.realisedPnl) this.realisedPnl = this.realisedPnl.plus(a.realisedPnl);
    if (e.type === 'PositionClosed' || e.type === 'PositionLiquidated') {
      this.positionsClosed++;
      this.closesByPurpose[d.purpose] = (this.closesByPurpose[d.purpose] ?? 0) + 1;
      if (e.type === 'PositionLiquidated') {
        this.liquidations++;
        this.liquidationFees = this.liquidationFees.plus(a.liquidationFee!);
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

/** USDT amount with 2 decimals (display only; the exact value stays in the event). */
const usdt = (v: unknown) => `${dec(String(v)).toFixed(2)} USDT`;
/** A fraction as a percentage with at most 2 decimals ("0.0312" → "3.12 %"). */
const pct = (v: unknown) => `${dec(String(v)).mul(100).toDecimalPlaces(2).toFixed()} %`;
/** Symbol and position number at the end of a position (or its stop) stream id `…-<SYMBOL>-<n>`; the id itself otherwise. */
function positionOf(streamId: string): string {
  const m = /-([A-Z0-9]{2,20})-(\d{1,9})$/.exec(streamId);
  return m ? `${m[1]} position #${m[2]}` : streamId;
}

/**
 * One line for a person about a breaker, guard or venue alert event: what happened, with its
 * numbers in units (USDT with 2 decimals, fractions as %), and for breakers what it means for
 * trading. The one description of these events: the account projection's breakers, the audits
 * and the alerter's Telegram and webhook texts all use it.
 * @param type the event type; '' for a type that is no breaker, guard or venue alert
 * @param d the event's data as recorded (passed its schema)
 * @param streamId the event's stream (names the position of a ProtectionWarning; optional)
 */
export function breakerDetail(type: string, d: Record<string, unknown>, streamId?: string): string {
  switch (type) {
    case 'DailyTradeLimitWarning':
      return `${d.count} of ${d.limit} entries on ${d.tradingDay}`;
    case 'DailyTradeLimitReached':
      return `${d.count} of ${d.limit} entries used on ${d.tradingDay}; new entries are denied until 00:00 UTC`;
    case 'MonthOpened':
      return `${d.month} starts at equity ${d.equity}`;
    case 'DrawdownAlert':
      return `monthly drawdown ${usdt(d.drawdown)} (${pct(d.drawdownFraction)} of ${usdt(d.monthStartEquity)}) crossed ${pct(d.threshold)} of the ${pct(d.limitFraction)} limit; equity ${usdt(d.equity)} (${d.month})`;
    case 'TradingPaused': {
      const period = d.reason === 'DAILY_LOSS_LIMIT' || d.reason === 'DAILY_PROFIT_TARGET' ? d.tradingDay : d.month;
      const why =
        d.reason === 'DAILY_PROFIT_TARGET'
          ? `profit ${usdt(d.loss)} ≥ target ${usdt(d.limit)}`
          : d.reason === 'LOSING_STREAK'
            ? `${d.limit} losing trades in a row (loss ${usdt(d.loss)})`
            : `${d.reason === 'DAILY_LOSS_LIMIT' ? 'loss' : 'drawdown'} ${usdt(d.loss)} ≥ limit ${usdt(d.limit)}`;
      return `${d.reason} — ${why} (${period}); new entries are paused`;
    }
    case 'TradingResumed':
      return `after ${d.pausedReason} by ${d.by}: ${d.reason} (equity ${d.equity})`;
    case 'TradingStateChanged':
      return `${d.previous} → ${d.state} by ${d.by}: ${d.reason}`;
    case 'ProtectionWarning': {
      const guard = d.kind === 'MARGIN_RATIO' ? `margin ratio reached ${pct(d.threshold)}` : `${pct(d.threshold)} of the entry-to-liquidation distance left`;
      return `${d.kind}${streamId ? ` on ${positionOf(streamId)}` : ''} — ${guard}: mark price ${d.observedPrice} crossed the warning level ${d.level}`;
    }
    case 'StopTriggered':
      return `${d.kind} at ${d.triggerPrice} (level ${d.level}) → ${d.side} ${d.quantity} as ${d.closeClientOrderId}`;
    case 'LifetimeDrawdownBreached':
      return `equity ${usdt(d.equity)} is ${pct(d.drawdownFraction)} below the peak ${usdt(d.peakEquity)} (limit ${pct(d.limitFraction)}): trading HALTED and the account flattened; only a resume with a reason restarts it`;
    case 'MarginUtilisationChanged':
      return d.level === 'HIGH'
        ? `margin utilisation ${pct(d.utilisation)} ≥ ${pct(d.threshold)} (used margin ${usdt(d.usedMargin)} of equity ${usdt(d.equity)})`
        : `margin utilisation back to ${pct(d.utilisation)} < ${pct(d.threshold)} (used margin ${usdt(d.usedMargin)} of equity ${usdt(d.equity)})`;
    case 'ProtectionFailed':
      return `a triggered stop could not close ${d.symbol} (${d.venue}, ${positionOf(String(d.positionStreamId))}) after ${d.attempts} attempts; last ${d.lastCode}: ${d.lastMessage}. Retrying goes on: an operator must look`;
    case 'MarginLevelAlert': {
      const level = d.marginLevel === null || d.marginLevel === undefined ? 'nothing borrowed' : `margin level ${dec(String(d.marginLevel)).toDecimalPlaces(4).toFixed()}`;
      return `${d.symbol} ${level} crossed the ${d.bar} bar ${d.threshold} going ${d.direction} at price ${d.price}`;
    }
    case 'VenueAlert':
      return `${d.kind} — ${d.detail}${d.until !== null && d.until !== undefined ? ` (until ${utcTime(Number(d.until)).slice(0, 16)} UTC)` : ''}`;
    case 'OrderStatusUnknown':
      return `order ${d.clientOrderId}: outcome unknown until the venue answers for it — ${d.detail}`;
    default:
      return '';
  }
}

/** `2025-11-20 15:45:59.999` (UTC). */
export function utcTime(ts: number): string {
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString().replace('T', ' ').replace('Z', '');
}
