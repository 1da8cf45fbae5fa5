import type { PositionSide } from '@bulwark/contracts';
import type { D } from './money';

/**
 * Funding paid or received by a position at a settlement, from the position's point of view
 * (> 0 received, < 0 paid). Binance USDⓈ-M: funding fee = position notional at mark price ×
 * funding rate; with a positive rate longs pay shorts, with a negative rate shorts pay longs
 * (Binance FAQ "Introduction to Binance Futures Funding Rates").
 * @param quantity position size in the base asset (> 0)
 * @param markPrice mark price at the settlement (USDT)
 * @param rate funding rate per interval as a fraction (0.0001 = 0.01 %)
 */
export function fundingPayment(side: PositionSide, quantity: D, markPrice: D, rate: D): D {
  const fee = quantity.mul(markPrice).mul(rate);
  return side === 'LONG' ? fee.neg() : fee;
}
