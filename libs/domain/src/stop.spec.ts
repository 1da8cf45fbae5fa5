import * as fs from 'node:fs';
import { parseEvent, type Candle, type DomainEvent, type EventData, type PositionSide, type ProtectionGuards } from '@bulwark/contracts';
import { BTCUSDT_FILES, btcusdtRules } from '@bulwark/testing';
import { fold } from './decider';
import { clientOrderIdFor, shortHash } from './ids';
import { pathSteps, type PathStep } from './market-path';
import { dec } from './money';
import { protectionGuards } from './protection';
import { closeRetryDelayMs, stopDecider, stopEvolve, stopInitialState, type StopCommand, type StopState } from './stop';

// Prices are real Binance USD-M BTCUSDT 1m bars (shared/data, see PROVENANCE.md section 1);
// guard levels come from protectionGuards with the real 2025-11-20 leverage brackets.
const BRACKETS = btcusdtRules().brackets;

const CANDLES: Candle[] = fs
  .readFileSync(BTCUSDT_FILES.candles1m, 'utf8')
  .split('\n')
  .slice(1)
  .filter((row) => row.trim() !== '')
  .map((row) => {
    const [openTime, open, high, low, close, volume] = row.split(',');
    return { openTime: Number(openTime), interval: '1m', open, high, low, close, volume };
  });
const INDEX = new Map(CANDLES.map((c, i) => [c.openTime, i]));
/** The steps of the real bar opening at `iso` (UTC), step 0 jumping from the previous bar's close. */
const stepsOf = (iso: string): PathStep[] => {
  const i = INDEX.get(Date.parse(iso));
  if (i === undefined) throw new Error(`no bar at ${iso}`);
  return pathSteps(CANDLES[i], i === 0 ? null : CANDLES[i - 1].close);
};
const step = (iso: string, k: number): PathStep => stepsOf(iso)[k];

// 2025-11-10 00:00 step 2: 104670.7 → 104570.6 (falling); 00:01 step 2: 104587.8 → 104412;
// 00:04 step 2: 104205.9 → 104354.3 (rising).
const DOWN_0000 = step('2025-11-10T00:00:00Z', 2);
const DOWN_0001 = step('2025-11-10T00:01:00Z', 2);
const UP_0004 = step('2025-11-10T00:04:00Z', 2);

const ACCOUNT = 'acc1';
const POSITION = 'position-acc1-binance-usdm-BTCUSDT-1';
const HASH = shortHash(ACCOUNT); // cyrb53 of "acc1" in base 36
/** The entry: the real close of the 2025-11-10 00:00 bar. */
const ENTRY = CANDLES[0].close;
const QTY = '0.083';
/** Where a StopTriggered (v2) says to close. */
const WHERE = { accountId: ACCOUNT, venue: 'binance-usdm' as const, symbol: 'BTCUSDT' };

/**
 * Guards of 0.083 BTC at 104,587.7 (notional 8,680.7791) with isolated margin WB = 8,680.7791 / leverage
 * (10x: 868.07791, 50x: 173.615582, 100x: 86.807791, 125x: 69.4462328), bracket 1 (MMR 0.004, cum 0).
 */
const guardsFor = (side: PositionSide, leverage: number, entry = ENTRY): ProtectionGuards =>
  protectionGuards({ side, quantity: dec(QTY), entryPrice: dec(entry), walletBalance: dec(entry).mul(QTY).div(leverage), brackets: BRACKETS });

/** A placement; its guards are those of a 10x position at its entry price on its side, unless given (or a leverage is given). */
function placed(over: Partial<EventData<'StopPlaced'>> & { leverage?: number } = {}): EventData<'StopPlaced'> {
  const { leverage = 10, ...rest } = over;
  const side = rest.positionSide ?? 'LONG';
  return {
    positionStreamId: POSITION,
    accountId: ACCOUNT,
    venue: 'binance-usdm',
    symbol: 'BTCUSDT',
    positionSide: side,
    quantity: QTY,
    stopPrice: '104500',
    takeProfitPrice: '104700',
    entryClientOrderId: clientOrderIdFor(ACCOUNT, 1, 'E'),
    entryPrice: ENTRY,
    guards: guardsFor(side, leverage, rest.entryPrice ?? ENTRY),
    ...rest,
  };
}

/** Decide, require success, check every event against its contract schema, fold. */
function run(s: StopState, c: StopCommand): { events: DomainEvent[]; state: StopState } {
  const r = stopDecider.decide(c, s);
  if (!r.ok) throw new Error(`expected events, got ${r.error.code}: ${r.error.message}`);
  for (const e of r.value) expect(parseEvent(e.type, e.data)).toEqual({ ok: true, event: e });
  return { events: r.value, state: fold(stopEvolve, s, r.value) };
}

const armed = (over: Partial<EventData<'StopPlaced'>> & { leverage?: number } = {}) => run(stopInitialState(), { kind: 'PlaceStop', stop: placed(over) }).state;
const evaluate = (s: StopState, st: { from: string; to: string; gap: boolean; ts: number }) => run(s, { kind: 'EvaluateStep', step: st });

describe('the data used below', () => {
  it('the real steps, entry and account hash', () => {
    expect(ENTRY).toBe('104587.7');
    expect(DOWN_0000).toMatchObject({ from: '104670.7', to: '104570.6', gap: false });
    expect(DOWN_0001).toMatchObject({ from: '104587.8', to: '104412', gap: false });
    expect(UP_0004).toMatchObject({ from: '104205.9', to: '104354.3', gap: false });
    expect(HASH).toBe('2d4c10hkbtg');
  });

  // Long: LP = (N − WB) / (Q × 0.996); ratio r at (r × (N − WB)) / (Q × (r − 0.004));
  // distance levels LP + share × (EP − LP). Short: the mirror. (protection.spec.ts checks the formulas.)
  it.each([
    // 10x long: LP = (8,680.7791 − 868.07791) / 0.082668 = 94,506.96; EP − LP = 10,080.74 → close LP + 504.04, warn LP + 1,008.07
    ['LONG', 10, { liquidationPrice: '94506.95783132530120481927710843373493976', marginRatioWarnPrice: '94549.1484375', marginRatioClosePrice: '94526.93816067653276955602536997885835095', liquidationDistanceWarnPrice: '95515.03204819277108433734939759036144578', liquidationDistanceClosePrice: '95010.99493975903614457831325301204819277' }],
    // 100x long: LP = 8,593.971309 / 0.082668 = 103,957.65; ratio 90 %: 0.9 × 8,593.971309 / (0.083 × 0.896) = 104,004.06328125
    ['LONG', 100, { liquidationPrice: '103957.6536144578313253012048192771084337', marginRatioWarnPrice: '104004.06328125', marginRatioClosePrice: '103979.631976744186046511627906976744186', liquidationDistanceWarnPrice: '104020.6582530120481927710843373493975903', liquidationDistanceClosePrice: '103989.155933734939759036144578313253012' }],
    // 125x long: the margin-ratio close (104,189.69) lies ABOVE the distance close (104,188.67): it is met first going down
    ['LONG', 125, { liquidationPrice: '104167.6690763052208835341365461847389558', marginRatioWarnPrice: '104214.1725', marginRatioClosePrice: '104189.691839323467230443974630021141649', liquidationDistanceWarnPrice: '104209.6721686746987951807228915662650602', liquidationDistanceClosePrice: '104188.670622489959839357429718875502008' }],
    // 50x short: LP = (8,680.7791 + 173.615582) / (0.083 × 1.004) = 106,254.44
    ['SHORT', 50, { liquidationPrice: '106254.436254980079681274900398406374502', marginRatioWarnPrice: '106207.4210176991150442477876106194690265', marginRatioClosePrice: '106232.1606918238993710691823899371069182', liquidationDistanceWarnPrice: '106087.7626294820717131474103585657370518', liquidationDistanceClosePrice: '106171.0994422310756972111553784860557769' }],
    // 100x short: the distance close (105,181.47) lies below the ratio close (105,190.67): it is met first going up
    ['SHORT', 100, { liquidationPrice: '105212.7260956175298804780876494023904382', marginRatioWarnPrice: '105166.1717920353982300884955752212389381', marginRatioClosePrice: '105190.6689203354297693920335429769392034', liquidationDistanceWarnPrice: '105150.2234860557768924302788844621513944', liquidationDistanceClosePrice: '105181.4747908366533864541832669322709163' }],
    // 125x short: the ratio close (104,982.37) lies below the distance close (104,983.55)
    ['SHORT', 125, { liquidationPrice: '105004.3840637450199203187250996015936255', marginRatioWarnPrice: '104957.9219469026548672566371681415929204', marginRatioClosePrice: '104982.3705660377358490566037735849056604', liquidationDistanceWarnPrice: '104962.715657370517928286852589641434263', liquidationDistanceClosePrice: '104983.5498605577689243027888446215139442' }],
  ] as const)('guards of a %s 0.083 BTC at 104,587.7, %dx', (side, leverage, expected) => {
    expect(guardsFor(side, leverage)).toEqual(expected);
  });
});

describe('stopDecider: place', () => {
  it('PlaceStop on a new stream → StopPlaced with the entry price and the guards; the state is ARMED with the placement, no warning yet', () => {
    const { events, state } = run(stopInitialState(), { kind: 'PlaceStop', stop: placed() });
    expect(events).toEqual([{ type: 'StopPlaced', data: placed() }]);
    expect(state).toEqual({ status: 'ARMED', placed: placed(), attempts: 0, warned: new Set(), trigger: null, closing: null, failures: 0, retryAt: null });
  });

  it('a stop without take-profit is accepted (takeProfitPrice null)', () => {
    expect(armed({ takeProfitPrice: null }).placed?.takeProfitPrice).toBeNull();
  });

  it('a 1x long (no liquidation price, every guard null) is accepted', () => {
    const none = { liquidationPrice: null, marginRatioWarnPrice: null, marginRatioClosePrice: null, liquidationDistanceWarnPrice: null, liquidationDistanceClosePrice: null };
    expect(guardsFor('LONG', 1)).toEqual(none);
    expect(armed({ leverage: 1 }).placed?.guards).toEqual(none);
  });

  it('a stop beyond the fill price is accepted (a gap at the open): long stop 104,600 above the 104,587.7 fill; the next step (104,587.8 → 104,412) closes at once at its start 104,587.8', () => {
    const s = armed({ stopPrice: '104600', takeProfitPrice: null });
    expect(s.status).toBe('ARMED');
    const { events } = evaluate(s, DOWN_0001);
    expect(events).toEqual([
      { type: 'StopTriggered', data: { kind: 'STOP_LOSS', triggerPrice: '104587.8', level: '104600', closeClientOrderId: 'bw2d4c10hkbtg-1x1S', side: 'SELL', quantity: '0.083', attempt: 1, ...WHERE } },
    ]);
  });

  it('likewise a short with its stop 104,500 below the 104,587.7 fill: the 00:01 gap 104,587.7 ⇒ 104,587.8 closes it at 104,587.8 (BUY)', () => {
    const s = armed({ positionSide: 'SHORT', stopPrice: '104500', takeProfitPrice: '104400' });
    const { events } = evaluate(s, step('2025-11-10T00:01:00Z', 0));
    expect(events).toEqual([
      { type: 'StopTriggered', data: { kind: 'STOP_LOSS', triggerPrice: '104587.8', level: '104500', closeClientOrderId: 'bw2d4c10hkbtg-1x1S', side: 'BUY', quantity: '0.083', attempt: 1, ...WHERE } },
    ]);
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
  ] as const)('a take-profit not beyond the stop: %s stop %s, take-profit %s → STOP_ON_WRONG_SIDE', (side, stop, tp, message) => {
    const r = stopDecider.decide({ kind: 'PlaceStop', stop: placed({ positionSide: side, stopPrice: stop, takeProfitPrice: tp }) }, stopInitialState());
    expect(r).toEqual({ ok: false, error: { code: 'STOP_ON_WRONG_SIDE', message } });
  });

  it('a take-profit one tick beyond the stop is accepted: long 104,500 / 104,500.1, short 104,700 / 104,699.9', () => {
    expect(armed({ stopPrice: '104500', takeProfitPrice: '104500.1' }).status).toBe('ARMED');
    expect(armed({ positionSide: 'SHORT', stopPrice: '104700', takeProfitPrice: '104699.9' }).status).toBe('ARMED');
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
        data: { kind: 'STOP_LOSS', triggerPrice: '104500', level: '104500', closeClientOrderId: 'bw2d4c10hkbtg-1x1S', side: 'SELL', quantity: '0.083', attempt: 1, ...WHERE },
      },
    ]);
    expect(state).toEqual({ status: 'TRIGGERED', placed: placed(), attempts: 1, warned: new Set(), trigger: { kind: 'STOP_LOSS', level: '104500' }, closing: 'bw2d4c10hkbtg-1x1S', failures: 0, retryAt: null });
  });

  it('target hit on 104205.9 → 104354.3 (2025-11-10 00:04) with stop 104100 / target 104300: TAKE_PROFIT at 104300, close id bw<hash>-1x1T', () => {
    const { events } = evaluate(armed({ stopPrice: '104100', takeProfitPrice: '104300' }), UP_0004);
    expect(events).toEqual([
      {
        type: 'StopTriggered',
        data: { kind: 'TAKE_PROFIT', triggerPrice: '104300', level: '104300', closeClientOrderId: 'bw2d4c10hkbtg-1x1T', side: 'SELL', quantity: '0.083', attempt: 1, ...WHERE },
      },
    ]);
  });

  it('a gap through the stop fires at the post-gap price: the real 2025-12-08 15:09 gap 90567.4 ⇒ 90557.2 through stop 90560 → trigger 90557.2; the 00:01 gap 104587.7 ⇒ 104587.8 (up) does nothing', () => {
    const gap = step('2025-12-08T15:09:00Z', 0);
    expect(gap).toMatchObject({ from: '90567.4', to: '90557.2', gap: true });
    expect(evaluate(armed({ takeProfitPrice: null }), step('2025-11-10T00:01:00Z', 0)).events).toEqual([]); // 104587.7 ⇒ 104587.8, stop 104500
    // A 10x long bought at the real 09:41 close 91,962.9 (LP 83,099.01…, distance close 83,542.20…: far below the gap).
    const { events } = evaluate(armed({ entryPrice: '91962.9', stopPrice: '90560', takeProfitPrice: null }), gap);
    expect(events[0].data).toMatchObject({ kind: 'STOP_LOSS', triggerPrice: '90557.2', level: '90560' });
  });

  it('without a take-profit, a step through where a target would be triggers nothing', () => {
    expect(evaluate(armed({ stopPrice: '104100', takeProfitPrice: null }), UP_0004).events).toEqual([]);
  });
});

describe('stopDecider: both trader levels on one step', () => {
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
        data: { kind: 'STOP_LOSS', triggerPrice: '104300', level: '104300', closeClientOrderId: 'bw2d4c10hkbtg-1x1S', side: 'BUY', quantity: '0.083', attempt: 1, ...WHERE },
      },
    ]);
  });

  it('target 104600 hit going down on 104670.7 → 104570.6 → TAKE_PROFIT BUY at 104600', () => {
    const s = armed({ positionSide: 'SHORT', stopPrice: '104750', takeProfitPrice: '104600' });
    const { events } = evaluate(s, DOWN_0000);
    expect(events[0].data).toEqual({ kind: 'TAKE_PROFIT', triggerPrice: '104600', level: '104600', closeClientOrderId: 'bw2d4c10hkbtg-1x1T', side: 'BUY', quantity: '0.083', attempt: 1, ...WHERE });
  });

  it("a long's stop level is not a short's: a short with stop 104750 / target 104400 does nothing on 104670.7 → 104570.6", () => {
    expect(evaluate(armed({ positionSide: 'SHORT', stopPrice: '104750', takeProfitPrice: '104400' }), DOWN_0000).events).toEqual([]);
  });
});

describe('stopDecider: guards of a long (levels met going down)', () => {
  // 125x long: ratio warn 104,214.1725 > distance warn 104,209.67… > ratio close 104,189.69… > distance close 104,188.67… > LP 104,167.67…
  const G125 = guardsFor('LONG', 125);
  // 100x long: distance warn 104,020.66… > ratio warn 104,004.06328125 > distance close 103,989.16… > ratio close 103,979.63… > LP 103,957.65…
  const G100 = guardsFor('LONG', 100);
  // The stop far below (even below the liquidation price) so that only the guards act; no target.
  const long125 = () => armed({ leverage: 125, stopPrice: '104000', takeProfitPrice: null });
  const long100 = () => armed({ leverage: 100, stopPrice: '103000', takeProfitPrice: null });
  const S_0004 = step('2025-11-10T00:04:00Z', 1); // 104,334.4 → 104,205.9
  const S_1327 = step('2025-11-11T13:27:00Z', 1); // 104,290 → 104,160
  const S_1327_UP = step('2025-11-11T13:27:00Z', 2); // 104,160 → 104,342.5
  const S_1447 = step('2025-11-11T14:47:00Z', 2); // 104,167.9 → 104,013.2
  const S_1448 = step('2025-11-11T14:48:00Z', 2); // 104,100 → 103,960.9

  it('the real steps', () => {
    expect([S_0004, S_1327, S_1327_UP, S_1447, S_1448].map(({ from, to, gap }) => [from, to, gap])).toEqual([
      ['104334.4', '104205.9', false],
      ['104290', '104160', false],
      ['104160', '104342.5', false],
      ['104167.9', '104013.2', false],
      ['104100', '103960.9', false],
    ]);
  });

  it('125x, 2025-11-10 00:04 (104,334.4 → 104,205.9): both warning levels are crossed, no close level → one ProtectionWarning per kind, the position is kept', () => {
    const { events, state } = evaluate(long125(), S_0004);
    expect(events).toEqual([
      { type: 'ProtectionWarning', data: { kind: 'MARGIN_RATIO', level: '104214.1725', observedPrice: '104214.1725', threshold: '0.9' } },
      { type: 'ProtectionWarning', data: { kind: 'LIQUIDATION_DISTANCE', level: G125.liquidationDistanceWarnPrice, observedPrice: G125.liquidationDistanceWarnPrice, threshold: '0.1' } },
    ]);
    expect(state.status).toBe('ARMED');
    expect(state.attempts).toBe(0);
    expect([...state.warned]).toEqual(['MARGIN_RATIO', 'LIQUIDATION_DISTANCE']);
  });

  it('a warning is given once per kind: the same step again, and the 104,205.9 → 104,354.3 rebound, give nothing', () => {
    const { state } = evaluate(long125(), S_0004);
    expect(evaluate(state, S_0004).events).toEqual([]);
    expect(evaluate(state, UP_0004).events).toEqual([]);
  });

  it('125x, 2025-11-11 13:27 (104,290 → 104,160): the ratio close 104,189.69 (at 100.31/130 ≈ 0.772) is met before the distance close 104,188.67 (≈ 0.779) → forced close MARGIN_RATIO, SELL, close id bw<hash>-1x1C; no repeated warnings', () => {
    const { state: warned } = evaluate(long125(), S_0004);
    const { events, state } = evaluate(warned, S_1327);
    expect(events).toEqual([
      {
        type: 'StopTriggered',
        data: {
          kind: 'MARGIN_RATIO',
          triggerPrice: '104189.691839323467230443974630021141649',
          level: '104189.691839323467230443974630021141649',
          closeClientOrderId: 'bw2d4c10hkbtg-1x1C',
          side: 'SELL',
          quantity: '0.083',
          attempt: 1,
          ...WHERE,
        },
      },
    ]);
    expect(state.status).toBe('TRIGGERED');
    expect(state.attempts).toBe(1);
  });

  it('125x, the same 13:27 step on a fresh stop: the warnings crossed before the close point (ratio 0.9 at ≈ 0.583, distance 10 % at ≈ 0.618 of the step) come first', () => {
    const { events } = evaluate(long125(), S_1327);
    expect(events.map((e) => [e.type, (e.data as { kind: string }).kind])).toEqual([
      ['ProtectionWarning', 'MARGIN_RATIO'],
      ['ProtectionWarning', 'LIQUIDATION_DISTANCE'],
      ['StopTriggered', 'MARGIN_RATIO'],
    ]);
  });

  it('replaying every real step from 2025-11-10 00:01 to 2025-11-11 13:27 on the 125x long: warnings at 00:04 on the 10th, forced close at 13:27 on the 11th, nothing else', () => {
    let s = long125();
    const seen: [string, number, string, string][] = [];
    for (let i = 1; CANDLES[i].openTime <= Date.parse('2025-11-11T13:27:00Z'); i++) {
      for (const st of pathSteps(CANDLES[i], CANDLES[i - 1].close)) {
        const r = evaluate(s, st);
        for (const e of r.events) seen.push([new Date(st.ts).toISOString(), st.pathIndex, e.type, (e.data as { kind: string }).kind]);
        s = r.state;
      }
    }
    expect(seen).toEqual([
      ['2025-11-10T00:04:20.000Z', 1, 'ProtectionWarning', 'MARGIN_RATIO'],
      ['2025-11-10T00:04:20.000Z', 1, 'ProtectionWarning', 'LIQUIDATION_DISTANCE'],
      ['2025-11-11T13:27:20.000Z', 1, 'StopTriggered', 'MARGIN_RATIO'],
    ]);
  });

  it('100x, 2025-11-11 14:47 (104,167.9 → 104,013.2) crosses only the distance warning 104,020.66 → ProtectionWarning LIQUIDATION_DISTANCE', () => {
    const { events } = evaluate(long100(), S_1447);
    expect(events).toEqual([
      { type: 'ProtectionWarning', data: { kind: 'LIQUIDATION_DISTANCE', level: '104020.6582530120481927710843373493975903', observedPrice: '104020.6582530120481927710843373493975903', threshold: '0.1' } },
    ]);
  });

  it('100x, then 14:48 (104,100 → 103,960.9): ratio warning 104,004.06 (≈ 0.690), distance close 103,989.16 (110.84/139.1 ≈ 0.797) before ratio close 103,979.63 (≈ 0.865) → forced close LIQUIDATION_DISTANCE; the distance warning is not repeated', () => {
    const { state } = evaluate(long100(), S_1447);
    const { events } = evaluate(state, S_1448);
    expect(events).toEqual([
      { type: 'ProtectionWarning', data: { kind: 'MARGIN_RATIO', level: '104004.06328125', observedPrice: '104004.06328125', threshold: '0.9' } },
      {
        type: 'StopTriggered',
        data: {
          kind: 'LIQUIDATION_DISTANCE',
          triggerPrice: '103989.155933734939759036144578313253012',
          level: G100.liquidationDistanceClosePrice,
          closeClientOrderId: 'bw2d4c10hkbtg-1x1C',
          side: 'SELL',
          quantity: '0.083',
          attempt: 1,
          ...WHERE,
        },
      },
    ]);
  });

  it('earliest along the step wins: 125x on 13:27 with the stop at 104,170 (at 120/130 ≈ 0.923, after the ratio close at ≈ 0.772) → MARGIN_RATIO', () => {
    const { events } = evaluate(armed({ leverage: 125, stopPrice: '104170', takeProfitPrice: null }), S_1327);
    expect(events.at(-1)!.data).toMatchObject({ kind: 'MARGIN_RATIO', closeClientOrderId: 'bw2d4c10hkbtg-1x1C' });
  });

  it('earliest along the step wins: 125x on 13:27 with the stop at 104,200 (at 90/130 ≈ 0.692: after both warnings, before the ratio close) → STOP_LOSS at 104,200 with both warnings', () => {
    const { events } = evaluate(armed({ leverage: 125, stopPrice: '104200', takeProfitPrice: null }), S_1327);
    expect(events.map((e) => e.type)).toEqual(['ProtectionWarning', 'ProtectionWarning', 'StopTriggered']);
    expect(events[2].data).toEqual({ kind: 'STOP_LOSS', triggerPrice: '104200', level: '104200', closeClientOrderId: 'bw2d4c10hkbtg-1x1S', side: 'SELL', quantity: '0.083', attempt: 1, ...WHERE });
  });

  it('warnings crossed after the close point are not emitted: 125x on 13:27 with the stop at 104,250 (at 40/130 ≈ 0.308, before the ratio warning at ≈ 0.583) → only STOP_LOSS', () => {
    const { events, state } = evaluate(armed({ leverage: 125, stopPrice: '104250', takeProfitPrice: null }), S_1327);
    expect(events).toEqual([
      { type: 'StopTriggered', data: { kind: 'STOP_LOSS', triggerPrice: '104250', level: '104250', closeClientOrderId: 'bw2d4c10hkbtg-1x1S', side: 'SELL', quantity: '0.083', attempt: 1, ...WHERE } },
    ]);
    expect(state.warned.size).toBe(0);
  });

  it('at the same point a forced close outranks the stop: 100x with the stop exactly at the distance close 103,989.16… (both at ≈ 0.797 of 14:48) → LIQUIDATION_DISTANCE', () => {
    const { events } = evaluate(armed({ leverage: 100, stopPrice: G100.liquidationDistanceClosePrice!, takeProfitPrice: null }), S_1448);
    expect(events.at(-1)!.data).toMatchObject({ kind: 'LIQUIDATION_DISTANCE', level: G100.liquidationDistanceClosePrice, closeClientOrderId: 'bw2d4c10hkbtg-1x1C' });
  });

  it('at the same point: 125x with the stop exactly at the ratio close 104,189.69… (both at ≈ 0.772 of 13:27) → MARGIN_RATIO', () => {
    const { events } = evaluate(armed({ leverage: 125, stopPrice: G125.marginRatioClosePrice!, takeProfitPrice: null }), S_1327);
    expect(events.at(-1)!.data).toMatchObject({ kind: 'MARGIN_RATIO', level: G125.marginRatioClosePrice, closeClientOrderId: 'bw2d4c10hkbtg-1x1C' });
  });

  it('at the same point (13:27 104,160 → 104,342.5 starts beyond every level, on a fresh 125x stop at 104,170): distance close (rank 0) outranks ratio close (1) outranks the stop (2); closed at the start price 104,160', () => {
    // All met at fraction 0: distance close 104,188.67…, ratio close 104,189.69…, stop 104,170 (104,160 is below each).
    const { events } = evaluate(armed({ leverage: 125, stopPrice: '104170', takeProfitPrice: null }), S_1327_UP);
    expect(events).toEqual([
      { type: 'ProtectionWarning', data: { kind: 'MARGIN_RATIO', level: '104214.1725', observedPrice: '104160', threshold: '0.9' } },
      { type: 'ProtectionWarning', data: { kind: 'LIQUIDATION_DISTANCE', level: G125.liquidationDistanceWarnPrice, observedPrice: '104160', threshold: '0.1' } },
      {
        type: 'StopTriggered',
        data: { kind: 'LIQUIDATION_DISTANCE', triggerPrice: '104160', level: G125.liquidationDistanceClosePrice, closeClientOrderId: 'bw2d4c10hkbtg-1x1C', side: 'SELL', quantity: '0.083', attempt: 1, ...WHERE },
      },
    ]);
  });

  it('at the same point a forced close outranks the target too: a long whose target is beyond the stop but below the guards (stop 104,000, target 104,100), on 104,160 → 104,342.5', () => {
    const { events } = evaluate(armed({ leverage: 125, stopPrice: '104000', takeProfitPrice: '104100' }), S_1327_UP);
    expect(events.at(-1)!.data).toMatchObject({ kind: 'LIQUIDATION_DISTANCE', triggerPrice: '104160' });
  });

  it('a gap jumps over the stop and the distance close at once (the real 2025-12-08 15:09 gap 90,567.4 ⇒ 90,557.2): the forced close outranks the stop, both at the post-gap price', () => {
    // 50x long 0.083 BTC at the real 09:41 close 91,962.9: N = 7,632.9207, WB = N / 50 = 152.658414;
    // LP = (7,632.9207 − 152.658414) / 0.082668 = 90,485.58…; distance close = LP + 0.05 × (91,962.9 − LP) = 90,559.45…
    // (inside the gap, like the stop 90,560); distance warn 90,633.32… (already beyond at the gap's start); ratio warn 90,525.98 not reached.
    const g = protectionGuards({ side: 'LONG', quantity: dec(QTY), entryPrice: dec('91962.9'), walletBalance: dec('152.658414'), brackets: BRACKETS });
    expect(g).toEqual({
      liquidationPrice: '90485.58433734939759036144578313253012048',
      marginRatioWarnPrice: '90525.9796875',
      marginRatioClosePrice: '90504.71448202959830866807610993657505285',
      liquidationDistanceWarnPrice: '90633.31590361445783132530120481927710843',
      liquidationDistanceClosePrice: '90559.45012048192771084337349397590361446',
    });
    const s = armed({ entryPrice: '91962.9', guards: g, stopPrice: '90560', takeProfitPrice: null });
    const { events } = evaluate(s, step('2025-12-08T15:09:00Z', 0));
    expect(events).toEqual([
      { type: 'ProtectionWarning', data: { kind: 'LIQUIDATION_DISTANCE', level: '90633.31590361445783132530120481927710843', observedPrice: '90557.2', threshold: '0.1' } },
      {
        type: 'StopTriggered',
        data: { kind: 'LIQUIDATION_DISTANCE', triggerPrice: '90557.2', level: '90559.45012048192771084337349397590361446', closeClientOrderId: 'bw2d4c10hkbtg-1x1C', side: 'SELL', quantity: '0.083', attempt: 1, ...WHERE },
      },
    ]);
  });

  it('a 1x long has no guards: the 125x-closing step 13:27 (104,290 → 104,160) does nothing', () => {
    expect(evaluate(armed({ leverage: 1, stopPrice: '104000', takeProfitPrice: null }), S_1327).events).toEqual([]);
  });
});

describe('stopDecider: guards of a short (levels met going up, close with a BUY)', () => {
  const S_0014 = step('2025-11-10T00:14:00Z', 2); // 104,925.7 → 105,032.1
  const S_0019 = step('2025-11-10T00:19:00Z', 2); // 105,066 → 105,240.5
  const S_0048 = step('2025-11-10T00:48:00Z', 2); // 105,978.5 → 106,196
  const S_0050 = step('2025-11-10T00:50:00Z', 2); // 106,172.7 → 106,350
  const short = (leverage: number) => armed({ positionSide: 'SHORT', leverage, stopPrice: '110000', takeProfitPrice: null });

  it('the real steps', () => {
    expect([S_0014, S_0019, S_0048, S_0050].map(({ from, to, gap }) => [from, to, gap])).toEqual([
      ['104925.7', '105032.1', false],
      ['105066', '105240.5', false],
      ['105978.5', '106196', false],
      ['106172.7', '106350', false],
    ]);
  });

  it('100x on 00:19: distance warn 105,150.22 (≈ 0.483), ratio warn 105,166.17 (≈ 0.574), distance close 105,181.47 (115.47/174.5 ≈ 0.662) before ratio close 105,190.67 (≈ 0.714) → LIQUIDATION_DISTANCE BUY', () => {
    const { events } = evaluate(short(100), S_0019);
    expect(events).toEqual([
      { type: 'ProtectionWarning', data: { kind: 'MARGIN_RATIO', level: '105166.1717920353982300884955752212389381', observedPrice: '105166.1717920353982300884955752212389381', threshold: '0.9' } },
      { type: 'ProtectionWarning', data: { kind: 'LIQUIDATION_DISTANCE', level: '105150.2234860557768924302788844621513944', observedPrice: '105150.2234860557768924302788844621513944', threshold: '0.1' } },
      {
        type: 'StopTriggered',
        data: { kind: 'LIQUIDATION_DISTANCE', triggerPrice: '105181.4747908366533864541832669322709163', level: '105181.4747908366533864541832669322709163', closeClientOrderId: 'bw2d4c10hkbtg-1x1C', side: 'BUY', quantity: '0.083', attempt: 1, ...WHERE },
      },
    ]);
  });

  it('125x on 00:14: ratio close 104,982.37 (56.67/106.4 ≈ 0.533) before distance close 104,983.55 (≈ 0.544) → MARGIN_RATIO BUY', () => {
    const { events } = evaluate(short(125), S_0014);
    expect(events.map((e) => [e.type, (e.data as { kind: string }).kind])).toEqual([
      ['ProtectionWarning', 'MARGIN_RATIO'],
      ['ProtectionWarning', 'LIQUIDATION_DISTANCE'],
      ['StopTriggered', 'MARGIN_RATIO'],
    ]);
    expect(events[2].data).toEqual({
      kind: 'MARGIN_RATIO',
      triggerPrice: '104982.3705660377358490566037735849056604',
      level: '104982.3705660377358490566037735849056604',
      closeClientOrderId: 'bw2d4c10hkbtg-1x1C',
      side: 'BUY',
      quantity: '0.083',
      attempt: 1,
      ...WHERE,
    });
  });

  it('50x on 00:48: distance warn 106,087.76 and distance close 106,171.10 are crossed; the ratio warn 106,207.42 is not reached (top 106,196) → warning, then forced close', () => {
    const { events } = evaluate(short(50), S_0048);
    expect(events).toEqual([
      { type: 'ProtectionWarning', data: { kind: 'LIQUIDATION_DISTANCE', level: '106087.7626294820717131474103585657370518', observedPrice: '106087.7626294820717131474103585657370518', threshold: '0.1' } },
      {
        type: 'StopTriggered',
        data: { kind: 'LIQUIDATION_DISTANCE', triggerPrice: '106171.0994422310756972111553784860557769', level: '106171.0994422310756972111553784860557769', closeClientOrderId: 'bw2d4c10hkbtg-1x1C', side: 'BUY', quantity: '0.083', attempt: 1, ...WHERE },
      },
    ]);
  });

  it('50x on 00:50 (106,172.7 → 106,350 starts beyond the distance levels): closed at the start price; the ratio warning 106,207.42, met only at 34.72/177.3 ≈ 0.196 after the close, is not emitted', () => {
    const { events, state } = evaluate(short(50), S_0050);
    expect(events).toEqual([
      { type: 'ProtectionWarning', data: { kind: 'LIQUIDATION_DISTANCE', level: '106087.7626294820717131474103585657370518', observedPrice: '106172.7', threshold: '0.1' } },
      {
        type: 'StopTriggered',
        data: { kind: 'LIQUIDATION_DISTANCE', triggerPrice: '106172.7', level: '106171.0994422310756972111553784860557769', closeClientOrderId: 'bw2d4c10hkbtg-1x1C', side: 'BUY', quantity: '0.083', attempt: 1, ...WHERE },
      },
    ]);
    expect([...state.warned]).toEqual(['LIQUIDATION_DISTANCE']);
  });

  it('a short stop below the guards wins when earlier: 100x on 00:19 with stop 105,100 (at 34/174.5 ≈ 0.195, before the distance warning) → only STOP_LOSS BUY', () => {
    const { events } = evaluate(armed({ positionSide: 'SHORT', leverage: 100, stopPrice: '105100', takeProfitPrice: null }), S_0019);
    expect(events).toEqual([
      { type: 'StopTriggered', data: { kind: 'STOP_LOSS', triggerPrice: '105100', level: '105100', closeClientOrderId: 'bw2d4c10hkbtg-1x1S', side: 'BUY', quantity: '0.083', attempt: 1, ...WHERE } },
    ]);
  });
});

describe('stopDecider: after the stop is done', () => {
  it('no trigger after TRIGGERED: the next step through the level again yields nothing', () => {
    const { state } = evaluate(armed(), DOWN_0001);
    expect(evaluate(state, DOWN_0001).events).toEqual([]);
    expect(evaluate(state, { from: '104500', to: '104000', gap: false, ts: DOWN_0001.ts + 15_000 }).events).toEqual([]);
  });

  it('no warning after a forced close either: 125x closed at 13:27, then the 14:48 fall to 103,960.9 gives nothing', () => {
    const { state } = evaluate(armed({ leverage: 125, stopPrice: '104000', takeProfitPrice: null }), step('2025-11-11T13:27:00Z', 1));
    expect(state.status).toBe('TRIGGERED');
    expect(evaluate(state, step('2025-11-11T14:48:00Z', 2)).events).toEqual([]);
  });

  it('no trigger after CANCELLED', () => {
    const { state } = run(armed(), { kind: 'CancelStop', reason: 'POSITION_CLOSED' });
    expect(state.status).toBe('CANCELLED');
    expect(evaluate(state, DOWN_0001).events).toEqual([]);
  });

  it('the close client order id is deterministic: the same state and step give the same id; it is bw + hash(account) + "-<position n>x<attempt><S|T|C>"', () => {
    const a = stopDecider.decide({ kind: 'EvaluateStep', step: DOWN_0001 }, armed());
    const b = stopDecider.decide({ kind: 'EvaluateStep', step: DOWN_0001 }, armed());
    expect(a).toEqual(b);
    const id = (s: StopState, st: PathStep = DOWN_0001) => {
      const r = stopDecider.decide({ kind: 'EvaluateStep', step: st }, s);
      if (!r.ok) return null;
      const t = r.value.find((e) => e.type === 'StopTriggered');
      return t ? (t.data as EventData<'StopTriggered'>).closeClientOrderId : null;
    };
    expect(id(armed({ positionStreamId: 'position-acc1-binance-usdm-BTCUSDT-42' }))).toBe('bw2d4c10hkbtg-42x1S');
    expect(id(armed({ accountId: 'acc2' }))).toBe(`bw${shortHash('acc2')}-1x1S`);
    expect(id(armed({ accountId: 'acc2' }))).not.toBe('bw2d4c10hkbtg-1x1S');
    expect(id(armed({ positionStreamId: 'position-acc1-binance-usdm-BTCUSDT-7', leverage: 125, stopPrice: '104000', takeProfitPrice: null }), step('2025-11-11T13:27:00Z', 1))).toBe('bw2d4c10hkbtg-7x1C');
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
    expect(after).toEqual({ status: 'CANCELLED', placed: placed(), attempts: 1, warned: new Set(), trigger: { kind: 'STOP_LOSS', level: '104500' }, closing: null, failures: 0, retryAt: null });
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

describe('stopDecider: a close that fails is sent again until the position is flat', () => {
  // Stop 104,500 hit on the real 00:01 step (104,587.8 → 104,412); the close is then refused.
  const triggeredAt = () => evaluate(armed(), DOWN_0001).state;
  const fail = (s: StopState, id: string, ts: number, code = '-2019') => run(s, { kind: 'RecordCloseFailure', closeClientOrderId: id, code, message: 'Margin is insufficient.', ts });
  // Later real steps of 2025-11-10 (market time = the step's ts).
  const LATER = stepsOf('2025-11-10T00:02:00Z');

  it('closeRetryDelayMs: 1 s, 2 s, 4 s … capped at 60 s', () => {
    expect([1, 2, 3, 4, 7, 8, 30].map(closeRetryDelayMs)).toEqual([1000, 2000, 4000, 8000, 60_000, 60_000, 60_000]);
  });

  it('a refused close → CloseRejected with the retry time; no close before it; the first step at or after it sends attempt 2 at the step start price', () => {
    const s1 = triggeredAt();
    const failedAt = LATER[0].ts - 500;
    const { events, state: s2 } = fail(s1, 'bw2d4c10hkbtg-1x1S', failedAt);
    expect(events).toEqual([{ type: 'CloseRejected', data: { closeClientOrderId: 'bw2d4c10hkbtg-1x1S', attempt: 1, code: '-2019', message: 'Margin is insufficient.', retryAt: failedAt + 1000 } }]);
    expect(s2).toMatchObject({ status: 'TRIGGERED', closing: null, failures: 1, retryAt: failedAt + 1000 });
    // LATER[0] is at failedAt + 500: too early.
    expect(evaluate(s2, LATER[0]).events).toEqual([]);
    // LATER[1] is 15 s later: due.
    const { events: retry, state: s3 } = evaluate(s2, LATER[1]);
    expect(retry).toEqual([
      { type: 'StopTriggered', data: { kind: 'STOP_LOSS', triggerPrice: LATER[1].from, level: '104500', closeClientOrderId: 'bw2d4c10hkbtg-1x2S', side: 'SELL', quantity: QTY, attempt: 2, ...WHERE } },
    ]);
    expect(s3).toMatchObject({ attempts: 2, closing: 'bw2d4c10hkbtg-1x2S', retryAt: null });
    // While the retried close is in flight nothing more is sent.
    expect(evaluate(s3, LATER[2]).events).toEqual([]);
  });

  it('the third failure also records ProtectionFailed (once); the fourth only CloseRejected, 8 s later; retrying goes on', () => {
    let s = triggeredAt();
    const ts = LATER[0].ts;
    const seen: string[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      const r = fail(s, `bw2d4c10hkbtg-1x${attempt}S`, ts + attempt * 100_000, attempt === 3 ? '-1001' : '-2019');
      seen.push(r.events.map((e) => e.type).join('+'));
      if (attempt === 3) {
        expect(r.events[1]).toEqual({
          type: 'ProtectionFailed',
          data: { positionStreamId: POSITION, accountId: ACCOUNT, venue: 'binance-usdm', symbol: 'BTCUSDT', attempts: 3, lastCode: '-1001', lastMessage: 'Margin is insufficient.' },
        });
      }
      if (attempt === 4) expect((r.events[0].data as EventData<'CloseRejected'>).retryAt).toBe(ts + 400_000 + 8000);
      s = evaluate(r.state, { ...LATER[1], ts: ts + attempt * 100_000 + 60_000 }).state;
      expect(s.attempts).toBe(attempt + 1);
    }
    expect(seen).toEqual(['CloseRejected', 'CloseRejected', 'CloseRejected+ProtectionFailed', 'CloseRejected']);
  });

  it('a failure of another order (an old attempt, an exchange stop) or of an armed stop changes nothing', () => {
    expect(fail(triggeredAt(), 'bw2d4c10hkbtg-p1S', LATER[0].ts).events).toEqual([]);
    expect(fail(armed(), 'bw2d4c10hkbtg-1x1S', LATER[0].ts).events).toEqual([]);
    const s2 = fail(triggeredAt(), 'bw2d4c10hkbtg-1x1S', LATER[0].ts).state;
    expect(fail(s2, 'bw2d4c10hkbtg-1x1S', LATER[0].ts).events).toEqual([]); // the same failure reported twice
  });

  it('a flat position ends the retries: after StopCancelled no close is sent', () => {
    const s2 = fail(triggeredAt(), 'bw2d4c10hkbtg-1x1S', LATER[0].ts - 500).state;
    const cancelled = run(s2, { kind: 'CancelStop', reason: 'POSITION_CLOSED' }).state;
    expect(evaluate(cancelled, LATER[1]).events).toEqual([]);
  });
});

describe('stopDecider: the stop covers what is filled', () => {
  const resize = (quantity: string, entryPrice: string): EventData<'StopResized'> => ({
    quantity,
    entryPrice,
    guards: protectionGuards({ side: 'LONG', quantity: dec(quantity), entryPrice: dec(entryPrice), walletBalance: dec(entryPrice).mul(quantity).div(10), brackets: BRACKETS }),
    cause: 'POSITION_INCREASED',
  });

  it('a further trade of the entry (0.083 → 0.166 at 104,600) → StopResized; the trigger then closes 0.166', () => {
    const { events, state } = run(armed(), { kind: 'ResizeStop', resize: resize('0.166', '104593.85') });
    expect(events).toEqual([{ type: 'StopResized', data: resize('0.166', '104593.85') }]);
    expect(state.placed).toMatchObject({ quantity: '0.166', entryPrice: '104593.85', guards: resize('0.166', '104593.85').guards });
    const hit = evaluate(state, DOWN_0001).events.find((e) => e.type === 'StopTriggered');
    expect(hit?.data).toMatchObject({ quantity: '0.166', closeClientOrderId: 'bw2d4c10hkbtg-1x1S' });
  });

  it('the same size is no event; a cancelled stop is not resized; no stop → NO_STOP', () => {
    expect(run(armed(), { kind: 'ResizeStop', resize: resize(QTY, ENTRY) }).events).toEqual([]);
    const cancelled = run(armed(), { kind: 'CancelStop', reason: 'POSITION_CLOSED' }).state;
    expect(run(cancelled, { kind: 'ResizeStop', resize: resize('0.1', ENTRY) }).events).toEqual([]);
    expect(stopDecider.decide({ kind: 'ResizeStop', resize: resize('0.1', ENTRY) }, stopInitialState())).toMatchObject({ ok: false, error: { code: 'NO_STOP' } });
  });

  it('a retried close takes the size covered then (a partial close before it failed)', () => {
    const triggered = evaluate(armed(), DOWN_0001).state;
    const reduced = run(triggered, { kind: 'ResizeStop', resize: { ...resize('0.05', ENTRY), cause: 'POSITION_REDUCED' } }).state;
    const failed = run(reduced, { kind: 'RecordCloseFailure', closeClientOrderId: 'bw2d4c10hkbtg-1x1S', code: 'EXPIRED', message: 'the rest expired', ts: DOWN_0001.ts }).state;
    const retry = evaluate(failed, stepsOf('2025-11-10T00:02:00Z')[0]).events;
    expect(retry[0]?.data).toMatchObject({ quantity: '0.05', attempt: 2, closeClientOrderId: 'bw2d4c10hkbtg-1x2S' });
  });
});
