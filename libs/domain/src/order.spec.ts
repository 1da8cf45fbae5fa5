import { parseEvent, type OrderFilled, type OrderInitialized } from '@bulwark/contracts';
import { orderFilled, orderInitialized } from '@bulwark/testing';
import { fold } from './decider';
import { dec, str } from './money';
import {
  ORDER_TRANSITIONS,
  isOrderTerminal,
  lookupOrderTransition,
  orderDecider,
  orderEvolve,
  orderInitialState,
  orderTransition,
  type OrderCommand,
  type OrderEvent,
  type OrderState,
  type OrderStatus,
  type OrderTransitionEvent,
} from './order';

// Prices: Binance USD-M BTCUSDT 1m closes of 2025-11-10 00:00 and 00:01 opens
// (shared/data/binance-usdm/BTCUSDT/klines-1m/BTCUSDT-1m-2025-11-10_2025-12-10.csv).
const COID = 'bw-acc1-0001';
const VENUE_ORDER_ID = '8389765912345678';
/** A LIMIT GTC BUY entry of 0.010 BTC at 104,587.8, 10x, by acc1 (approved by account-acc1's evt-approve-1). */
const ORDER: OrderInitialized = orderInitialized({ clientOrderId: COID, type: 'LIMIT', price: '104587.8', timeInForce: 'GTC', sourceEventId: 'evt-approve-1' });

let tradeSeq = 0;
/** A venue fill consistent with the state's cumulative quantity (taker fee 0.05 %). */
function fillFor(state: OrderState, quantity: string, price: string, over: Partial<OrderFilled> = {}): OrderFilled {
  const filled = state.filledQuantity.plus(dec(quantity));
  tradeSeq += 1;
  return orderFilled({
    clientOrderId: COID,
    venueOrderId: state.venueOrderId ?? VENUE_ORDER_ID,
    tradeId: `t${tradeSeq}`,
    quantity,
    price,
    filledQuantity: str(filled),
    leavesQuantity: str(dec(ORDER.quantity).minus(filled)),
    ...over,
  });
}

const remaining = (s: OrderState) => str(dec(ORDER.quantity).minus(s.filledQuantity));

/** Decide and fold; fails the test on a rejection. */
function run(state: OrderState, command: OrderCommand): { state: OrderState; events: OrderEvent[] } {
  const r = orderDecider.decide(command, state);
  if (!r.ok) throw new Error(`${command.kind} rejected: ${r.error.code} ${r.error.message}`);
  return { state: fold(orderEvolve, state, r.value), events: r.value };
}

function runAll(commands: Array<OrderCommand | ((s: OrderState) => OrderCommand)>, from = orderInitialState()): OrderState {
  return commands.reduce<OrderState>((s, c) => run(s, typeof c === 'function' ? c(s) : c).state, from);
}

const init: OrderCommand = { kind: 'InitializeOrder', data: ORDER };
const submit: OrderCommand = { kind: 'SubmitOrder' };
const accepted: OrderCommand = { kind: 'RecordAccepted', venueOrderId: VENUE_ORDER_ID };
const cancel: OrderCommand = { kind: 'RequestCancel', reason: 'stop moved' };
const unknown: OrderCommand = { kind: 'RecordStatusUnknown', detail: 'POST /fapi/v1/order timed out after 10000 ms' };
const partialFill = (s: OrderState): OrderCommand => ({ kind: 'RecordFill', fill: fillFor(s, '0.004', '104587.7') });
const fullFill = (s: OrderState): OrderCommand => ({ kind: 'RecordFill', fill: fillFor(s, remaining(s), '104587.8') });

/** A command producing the given table event in state s. */
function commandFor(key: OrderTransitionEvent, s: OrderState): OrderCommand {
  switch (key) {
    case 'OrderInitialized':
      return init;
    case 'OrderSubmitted':
      return submit;
    case 'OrderAccepted':
      return accepted;
    case 'OrderRejected':
      return { kind: 'RecordRejected', code: '-2019', message: 'Margin is insufficient.' };
    case 'OrderDenied':
      return { kind: 'DenyOrder', code: 'INSUFFICIENT_MARGIN', message: 'initial margin above 50 % of available margin' };
    case 'OrderCancelRequested':
      return cancel;
    case 'OrderCanceled':
      return { kind: 'RecordCanceled' };
    case 'OrderCancelRejected':
      return { kind: 'RecordCancelRejected', code: '-2011', message: 'Unknown order sent.' };
    case 'OrderExpired':
      return { kind: 'RecordExpired' };
    case 'OrderStatusUnknown':
      return unknown;
    case 'OrderFilled:partial':
      return { kind: 'RecordFill', fill: fillFor(s, '0.002', '104587.7') };
    case 'OrderFilled:full':
      return fullFill(s);
  }
}

/** A history leading to each status (via the happy path where one exists). */
const PATHS: Record<OrderStatus | 'NONE', Array<OrderCommand | ((s: OrderState) => OrderCommand)>> = {
  NONE: [],
  INITIALIZED: [init],
  SUBMITTED: [init, submit],
  ACCEPTED: [init, submit, accepted],
  PARTIALLY_FILLED: [init, submit, accepted, partialFill],
  FILLED: [init, submit, accepted, fullFill],
  PENDING_CANCEL: [init, submit, accepted, cancel],
  UNKNOWN: [init, submit, unknown],
  CANCELED: [init, submit, accepted, { kind: 'RecordCanceled' }],
  REJECTED: [init, submit, { kind: 'RecordRejected', code: '-2019', message: 'Margin is insufficient.' }],
  DENIED: [init, { kind: 'DenyOrder', code: 'INSUFFICIENT_MARGIN', message: 'denied' }],
  EXPIRED: [init, submit, { kind: 'RecordExpired' }],
};

/** Rows whose meaning needs a specific history. */
function pathFor(from: OrderStatus | 'NONE', key: OrderTransitionEvent) {
  if (from === 'PENDING_CANCEL' && (key === 'OrderAccepted' || key === 'OrderRejected')) return [init, submit, cancel];
  if (from === 'UNKNOWN' && key === 'OrderCancelRejected') return [init, submit, accepted, cancel, unknown];
  return PATHS[from];
}

const ALL_STATUSES: Array<OrderStatus | 'NONE'> = ['NONE', 'INITIALIZED', 'SUBMITTED', 'ACCEPTED', 'PARTIALLY_FILLED', 'FILLED', 'PENDING_CANCEL', 'CANCELED', 'REJECTED', 'DENIED', 'EXPIRED', 'UNKNOWN'];
const ALL_KEYS: OrderTransitionEvent[] = [
  'OrderInitialized',
  'OrderSubmitted',
  'OrderAccepted',
  'OrderRejected',
  'OrderDenied',
  'OrderCancelRequested',
  'OrderCanceled',
  'OrderCancelRejected',
  'OrderExpired',
  'OrderStatusUnknown',
  'OrderFilled:partial',
  'OrderFilled:full',
];

describe('ORDER_TRANSITIONS', () => {
  it('has no duplicate (from, event) pair', () => {
    const keys = ORDER_TRANSITIONS.map(([f, e]) => `${f}|${e}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it.each(ORDER_TRANSITIONS.map((r) => [...r]))('%s + %s → %s (through the decider)', (from, key, to) => {
    const before = runAll(pathFor(from, key));
    expect(before.status).toBe(from);
    const { state: after, events } = run(before, commandFor(key, before));
    expect(events).toHaveLength(1);
    expect(events[0].type).toBe(key.startsWith('OrderFilled') ? 'OrderFilled' : key);
    expect(parseEvent(events[0].type, events[0].data)).toMatchObject({ ok: true });
    const expected = to === 'PREVIOUS' ? before.statusBeforeCancel : to;
    expect(expected).not.toBeNull();
    expect(after.status).toBe(expected);
    // The pure transition function agrees with the fold.
    expect(orderTransition(from, events[0], before.statusBeforeCancel)).toEqual({ ok: true, value: expected });
  });

  it('rejects every (status, event) pair that is not in the table', () => {
    const s = runAll(PATHS.ACCEPTED);
    const c = { clientOrderId: COID };
    const samples: Record<OrderTransitionEvent, OrderEvent> = {
      OrderInitialized: { type: 'OrderInitialized', data: ORDER },
      OrderSubmitted: { type: 'OrderSubmitted', data: c },
      OrderAccepted: { type: 'OrderAccepted', data: { ...c, venueOrderId: VENUE_ORDER_ID } },
      OrderRejected: { type: 'OrderRejected', data: { ...c, code: '-2019', message: 'Margin is insufficient.' } },
      OrderDenied: { type: 'OrderDenied', data: { ...c, code: 'INSUFFICIENT_MARGIN', message: 'denied' } },
      OrderCancelRequested: { type: 'OrderCancelRequested', data: { ...c, reason: 'x' } },
      OrderCanceled: { type: 'OrderCanceled', data: c },
      OrderCancelRejected: { type: 'OrderCancelRejected', data: { ...c, code: '-2011', message: 'Unknown order sent.' } },
      OrderExpired: { type: 'OrderExpired', data: c },
      OrderStatusUnknown: { type: 'OrderStatusUnknown', data: { ...c, detail: 'timeout' } },
      'OrderFilled:partial': { type: 'OrderFilled', data: fillFor(s, '0.004', '104587.7') },
      'OrderFilled:full': { type: 'OrderFilled', data: fillFor(s, '0.010', '104587.7') },
    };
    let illegal = 0;
    for (const from of ALL_STATUSES) {
      for (const key of ALL_KEYS) {
        if (lookupOrderTransition(from, key) !== undefined) continue;
        illegal += 1;
        const r = orderTransition(from, samples[key], 'ACCEPTED');
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error.code).toBe('ILLEGAL_TRANSITION');
      }
    }
    expect(illegal).toBe(ALL_STATUSES.length * ALL_KEYS.length - ORDER_TRANSITIONS.length);
  });

  it('a PREVIOUS row without a pending cancel is illegal', () => {
    const r = orderTransition('PENDING_CANCEL', { type: 'OrderCancelRejected', data: { clientOrderId: COID, code: '-2011', message: 'Unknown order sent.' } });
    expect(r).toEqual({ ok: false, error: expect.objectContaining({ code: 'ILLEGAL_TRANSITION' }) });
  });

  it('terminal statuses', () => {
    expect(['FILLED', 'CANCELED', 'REJECTED', 'DENIED', 'EXPIRED'].every((s) => isOrderTerminal(s as OrderStatus))).toBe(true);
    expect(['NONE', 'INITIALIZED', 'SUBMITTED', 'ACCEPTED', 'PARTIALLY_FILLED', 'PENDING_CANCEL', 'UNKNOWN'].some((s) => isOrderTerminal(s as OrderStatus))).toBe(false);
  });
});

describe('orderDecider: illegal commands', () => {
  const expectRejected = (state: OrderState, command: OrderCommand, code: string) => {
    const r = orderDecider.decide(command, state);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe(code);
  };

  it('FILLED + RecordCanceled is rejected', () => {
    expectRejected(runAll(PATHS.FILLED), { kind: 'RecordCanceled' }, 'ILLEGAL_TRANSITION');
  });

  it('REJECTED + RecordFill is rejected', () => {
    const s = runAll(PATHS.REJECTED);
    expectRejected(s, { kind: 'RecordFill', fill: fillFor(s, '0.010', '104587.8') }, 'ILLEGAL_TRANSITION');
  });

  it('CANCELED + RecordFill is rejected (fills must be recorded before the cancel)', () => {
    const s = runAll(PATHS.CANCELED);
    expectRejected(s, { kind: 'RecordFill', fill: fillFor(s, '0.002', '104587.8') }, 'ILLEGAL_TRANSITION');
  });

  it('a DENIED order can never be submitted', () => {
    expectRejected(runAll(PATHS.DENIED), submit, 'ILLEGAL_TRANSITION');
  });

  it('DENIED only from INITIALIZED', () => {
    expectRejected(runAll(PATHS.SUBMITTED), { kind: 'DenyOrder', code: 'X', message: 'too late' }, 'ILLEGAL_TRANSITION');
  });

  it('a second cancel request while one is pending is rejected', () => {
    expectRejected(runAll(PATHS.PENDING_CANCEL), cancel, 'ILLEGAL_TRANSITION');
  });

  it('commands before InitializeOrder: ORDER_NOT_FOUND', () => {
    expectRejected(orderInitialState(), submit, 'ORDER_NOT_FOUND');
    expectRejected(orderInitialState(), { kind: 'RecordCanceled' }, 'ORDER_NOT_FOUND');
  });

  it('InitializeOrder twice: ORDER_EXISTS', () => {
    expectRejected(runAll(PATHS.INITIALIZED), init, 'ORDER_EXISTS');
    expectRejected(runAll(PATHS.FILLED), init, 'ORDER_EXISTS');
  });

  it('a fill beyond the order quantity: OVERFILL', () => {
    const s = runAll([...PATHS.ACCEPTED, partialFill]);
    const f = fillFor(s, '0.007', '104587.8', { filledQuantity: '0.011', leavesQuantity: '0' });
    expectRejected(s, { kind: 'RecordFill', fill: f }, 'OVERFILL');
  });

  it('a fill of another order, side or venue order id, or with a gap in the cumulative quantity: FILL_MISMATCH', () => {
    const s = runAll(PATHS.PARTIALLY_FILLED);
    expectRejected(s, { kind: 'RecordFill', fill: fillFor(s, '0.002', '104587.8', { clientOrderId: 'bw-acc1-0002' }) }, 'FILL_MISMATCH');
    expectRejected(s, { kind: 'RecordFill', fill: fillFor(s, '0.002', '104587.8', { side: 'SELL' }) }, 'FILL_MISMATCH');
    expectRejected(s, { kind: 'RecordFill', fill: fillFor(s, '0.002', '104587.8', { venueOrderId: '1' }) }, 'FILL_MISMATCH');
    // Cumulative 0.008 reported after 0.004 + 0.002: a 0.002 fill was missed.
    expectRejected(s, { kind: 'RecordFill', fill: fillFor(s, '0.002', '104587.8', { filledQuantity: '0.008', leavesQuantity: '0.002' }) }, 'FILL_MISMATCH');
    expectRejected(s, { kind: 'RecordFill', fill: fillFor(s, '0.002', '104587.8', { leavesQuantity: '0.001' }) }, 'FILL_MISMATCH');
  });

  it('orderEvolve throws on a corrupt history (an event the table forbids)', () => {
    const s = runAll(PATHS.FILLED);
    expect(() => orderEvolve(s, { type: 'OrderCanceled', data: { clientOrderId: COID } })).toThrow(/corrupt order stream/);
  });
});

describe('orderDecider: venue scenarios', () => {
  it('limit order accepted, two partial fills, filled: average price and fees are exact', () => {
    let s = runAll(PATHS.ACCEPTED);
    s = run(s, { kind: 'RecordFill', fill: fillFor(s, '0.004', '104587.7') }).state;
    expect(s.status).toBe('PARTIALLY_FILLED');
    expect(str(s.averageFillPrice!)).toBe('104587.7');
    s = run(s, { kind: 'RecordFill', fill: fillFor(s, '0.006', '104587.8') }).state;
    expect(s.status).toBe('FILLED');
    expect(str(s.filledQuantity)).toBe('0.01');
    // (0.004 × 104587.7 + 0.006 × 104587.8) / 0.010 = (418.3508 + 627.5268) / 0.010
    expect(str(s.filledNotional)).toBe('1045.8776');
    expect(str(s.averageFillPrice!)).toBe('104587.76');
    // 0.05 % of each fill's notional: 0.2091754 + 0.3137634
    expect(str(s.fees)).toBe('0.5229388');
    expect(s.fills).toBe(2);
    expect(s.venueOrderId).toBe(VENUE_ORDER_ID);
  });

  it('average of three fills is recomputed from the exact notional (no drift)', () => {
    let s = runAll(PATHS.ACCEPTED);
    for (const [q, p] of [['0.001', '104587.7'], ['0.002', '104587.8'], ['0.007', '104587.8']]) s = run(s, { kind: 'RecordFill', fill: fillFor(s, q, p) }).state;
    expect(str(s.filledNotional)).toBe('1045.8779');
    expect(s.averageFillPrice!.eq(dec('1045.8779').div('0.010'))).toBe(true);
    // after the first two fills the average is 313.7633 / 0.003 = 104587.766…
    expect(s.status).toBe('FILLED');
  });

  it('duplicate fill (same trade id, reported by the user-data stream and a REST query) yields no events', () => {
    const s = runAll(PATHS.ACCEPTED);
    const f = fillFor(s, '0.004', '104587.7');
    const once = run(s, { kind: 'RecordFill', fill: f }).state;
    const again = orderDecider.decide({ kind: 'RecordFill', fill: f }, once);
    expect(again).toEqual({ ok: true, value: [] });
    // even once the order is FILLED, a replayed fill is not an error
    const filled = run(once, fullFill(once)).state;
    expect(orderDecider.decide({ kind: 'RecordFill', fill: f }, filled)).toEqual({ ok: true, value: [] });
  });

  it('fill after a cancel request: the order fills in full while PENDING_CANCEL, the cancel then fails with -2011', () => {
    let s = runAll(PATHS.PENDING_CANCEL);
    s = run(s, fullFill(s)).state;
    expect(s.status).toBe('FILLED');
    expect(s.statusBeforeCancel).toBeNull();
    expect(orderDecider.decide({ kind: 'RecordCanceled' }, s).ok).toBe(false);
    s = run(s, commandFor('OrderCancelRejected', s)).state;
    expect(s.status).toBe('FILLED');
  });

  it('partial fill while PENDING_CANCEL, then the cancel takes the rest', () => {
    let s = runAll(PATHS.PENDING_CANCEL);
    s = run(s, partialFill(s)).state;
    expect(s.status).toBe('PARTIALLY_FILLED');
    s = run(s, { kind: 'RecordCanceled' }).state;
    expect(s.status).toBe('CANCELED');
    expect(str(s.filledQuantity)).toBe('0.004');
  });

  it('partial fill while PENDING_CANCEL, then the cancel is refused: still PARTIALLY_FILLED', () => {
    let s = runAll(PATHS.PENDING_CANCEL);
    s = run(s, partialFill(s)).state;
    s = run(s, commandFor('OrderCancelRejected', s)).state;
    expect(s.status).toBe('PARTIALLY_FILLED');
  });

  it('failed cancel returns to the status before the request (ACCEPTED, PARTIALLY_FILLED)', () => {
    let s = runAll([...PATHS.ACCEPTED, cancel]);
    expect(s.statusBeforeCancel).toBe('ACCEPTED');
    s = run(s, commandFor('OrderCancelRejected', s)).state;
    expect(s.status).toBe('ACCEPTED');
    expect(s.statusBeforeCancel).toBeNull();

    s = runAll([...PATHS.PARTIALLY_FILLED, cancel]);
    s = run(s, commandFor('OrderCancelRejected', s)).state;
    expect(s.status).toBe('PARTIALLY_FILLED');
    // and the order can be canceled again
    expect(run(s, cancel).state.status).toBe('PENDING_CANCEL');
  });

  it('cancel requested before the ack: the ack keeps the cancel pending; a failed cancel then returns to ACCEPTED', () => {
    let s = runAll([init, submit, cancel]);
    expect(s.statusBeforeCancel).toBe('SUBMITTED');
    s = run(s, accepted).state;
    expect(s.status).toBe('PENDING_CANCEL');
    expect(s.venueOrderId).toBe(VENUE_ORDER_ID);
    expect(s.statusBeforeCancel).toBe('ACCEPTED');
    s = run(s, commandFor('OrderCancelRejected', s)).state;
    expect(s.status).toBe('ACCEPTED');
  });

  it('fill overtakes the REST ack: SUBMITTED → FILLED, the late ack yields no events', () => {
    let s = runAll(PATHS.SUBMITTED);
    s = run(s, fullFill(s)).state;
    expect(s.status).toBe('FILLED');
    expect(s.venueOrderId).toBe(VENUE_ORDER_ID);
    expect(orderDecider.decide(accepted, s)).toEqual({ ok: true, value: [] });
    // an ack with another venue order id is not stale: it is illegal
    expect(orderDecider.decide({ kind: 'RecordAccepted', venueOrderId: '42' }, s).ok).toBe(false);
  });

  it('submit timeout → UNKNOWN; the query by client order id finds it working → ACCEPTED', () => {
    let s = runAll([init, submit, unknown]);
    expect(s.status).toBe('UNKNOWN');
    s = run(s, accepted).state;
    expect(s.status).toBe('ACCEPTED');
  });

  it('submit timeout → UNKNOWN; the query finds it filled → FILLED, no resubmission possible', () => {
    let s = runAll([init, submit, unknown]);
    s = run(s, fullFill(s)).state;
    expect(s.status).toBe('FILLED');
    expect(orderDecider.decide(submit, s).ok).toBe(false);
  });

  it('submit timeout → UNKNOWN; the query answers -2013 "Order does not exist" → REJECTED', () => {
    let s = runAll([init, submit, unknown]);
    s = run(s, { kind: 'RecordRejected', code: '-2013', message: 'Order does not exist.' }).state;
    expect(s.status).toBe('REJECTED');
  });

  it('submit timeout → UNKNOWN; the query times out too → still UNKNOWN; a cancel is not allowed blind', () => {
    let s = runAll([init, submit, unknown, unknown]);
    expect(s.status).toBe('UNKNOWN');
    expect(orderDecider.decide(cancel, s).ok).toBe(false);
    s = run(s, { kind: 'RecordExpired' }).state;
    expect(s.status).toBe('EXPIRED');
  });

  it('cancel timeout → UNKNOWN; the venue still shows the order working → back to the previous status', () => {
    let s = runAll([...PATHS.PARTIALLY_FILLED, cancel, unknown]);
    expect(s.status).toBe('UNKNOWN');
    expect(s.statusBeforeCancel).toBe('PARTIALLY_FILLED');
    s = run(s, commandFor('OrderCancelRejected', s)).state;
    expect(s.status).toBe('PARTIALLY_FILLED');
  });

  it('cancel timeout → UNKNOWN; the venue shows it canceled → CANCELED', () => {
    const s = runAll([...PATHS.ACCEPTED, cancel, unknown, { kind: 'RecordCanceled' }]);
    expect(s.status).toBe('CANCELED');
  });

  it('DENIED by Bulwark before reaching the venue', () => {
    const r = orderDecider.decide({ kind: 'DenyOrder', code: 'STOP_TOO_CLOSE_TO_LIQUIDATION', message: 'stop beyond the liquidation buffer' }, runAll(PATHS.INITIALIZED));
    expect(r).toEqual({
      ok: true,
      value: [{ type: 'OrderDenied', data: { clientOrderId: COID, code: 'STOP_TOO_CLOSE_TO_LIQUIDATION', message: 'stop beyond the liquidation buffer' } }],
    });
  });

  it('IOC remainder expires after a partial fill', () => {
    const s = runAll([...PATHS.PARTIALLY_FILLED, { kind: 'RecordExpired' }]);
    expect(s.status).toBe('EXPIRED');
    expect(str(s.filledQuantity)).toBe('0.004');
  });

  it('unsolicited cancel of an accepted reduce-only order', () => {
    expect(runAll([...PATHS.ACCEPTED, { kind: 'RecordCanceled' }]).status).toBe('CANCELED');
  });

  it('events carry the client order id and the initial state is the decider’s', () => {
    expect(orderDecider.initialState()).toEqual(orderInitialState());
    const r = orderDecider.decide(cancel, runAll(PATHS.ACCEPTED));
    expect(r).toEqual({ ok: true, value: [{ type: 'OrderCancelRequested', data: { clientOrderId: COID, reason: 'stop moved' } }] });
  });
});
