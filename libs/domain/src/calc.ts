import type { OrderSide, PositionSide, RiskAssessment } from '@bulwark/contracts';
import { dec, str } from './money';
import { initialMargin, liquidationCloseFeeRate, liquidationPrice, maintenanceMargin } from './liquidation';
import type { Rules } from './rules';
import { sizeEntry } from './sizing';

/*
 * The calculators behind `bulwark calc liquidation | size` and the gateway's
 * `POST /api/calc/liquidation | size`: one implementation, pure, on given instrument `Rules`.
 * Inputs are already validated decimals (strings); the callers parse flags or request bodies.
 */

/** What `calcLiquidation` needs: side, entry price (quote per base), quantity (base), leverage 1..125, isolated wallet balance (USDT; default the initial margin). */
export interface LiquidationCalcInput {
  side: PositionSide;
  entry: string;
  qty: string;
  leverage: number;
  walletBalance?: string;
}

/** The liquidation calculator's answer (decimals as strings, USDT unless said otherwise). */
export interface LiquidationCalcResult {
  venue: 'binance-usdm';
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  side: PositionSide;
  quantity: string;
  entryPrice: string;
  leverage: number;
  notional: string;
  initialMargin: string;
  walletBalance: string;
  walletBalanceIsInitialMargin: boolean;
  /** Bracket of the entry notional: its number, max leverage, notional range, MMR and maintenance amount (cum). */
  bracket: number;
  bracketMaxLeverage: number;
  notionalFloor: string;
  notionalCap: string;
  maintMarginRatio: string;
  maintAmount: string;
  /** notional × MMR − maintenance amount, at the entry. */
  maintenanceMargin: string;
  /** Full precision (40 significant digits), null when the position cannot be liquidated. */
  liquidationPrice: string | null;
  /** To the cent (half-even). */
  liquidationPriceRounded: string | null;
  /** The bracket the liquidation price was computed with (the one holding the liquidation notional). */
  liquidationBracket: number;
  liquidationMaintMarginRatio: string;
  liquidationMaintAmount: string;
  liquidationNotional: string | null;
  /** |entry − liquidation price| and that as % of the entry. */
  bufferToLiquidation: string | null;
  bufferToLiquidationPct: string | null;
  warnings: string[];
}

/**
 * Binance USDⓈ-M isolated liquidation price of one position (one-way mode), with the bracket,
 * maintenance margin, initial margin and the buffer from entry to liquidation.
 * Never throws for validated inputs; a leverage above the bracket's maximum is a warning.
 */
export function calcLiquidation(rules: Rules, o: LiquidationCalcInput): LiquidationCalcResult {
  const q = dec(o.qty);
  const entry = dec(o.entry);
  const notional = q.mul(entry);
  const im = initialMargin(notional, o.leverage);
  const wb = o.walletBalance === undefined ? im : dec(o.walletBalance);
  const mm = maintenanceMargin(notional, rules.brackets);
  const liq = liquidationPrice({ side: o.side, quantity: q, entryPrice: entry, walletBalance: wb, brackets: rules.brackets, closeFeeRate: liquidationCloseFeeRate(rules) });
  const lp = liq.price;
  const buffer = lp === null ? null : entry.minus(lp).abs();
  const warnings: string[] = [];
  if (o.leverage > mm.bracket.initialLeverage) {
    warnings.push(`${o.leverage}x is above the ${mm.bracket.initialLeverage}x that bracket ${mm.bracket.bracket} allows: Binance would refuse this position`);
  }
  if (lp === null) warnings.push('the wallet balance covers the whole position: it cannot be liquidated');
  return {
    venue: 'binance-usdm',
    symbol: rules.symbol,
    baseAsset: rules.baseAsset,
    quoteAsset: rules.quoteAsset,
    side: o.side,
    quantity: str(q),
    entryPrice: str(entry),
    leverage: o.leverage,
    notional: str(notional),
    initialMargin: str(im),
    walletBalance: str(wb),
    walletBalanceIsInitialMargin: o.walletBalance === undefined,
    bracket: mm.bracket.bracket,
    bracketMaxLeverage: mm.bracket.initialLeverage,
    notionalFloor: str(mm.bracket.notionalFloor),
    notionalCap: str(mm.bracket.notionalCap),
    maintMarginRatio: str(mm.maintMarginRatio),
    maintAmount: str(mm.maintAmount),
    maintenanceMargin: str(mm.maintenanceMargin),
    liquidationPrice: lp === null ? null : str(lp),
    liquidationPriceRounded: lp === null ? null : str(lp.toDecimalPlaces(2)),
    liquidationBracket: liq.bracket.bracket,
    liquidationMaintMarginRatio: str(liq.maintMarginRatio),
    liquidationMaintAmount: str(liq.maintAmount),
    liquidationNotional: lp === null ? null : str(q.mul(lp)),
    bufferToLiquidation: buffer === null ? null : str(buffer),
    bufferToLiquidationPct: buffer === null ? null : str(buffer.div(entry).mul(100).toDecimalPlaces(2)),
    warnings,
  };
}

/**
 * What `calcSize` needs (percentages in %, e.g. riskPct "1" = 1 % of equity; prices in quote per
 * base; money in USDT). The taker fee rate is the rules' (`rules.takerFeeRate`).
 */
export interface SizeCalcInput {
  side: PositionSide;
  entry: string;
  stop: string;
  takeProfit?: string;
  equity: string;
  riskPct: string;
  leverage: number;
  leverageCap: number;
  /** Default: the equity. */
  availableMargin?: string;
  maxMarginPct: string;
  liquidationBufferPct: string;
  /** The cost guard as a fraction of the risk amount (0.5 = 50 %), or null for off. */
  maxFeeRiskFraction: string | null;
}

/**
 * The size calculator's answer: the decision, the denial reason when there is one, and the
 * `sizeEntry` assessment (complete when approved, what was computed when denied, with
 * `maxQuantity`, `recommendedStop` and `maxLeverage` on the denials that say what would pass),
 * plus the maintenance margin and the rounded liquidation price of the sized position.
 */
export type SizeCalcResult = {
  venue: 'binance-usdm';
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  decision: 'APPROVED' | 'DENIED';
  reason: string | null;
  message: string | null;
  /** The isolated wallet balance the liquidation price assumes: the initial margin. */
  walletBalance: string | null;
  maintenanceMargin: string | null;
  liquidationPriceRounded: string | null;
} & Partial<RiskAssessment>;

/**
 * Size an entry for a stop with the risk service's own function (`sizeEntry`): risk % of
 * equity, fees included, within margin, leverage, bracket and lot limits. A denial is an
 * answer (decision DENIED with its code), not an error.
 */
export function calcSize(rules: Rules, o: SizeCalcInput): SizeCalcResult {
  const side: OrderSide = o.side === 'LONG' ? 'BUY' : 'SELL';
  const pct = (s: string) => dec(s).div(100);
  const r = sizeEntry({
    side,
    entryPrice: dec(o.entry),
    stopPrice: dec(o.stop),
    takeProfitPrice: o.takeProfit === undefined ? null : dec(o.takeProfit),
    equity: dec(o.equity),
    availableMargin: dec(o.availableMargin ?? o.equity),
    riskFraction: pct(o.riskPct),
    requestedLeverage: o.leverage,
    leverageCap: o.leverageCap,
    maxMarginFraction: pct(o.maxMarginPct),
    liquidationBufferFraction: pct(o.liquidationBufferPct),
    maxFeeRiskFraction: o.maxFeeRiskFraction === null ? null : dec(o.maxFeeRiskFraction),
    rules,
  });
  const a: Partial<RiskAssessment> = r.ok ? r.value : r.error.assessment;
  const mm = a.notional === undefined ? null : maintenanceMargin(dec(a.notional), rules.brackets).maintenanceMargin;
  return {
    venue: 'binance-usdm',
    symbol: rules.symbol,
    baseAsset: rules.baseAsset,
    quoteAsset: rules.quoteAsset,
    decision: r.ok ? 'APPROVED' : 'DENIED',
    reason: r.ok ? null : r.error.code,
    message: r.ok ? null : r.error.message,
    ...a,
    walletBalance: a.initialMargin ?? null,
    maintenanceMargin: mm === null ? null : str(mm),
    liquidationPriceRounded: a.liquidationPrice === undefined || a.liquidationPrice === null ? null : str(dec(a.liquidationPrice).toDecimalPlaces(2)),
  };
}
