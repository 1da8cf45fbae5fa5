import { event, type DomainEvent, type OrderFilled, type OrderInitialized } from '@bulwark/contracts';
import type { Decider } from './decider';
import { D, dec, ZERO } from './money';
import { assertNever, err, ok, reject, type Rejection, type Result } from './result';

/**
 * The order aggregate (stream `order-<clientOrderId>`, written by execution): an explicit
 * state machine in the manner of NautilusTrader's `OrderStatus::transition`
 * (`crates/model/src/orders/mod.rs`), narrowed to what Bulwark sends to Binance USDⓈ-M
 * (market and limit orders, no amend, no emulation).
 */

/** Lifecycle status of one order. */
export type OrderStatus =
  | 'INITIALIZED'
  | 'SUBMITTED'
  | 'ACCEPTED'
  | 'PARTIALLY_FILLED'
  | 'FILLED'
  | 'PENDING_CANCEL'
  | 'CANCELED'
  | 'REJECTED'
  | 'DENIED'
  | 'EXPIRED'
  | 'UNKNOWN';

/** Statuses after which nothing changes the order any more (FILLED still absorbs a late cancel rejection). */
export const TERMINAL_ORDER_STATUSES: ReadonlySet<OrderStatus> = new Set<OrderStatus>(['FILLED', 'CANCELED', 'REJECTED', 'DENIED', 'EXPIRED']);

/** The contracts' order event types. */
export type OrderEventType =
  | 'OrderInitialized'
  | 'OrderSubmitted'
  | 'OrderAccepted'
  | 'OrderRejected'
  | 'OrderDenied'
  | 'OrderCancelRequested'
  | 'OrderCanceled'
  | 'OrderCancelRejected'
  | 'OrderExpired'
  | 'OrderStatusUnknown'
  | 'OrderFilled';

/** An event of an order stream. */
export type OrderEvent = DomainEvent<OrderEventType>;

/**
 * The event key the transition table is indexed by: the event type, except that
 * `OrderFilled` is split by its `leavesQuantity` (0 → `:full`, else `:partial`) so the
 * target status stays a constant of the table.
 */
export type OrderTransitionEvent = Exclude<OrderEventType, 'OrderFilled'> | 'OrderFilled:partial' | 'OrderFilled:full';

/** `PREVIOUS` = the status the order had when the cancel was requested (a failed cancel). */
export type OrderTransitionTarget = OrderStatus | 'PREVIOUS';

/**
 * The order state machine: `(from, event) -> to`. Any pair not listed is an illegal
 * transition. Rows beyond the happy path model what a venue really does.
 */
export const ORDER_TRANSITIONS: ReadonlyArray<readonly [from: OrderStatus | 'NONE', eventType: OrderTransitionEvent, to: OrderTransitionTarget]> = [
  ['NONE', 'OrderInitialized', 'INITIALIZED'],
  ['INITIALIZED', 'OrderSubmitted', 'SUBMITTED'],
  // Refused by Bulwark (risk or a pre-flight rule check) before it reached the venue.
  ['INITIALIZED', 'OrderDenied', 'DENIED'],

  ['SUBMITTED', 'OrderAccepted', 'ACCEPTED'],
  ['SUBMITTED', 'OrderRejected', 'REJECTED'],
  // A market order's fill on the user-data stream can overtake the REST acknowledgement.
  ['SUBMITTED', 'OrderFilled:partial', 'PARTIALLY_FILLED'],
  ['SUBMITTED', 'OrderFilled:full', 'FILLED'],
  // IOC / FOK / GTX orders (and a market order finding no liquidity) end unfilled without an ack.
  ['SUBMITTED', 'OrderCanceled', 'CANCELED'],
  ['SUBMITTED', 'OrderExpired', 'EXPIRED'],
  // Cancel before the ack (the client order id is enough to address it).
  ['SUBMITTED', 'OrderCancelRequested', 'PENDING_CANCEL'],
  // The submit request timed out: query the venue by client order id, never resubmit blindly.
  ['SUBMITTED', 'OrderStatusUnknown', 'UNKNOWN'],

  ['ACCEPTED', 'OrderFilled:partial', 'PARTIALLY_FILLED'],
  ['ACCEPTED', 'OrderFilled:full', 'FILLED'],
  ['ACCEPTED', 'OrderCancelRequested', 'PENDING_CANCEL'],
  // Unsolicited cancel: e.g. Binance cancels a reduce-only order once the position is flat.
  ['ACCEPTED', 'OrderCanceled', 'CANCELED'],
  ['ACCEPTED', 'OrderExpired', 'EXPIRED'],

  ['PARTIALLY_FILLED', 'OrderFilled:partial', 'PARTIALLY_FILLED'],
  ['PARTIALLY_FILLED', 'OrderFilled:full', 'FILLED'],
  ['PARTIALLY_FILLED', 'OrderCancelRequested', 'PENDING_CANCEL'],
  ['PARTIALLY_FILLED', 'OrderCanceled', 'CANCELED'],
  // The remainder of an IOC order, or of a market order that ran out of liquidity.
  ['PARTIALLY_FILLED', 'OrderExpired', 'EXPIRED'],
  // A cancel overtaken by a partial fill (PENDING_CANCEL -> PARTIALLY_FILLED), then refused.
  ['PARTIALLY_FILLED', 'OrderCancelRejected', 'PARTIALLY_FILLED'],

  ['PENDING_CANCEL', 'OrderCanceled', 'CANCELED'],
  // A failed cancel: back to where the order was.
  ['PENDING_CANCEL', 'OrderCancelRejected', 'PREVIOUS'],
  // Fills that happened before the venue processed the cancel.
  ['PENDING_CANCEL', 'OrderFilled:partial', 'PARTIALLY_FILLED'],
  ['PENDING_CANCEL', 'OrderFilled:full', 'FILLED'],
  // Cancel requested while SUBMITTED: the ack of the submission arrives afterwards; the cancel is still pending.
  ['PENDING_CANCEL', 'OrderAccepted', 'PENDING_CANCEL'],
  // Cancel requested while SUBMITTED and the submission itself is refused.
  ['PENDING_CANCEL', 'OrderRejected', 'REJECTED'],
  ['PENDING_CANCEL', 'OrderExpired', 'EXPIRED'],
  // The cancel request timed out.
  ['PENDING_CANCEL', 'OrderStatusUnknown', 'UNKNOWN'],

  // Binance answers a cancel of a filled order with -2011 "Unknown order sent": nothing changes.
  ['FILLED', 'OrderCancelRejected', 'FILLED'],

  // Resolution of an unknown outcome from the venue's answer to a query by client order id.
  ['UNKNOWN', 'OrderAccepted', 'ACCEPTED'],
  ['UNKNOWN', 'OrderRejected', 'REJECTED'],
  ['UNKNOWN', 'OrderFilled:partial', 'PARTIALLY_FILLED'],
  ['UNKNOWN', 'OrderFilled:full', 'FILLED'],
  ['UNKNOWN', 'OrderCanceled', 'CANCELED'],
  ['UNKNOWN', 'OrderExpired', 'EXPIRED'],
  // A timed-out cancel of an order the venue still shows working: the cancel did not happen.
  ['UNKNOWN', 'OrderCancelRejected', 'PREVIOUS'],
  // The query timed out as well.
  ['UNKNOWN', 'OrderStatusUnknown', 'UNKNOWN'],
];

const TABLE: ReadonlyMap<string, OrderTransitionTarget> = new Map(ORDER_TRANSITIONS.map(([from, ev, to]) => [`${from}|${ev}`, to]));

/** The table key of an event: `OrderFilled` becomes `OrderFilled:full` when its leaves quantity is 0. */
export function orderTransitionKey(e: OrderEvent): OrderTransitionEvent {
  if (e.type !== 'OrderFilled') return e.type;
  return dec(e.data.leavesQuantity).isZero() ? 'OrderFilled:full' : 'OrderFilled:partial';
}

/** The raw table entry for `(from, key)`, or `undefined` when the pair is not listed. */
export function lookupOrderTransition(from: OrderStatus | 'NONE', key: OrderTransitionEvent): OrderTransitionTarget | undefined {
  return TABLE.get(`${from}|${key}`);
}

/**
 * The status an order moves to when `event` happens in `status`.
 * @param statusBeforeCancel resolves the `PREVIOUS` target of a failed cancel; when it is
 *   null a `PREVIOUS` row is illegal (there was no cancel to fail).
 * @returns the new status, or `ILLEGAL_TRANSITION` when the table has no row for the pair.
 */
export function orderTransition(
  status: OrderStatus | 'NONE',
  e: OrderEvent,
  statusBeforeCancel: OrderStatus | null = null,
): Result<OrderStatus, Rejection<'ILLEGAL_TRANSITION'>> {
  const key = orderTransitionKey(e);
  const to = lookupOrderTransition(status, key);
  if (to === undefined) return reject('ILLEGAL_TRANSITION', `${key} is not allowed in status ${status}`);
  if (to === 'PREVIOUS') {
    if (statusBeforeCancel === null) return reject('ILLEGAL_TRANSITION', `${key} in status ${status} without a pending cancel`);
    return ok(statusBeforeCancel);
  }
  return ok(to);
}

/** State of one order, folded from its stream. Quantities in base asset, prices and fees in USDT. */
export interface OrderState {
  status: OrderStatus | 'NONE';
  /** The status to restore if a cancel fails; set while PENDING_CANCEL (and UNKNOWN reached from it). */
  statusBeforeCancel: OrderStatus | null;
  order: OrderInitialized | null;
  venueOrderId: string | null;
  filledQuantity: D;
  /** Σ quantity × price of the fills: the average is always recomputed from it, so it never drifts. */
  filledNotional: D;
  /** Volume-weighted average fill price = filledNotional / filledQuantity; null before the first fill. */
  averageFillPrice: D | null;
  /** Σ commission of the fills, USDT. */
  fees: D;
  /** Number of fills. */
  fills: number;
  /** Trade ids already applied, in order: a fill is applied once. */
  tradeIds: string[];
}

export function orderInitialState(): OrderState {
  return {
    status: 'NONE',
    statusBeforeCancel: null,
    order: null,
    venueOrderId: null,
    filledQuantity: ZERO,
    filledNotional: ZERO,
    averageFillPrice: null,
    fees: ZERO,
    fills: 0,
    tradeIds: [],
  };
}

/**
 * Fold one order event into the state. Assumes a valid history (events produced by
 * `orderDecider.decide`): an event the table does not allow means the stream is corrupt,
 * which is a bug, not a business outcome, so it throws.
 */
export function orderEvolve(state: OrderState, e: OrderEvent): OrderState {
  const t = orderTransition(state.status, e, state.statusBeforeCancel);
  if (!t.ok) throw new Error(`corrupt order stream: ${t.error.message}`);
  const status = t.value;
  // The pre-cancel status survives only while the cancel's outcome is open.
  const keepCancel = status === 'PENDING_CANCEL' || status === 'UNKNOWN';
  const base: OrderState = { ...state, status, statusBeforeCancel: keepCancel ? state.statusBeforeCancel : null };
  switch (e.type) {
    case 'OrderInitialized':
      return { ...base, order: e.data };
    case 'OrderCancelRequested':
      return { ...base, statusBeforeCancel: state.status as OrderStatus };
    case 'OrderAccepted':
      return {
        ...base,
        venueOrderId: e.data.venueOrderId,
        // The ack that arrives while a cancel is pending: a failed cancel now returns to ACCEPTED.
        statusBeforeCancel: status === 'PENDING_CANCEL' && state.statusBeforeCancel === 'SUBMITTED' ? 'ACCEPTED' : base.statusBeforeCancel,
      };
    case 'OrderFilled': {
      const f = e.data;
      const qty = dec(f.quantity);
      const filledQuantity = state.filledQuantity.plus(qty);
      const filledNotional = state.filledNotional.plus(qty.mul(dec(f.price)));
      return {
        ...base,
        venueOrderId: state.venueOrderId ?? f.venueOrderId,
        filledQuantity,
        filledNotional,
        averageFillPrice: filledNotional.div(filledQuantity),
        fees: state.fees.plus(dec(f.fee)),
        fills: state.fills + 1,
        tradeIds: [...state.tradeIds, f.tradeId],
      };
    }
    case 'OrderSubmitted':
    case 'OrderRejected':
    case 'OrderDenied':
    case 'OrderCanceled':
    case 'OrderCancelRejected':
    case 'OrderExpired':
    case 'OrderStatusUnknown':
      return base;
    default:
      return assertNever(e);
  }
}

export type OrderRejectionCode = 'ORDER_EXISTS' | 'ORDER_NOT_FOUND' | 'ILLEGAL_TRANSITION' | 'OVERFILL' | 'FILL_MISMATCH';

/** Commands of the order aggregate, discriminated by `kind`. Venue-reported facts are `Record*`. */
export type OrderCommand =
  | { kind: 'InitializeOrder'; data: OrderInitialized }
  | { kind: 'SubmitOrder' }
  | { kind: 'RecordAccepted'; venueOrderId: string }
  | { kind: 'RecordRejected'; code: string; message: string }
  | { kind: 'DenyOrder'; code: string; message: string }
  | { kind: 'RecordFill'; fill: OrderFilled }
  | { kind: 'RequestCancel'; reason: string }
  | { kind: 'RecordCanceled' }
  | { kind: 'RecordCancelRejected'; code: string; message: string }
  | { kind: 'RecordExpired' }
  | { kind: 'RecordStatusUnknown'; detail: string };

type OrderResult = Result<OrderEvent[], Rejection<OrderRejectionCode>>;

/** Emit `e` if the transition table allows it in the current state. */
function guarded(state: OrderState, e: OrderEvent): OrderResult {
  const t = orderTransition(state.status, e, state.statusBeforeCancel);
  return t.ok ? ok([e]) : err(t.error);
}

/**
 * Check a venue fill against the order: identity, no overfill, and consistent cumulative
 * and leaves quantities (a gap means a fill was missed and must be fetched first).
 */
function checkFill(order: OrderInitialized, state: OrderState, f: OrderFilled): Rejection<OrderRejectionCode> | null {
  const mismatch = (what: string): Rejection<OrderRejectionCode> => ({ code: 'FILL_MISMATCH', message: `fill ${f.tradeId}: ${what}` });
  if (f.clientOrderId !== order.clientOrderId) return mismatch(`client order id ${f.clientOrderId} ≠ ${order.clientOrderId}`);
  if (f.accountId !== order.accountId || f.venue !== order.venue || f.symbol !== order.symbol) return mismatch('account, venue or symbol differs from the order');
  if (f.side !== order.side) return mismatch(`side ${f.side} ≠ ${order.side}`);
  if (state.venueOrderId !== null && f.venueOrderId !== state.venueOrderId) return mismatch(`venue order id ${f.venueOrderId} ≠ ${state.venueOrderId}`);
  const orderQty = dec(order.quantity);
  const filled = state.filledQuantity.plus(dec(f.quantity));
  if (filled.gt(orderQty)) {
    return { code: 'OVERFILL', message: `fill ${f.tradeId} of ${f.quantity} would fill ${filled.toFixed()} of an order for ${order.quantity}` };
  }
  if (!dec(f.filledQuantity).eq(filled)) return mismatch(`cumulative filled ${f.filledQuantity} ≠ ${filled.toFixed()} (a fill is missing)`);
  if (!dec(f.leavesQuantity).eq(orderQty.minus(filled))) return mismatch(`leaves ${f.leavesQuantity} ≠ ${orderQty.minus(filled).toFixed()}`);
  return null;
}

/**
 * Decide an order command.
 * - `InitializeOrder` on an existing order: `ORDER_EXISTS`; any other command before it: `ORDER_NOT_FOUND`.
 * - Every command is checked against `ORDER_TRANSITIONS` (`ILLEGAL_TRANSITION` otherwise).
 * - `RecordFill`: a trade id already applied returns `ok([])` — at-least-once delivery
 *   means the same venue fill can be reported twice (user-data stream and a REST query),
 *   and that is not the caller's error. A fill beyond the order quantity is `OVERFILL`;
 *   wrong identity or inconsistent cumulative/leaves quantities is `FILL_MISMATCH`.
 * - `RecordAccepted` for the venue order id already known (the fill overtook the REST
 *   ack) returns `ok([])` when the table has no row for it.
 */
export function decideOrder(command: OrderCommand, state: OrderState): OrderResult {
  if (command.kind === 'InitializeOrder') {
    if (state.status !== 'NONE') return reject('ORDER_EXISTS', `order ${state.order?.clientOrderId ?? ''} already exists`);
    return guarded(state, event('OrderInitialized', command.data));
  }
  const order = state.order;
  if (state.status === 'NONE' || order === null) return reject('ORDER_NOT_FOUND', `no order: ${command.kind} needs an initialized order`);
  const clientOrderId = order.clientOrderId;
  switch (command.kind) {
    case 'SubmitOrder':
      return guarded(state, event('OrderSubmitted', { clientOrderId }));
    case 'RecordAccepted': {
      if (state.venueOrderId === command.venueOrderId && lookupOrderTransition(state.status, 'OrderAccepted') === undefined) return ok([]);
      return guarded(state, event('OrderAccepted', { clientOrderId, venueOrderId: command.venueOrderId }));
    }
    case 'RecordRejected':
      return guarded(state, event('OrderRejected', { clientOrderId, code: command.code, message: command.message }));
    case 'DenyOrder':
      return guarded(state, event('OrderDenied', { clientOrderId, code: command.code, message: command.message }));
    case 'RecordFill': {
      const f = command.fill;
      if (state.tradeIds.includes(f.tradeId)) return ok([]);
      const e = event('OrderFilled', f);
      const t = orderTransition(state.status, e, state.statusBeforeCancel);
      if (!t.ok) return err(t.error);
      const bad = checkFill(order, state, f);
      return bad ? err(bad) : ok([e]);
    }
    case 'RequestCancel':
      return guarded(state, event('OrderCancelRequested', { clientOrderId, reason: command.reason }));
    case 'RecordCanceled':
      return guarded(state, event('OrderCanceled', { clientOrderId }));
    case 'RecordCancelRejected':
      return guarded(state, event('OrderCancelRejected', { clientOrderId, code: command.code, message: command.message }));
    case 'RecordExpired':
      return guarded(state, event('OrderExpired', { clientOrderId }));
    case 'RecordStatusUnknown':
      return guarded(state, event('OrderStatusUnknown', { clientOrderId, detail: command.detail }));
    default:
      return assertNever(command);
  }
}

/** The order decider (docs/architecture.md "Shape": the pure core). */
export const orderDecider: Decider<OrderCommand, OrderState, Rejection<OrderRejectionCode>, OrderEvent> = {
  decide: decideOrder,
  evolve: orderEvolve,
  initialState: orderInitialState,
};

/** True when no further event can change the order's fills or status (a late cancel rejection aside). */
export function isOrderTerminal(status: OrderStatus | 'NONE'): boolean {
  return status !== 'NONE' && TERMINAL_ORDER_STATUSES.has(status);
}
