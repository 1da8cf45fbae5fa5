import type { DomainEvent, EventData } from '@bulwark/contracts';
import { ceilToStep, dec, type D, floorToStep, ZERO } from './money';
import { isolatedLiquidationPrice } from './paper-margin';
import type { IsolatedMarginBalances } from './spot-margin';
import { err, ok, type Rejection, type Result } from './result';

/*
 * One spot isolated-margin pair of one account (stream `margin-<accountId>-<symbol>`): what it
 * owes, what moved in and out, and its one open position. Binance keeps one isolated account per
 * pair and Bulwark trades it one way at a time, so a pair holds at most one position; its
 * `sequence` numbers the positions from 1.
 */

/** Why a position must close (MarginStopTriggered.kind). */
export type MarginExitKind = EventData<'MarginStopTriggered'>['kind'];

/** The open position of a pair, decimals exact. */
export interface MarginPositionState {
  sequence: number;
  side: 'LONG' | 'SHORT';
  /** Base quantity held (long, after the base commission) or sold short (short). */
  quantity: D;
  /** Base bought (long, before commission) or sold (short) by the entry. */
  entryQuantity: D;
  entryPrice: D;
  entryQuote: D;
  /** The entry's commission in each asset. */
  baseCommission: D;
  quoteCommission: D;
  /** Entry commission valued in quote at the entry price (display). */
  commissionQuote: D;
  /** Interest charged while the position is open, valued in quote at each accrual (display). */
  interestQuote: D;
  /** Interest charged while the position is open, per asset (the result values it at the exit). */
  interest: Readonly<Record<string, D>>;
  stopPrice: D;
  takeProfitPrice: D | null;
  riskAmount: D;
  clientOrderId: string;
  openedAt: number;
  /** Set once the internal stop, the take-profit or the guard's reduction fired; the close follows. */
  triggered: MarginExitKind | null;
  /** Why it must close (the trigger's reason, e.g. the kill switch's), for the close that follows. */
  triggerReason: string | null;
  /** Closes of this position the venue refused so far (each try gets its own client order id). */
  closeAttempts: number;
}

/** The pair's books as the log tells them. Amounts per asset. */
export interface MarginPairState {
  /** The last position's sequence (0: none yet). */
  lastSequence: number;
  open: MarginPositionState | null;
  /** Outstanding loan principal per asset. */
  borrowed: Readonly<Record<string, D>>;
  /** Interest charged and not yet repaid, per asset. */
  interestOwed: Readonly<Record<string, D>>;
  /** Transfers in minus transfers out, per asset. */
  netTransferred: Readonly<Record<string, D>>;
  /** Every interest accrual of the pair, valued in quote. */
  interestQuoteTotal: D;
  /** Sum of the closed positions' net PnL (quote). */
  netPnlTotal: D;
  closedPositions: number;
  /** Entry requests already carried out or refused (an approval delivered twice opens once). */
  handledRequests: ReadonlySet<string>;
}

export function marginPairInitialState(): MarginPairState {
  return { lastSequence: 0, open: null, borrowed: {}, interestOwed: {}, netTransferred: {}, interestQuoteTotal: ZERO, netPnlTotal: ZERO, closedPositions: 0, handledRequests: new Set() };
}

const withRequest = (set: ReadonlySet<string>, id: string | null): ReadonlySet<string> => (id === null || set.has(id) ? set : new Set([...set, id]));

const add = (m: Readonly<Record<string, D>>, asset: string, amount: D): Record<string, D> => ({ ...m, [asset]: (m[asset] ?? ZERO).plus(amount) });

/** Apply one event of the pair's stream; events of other types leave the state as it is. */
export function marginPairEvolve(s: MarginPairState, e: DomainEvent): MarginPairState {
  switch (e.type) {
    case 'MarginTransferred': {
      const d = e.data;
      return { ...s, netTransferred: add(s.netTransferred, d.asset, d.direction === 'TO_MARGIN' ? dec(d.amount) : dec(d.amount).neg()) };
    }
    case 'MarginBorrowed':
      return { ...s, borrowed: add(s.borrowed, e.data.asset, dec(e.data.amount)) };
    case 'MarginRepaid':
      return { ...s, borrowed: add(s.borrowed, e.data.asset, dec(e.data.principal).neg()), interestOwed: add(s.interestOwed, e.data.asset, dec(e.data.interest).neg()) };
    case 'MarginInterestCharged': {
      const q = dec(e.data.quoteValue);
      return {
        ...s,
        interestOwed: add(s.interestOwed, e.data.asset, dec(e.data.interest)),
        interestQuoteTotal: s.interestQuoteTotal.plus(q),
        open: s.open ? { ...s.open, interestQuote: s.open.interestQuote.plus(q), interest: add(s.open.interest, e.data.asset, dec(e.data.interest)) } : null,
      };
    }
    case 'MarginPositionOpened': {
      const d = e.data;
      return {
        ...s,
        lastSequence: d.sequence,
        handledRequests: withRequest(s.handledRequests, d.requestId),
        open: {
          sequence: d.sequence, side: d.side, quantity: dec(d.quantity), entryQuantity: dec(d.entryQuantity), entryPrice: dec(d.entryPrice), entryQuote: dec(d.entryQuote),
          baseCommission: dec(d.baseCommission), quoteCommission: dec(d.quoteCommission), commissionQuote: dec(d.commissionQuote),
          interestQuote: ZERO, interest: {}, stopPrice: dec(d.stopPrice),
          takeProfitPrice: d.takeProfitPrice === null ? null : dec(d.takeProfitPrice), riskAmount: dec(d.riskAmount), clientOrderId: d.clientOrderId,
          openedAt: d.at, triggered: null, triggerReason: null, closeAttempts: 0,
        },
      };
    }
    case 'MarginCommandRejected': {
      const d = e.data;
      if (d.command === 'OPEN') return { ...s, handledRequests: withRequest(s.handledRequests, d.requestId) };
      if (d.command === 'CLOSE' && s.open && d.sequence === s.open.sequence) return { ...s, open: { ...s.open, closeAttempts: s.open.closeAttempts + 1 } };
      return s;
    }
    case 'MarginStopTriggered':
      return s.open && s.open.sequence === e.data.sequence ? { ...s, open: { ...s.open, triggered: e.data.kind, triggerReason: e.data.reason ?? e.data.kind } } : s;
    case 'MarginPositionClosed':
      return s.open && s.open.sequence === e.data.sequence
        ? { ...s, open: null, netPnlTotal: s.netPnlTotal.plus(dec(e.data.netPnl)), closedPositions: s.closedPositions + 1 }
        : s;
    default:
      return s;
  }
}

/** The whole stream folded. */
export function foldMarginPair(events: readonly DomainEvent[]): MarginPairState {
  return events.reduce(marginPairEvolve, marginPairInitialState());
}

export interface MarginClosePnlInput {
  side: 'LONG' | 'SHORT';
  /** Base bought (long, before commission) or sold (short) at entry. */
  entryQuantity: D;
  /** Quote paid (long) / received (short) at entry, before commission. */
  entryQuote: D;
  /** Average exit fill price, quote per base. */
  exitPrice: D;
  /** Every commission of the position (entry and exit) in each asset. */
  baseCommission: D;
  quoteCommission: D;
  /** Every interest charge of the position in each asset. */
  baseInterest: D;
  quoteInterest: D;
  /** Loan left uncovered by a liquidation, quote (0 otherwise). */
  shortfall: D;
}

/**
 * The result of a spot margin position in quote, valued at the exit price Px:
 * realisedPnl = (Px − entryPrice) × entryQuantity = Px × Q − entryQuote (long), entryQuote − Px × Q (short);
 * commissionQuote = quoteCommission + baseCommission × Px; interestQuote = quoteInterest + baseInterest × Px;
 * netPnl = realisedPnl − commissionQuote − interestQuote − shortfall.
 * netPnl is the change of the pair's equity (quote + base × Px, less what is owed) from before the
 * entry to after the close: a base commission or base interest is base the position no longer
 * holds, worth Px, and base dust below one step that the close could not sell stays in the
 * account at Px. Interest is a cost of the position like a fee, so the loss limits count it.
 * Exact (decimal.js, precision 40); callers round for display.
 */
export function marginClosePnl(i: MarginClosePnlInput): { realisedPnl: D; commissionQuote: D; interestQuote: D; netPnl: D } {
  const atExit = i.exitPrice.mul(i.entryQuantity);
  const realisedPnl = i.side === 'LONG' ? atExit.minus(i.entryQuote) : i.entryQuote.minus(atExit);
  const commissionQuote = i.quoteCommission.plus(i.baseCommission.mul(i.exitPrice));
  const interestQuote = i.quoteInterest.plus(i.baseInterest.mul(i.exitPrice));
  return { realisedPnl, commissionQuote, interestQuote, netPnl: realisedPnl.minus(commissionQuote).minus(interestQuote).minus(i.shortfall) };
}

/**
 * Which exit a price reaches for an open position: the stop first (a gap through both is a
 * loss, never booked as a win), then the take-profit. A long stops at price ≤ stop and takes
 * profit at price ≥ target; a short the mirror. null: neither.
 */
export function marginExitReached(p: Pick<MarginPositionState, 'side' | 'stopPrice' | 'takeProfitPrice'>, price: D): 'STOP_LOSS' | 'TAKE_PROFIT' | null {
  if (p.side === 'LONG' ? price.lte(p.stopPrice) : price.gte(p.stopPrice)) return 'STOP_LOSS';
  if (p.takeProfitPrice && (p.side === 'LONG' ? price.gte(p.takeProfitPrice) : price.lte(p.takeProfitPrice))) return 'TAKE_PROFIT';
  return null;
}

/**
 * The base quantity a market BUY must ask for so that, after the commission Binance takes from
 * the base it receives, `owed` base is there to repay: ceil_step(owed ÷ (1 − takerFeeRate)).
 * @param owed base owed (principal + interest), > 0
 * @param takerFeeRate fraction in [0, 1)
 * @param stepSize LOT_SIZE step, > 0
 * @throws nothing; invalid input → INVALID_INPUT
 */
export function shortCoverQuantity(owed: D, takerFeeRate: D, stepSize: D): Result<D, Rejection<'INVALID_INPUT'>> {
  if (!owed.gt(0) || takerFeeRate.lt(0) || !takerFeeRate.lt(1) || !stepSize.gt(0)) {
    return err({ code: 'INVALID_INPUT', message: `need owed > 0, 0 ≤ fee < 1, step > 0 (got ${owed}, ${takerFeeRate}, ${stepSize})` });
  }
  return ok(ceilToStep(owed.div(dec(1).minus(takerFeeRate)), stepSize));
}

/**
 * The stop of a position Bulwark did not open (found by reconciliation: bought or sold on the
 * pair's isolated account outside Bulwark). Bulwark never sized it, so its stop protects the
 * account, not a risk budget: with a loan, the price at which the margin level falls to `bar`
 * (the guard's margin-call level, 1.3 by default, above the venue's own margin call), solved
 * from the balances (`isolatedLiquidationPrice`); without one, the price that loses
 * `riskFraction × equity`. Rounded to the tick toward the current price (a long's stop up, a
 * short's down), so it acts no later than the level.
 * @param price the index price now; equity in quote
 * @returns the stop price, or null when the price is already at or beyond it (close now)
 */
export function marginAdoptionStop(i: { side: 'LONG' | 'SHORT'; quantity: D; price: D; equity: D; riskFraction: D; balances: IsolatedMarginBalances; bar: D; tickSize: D }): D | null {
  const long = i.side === 'LONG';
  const owes = i.balances.baseBorrowed.plus(i.balances.baseInterest).plus(i.balances.quoteBorrowed).plus(i.balances.quoteInterest).gt(0);
  let stop: D | null = owes ? isolatedLiquidationPrice(i.balances, i.bar) : null;
  if (stop === null) {
    const distance = i.equity.mul(i.riskFraction).div(i.quantity);
    stop = long ? i.price.minus(distance) : i.price.plus(distance);
  }
  stop = long ? ceilToStep(stop, i.tickSize) : floorToStep(stop, i.tickSize);
  if (!stop.gt(0) || (long ? i.price.lte(stop) : i.price.gte(stop))) return null;
  return stop;
}
