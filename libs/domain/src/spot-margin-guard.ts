import { type DomainEvent, event } from '@bulwark/contracts';
import type { Decider } from './decider';
import { dec, str, type D } from './money';
import { err, ok, type Rejection, type Result, assertNever } from './result';
import {
  DEFAULT_MARGIN_LEVEL_BARS,
  type MarginCallReductionInput,
  decideMarginCallReduction,
  isolatedMarginEquity,
  marginLevelCrossings,
} from './spot-margin';

/** The guard of one spot isolated-margin pair (stream `margin-<accountId>-<symbol>`). */
export interface SpotMarginGuardState {
  /** The margin level at the last recorded crossing (null: nothing borrowed / not seen yet). */
  lastLevel: D | null;
  reductions: number;
}

/** Observe a pair's balances at a price; the reduction inputs are the same as `decideMarginCallReduction`'s. */
export type SpotMarginGuardCommand = MarginCallReductionInput & {
  kind: 'ObserveMarginLevel';
  accountId: string;
  symbol: string;
  /** Reduce automatically when the level reaches the margin-call bar (optional, per account). */
  autoReduce: boolean;
};

export function spotMarginGuardInitialState(): SpotMarginGuardState {
  return { lastLevel: null, reductions: 0 };
}

export function spotMarginGuardEvolve(s: SpotMarginGuardState, e: DomainEvent): SpotMarginGuardState {
  switch (e.type) {
    case 'MarginLevelAlert':
      return { ...s, lastLevel: e.data.marginLevel === null ? null : dec(e.data.marginLevel) };
    case 'MarginCallReductionTriggered':
      return { ...s, reductions: s.reductions + 1 };
    default:
      return s;
  }
}

/**
 * The spot isolated-margin guard (Binance margin level = total asset value ÷ (borrowed +
 * interest), see spot-margin.ts): one `MarginLevelAlert` per bar crossed since the last
 * crossing, both ways, and — when enabled — `MarginCallReductionTriggered` with the
 * quantity that brings the level back to the borrow bar, each time the level falls to the
 * margin-call bar or below. The zone changes only at a crossing, so comparing with the
 * level of the last recorded crossing finds every crossing.
 */
export const spotMarginGuardDecider: Decider<SpotMarginGuardCommand, SpotMarginGuardState, Rejection<'INVALID_INPUT'>> = {
  initialState: spotMarginGuardInitialState,
  evolve: spotMarginGuardEvolve,
  decide(c, s): Result<DomainEvent[], Rejection<'INVALID_INPUT'>> {
    switch (c.kind) {
      case 'ObserveMarginLevel': {
        const bars = c.bars ?? DEFAULT_MARGIN_LEVEL_BARS;
        let level: D | null;
        try {
          level = isolatedMarginEquity({ ...c.balances, price: c.price }).marginLevel;
        } catch (e) {
          return err({ code: 'INVALID_INPUT', message: (e as Error).message });
        }
        const out: DomainEvent[] = marginLevelCrossings(s.lastLevel, level, bars).map((x) =>
          event('MarginLevelAlert', {
            accountId: c.accountId, symbol: c.symbol, bar: x.bar, threshold: str(x.threshold), direction: x.direction,
            marginLevel: level === null ? null : str(level), price: str(c.price),
          }),
        );
        const fellToMarginCall = out.some((e) => e.type === 'MarginLevelAlert' && e.data.bar === 'marginCall' && e.data.direction === 'DOWN');
        if (c.autoReduce && fellToMarginCall) {
          const r = decideMarginCallReduction({ side: c.side, balances: c.balances, price: c.price, takerFeeRate: c.takerFeeRate, stepSize: c.stepSize, bars });
          if (!r.ok) return r;
          if (r.value.action === 'REDUCE') {
            out.push(event('MarginCallReductionTriggered', { accountId: c.accountId, symbol: c.symbol, orderSide: r.value.orderSide, quantity: r.value.quantity, marginLevel: r.value.marginLevel, price: str(c.price) }));
          }
        }
        return ok(out);
      }
      default:
        return assertNever(c.kind);
    }
  },
};
