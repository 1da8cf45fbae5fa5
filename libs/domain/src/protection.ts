import type { PositionSide, ProtectionGuards } from '@bulwark/contracts';
import { liquidationPrice } from './liquidation';
import { dec, str, type D } from './money';
import { bracketForNotional, type Bracket } from './rules';

/** Thresholds of the position guards (docs/risk.md). */
export const GUARD_DEFAULTS = {
  /** Margin ratio (maintenance margin ÷ margin balance) that raises a warning / forces a close. */
  marginRatioWarn: '0.9',
  marginRatioClose: '0.95',
  /** Share of the entry-to-liquidation distance left that raises a warning / forces a close. */
  liquidationDistanceWarn: '0.1',
  liquidationDistanceClose: '0.05',
} as const;

/**
 * The mark price at which an isolated position's margin ratio reaches `r`.
 *
 * Margin ratio = MM ÷ (WB + uPnL) with MM = Q·P·MMR − cum (Binance USDⓈ-M, "How to
 * Calculate Liquidation Price"); solving MM = r·(WB + uPnL) for P:
 * - long (uPnL = (P − EP)·Q):  P = (r·(Q·EP − WB) − cum) / (Q·(r − MMR))
 * - short (uPnL = (EP − P)·Q): P = (r·(Q·EP + WB) + cum) / (Q·(r + MMR))
 * At r = 1 these are the liquidation-price formulas. The bracket is chosen by the notional
 * at the solved price (iterated, bounded, like the liquidation price).
 * @returns the price, or null when it is not positive or not reachable (r <= MMR for a long).
 */
export function marginRatioPrice(side: PositionSide, quantity: D, entryPrice: D, walletBalance: D, brackets: Bracket[], r: D): D | null {
  const solve = (b: Bracket): D | null => {
    if (side === 'LONG') {
      const denom = quantity.mul(r.minus(b.maintMarginRatio));
      if (denom.lte(0)) return null;
      return r.mul(quantity.mul(entryPrice).minus(walletBalance)).minus(b.cum).div(denom);
    }
    return r.mul(quantity.mul(entryPrice).plus(walletBalance)).plus(b.cum).div(quantity.mul(r.plus(b.maintMarginRatio)));
  };
  let b = bracketForNotional(brackets, quantity.mul(entryPrice));
  let p: D | null = null;
  for (let i = 0; i <= brackets.length; i++) {
    p = solve(b);
    if (p === null || p.lte(0)) return null;
    const next = bracketForNotional(brackets, quantity.mul(p));
    if (next === b) break;
    b = next;
  }
  return p !== null && p.gt(0) ? p : null;
}

/**
 * Guard levels of an isolated position beyond its own stop: the margin-ratio warning and
 * forced-close prices, and the prices at which only 10 % / 5 % of the entry-to-liquidation
 * distance is left (LP + share × (EP − LP), both sides).
 * @param walletBalance the position's isolated margin (USDT)
 */
export function protectionGuards(input: {
  side: PositionSide;
  quantity: D;
  entryPrice: D;
  walletBalance: D;
  brackets: Bracket[];
  /** The venue's closing-fee rate in the liquidation price (`liquidationCloseFeeRate`; default 0). */
  closeFeeRate?: D;
  thresholds?: Partial<Record<keyof typeof GUARD_DEFAULTS, string>>;
}): ProtectionGuards {
  const t = { ...GUARD_DEFAULTS, ...input.thresholds };
  const lp = liquidationPrice(input).price;
  const mr = (r: string) => marginRatioPrice(input.side, input.quantity, input.entryPrice, input.walletBalance, input.brackets, dec(r));
  const dist = (share: string) => (lp === null ? null : lp.plus(input.entryPrice.minus(lp).mul(share)));
  const s = (d: D | null) => (d === null ? null : str(d));
  return {
    liquidationPrice: s(lp),
    marginRatioWarnPrice: s(mr(t.marginRatioWarn)),
    marginRatioClosePrice: s(mr(t.marginRatioClose)),
    liquidationDistanceWarnPrice: s(dist(t.liquidationDistanceWarn)),
    liquidationDistanceClosePrice: s(dist(t.liquidationDistanceClose)),
  };
}
