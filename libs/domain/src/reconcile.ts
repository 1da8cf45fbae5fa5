import type { OrderSide, PositionSide } from '@bulwark/contracts';
import { liquidationPrice } from './liquidation';
import { dec, type D } from './money';
import type { Bracket } from './rules';

/**
 * Reconciliation: compare what a venue reports (open orders, open conditional orders,
 * positions) with what the event log says, and decide what to do about each difference.
 * Pure: the execution service gathers both views and appends the decisions as
 * `ReconciliationDifference` events. Nothing here depends on a time window of history: both
 * views are "what is open now".
 */

/** An open position as the log (accounting's position streams) or the venue sees it. */
export interface ReconPosition {
  symbol: string;
  side: PositionSide;
  /** Base-asset quantity, > 0. */
  quantity: D;
  entryPrice: D;
}

/** An order the log or the venue considers open (regular orders). */
export interface ReconOrder {
  symbol: string;
  clientOrderId: string;
  /** Venue status (venue view) or the order stream's status (log view). */
  status: string;
}

/** A protective conditional order (exchange stop-loss / take-profit). */
export interface ReconProtective {
  symbol: string;
  clientOrderId: string;
  side: OrderSide;
  kind: 'STOP_LOSS' | 'TAKE_PROFIT';
  triggerPrice: D;
  quantity: D | null;
}

export interface ReconView {
  positions: ReconPosition[];
  openOrders: ReconOrder[];
  protectiveOrders: ReconProtective[];
}

export type ReconAction = 'RECORDED' | 'PROTECTED' | 'RESTORED' | 'ADOPTED';

export interface ReconDifference {
  symbol: string;
  kind:
    | 'UNKNOWN_POSITION'
    | 'MISSING_POSITION'
    | 'POSITION_QUANTITY_MISMATCH'
    | 'UNKNOWN_ORDER'
    | 'ORDER_NOT_OPEN'
    | 'UNKNOWN_PROTECTIVE_ORDER'
    | 'MISSING_PROTECTIVE_ORDER';
  clientOrderId: string | null;
  expected: string | null;
  observed: string | null;
  action: ReconAction;
  detail: string;
  /** For RESTORED: the protective order to place again. For PROTECTED: the venue's position. */
  protective?: ReconProtective;
  position?: ReconPosition;
}

const posText = (p: ReconPosition) => `${p.side} ${p.quantity.toFixed()} @ ${p.entryPrice.toFixed()}`;

/**
 * Differences between the log's view and the venue's view of one account, symbol by symbol.
 *
 * - A venue position the log does not know → UNKNOWN_POSITION, action PROTECTED (the
 *   caller places an emergency stop at once, see `emergencyStopPrice`), unless the venue
 *   already holds a protective order for that symbol (then RECORDED).
 * - A log position the venue does not hold → MISSING_POSITION (RECORDED: the close happened
 *   while Bulwark was not looking; the caller recovers its fills from the venue's trades).
 * - Same side, different quantity → POSITION_QUANTITY_MISMATCH (RECORDED).
 * - An open venue order no order stream knows → UNKNOWN_ORDER (RECORDED, left alone: a
 *   human or another system placed it).
 * - An order the log thinks open that the venue does not list → ORDER_NOT_OPEN (RECORDED:
 *   the caller queries it by client order id and records its final state).
 * - A protective order the log placed that is gone while the position is still open →
 *   MISSING_PROTECTIVE_ORDER, action RESTORED (placed again); with no position → RECORDED.
 * - A protective order at the venue that the log does not know → UNKNOWN_PROTECTIVE_ORDER
 *   (ADOPTED when it protects a position the venue holds, else RECORDED).
 * Matching protective orders (same client id) are NOT a difference, so a restart never
 * duplicates or drops a resting stop.
 */
export function reconcile(log: ReconView, venue: ReconView): ReconDifference[] {
  const out: ReconDifference[] = [];
  const symbols = new Set<string>([...log.positions, ...venue.positions, ...log.openOrders, ...venue.openOrders, ...log.protectiveOrders, ...venue.protectiveOrders].map((x) => x.symbol));
  for (const symbol of [...symbols].sort()) {
    const lp = log.positions.find((p) => p.symbol === symbol);
    const vp = venue.positions.find((p) => p.symbol === symbol);
    const venueProtects = venue.protectiveOrders.some((o) => o.symbol === symbol);
    if (vp && !lp) {
      out.push({
        symbol, kind: 'UNKNOWN_POSITION', clientOrderId: null, expected: null, observed: posText(vp),
        action: venueProtects ? 'RECORDED' : 'PROTECTED', position: vp,
        detail: venueProtects ? 'the venue holds a position the log does not know; a protective order already rests at the venue' : 'the venue holds a position the log does not know and nothing protects it: an emergency stop is placed',
      });
    } else if (lp && !vp) {
      out.push({ symbol, kind: 'MISSING_POSITION', clientOrderId: null, expected: posText(lp), observed: null, action: 'RECORDED', detail: 'the log has an open position the venue does not hold (closed while Bulwark was not looking)' });
    } else if (lp && vp && (lp.side !== vp.side || !lp.quantity.eq(vp.quantity))) {
      out.push({ symbol, kind: 'POSITION_QUANTITY_MISMATCH', clientOrderId: null, expected: posText(lp), observed: posText(vp), action: 'RECORDED', detail: 'the venue position differs from the log' });
    }
    const venueOrders = new Map(venue.openOrders.filter((o) => o.symbol === symbol).map((o) => [o.clientOrderId, o]));
    const logOrders = new Map(log.openOrders.filter((o) => o.symbol === symbol).map((o) => [o.clientOrderId, o]));
    for (const [id, o] of venueOrders) {
      if (!logOrders.has(id)) out.push({ symbol, kind: 'UNKNOWN_ORDER', clientOrderId: id, expected: null, observed: o.status, action: 'RECORDED', detail: 'an open order at the venue that no order stream knows (left alone)' });
    }
    for (const [id, o] of logOrders) {
      if (!venueOrders.has(id)) out.push({ symbol, kind: 'ORDER_NOT_OPEN', clientOrderId: id, expected: o.status, observed: null, action: 'RECORDED', detail: 'the log thinks this order is open; the venue does not list it (its final state is queried by client order id)' });
    }
    const venueProt = new Map(venue.protectiveOrders.filter((o) => o.symbol === symbol).map((o) => [o.clientOrderId, o]));
    const logProt = new Map(log.protectiveOrders.filter((o) => o.symbol === symbol).map((o) => [o.clientOrderId, o]));
    for (const [id, o] of venueProt) {
      if (!logProt.has(id)) {
        out.push({ symbol, kind: 'UNKNOWN_PROTECTIVE_ORDER', clientOrderId: id, expected: null, observed: `${o.kind} ${o.triggerPrice.toFixed()}`, action: vp ? 'ADOPTED' : 'RECORDED', protective: o, detail: vp ? 'a protective order at the venue the log does not know; it protects the open position and is kept' : 'a protective order at the venue the log does not know, with no position' });
      }
    }
    for (const [id, o] of logProt) {
      if (venueProt.has(id)) continue;
      const stillNeeded = vp !== undefined && lp !== undefined;
      out.push({
        symbol, kind: 'MISSING_PROTECTIVE_ORDER', clientOrderId: id, expected: `${o.kind} ${o.triggerPrice.toFixed()}`, observed: null,
        action: stillNeeded ? 'RESTORED' : 'RECORDED', protective: o,
        detail: stillNeeded ? 'the exchange stop the log placed is gone while the position is open: placed again' : 'the exchange stop the log placed is gone and no position needs it',
      });
    }
  }
  return out;
}

/**
 * Where to put an emergency stop on a position Bulwark did not open (found by
 * reconciliation): at the price that loses `riskFraction × equity` from the entry, but never
 * closer to liquidation than `bufferFraction` of the entry-to-liquidation distance (the same
 * rule as for entries, docs/risk.md); `null` price = the mark is already beyond that level:
 * close at market.
 * @param equity account equity, USDT; @param mark the current mark price
 * @returns the stop's trigger price (not rounded to the tick: the caller rounds it away from liquidation) or null to close now
 */
export function emergencyStopPrice(p: ReconPosition & { isolatedMargin: D; brackets: Bracket[]; closeFeeRate?: D }, equity: D, riskFraction: D, bufferFraction: D, mark: D): D | null {
  const long = p.side === 'LONG';
  const riskDistance = equity.mul(riskFraction).div(p.quantity);
  let stop = long ? p.entryPrice.minus(riskDistance) : p.entryPrice.plus(riskDistance);
  const lp = liquidationPrice({ side: p.side, quantity: p.quantity, entryPrice: p.entryPrice, walletBalance: p.isolatedMargin, brackets: p.brackets, closeFeeRate: p.closeFeeRate }).price;
  if (lp) {
    const guard = lp.plus(bufferFraction.mul(p.entryPrice.minus(lp)));
    if (long ? stop.lt(guard) : stop.gt(guard)) stop = guard;
  }
  if (stop.lte(0)) stop = dec(0);
  const crossed = long ? mark.lte(stop) : mark.gte(stop);
  return crossed || stop.isZero() ? null : stop;
}
