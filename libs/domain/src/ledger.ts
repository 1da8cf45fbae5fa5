import type { D } from './money';

/*
 * The two money formulas of the ledger, one definition each (accounting's ledger, the
 * projections and the audits use these; a position's closing event records the same net PnL).
 * All amounts in USDT: fees positive = paid; funding signed, + received, − paid.
 */

/** What the wallet balance is made of: the account's capital and its booked totals (USDT). */
export interface LedgerTotals {
  capital: D;
  /** Σ gross realised PnL of reduces, closes and liquidations. */
  realisedPnl: D;
  /** Σ trading fees of every position fill. */
  fees: D;
  /** Σ funding settled. */
  funding: D;
  /** Σ liquidation clearance fees. */
  liquidationFees: D;
}

/**
 * Wallet balance (USDT) = capital + realised PnL − fees + funding − liquidation fees.
 * Equity is this plus the unrealised PnL of the open positions at their mark prices.
 */
export function walletBalanceOf(l: LedgerTotals): D {
  return l.capital.plus(l.realisedPnl).minus(l.fees).plus(l.funding).minus(l.liquidationFees);
}

/**
 * Net PnL of one position lifecycle (USDT) = realised PnL − fees + funding − liquidation fee:
 * what it added to the wallet balance (the `netPnl` of its PositionClosed / PositionLiquidated).
 */
export function netPnlOf(p: { realisedPnl: D; fees: D; funding: D; liquidationFee: D }): D {
  return p.realisedPnl.minus(p.fees).plus(p.funding).minus(p.liquidationFee);
}
