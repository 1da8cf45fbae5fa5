import { type DomainEvent, type EventData, event } from '@bulwark/contracts';
import type { Decider } from './decider';
import { clientOrderIdFor } from './ids';
import { crossing, type Crossing } from './market-path';
import { dec, str } from './money';
import { GUARD_DEFAULTS } from './protection';
import { err, ok, type Rejection, assertNever } from './result';

type TriggerKind = EventData<'StopTriggered'>['kind'];
type WarningKind = EventData<'ProtectionWarning'>['kind'];

/** Internal stop, take-profit and guards of one position (stream `stop-<positionStreamId>`). */
export interface StopState {
  status: 'NONE' | 'ARMED' | 'TRIGGERED' | 'CANCELLED';
  placed: EventData<'StopPlaced'> | null;
  attempts: number;
  warned: ReadonlySet<WarningKind>;
}

export type StopCommand =
  | { kind: 'PlaceStop'; stop: EventData<'StopPlaced'> }
  | { kind: 'EvaluateStep'; step: { from: string; to: string; gap: boolean } }
  | { kind: 'CancelStop'; reason: EventData<'StopCancelled'>['reason'] };

export type StopRejection = Rejection<'STOP_EXISTS' | 'NO_STOP' | 'STOP_ON_WRONG_SIDE'>;

export function stopInitialState(): StopState {
  return { status: 'NONE', placed: null, attempts: 0, warned: new Set() };
}

export function stopEvolve(s: StopState, e: DomainEvent): StopState {
  switch (e.type) {
    case 'StopPlaced':
      return { ...s, status: 'ARMED', placed: e.data };
    case 'ProtectionWarning':
      return { ...s, warned: new Set([...s.warned, e.data.kind]) };
    case 'StopTriggered':
      return { ...s, status: 'TRIGGERED', attempts: e.data.attempt };
    case 'StopCancelled':
      return { ...s, status: 'CANCELLED' };
    default:
      return s;
  }
}

interface Hit {
  kind: TriggerKind;
  at: Crossing;
  level: string;
  /** Order of precedence at the same point of the step: protect first. */
  rank: number;
}

/**
 * Every close level the step reaches: a long's stop, guards and liquidation-side levels are
 * met going down, its target going up; a short's the reverse. The earliest along the step
 * wins; at the same point a forced close outranks the stop, the stop the target.
 */
function closeHits(p: EventData<'StopPlaced'>, step: { from: string; to: string; gap: boolean }): Hit[] {
  const adverse = p.positionSide === 'LONG' ? 'down' : 'up';
  const favourable = p.positionSide === 'LONG' ? 'up' : 'down';
  const hits: Hit[] = [];
  const add = (kind: TriggerKind, level: string | null, dir: 'down' | 'up', rank: number) => {
    if (level === null) return;
    const at = crossing(step, dec(level), dir);
    if (at) hits.push({ kind, at, level, rank });
  };
  add('LIQUIDATION_DISTANCE', p.guards.liquidationDistanceClosePrice, adverse, 0);
  add('MARGIN_RATIO', p.guards.marginRatioClosePrice, adverse, 1);
  add('STOP_LOSS', p.stopPrice, adverse, 2);
  add('TAKE_PROFIT', p.takeProfitPrice, favourable, 3);
  return hits.sort((a, b) => a.at.fraction.comparedTo(b.at.fraction) || a.rank - b.rank);
}

/**
 * The stop decider (stop-monitor service). When the mark path crosses the stop, the target
 * or a guard's forced-close level it emits `StopTriggered`, carrying the market reduce-only
 * close order to send (deterministic client order id, side opposite the position, the
 * position's quantity); guard warning levels (margin ratio 90 %, 10 % of the distance to
 * liquidation left) emit one `ProtectionWarning` each.
 */
export const stopDecider: Decider<StopCommand, StopState, StopRejection> = {
  initialState: stopInitialState,
  evolve: stopEvolve,
  decide(c, s) {
    switch (c.kind) {
      case 'PlaceStop': {
        if (s.status !== 'NONE') return err({ code: 'STOP_EXISTS', message: `stop for ${c.stop.positionStreamId} already placed` });
        // The stop is not checked against the fill price: a fill beyond the stop (a gap at the
        // open) must still be protected, and the next step then closes it at once.
        const long = c.stop.positionSide === 'LONG';
        const stop = dec(c.stop.stopPrice);
        const tp = c.stop.takeProfitPrice === null ? null : dec(c.stop.takeProfitPrice);
        if (tp !== null && (long ? tp.lte(stop) : tp.gte(stop)))
          return err({ code: 'STOP_ON_WRONG_SIDE', message: `take-profit ${str(tp)} is not beyond stop ${str(stop)} for a ${c.stop.positionSide}` });
        return ok([event('StopPlaced', c.stop)]);
      }
      case 'EvaluateStep': {
        if (s.status !== 'ARMED' || !s.placed) return ok([]);
        const p = s.placed;
        const adverse = p.positionSide === 'LONG' ? 'down' : 'up';
        const [hit] = closeHits(p, c.step);
        const out: DomainEvent[] = [];
        const warn = (kind: WarningKind, level: string | null, threshold: string) => {
          if (level === null || s.warned.has(kind)) return;
          const at = crossing(c.step, dec(level), adverse);
          if (at && (!hit || at.fraction.lte(hit.at.fraction))) {
            out.push(event('ProtectionWarning', { kind, level, observedPrice: str(at.price), threshold }));
          }
        };
        warn('MARGIN_RATIO', p.guards.marginRatioWarnPrice, GUARD_DEFAULTS.marginRatioWarn);
        warn('LIQUIDATION_DISTANCE', p.guards.liquidationDistanceWarnPrice, GUARD_DEFAULTS.liquidationDistanceWarn);
        if (hit) {
          const attempt = s.attempts + 1;
          const n = p.positionStreamId.split('-').pop();
          const letter = hit.kind === 'TAKE_PROFIT' ? 'T' : hit.kind === 'STOP_LOSS' ? 'S' : 'C';
          out.push(
            event('StopTriggered', {
              kind: hit.kind,
              triggerPrice: str(hit.at.price),
              level: hit.level,
              closeClientOrderId: clientOrderIdFor(p.accountId, `${n}x${attempt}`, letter),
              side: p.positionSide === 'LONG' ? 'SELL' : 'BUY',
              quantity: p.quantity,
              attempt,
            }),
          );
        }
        return ok(out);
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
