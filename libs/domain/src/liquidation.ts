import type { PositionSide } from '@bulwark/contracts';
import { D, ONE, ZERO } from './money';
import { bracketForNotional, type Bracket, type Rules } from './rules';

/*
 * Binance USDⓈ-M margin and liquidation math, isolated margin, one-way mode.
 * Source: Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Contracts",
 * https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93
 * With isolated margin the FAQ's TMM (other contracts' maintenance margin) and UPNL (other
 * contracts' unrealised PnL) are 0 and WB is the position's isolated wallet balance, so
 *   LP = (WB + cum − side × Q × EP) / (Q × MMR − side × Q),   side = 1 long, −1 short,
 * i.e. long  LP = (Q·EP − WB − cum) / (Q·(1 − MMR)),
 *      short LP = (Q·EP + WB + cum) / (Q·(1 + MMR)).
 * The FAQ's note: when the position at the liquidation price falls in another bracket than
 * at the entry price, recompute with that bracket's MMR and maintenance amount (cum).
 *
 * Bitget USDT-M isolated margin adds the taker fee rate of the closing trade to the MMR:
 *   long LP = (Q·EP − margin − offset) / (Q·(1 − MMR − fee)),
 *   short LP = (Q·EP + margin + offset) / (Q·(1 + MMR + fee)),
 * with Bitget's "offset" the same quantity as Binance's cum (parseBitgetUsdtmRules derives
 * it). Source: Bitget help center, "Liquidation price calculation (isolated margin)",
 * https://www.bitget.com/support/articles/12560603808759 . So one formula serves both venues
 * with a closing-fee rate f: 0 on Binance, the taker fee rate on Bitget
 * (`liquidationCloseFeeRate`).
 */

/**
 * The closing-fee rate a venue's isolated liquidation price reserves (fraction of notional):
 * Bitget USDT-M adds its taker fee rate to the MMR; Binance USDⓈ-M reserves none (its
 * liquidation clearance fee is charged after liquidation, not priced into LP).
 */
export function liquidationCloseFeeRate(rules: Pick<Rules, 'venue' | 'takerFeeRate'>): D {
  return rules.venue === 'bitget-usdtm' ? rules.takerFeeRate : ZERO;
}

/**
 * Maintenance margin of a position notional (USDT): `MM = notional × MMR − cum`, with MMR
 * and cum ("maintenance amount") from the bracket that contains the notional.
 * Because cum_n = cum_(n-1) + floor_n × (mmr_n − mmr_(n-1)), MM is continuous in the notional.
 */
export function maintenanceMargin(
  notional: D,
  brackets: Bracket[],
): { bracket: Bracket; maintMarginRatio: D; maintAmount: D; maintenanceMargin: D } {
  const bracket = bracketForNotional(brackets, notional);
  return {
    bracket,
    maintMarginRatio: bracket.maintMarginRatio,
    maintAmount: bracket.cum,
    maintenanceMargin: notional.mul(bracket.maintMarginRatio).minus(bracket.cum),
  };
}

/**
 * Initial margin of a position notional (USDT) at an integer leverage: `notional / leverage`.
 * @throws RangeError if leverage is not an integer >= 1 (a programming error: callers validate).
 */
export function initialMargin(notional: D, leverage: number): D {
  if (!Number.isInteger(leverage) || leverage < 1) throw new RangeError(`initialMargin: leverage must be an integer >= 1, got ${leverage}`);
  return notional.div(leverage);
}

/** The liquidation price a single bracket gives (formula above, full precision); `f` the closing-fee rate. */
function priceWithBracket(side: PositionSide, q: D, ep: D, wb: D, b: Bracket, f: D): D {
  const notional = q.mul(ep);
  return side === 'LONG'
    ? notional.minus(wb).minus(b.cum).div(q.mul(ONE.minus(b.maintMarginRatio).minus(f)))
    : notional.plus(wb).plus(b.cum).div(q.mul(ONE.plus(b.maintMarginRatio).plus(f)));
}

/**
 * Liquidation price of an isolated position in one-way mode (Binance FAQ and Bitget above).
 *
 * The bracket is first chosen by the position notional Q·EP, then re-checked with the
 * bracket at the liquidation notional Q·LP, until the bracket is stable. For contiguous
 * brackets with consistent cum and non-decreasing MMR (what `parseBinanceUsdmRules`
 * enforces) maintenance margin is continuous and convex in the notional, so this converges
 * within brackets.length steps to the one price where margin balance = maintenance margin.
 * The loop is still bounded; if it ever cycles (inconsistent brackets) the more
 * conservative candidate is taken — the one closer to entry, i.e. the highest long
 * liquidation price or the lowest short one — because liquidating earlier than we predict
 * is the failure that costs money.
 *
 * @param input.quantity position size in the base asset (> 0); entryPrice USDT (> 0);
 *   walletBalance the isolated wallet balance (the position's margin), USDT; closeFeeRate
 *   the venue's closing-fee rate (`liquidationCloseFeeRate(rules)`; default 0, Binance).
 * @returns `price` unrounded (40 significant digits), or null when the formula gives <= 0
 *   (the position cannot be liquidated, e.g. a 1x long); the bracket, MMR and maintenance
 *   amount the price was computed with.
 * @throws RangeError for a non-positive quantity or entry price, a closeFeeRate outside [0, 1), or no brackets.
 */
export function liquidationPrice(input: { side: PositionSide; quantity: D; entryPrice: D; walletBalance: D; brackets: Bracket[]; closeFeeRate?: D }): {
  price: D | null;
  bracket: Bracket;
  maintMarginRatio: D;
  maintAmount: D;
} {
  const { side, quantity: q, entryPrice: ep, walletBalance: wb, brackets } = input;
  const f = input.closeFeeRate ?? ZERO;
  if (!f.isFinite() || f.lt(0) || f.gte(1)) throw new RangeError(`liquidationPrice: closeFeeRate must be in [0, 1), got ${f.toString()}`);
  if (!q.isFinite() || !q.gt(0)) throw new RangeError(`liquidationPrice: quantity must be > 0, got ${q.toString()}`);
  if (!ep.isFinite() || !ep.gt(0)) throw new RangeError(`liquidationPrice: entryPrice must be > 0, got ${ep.toString()}`);
  if (!wb.isFinite()) throw new RangeError(`liquidationPrice: walletBalance must be finite, got ${wb.toString()}`);

  const result = (price: D, b: Bracket) => ({ price: price.gt(0) ? price : null, bracket: b, maintMarginRatio: b.maintMarginRatio, maintAmount: b.cum });

  let b = bracketForNotional(brackets, q.mul(ep));
  const tried: { bracket: Bracket; price: D }[] = [];
  for (let i = 0; i <= brackets.length + 1; i++) {
    const price = priceWithBracket(side, q, ep, wb, b, f);
    // A price <= 0 has no meaningful notional; bracketForNotional maps it to the first bracket.
    const next = bracketForNotional(brackets, q.mul(price));
    if (next === b) return result(price, b);
    tried.push({ bracket: b, price });
    if (tried.some((t) => t.bracket === next)) break; // cycle
    b = next;
  }
  // Unreachable for consistent brackets (see above); defensive: the conservative candidate.
  const pick = tried.reduce((best, t) => ((side === 'LONG' ? t.price.gt(best.price) : t.price.lt(best.price)) ? t : best));
  return result(pick.price, pick.bracket);
}

/**
 * Binance margin ratio: maintenance margin ÷ margin balance (margin balance = wallet
 * balance + unrealised PnL; for an isolated position, its isolated margin + its PnL).
 * At 1 (100 %) the position is liquidated.
 * @returns the ratio, or null when the margin balance is <= 0 (already past liquidation).
 */
export function marginRatio(maintenanceMargin: D, marginBalance: D): D | null {
  if (!marginBalance.gt(0)) return null;
  return maintenanceMargin.div(marginBalance);
}
