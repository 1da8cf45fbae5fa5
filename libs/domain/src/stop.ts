import { type DomainEvent, type EventData, event } from '@bulwark/contracts';
import type { Decider } from './decider';
import { clientOrderIdFor } from './ids';
import { crossing, type Crossing } from './market-path';
import { dec, str } from './money';
import { err, ok, type Rejection, assertNever } from './result';

/** Internal stop and take-profit of one position (stream `stop-<positionStreamId>`). */
export interface StopState {
  status: 'NONE' | 'ARMED' | 'TRIGGERED' | 'CANCELLED';
  placed: EventData<'StopPlaced'> | null;
  attempts: number;
}

export type StopCommand =
  | { kind: 'PlaceStop'; stop: EventData<'StopPlaced'> }
  | { kind: 'EvaluateStep'; step: { from: string; to: string; gap: boolean } }
  | { kind: 'CancelStop'; reason: EventData<'StopCancelled'>['reason'] };

export type StopRejection = Rejection<'STOP_EXISTS' | 'NO_STOP' | 'STOP_ON_WRONG_SIDE'>;

export function stopInitialState(): StopState {
  return { status: 'NONE', placed: null, attempts: 0 };
}

export function stopEvolve(s: StopState, e: DomainEvent): StopState {
  switch (e.type) {
    case 'StopPlaced':
      return { ...s, status: 'ARMED', placed: e.data };
    case 'StopTriggered':
      return { ...s, status: 'TRIGGERED', attempts: e.data.attempt };
    case 'StopCancelled':
      return { ...s, status: 'CANCELLED' };
    default:
      return s;
  }
}

/**
 * The first of the stop-loss and take-profit that the step reaches. A long's stop is met
 * going down and its target going up; a short's the reverse. When both are met on one
 * step (a gap over both is impossible, a continuous step moves one way), the earlier
 * fraction wins; a tie goes to the stop-loss (the conservative reading).
 */
function firstTrigger(p: EventData<'StopPlaced'>, step: { from: string; to: string; gap: boolean }): { kind: 'STOP_LOSS' | 'TAKE_PROFIT'; at: Crossing; level: string } | null {
  const long = p.positionSide === 'LONG';
  const sl = crossing(step, dec(p.stopPrice), long ? 'down' : 'up');
  const tp = p.takeProfitPrice === null ? null : crossing(step, dec(p.takeProfitPrice), long ? 'up' : 'down');
  if (sl && (!tp || sl.fraction.lte(tp.fraction))) return { kind: 'STOP_LOSS', at: sl, level: p.stopPrice };
  if (tp) return { kind: 'TAKE_PROFIT', at: tp, level: p.takeProfitPrice! };
  return null;
}

/**
 * The stop decider (stop-monitor service). When the mark path crosses the stop or the
 * target it emits `StopTriggered`, carrying the market reduce-only close order to send
 * (deterministic client order id, side opposite the position, the position's quantity).
 */
export const stopDecider: Decider<StopCommand, StopState, StopRejection> = {
  initialState: stopInitialState,
  evolve: stopEvolve,
  decide(c, s) {
    switch (c.kind) {
      case 'PlaceStop': {
        if (s.status !== 'NONE') return err({ code: 'STOP_EXISTS', message: `stop for ${c.stop.positionStreamId} already placed` });
        const long = c.stop.positionSide === 'LONG';
        const stop = dec(c.stop.stopPrice);
        const tp = c.stop.takeProfitPrice === null ? null : dec(c.stop.takeProfitPrice);
        if (tp !== null && (long ? tp.lte(stop) : tp.gte(stop)))
          return err({ code: 'STOP_ON_WRONG_SIDE', message: `take-profit ${str(tp)} is not beyond stop ${str(stop)} for a ${c.stop.positionSide}` });
        return ok([event('StopPlaced', c.stop)]);
      }
      case 'EvaluateStep': {
        if (s.status !== 'ARMED' || !s.placed) return ok([]);
        const hit = firstTrigger(s.placed, c.step);
        if (!hit) return ok([]);
        const attempt = s.attempts + 1;
        const n = s.placed.positionStreamId.split('-').pop();
        return ok([
          event('StopTriggered', {
            kind: hit.kind,
            triggerPrice: str(hit.at.price),
            level: hit.level,
            closeClientOrderId: clientOrderIdFor(s.placed.accountId, `${n}x${attempt}`, hit.kind === 'STOP_LOSS' ? 'S' : 'T'),
            side: s.placed.positionSide === 'LONG' ? 'SELL' : 'BUY',
            quantity: s.placed.quantity,
            attempt,
          }),
        ]);
      }
      case 'CancelStop':
        if (s.status === 'NONE') return err({ code: 'NO_STOP', message: 'no stop to cancel' });
        if (s.status === 'CANCELLED') return ok([]);
        return ok([event('StopCancelled', { reason: c.reason })]);
      default:
        return assertNever(c);
    }
  },
};
