import {
  type Bracket,
  type D,
  GUARD_DEFAULTS,
  initialMargin,
  liquidationPrice,
  maintenanceMargin,
  marginRatio,
  type PositionState,
  str,
  unrealisedPnl,
} from '@bulwark/domain';
import type { PositionView } from './views';

/*
 * The risk of one open isolated position at a mark price, with the inputs the stop-monitor's
 * guards use (libs/application/src/stop-monitor.service.ts): the position's isolated wallet
 * balance is its initial margin at the fill (entry notional ÷ leverage), the brackets are the
 * instrument's recorded leverage brackets, the thresholds GUARD_DEFAULTS.
 */

/** The risk fields of a PositionView (decimal strings; see views.ts for each one's meaning). */
export type PositionRisk = Pick<
  PositionView,
  'notional' | 'isolatedMargin' | 'unrealisedPnl' | 'liquidationPrice' | 'liquidationDistance' | 'liquidationDistanceShare' | 'marginRatio' | 'maintenanceMargin'
>;

/** The guard thresholds of the stop-monitor, for colouring a meter. */
export const GUARD_THRESHOLDS = {
  marginRatioWarn: GUARD_DEFAULTS.marginRatioWarn,
  marginRatioClose: GUARD_DEFAULTS.marginRatioClose,
  liquidationDistanceWarn: GUARD_DEFAULTS.liquidationDistanceWarn,
  liquidationDistanceClose: GUARD_DEFAULTS.liquidationDistanceClose,
} as const;

/**
 * Risk of an open position at `markPrice`.
 * - isolated margin = initial margin of the entry notional at the position's leverage;
 * - liquidation price = the domain's `liquidationPrice` (Binance isolated, one-way) with that
 *   wallet balance; null when the position cannot be liquidated or `brackets` is null (no
 *   InstrumentRulesRecorded for the instrument in the log);
 * - liquidation distance = |mark − LP| ÷ mark; distance share = (mark − LP) ÷ (entry − LP),
 *   the share of the entry-to-liquidation distance left, which the liquidation-distance guard compares;
 * - maintenance margin at the mark notional, margin ratio = MM ÷ (isolated margin + unrealised PnL)
 *   (domain `marginRatio`; null when the margin balance is <= 0).
 * @param state an OPEN position (quantity > 0, entry > 0, leverage >= 1)
 * @param closeFeeRate the venue's closing-fee rate in the liquidation price (domain `liquidationCloseFeeRate`; default 0)
 * @throws RangeError from the domain for a position that is not open (a programming error)
 */
export function positionRisk(state: PositionState, markPrice: D, brackets: Bracket[] | null, closeFeeRate?: D): PositionRisk {
  if (state.status !== 'OPEN' || state.side === null || !state.quantity.gt(0)) throw new RangeError(`positionRisk: the position is ${state.status}, not open`);
  const isolated = initialMargin(state.quantity.mul(state.entryPrice), state.leverage);
  const pnl = unrealisedPnl(state, markPrice);
  const notional = state.quantity.mul(markPrice);
  const out: PositionRisk = {
    notional: str(notional), isolatedMargin: str(isolated), unrealisedPnl: str(pnl),
    liquidationPrice: null, liquidationDistance: null, liquidationDistanceShare: null, marginRatio: null, maintenanceMargin: null,
  };
  if (!brackets || brackets.length === 0) return out;
  const lp: D | null = liquidationPrice({ side: state.side, quantity: state.quantity, entryPrice: state.entryPrice, walletBalance: isolated, brackets, closeFeeRate }).price;
  const mm = maintenanceMargin(notional, brackets).maintenanceMargin;
  const mr = marginRatio(mm, isolated.plus(pnl));
  out.maintenanceMargin = str(mm);
  out.marginRatio = mr === null ? null : str(mr);
  if (lp !== null) {
    out.liquidationPrice = str(lp);
    if (markPrice.gt(0)) out.liquidationDistance = str(markPrice.minus(lp).abs().div(markPrice));
    const span = state.entryPrice.minus(lp);
    if (!span.isZero()) out.liquidationDistanceShare = str(markPrice.minus(lp).div(span));
  }
  return out;
}
