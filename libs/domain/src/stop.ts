import { type DomainEvent, type EventData, event, parsePositionStreamId } from '@bulwark/contracts';
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
  /** The levels and the quantity now covered (StopResized keeps quantity, entry and guards current). */
  placed: EventData<'StopPlaced'> | null;
  /** Close orders sent so far (the attempt number of the last StopTriggered). */
  attempts: number;
  warned: ReadonlySet<WarningKind>;
  /** What triggered the close (kept for the retries). */
  trigger: { kind: TriggerKind; level: string } | null;
  /** Client order id of the close in flight; null when none is (before the trigger, or after it failed). */
  closing: string | null;
  /** Closes that ended without closing the position. */
  failures: number;
  /** Market time (epoch ms) from which the next close is sent; null while a close is in flight. */
  retryAt: number | null;
}

/** A step of the mark path: prices as decimal strings, `ts` its market time (epoch ms). */
export interface StopStep {
  from: string;
  to: string;
  gap: boolean;
  ts: number;
}

export type StopCommand =
  | { kind: 'PlaceStop'; stop: EventData<'StopPlaced'> }
  | { kind: 'EvaluateStep'; step: StopStep }
  | { kind: 'CancelStop'; reason: EventData<'StopCancelled'>['reason'] }
  /** The position changed size: cover `quantity` (guards recomputed by the caller at the new entry). */
  | { kind: 'ResizeStop'; resize: EventData<'StopResized'> }
  /** The close order `closeClientOrderId` ended without closing the position (rejected, denied, expired, cancelled). */
  | { kind: 'RecordCloseFailure'; closeClientOrderId: string; code: string; message: string; ts: number };

export type StopRejection = Rejection<'STOP_EXISTS' | 'NO_STOP' | 'STOP_ON_WRONG_SIDE'>;

/** After this many failed closes `ProtectionFailed` is recorded (once); retrying goes on. */
export const PROTECTION_FAILED_AFTER = 3;

/**
 * Market-time wait before close attempt `failures + 1`: 1 s, 2 s, 4 s … capped at 60 s
 * (full attempts, no jitter: replays must stay deterministic).
 * @param failures closes failed so far (≥ 1)
 * @returns milliseconds
 */
export function closeRetryDelayMs(failures: number): number {
  return Math.min(60_000, 1000 * 2 ** Math.max(0, failures - 1));
}

export function stopInitialState(): StopState {
  return { status: 'NONE', placed: null, attempts: 0, warned: new Set(), trigger: null, closing: null, failures: 0, retryAt: null };
}

export function stopEvolve(s: StopState, e: DomainEvent): StopState {
  switch (e.type) {
    case 'StopPlaced':
      return { ...s, status: 'ARMED', placed: e.data };
    case 'ProtectionWarning':
      return { ...s, warned: new Set([...s.warned, e.data.kind]) };
    case 'StopTriggered':
      return { ...s, status: 'TRIGGERED', attempts: e.data.attempt, trigger: { kind: e.data.kind, level: e.data.level }, closing: e.data.closeClientOrderId, retryAt: null };
    case 'StopResized':
      return s.placed ? { ...s, placed: { ...s.placed, quantity: e.data.quantity, entryPrice: e.data.entryPrice, guards: e.data.guards } } : s;
    case 'CloseRejected':
      return { ...s, closing: null, failures: s.failures + 1, retryAt: e.data.retryAt };
    case 'StopCancelled':
      return { ...s, status: 'CANCELLED', closing: null, retryAt: null };
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
  const path = { from: dec(step.from), to: dec(step.to), gap: step.gap }; // parsed once for the four levels
  const add = (kind: TriggerKind, level: string | null, dir: 'down' | 'up', rank: number) => {
    if (level === null) return;
    const at = crossing(path, dec(level), dir);
    if (at) hits.push({ kind, at, level, rank });
  };
  add('LIQUIDATION_DISTANCE', p.guards.liquidationDistanceClosePrice, adverse, 0);
  add('MARGIN_RATIO', p.guards.marginRatioClosePrice, adverse, 1);
  add('STOP_LOSS', p.stopPrice, adverse, 2);
  add('TAKE_PROFIT', p.takeProfitPrice, favourable, 3);
  return hits.sort((a, b) => a.at.fraction.comparedTo(b.at.fraction) || a.rank - b.rank);
}

/** The `StopTriggered` of close attempt `attempt` (deterministic client order id `<n>x<attempt><S|T|C>`). */
function triggered(p: EventData<'StopPlaced'>, kind: TriggerKind, level: string, price: string, attempt: number): DomainEvent {
  const n = parsePositionStreamId(p.positionStreamId)?.sequence;
  const letter = kind === 'TAKE_PROFIT' ? 'T' : kind === 'STOP_LOSS' ? 'S' : 'C';
  return event('StopTriggered', {
    kind,
    triggerPrice: price,
    level,
    closeClientOrderId: clientOrderIdFor(p.accountId, `${n}x${attempt}`, letter),
    side: p.positionSide === 'LONG' ? 'SELL' : 'BUY',
    quantity: p.quantity,
    attempt,
    accountId: p.accountId,
    venue: p.venue,
    symbol: p.symbol,
  });
}

/**
 * The stop decider (stop-monitor service). When the mark path crosses the stop, the target
 * or a guard's forced-close level it emits `StopTriggered`, carrying the market reduce-only
 * close order to send (deterministic client order id, side opposite the position, the
 * quantity the stop covers now); guard warning levels (margin ratio 90 %, 10 % of the
 * distance to liquidation left) emit one `ProtectionWarning` each.
 *
 * A close that ends without closing the position (`RecordCloseFailure`: the venue rejected
 * it, the kill switch denied it, it expired) records `CloseRejected` with the market time of
 * the next attempt ({@link closeRetryDelayMs}); the first step at or after that time sends
 * the close again (attempt + 1, same trigger kind, the covered quantity then). The third
 * failure also records `ProtectionFailed` (once); retrying goes on until the position is
 * flat (`CancelStop`). A failure of a close that is no longer the one in flight is ignored.
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
        if (s.status === 'TRIGGERED' && s.placed && s.trigger && s.retryAt !== null && c.step.ts >= s.retryAt) {
          const price = c.step.gap ? c.step.to : c.step.from;
          return ok([triggered(s.placed, s.trigger.kind, s.trigger.level, price, s.attempts + 1)]);
        }
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
        if (hit) out.push(triggered(p, hit.kind, hit.level, str(hit.at.price), s.attempts + 1));
        return ok(out);
      }
      case 'CancelStop':
        if (s.status === 'NONE') return err({ code: 'NO_STOP', message: 'no stop to cancel' });
        if (s.status === 'CANCELLED') return ok([]);
        return ok([event('StopCancelled', { reason: c.reason })]);
      case 'ResizeStop': {
        if (s.status === 'NONE' || !s.placed) return err({ code: 'NO_STOP', message: 'no stop to resize' });
        if (s.status === 'CANCELLED') return ok([]);
        const r = c.resize;
        if (dec(r.quantity).eq(dec(s.placed.quantity)) && dec(r.entryPrice).eq(dec(s.placed.entryPrice))) return ok([]);
        return ok([event('StopResized', r)]);
      }
      case 'RecordCloseFailure': {
        if (s.status !== 'TRIGGERED' || !s.placed || s.closing !== c.closeClientOrderId) return ok([]);
        const failures = s.failures + 1;
        const out: DomainEvent[] = [
          event('CloseRejected', { closeClientOrderId: c.closeClientOrderId, attempt: s.attempts, code: c.code, message: c.message, retryAt: c.ts + closeRetryDelayMs(failures) }),
        ];
        if (failures === PROTECTION_FAILED_AFTER) {
          const p = s.placed;
          out.push(event('ProtectionFailed', { positionStreamId: p.positionStreamId, accountId: p.accountId, venue: p.venue, symbol: p.symbol, attempts: failures, lastCode: c.code, lastMessage: c.message }));
        }
        return ok(out);
      }
      default:
        return assertNever(c);
    }
  },
};
