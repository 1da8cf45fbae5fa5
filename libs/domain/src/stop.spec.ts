import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseEvent, type Candle, type DomainEvent, type EventData } from '@bulwark/contracts';
import { fold } from './decider';
import { clientOrderIdFor, shortHash } from './ids';
import { pathSteps, type PathStep } from './market-path';
import { stopDecider, stopEvolve, stopInitialState, type StopCommand, type StopState } from './stop';

// Prices are real Binance USD-M BTCUSDT 1m bars (shared/data, see PROVENANCE.md section 1).
const DATA_DIR = process.env['BULWARK_DATA_DIR'] ?? path.resolve(__dirname, '../../../../shared/data');
const CANDLES_FILE = path.join(DATA_DIR, 'binance-usdm/BTCUSDT/klines-1m/BTCUSDT-1m-2025-11-10_2025-12-10.csv');
const FIRST_ROWS = fs.readFileSync(CANDLES_FILE, 'utf8').split('\n').slice(1, 11);
const candle = (i: number): Candle => {
  const [openTime, open, high, low, close, volume] = FIRST_ROWS[i].split(',');
  return { openTime: Number(openTime), interval: '1m', open, high, low, close, volume };
};
/** Step `k` of bar `i` (2025-11-10 00:0i), the previous bar's close as step 0's origin. */
const step = (i: number, k: number): PathStep => pathSteps(candle(i), i === 0 ? null : candle(i - 1).close)[k];

// 2025-11-10 00:00 step 2: 104670.7 → 104570.6 (falling); 00:01 step 2: 104587.8 → 104412;
// 00:04 step 2: 104205.9 → 104354.3 (rising).
const DOWN_0000 = step(0, 2);
const DOWN_0001 = step(1, 2);
const UP_0004 = step(4, 2);

const ACCOUNT = 'acc1';
const POSITION = 'position-acc1-binance-usdm-BTCUSDT-1';
const HASH = shortHash(ACCOUNT); // cyrb53 of "acc1" in base 36

function placed(over: Partial<EventData<'StopPlaced'>> = {}): EventData<'StopPlaced'> {
  return {
    positionStreamId: POSITION,
    accountId: ACCOUNT,
    venue: 'binance-usdm',
    symbol: 'BTCUSDT',
    positionSide: 'LONG',
    quantity: '0.083',
    stopPrice: '104500',
    takeProfitPrice: '104700',
    entryClientOrderId: clientOrderIdFor(ACCOUNT, 1, 'E'),
    ...over,
  };
}

/** Decide, require success, check every event against its contract schema, fold. */
function run(s: StopState, c: StopCommand): { events: DomainEvent[]; state: StopState } {
  const r = stopDecider.decide(c, s);
  if (!r.ok) throw new Error(`expected events, got ${r.error.code}: ${r.error.message}`);
  for (const e of r.value) expect(parseEvent(e.type, e.data)).toEqual({ ok: true, event: e });
  return { events: r.value, state: fold(stopEvolve, s, r.value) };
}

const armed = (over: Partial<EventData<'StopPlaced'>> = {}) => run(stopInitialState(), { kind: 'PlaceStop', stop: placed(over) }).state;
const evaluate = (s: StopState, st: { from: string; to: string; gap: boolean }) => run(s, { kind: 'EvaluateStep', step: st });

describe('stopDecider: place', () => {
  it('the real steps used below', () => {
    expect(DOWN_0000).toMatchObject({ from: '104670.7', to: '104570.6', gap: false });
    expect(DOWN_0001).toMatchObject({ from: '104587.8', to: '104412', gap: false });
    expect(UP_0004).toMatchObject({ from: '104205.9', to: '104354.3', gap: false });
    expect(HASH).toBe('2d4c10hkbtg');
  });

  it('PlaceStop on a new stream → StopPlaced; the state is ARMED with the placement', () => {
    const { events, state } = run(stopInitialState(), { kind: 'PlaceStop', stop: placed() });
    expect(events).toEqual([{ type: 'StopPlaced', data: placed() }]);
    expect(state).toEqual({ status: 'ARMED', placed: placed(), attempts: 0 });
  });

  it('a stop without take-profit is accepted (takeProfitPrice null)', () => {
    expect(armed({ takeProfitPrice: null }).placed?.takeProfitPrice).toBeNull();
  });

  it('placing twice → STOP_EXISTS', () => {
    const r = stopDecider.decide({ kind: 'PlaceStop', stop: placed() }, armed());
    expect(r).toEqual({ ok: false, error: { code: 'STOP_EXISTS', message: `stop for ${POSITION} already placed` } });
  });

  it.each([
    ['LONG', '104500', '104500', 'take-profit 104500 is not beyond stop 104500 for a LONG'], // tp = stop
    ['LONG', '104500', '104400', 'take-profit 104400 is not beyond stop 104500 for a LONG'], // tp below a long's stop
    ['SHORT', '104700', '104700', 'take-profit 104700 is not beyond stop 104700 for a SHORT'],
    ['SHORT', '104700', '104800', 'take-profit 104800 is not beyond stop 104700 for a SHORT'], // tp above a short's stop
  ] as const)('wrong-side take-profit: %s stop %s, take-profit %s → STOP_ON_WRONG_SIDE', (side, stop, tp, message) => {
    const r = stopDecider.decide({ kind: 'PlaceStop', stop: placed({ positionSide: side, stopPrice: stop, takeProfitPrice: tp }) }, stopInitialState());
    expect(r).toEqual({ ok: false, error: { code: 'STOP_ON_WRONG_SIDE', message } });
  });
});

describe('stopDecider: evaluate a step (long: stop 104500 below, target 104700 above)', () => {
  it('nothing happens before a stop is placed', () => {
    expect(evaluate(stopInitialState(), DOWN_0001).events).toEqual([]);
  });

  it('a step that reaches neither level (104670.7 → 104570.6 stays inside 104500..104700) → no event', () => {
    const { events, state } = evaluate(armed(), DOWN_0000);
    expect(events).toEqual([]);
    expect(state.status).toBe('ARMED');
  });

  it('stop hit on 104587.8 → 104412 (2025-11-10 00:01): STOP_LOSS at the level 104500, SELL 0.083, close id bw<hash>-1x1S', () => {
    const { events, state } = evaluate(armed(), DOWN_0001);
    expect(events).toEqual([
      {
        type: 'StopTriggered',
        data: { kind: 'STOP_LOSS', triggerPrice: '104500', level: '104500', closeClientOrderId: 'bw2d4c10hkbtg-1x1S', side: 'SELL', quantity: '0.083', attempt: 1 },
      },
    ]);
    expect(state).toEqual({ status: 'TRIGGERED', placed: placed(), attempts: 1 });
  });

  it('target hit on 104205.9 → 104354.3 (2025-11-10 00:04) with stop 104100 / target 104300: TAKE_PROFIT at 104300, close id bw<hash>-1x1T', () => {
    const { events } = evaluate(armed({ stopPrice: '104100', takeProfitPrice: '104300' }), UP_0004);
    expect(events).toEqual([
      {
        type: 'StopTriggered',
        data: { kind: 'TAKE_PROFIT', triggerPrice: '104300', level: '104300', closeClientOrderId: 'bw2d4c10hkbtg-1x1T', side: 'SELL', quantity: '0.083', attempt: 1 },
      },
    ]);
  });

  it('a stop the price is already below at the step start fires at the start price (stop 104600 on 104587.8 → 104412: trigger 104587.8, level 104600)', () => {
    const { events } = evaluate(armed({ stopPrice: '104600', takeProfitPrice: null }), DOWN_0001);
    expect(events[0].data).toMatchObject({ kind: 'STOP_LOSS', triggerPrice: '104587.8', level: '104600' });
  });

  it('a gap through the stop fires at the post-gap price: the real 2025-12-08 15:09 gap 90567.4 ⇒ 90557.2 through stop 90560 → trigger 90557.2; the 00:01 gap 104587.7 ⇒ 104587.8 (up) does nothing', () => {
    const s = armed({ stopPrice: '90560', takeProfitPrice: null });
    expect(evaluate(armed({ takeProfitPrice: null }), step(1, 0)).events).toEqual([]); // 104587.7 ⇒ 104587.8, stop 104500
    const { events } = evaluate(s, { from: '90567.4', to: '90557.2', gap: true });
    expect(events[0].data).toMatchObject({ kind: 'STOP_LOSS', triggerPrice: '90557.2', level: '90560' });
  });

  it('without a take-profit, a step through where a target would be triggers nothing', () => {
    expect(evaluate(armed({ stopPrice: '104100', takeProfitPrice: null }), UP_0004).events).toEqual([]);
  });
});

describe('stopDecider: both levels on one step', () => {
  it('stop earlier: stop 104250 is already met at 104205.9 (fraction 0), target 104300 only at 94.1/148.4 ≈ 0.634 → STOP_LOSS at 104205.9', () => {
    const { events } = evaluate(armed({ stopPrice: '104250', takeProfitPrice: '104300' }), UP_0004);
    expect(events[0].data).toMatchObject({ kind: 'STOP_LOSS', triggerPrice: '104205.9', level: '104250', closeClientOrderId: 'bw2d4c10hkbtg-1x1S' });
  });

  it('target earlier: target 104650 is already met at 104670.7 (fraction 0), stop 104600 only at 70.7/100.1 ≈ 0.706 → TAKE_PROFIT at 104670.7', () => {
    const { events } = evaluate(armed({ stopPrice: '104600', takeProfitPrice: '104650' }), DOWN_0000);
    expect(events[0].data).toMatchObject({ kind: 'TAKE_PROFIT', triggerPrice: '104670.7', level: '104650', closeClientOrderId: 'bw2d4c10hkbtg-1x1T' });
  });

  it('a tie goes to the stop-loss: stop = target = 104670.7 (a state folded from an event; PlaceStop refuses it) both meet at fraction 0 → STOP_LOSS', () => {
    const degenerate = placed({ stopPrice: '104670.7', takeProfitPrice: '104670.7' });
    expect(stopDecider.decide({ kind: 'PlaceStop', stop: degenerate }, stopInitialState()).ok).toBe(false);
    const s = stopEvolve(stopInitialState(), { type: 'StopPlaced', data: degenerate });
    const { events } = evaluate(s, DOWN_0000);
    expect(events[0].data).toMatchObject({ kind: 'STOP_LOSS', triggerPrice: '104670.7', level: '104670.7' });
  });
});

describe('stopDecider: short side (mirror: stop above, target below, close with a BUY)', () => {
  it('stop 104300 hit going up on 104205.9 → 104354.3 → STOP_LOSS BUY at 104300', () => {
    const s = armed({ positionSide: 'SHORT', stopPrice: '104300', takeProfitPrice: '104100' });
    const { events } = evaluate(s, UP_0004);
    expect(events).toEqual([
      {
        type: 'StopTriggered',
        data: { kind: 'STOP_LOSS', triggerPrice: '104300', level: '104300', closeClientOrderId: 'bw2d4c10hkbtg-1x1S', side: 'BUY', quantity: '0.083', attempt: 1 },
      },
    ]);
  });

  it('target 104600 hit going down on 104670.7 → 104570.6 → TAKE_PROFIT BUY at 104600', () => {
    const s = armed({ positionSide: 'SHORT', stopPrice: '104750', takeProfitPrice: '104600' });
    const { events } = evaluate(s, DOWN_0000);
    expect(events[0].data).toEqual({ kind: 'TAKE_PROFIT', triggerPrice: '104600', level: '104600', closeClientOrderId: 'bw2d4c10hkbtg-1x1T', side: 'BUY', quantity: '0.083', attempt: 1 });
  });

  it("a long's stop level is not a short's: a short with stop 104750 / target 104400 does nothing on 104670.7 → 104570.6", () => {
    expect(evaluate(armed({ positionSide: 'SHORT', stopPrice: '104750', takeProfitPrice: '104400' }), DOWN_0000).events).toEqual([]);
  });
});

describe('stopDecider: after the stop is done', () => {
  it('no trigger after TRIGGERED: the next step through the level again yields nothing', () => {
    const { state } = evaluate(armed(), DOWN_0001);
    expect(evaluate(state, DOWN_0001).events).toEqual([]);
    expect(evaluate(state, { from: '104500', to: '104000', gap: false }).events).toEqual([]);
  });

  it('no trigger after CANCELLED', () => {
    const { state } = run(armed(), { kind: 'CancelStop', reason: 'POSITION_CLOSED' });
    expect(state.status).toBe('CANCELLED');
    expect(evaluate(state, DOWN_0001).events).toEqual([]);
  });

  it('the close client order id is deterministic: the same state and step give the same id; it is bw + hash(account) + "-<position n>x<attempt><S|T>"', () => {
    const a = stopDecider.decide({ kind: 'EvaluateStep', step: DOWN_0001 }, armed());
    const b = stopDecider.decide({ kind: 'EvaluateStep', step: DOWN_0001 }, armed());
    expect(a).toEqual(b);
    const id = (s: StopState) => {
      const r = stopDecider.decide({ kind: 'EvaluateStep', step: DOWN_0001 }, s);
      return r.ok ? (r.value[0]?.data as EventData<'StopTriggered'>).closeClientOrderId : null;
    };
    expect(id(armed({ positionStreamId: 'position-acc1-binance-usdm-BTCUSDT-42' }))).toBe('bw2d4c10hkbtg-42x1S');
    expect(id(armed({ accountId: 'acc2' }))).toBe(`bw${shortHash('acc2')}-1x1S`);
    expect(id(armed({ accountId: 'acc2' }))).not.toBe('bw2d4c10hkbtg-1x1S');
  });
});

describe('stopDecider: cancel', () => {
  it('cancelling with no stop → NO_STOP', () => {
    expect(stopDecider.decide({ kind: 'CancelStop', reason: 'POSITION_CLOSED' }, stopInitialState())).toEqual({ ok: false, error: { code: 'NO_STOP', message: 'no stop to cancel' } });
  });

  it('cancel an armed stop → StopCancelled with the reason; cancelling again is idempotent (no event)', () => {
    const first = run(armed(), { kind: 'CancelStop', reason: 'POSITION_LIQUIDATED' });
    expect(first.events).toEqual([{ type: 'StopCancelled', data: { reason: 'POSITION_LIQUIDATED' } }]);
    const again = run(first.state, { kind: 'CancelStop', reason: 'POSITION_LIQUIDATED' });
    expect(again.events).toEqual([]);
    expect(again.state).toEqual(first.state);
  });

  it('a triggered stop can still be cancelled (its position closed) → StopCancelled, then CANCELLED', () => {
    const { state } = evaluate(armed(), DOWN_0001);
    const { events, state: after } = run(state, { kind: 'CancelStop', reason: 'POSITION_CLOSED' });
    expect(events).toEqual([{ type: 'StopCancelled', data: { reason: 'POSITION_CLOSED' } }]);
    expect(after).toEqual({ status: 'CANCELLED', placed: placed(), attempts: 1 });
  });

  it('a cancelled stop cannot be placed again on the same stream → STOP_EXISTS', () => {
    const { state } = run(armed(), { kind: 'CancelStop', reason: 'POSITION_CLOSED' });
    expect(stopDecider.decide({ kind: 'PlaceStop', stop: placed() }, state)).toMatchObject({ ok: false, error: { code: 'STOP_EXISTS' } });
  });

  it('evolve ignores events of other aggregates', () => {
    const s = armed();
    expect(stopEvolve(s, { type: 'OrderSubmitted', data: { clientOrderId: 'x' } })).toBe(s);
  });
});
