import { event, type DomainEvent, type OrderFilled, type OrderSide, type PositionSide, type VenueId } from '@bulwark/contracts';
import { D, dec, str, ZERO } from './money';
import { assertNever, ok, reject, type Rejection, type Result } from './result';

/**
 * The position aggregate: one position lifecycle of an account on a venue and symbol, in
 * isolated margin and one-way mode (stream `position-<account>-<venue>-<symbol>-<n>`,
 * written by accounting). The stream ends when the position is flat (closed or
 * liquidated); the next fill opens lifecycle n + 1.
 *
 * Besides the volume-weighted entry price, the state keeps the position's cost basis
 * (Σ quantity × entry of the open quantity). A partial reduce takes its pro-rata share
 * of the cost basis and the closing fill takes whatever is left, so the lifetime realised
 * PnL is exactly Σ sell proceeds − Σ buy costs, whatever the rounding of an average.
 */

export type PositionStatus = 'NONE' | 'OPEN' | 'CLOSED' | 'LIQUIDATED';

export type PositionEventType = 'PositionOpened' | 'PositionIncreased' | 'PositionReduced' | 'PositionClosed' | 'PositionLiquidated' | 'FundingApplied';

/** An event of a position stream. */
export type PositionEvent = DomainEvent<PositionEventType>;

/**
 * Decimal places (USDT) of the pro-rata cost basis released by a partial reduce. Fine
 * enough never to touch an exact product of a price and a quantity, coarse enough that
 * every sum of money stays exact within the 40 significant digits of `D`.
 */
export const COST_BASIS_SCALE = 20;

/** State of one position lifecycle. Quantities in base asset (always ≥ 0), money in USDT. */
export interface PositionState {
  status: PositionStatus;
  /** Identity, known from the opening fill (null while NONE). */
  accountId: string | null;
  venue: VenueId | null;
  symbol: string | null;
  /** Lifecycle number n of the stream id (0 while NONE). */
  sequence: number;
  /** Side while open; kept after the position ends, for the record. */
  side: PositionSide | null;
  quantity: D;
  /** Volume-weighted average entry price (unchanged by a reduce). */
  entryPrice: D;
  /** Σ quantity × price of the open quantity's entries, USDT (0 when flat). */
  costBasis: D;
  leverage: number;
  /** Gross realised PnL, Σ over reduces and the close, before fees. */
  realisedPnl: D;
  /** Σ trading fees paid (positive = paid). */
  fees: D;
  /** Σ funding, signed: + received, − paid. */
  funding: D;
  /** Liquidation clearance fee, set by PositionLiquidated. */
  liquidationFee: D;
  openingClientOrderId: string | null;
  /** Trade ids already applied: a fill is applied once. */
  tradeIds: string[];
  /** Funding time (epoch ms) of the last settlement applied, so a settlement is applied once. */
  lastFundingTime: number | null;
}

export function positionInitialState(): PositionState {
  return {
    status: 'NONE',
    accountId: null,
    venue: null,
    symbol: null,
    sequence: 0,
    side: null,
    quantity: ZERO,
    entryPrice: ZERO,
    costBasis: ZERO,
    leverage: 0,
    realisedPnl: ZERO,
    fees: ZERO,
    funding: ZERO,
    liquidationFee: ZERO,
    openingClientOrderId: null,
    tradeIds: [],
    lastFundingTime: null,
  };
}

/** One-way mode: a BUY opens or adds to a LONG, a SELL to a SHORT. */
export function positionSideOf(side: OrderSide): PositionSide {
  return side === 'BUY' ? 'LONG' : 'SHORT';
}

/**
 * The part of the cost basis that `quantity × price` releases as realised PnL:
 * long = proceeds − cost, short = cost − proceeds.
 */
function pnl(side: PositionSide, proceeds: D, cost: D): D {
  return side === 'LONG' ? proceeds.minus(cost) : cost.minus(proceeds);
}

/**
 * Fold one position event into the state. Assumes a valid history (events produced by
 * `decidePositionFill` / `decideFunding`).
 */
export function positionEvolve(state: PositionState, e: PositionEvent): PositionState {
  switch (e.type) {
    case 'PositionOpened': {
      const d = e.data;
      const quantity = dec(d.quantity);
      const entryPrice = dec(d.entryPrice);
      return {
        ...state,
        status: 'OPEN',
        accountId: d.accountId,
        venue: d.venue,
        symbol: d.symbol,
        sequence: d.sequence,
        side: d.side,
        quantity,
        entryPrice,
        costBasis: quantity.mul(entryPrice),
        leverage: d.leverage,
        fees: state.fees.plus(dec(d.fee)),
        openingClientOrderId: d.clientOrderId,
        tradeIds: [...state.tradeIds, d.tradeId],
      };
    }
    case 'PositionIncreased': {
      const d = e.data;
      return {
        ...state,
        quantity: dec(d.newQuantity),
        entryPrice: dec(d.newEntryPrice),
        costBasis: state.costBasis.plus(dec(d.quantity).mul(dec(d.price))),
        fees: state.fees.plus(dec(d.fee)),
        tradeIds: [...state.tradeIds, d.tradeId],
      };
    }
    case 'PositionReduced': {
      const d = e.data;
      const proceeds = dec(d.quantity).mul(dec(d.price));
      const realised = dec(d.realisedPnl);
      // Invert pnl(): the cost basis this reduce released.
      const released = state.side === 'SHORT' ? realised.plus(proceeds) : proceeds.minus(realised);
      return {
        ...state,
        quantity: dec(d.newQuantity),
        costBasis: state.costBasis.minus(released),
        realisedPnl: state.realisedPnl.plus(realised),
        fees: state.fees.plus(dec(d.fee)),
        tradeIds: [...state.tradeIds, d.tradeId],
      };
    }
    case 'PositionClosed':
    case 'PositionLiquidated': {
      const d = e.data;
      return {
        ...state,
        status: e.type === 'PositionClosed' ? 'CLOSED' : 'LIQUIDATED',
        quantity: ZERO,
        costBasis: ZERO,
        realisedPnl: dec(d.totalRealisedPnl),
        fees: dec(d.totalFees),
        funding: dec(d.totalFunding),
        liquidationFee: e.type === 'PositionLiquidated' ? dec(e.data.liquidationFee) : ZERO,
        tradeIds: [...state.tradeIds, d.tradeId],
      };
    }
    case 'FundingApplied':
      return { ...state, funding: state.funding.plus(dec(e.data.amount)), lastFundingTime: e.data.fundingTime };
    default:
      return assertNever(e);
  }
}

export type PositionRejectionCode = 'POSITION_CLOSED' | 'REDUCE_ONLY_WOULD_INCREASE' | 'FILL_MISMATCH';

/** What a fill does to a position. */
export interface PositionFillDecision {
  events: PositionEvent[];
  /**
   * Base quantity of the fill beyond the position it closed (one-way mode flip), else 0.
   * The caller opens lifecycle n + 1 with `overflowFill`.
   */
  overflowQuantity: D;
  /**
   * The rest of the fill, to apply to a new position: same trade, `quantity` =
   * overflowQuantity, `quoteQuantity` and `fee` its pro-rata share (the two fee parts
   * add up to the fill's fee exactly). Null when there is no overflow.
   */
  overflowFill: OrderFilled | null;
}

const noEvents = (): PositionFillDecision => ({ events: [], overflowQuantity: ZERO, overflowFill: null });

/**
 * Apply a venue fill to a position lifecycle (isolated margin, one-way mode).
 *
 * - NONE: the fill opens the position (BUY → LONG, SELL → SHORT) with lifecycle number
 *   `ids.sequence`, entry = fill price.
 * - Same side: PositionIncreased, new entry = (Q·EP + q·p) / (Q + q).
 * - Opposite side: realised PnL (gross) = (exit − entry) × q for a long, (entry − exit) × q
 *   for a short. q < Q: PositionReduced. q = Q: PositionClosed with the lifetime totals
 *   (the closing fill's fee included; netPnl = totalRealisedPnl − totalFees + totalFunding).
 *   q > Q (purpose ENTRY only): PositionClosed for Q and the rest reported as
 *   `overflowQuantity` / `overflowFill`, the fee split pro rata.
 * - Purpose LIQUIDATION: the fill that takes the position to zero ends it with
 *   PositionLiquidated, carrying the fill's `liquidationFee`; there
 *   netPnl = totalRealisedPnl − totalFees + totalFunding − liquidationFee, so the
 *   clearance fee counts as the loss it is. Earlier fills of the same liquidation order
 *   reduce the position.
 *
 * Idempotent: a fill whose trade id was already applied returns `ok` with no events
 * (at-least-once delivery; not the caller's error). Routing across lifecycles: offer a
 * fill to the latest lifecycle first; `ok([])` there means a replay, `POSITION_CLOSED`
 * means it belongs to lifecycle n + 1 (offer it to `positionInitialState()`), so a late
 * replay of a closing fill never opens a phantom position.
 *
 * Rejections: `POSITION_CLOSED` (the lifecycle has ended), `REDUCE_ONLY_WOULD_INCREASE`
 * (a fill whose purpose is not ENTRY — stop loss, take profit, close, liquidation —
 * would open, increase or flip the position), `FILL_MISMATCH` (another account, venue or
 * symbol; a liquidation fee on a fill that does not end a liquidation).
 */
export function decidePositionFill(
  state: PositionState,
  fill: OrderFilled,
  ids: { sequence: number },
): Result<PositionFillDecision, Rejection<PositionRejectionCode>> {
  if (state.tradeIds.includes(fill.tradeId)) return ok(noEvents());
  if (state.status === 'CLOSED' || state.status === 'LIQUIDATED') {
    return reject('POSITION_CLOSED', `position ${state.symbol ?? ''} #${state.sequence} is ${state.status.toLowerCase()}; fill ${fill.tradeId} belongs to the next lifecycle`);
  }
  const qty = dec(fill.quantity);
  const price = dec(fill.price);
  const fee = dec(fill.fee);
  const liquidationFee = dec(fill.liquidationFee);
  const reducing = fill.purpose !== 'ENTRY';
  const isLiquidation = fill.purpose === 'LIQUIDATION';
  const ref = { clientOrderId: fill.clientOrderId, tradeId: fill.tradeId, purpose: fill.purpose };
  if (!isLiquidation && !liquidationFee.isZero()) return reject('FILL_MISMATCH', `fill ${fill.tradeId} (${fill.purpose}) carries a liquidation fee`);

  if (state.status === 'NONE') {
    if (reducing) return reject('REDUCE_ONLY_WOULD_INCREASE', `a ${fill.purpose} fill cannot open a position`);
    return ok({
      ...noEvents(),
      events: [
        event('PositionOpened', {
          accountId: fill.accountId,
          venue: fill.venue,
          symbol: fill.symbol,
          sequence: ids.sequence,
          side: positionSideOf(fill.side),
          quantity: str(qty),
          entryPrice: str(price),
          leverage: fill.leverage,
          fee: str(fee),
          ...ref,
        }),
      ],
    });
  }

  if (fill.accountId !== state.accountId || fill.venue !== state.venue || fill.symbol !== state.symbol) {
    return reject('FILL_MISMATCH', `fill ${fill.tradeId} is for ${fill.accountId}/${fill.venue}/${fill.symbol}, not ${state.accountId}/${state.venue}/${state.symbol}`);
  }
  const side = state.side as PositionSide;

  if (positionSideOf(fill.side) === side) {
    if (reducing) return reject('REDUCE_ONLY_WOULD_INCREASE', `a ${fill.purpose} ${fill.side} fill would increase the ${side} position`);
    const newQuantity = state.quantity.plus(qty);
    const newCost = state.costBasis.plus(qty.mul(price));
    return ok({
      ...noEvents(),
      events: [
        event('PositionIncreased', {
          quantity: str(qty),
          price: str(price),
          newQuantity: str(newQuantity),
          newEntryPrice: str(newCost.div(newQuantity)),
          fee: str(fee),
          ...ref,
        }),
      ],
    });
  }

  const open = state.quantity;
  if (qty.lt(open)) {
    if (isLiquidation && !liquidationFee.isZero()) {
      return reject('FILL_MISMATCH', `fill ${fill.tradeId}: the liquidation fee is charged on the fill that ends the position, not on a partial one`);
    }
    const released = state.costBasis.mul(qty).div(open).toDecimalPlaces(COST_BASIS_SCALE, D.ROUND_HALF_EVEN);
    return ok({
      ...noEvents(),
      events: [
        event('PositionReduced', {
          quantity: str(qty),
          price: str(price),
          newQuantity: str(open.minus(qty)),
          realisedPnl: str(pnl(side, qty.mul(price), released)),
          fee: str(fee),
          ...ref,
        }),
      ],
    });
  }

  const overflow = qty.minus(open);
  if (overflow.gt(ZERO) && reducing) {
    return reject('REDUCE_ONLY_WOULD_INCREASE', `a ${fill.purpose} fill of ${fill.quantity} exceeds the ${side} position of ${str(open)} and would open the other side`);
  }
  // The closing part of the fee; the rest goes with the overflow to the next lifecycle.
  const closingFee = overflow.isZero() ? fee : fee.mul(open).div(qty).toDecimalPlaces(COST_BASIS_SCALE, D.ROUND_HALF_EVEN);
  const realised = pnl(side, open.mul(price), state.costBasis);
  const totalRealisedPnl = state.realisedPnl.plus(realised);
  const totalFees = state.fees.plus(closingFee);
  const totalFunding = state.funding;
  const totals = {
    accountId: fill.accountId,
    quantity: str(open),
    price: str(price),
    realisedPnl: str(realised),
    fee: str(closingFee),
    totalRealisedPnl: str(totalRealisedPnl),
    totalFees: str(totalFees),
    totalFunding: str(totalFunding),
    ...ref,
  };
  const net = totalRealisedPnl.minus(totalFees).plus(totalFunding);
  const closing = isLiquidation
    ? event('PositionLiquidated', { ...totals, netPnl: str(net.minus(liquidationFee)), liquidationFee: str(liquidationFee) })
    : event('PositionClosed', { ...totals, netPnl: str(net) });
  const overflowFill: OrderFilled | null = overflow.isZero()
    ? null
    : { ...fill, quantity: str(overflow), quoteQuantity: str(overflow.mul(price)), fee: str(fee.minus(closingFee)) };
  return ok({ events: [closing], overflowQuantity: overflow, overflowFill });
}

/** A funding settlement of the symbol. */
export interface FundingSettlement {
  /** Settlement time, epoch ms. */
  fundingTime: number;
  /** Funding rate of the interval (fraction, e.g. "0.0001" = 0.01 %). */
  rate: D;
  /** Mark price at the settlement, USDT. */
  markPrice: D;
}

/**
 * Funding at a settlement, from the position's point of view.
 *
 * Binance, "Introduction to Binance Futures Funding Rates"
 * (https://www.binance.com/en/support/faq/360033525031): Funding Amount = Nominal Value
 * of Positions × Funding Rate, Nominal Value = Mark Price × position size (USDⓈ-M); a
 * positive rate means longs pay shorts, a negative one shorts pay longs. So with the
 * signed position quantity s (+ long, − short, Binance's `positionAmt`):
 * `amount = −s × markPrice × rate` (+ received, − paid). `FundingApplied.positionQuantity`
 * carries s. The amount is exact (not rounded to the wallet's 8 decimals here).
 *
 * A settlement at or before the last applied `fundingTime` returns `ok([])` (the same
 * settlement delivered twice). No open position: `NO_OPEN_POSITION` (nothing to pay or receive).
 */
export function decideFunding(state: PositionState, settlement: FundingSettlement): Result<PositionEvent[], Rejection<'NO_OPEN_POSITION'>> {
  if (state.status !== 'OPEN') return reject('NO_OPEN_POSITION', `no open position (status ${state.status}) at funding time ${settlement.fundingTime}`);
  if (state.lastFundingTime !== null && settlement.fundingTime <= state.lastFundingTime) return ok([]);
  const signed = state.side === 'SHORT' ? state.quantity.neg() : state.quantity;
  const amount = signed.mul(settlement.markPrice).mul(settlement.rate).neg();
  return ok([
    event('FundingApplied', {
      fundingTime: settlement.fundingTime,
      rate: str(settlement.rate),
      markPrice: str(settlement.markPrice),
      positionQuantity: str(signed),
      amount: str(amount),
    }),
  ]);
}

/**
 * Unrealised PnL at the mark price, USDT: long (mark − entry) × Q, short (entry − mark) × Q
 * (computed against the cost basis, so it equals what closing at `markPrice` would realise).
 * 0 when the position is not open.
 */
export function unrealisedPnl(state: PositionState, markPrice: D): D {
  if (state.status !== 'OPEN' || state.side === null) return ZERO;
  return pnl(state.side, state.quantity.mul(markPrice), state.costBasis);
}

/** Position notional at the mark price, USDT: Q × mark (≥ 0; 0 when not open). */
export function positionNotional(state: PositionState, markPrice: D): D {
  if (state.status !== 'OPEN') return ZERO;
  return state.quantity.mul(markPrice);
}

/**
 * The net position of one account and symbol across its lifecycles, folded from fills with
 * the position aggregate's own rules ({@link decidePositionFill}): a fill that closes the
 * lifecycle and goes beyond it opens the next one with the rest (a flip), and a fill after a
 * close starts lifecycle n + 1. This is the one position fold: accounting appends the events
 * to the position streams; execution keeps only the state (its view of the venue's position).
 * @param state the current lifecycle (its `sequence` is kept; `positionInitialState()` at first)
 * @returns the state after the fill and the position events it decided, in order; a
 *   rejection of the aggregate (`REDUCE_ONLY_WOULD_INCREASE`, `FILL_MISMATCH`) when the fill
 *   cannot apply. A trade id already applied in the current lifecycle changes nothing.
 */
export function foldFillAcrossLifecycles(
  state: PositionState,
  fill: OrderFilled,
): Result<{ state: PositionState; events: PositionEvent[] }, Rejection<PositionRejectionCode>> {
  let s = state;
  let next: OrderFilled | null = fill;
  const events: PositionEvent[] = [];
  for (let overflow = false; next; overflow = true) {
    if (s.status === 'CLOSED' || s.status === 'LIQUIDATED') {
      // The closing trade seen again changes nothing; the rest of a flipping trade opens the next lifecycle.
      if (!overflow && s.tradeIds.includes(next.tradeId)) break;
      s = { ...positionInitialState(), sequence: s.sequence };
    }
    const r = decidePositionFill(s, next, { sequence: s.sequence + (s.status === 'NONE' ? 1 : 0) });
    if (!r.ok) return r;
    for (const e of r.value.events) {
      s = positionEvolve(s, e);
      events.push(e);
    }
    next = r.value.overflowFill;
  }
  return ok({ state: s, events });
}
