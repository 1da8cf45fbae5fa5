import { D, floorToStep, roundToTick, str } from './money';
import { ok, reject, type Rejection, type Result } from './result';
import type { Rules } from './rules';

export type QuantityRejectionCode = 'INVALID_QUANTITY' | 'BELOW_MIN_QTY' | 'ABOVE_MAX_QTY' | 'BELOW_MIN_NOTIONAL';
export type PriceRejectionCode = 'INVALID_PRICE' | 'PRICE_OUT_OF_RANGE';

/** Largest multiple of `step` <= x, exact even when x / step is not representable in 40 digits. */
function floorExact(x: D, step: D): D {
  const q = floorToStep(x, step);
  return q.gt(x) ? q.minus(step) : q;
}

/**
 * Round an order quantity DOWN to the venue's step and check the lot and notional filters
 * (Binance LOT_SIZE / MARKET_LOT_SIZE / MIN_NOTIONAL). Never rounds up: a quantity that
 * falls below a minimum is rejected, not raised.
 *
 * - MARKET orders use `marketStepSize` / `marketMaxQty`, LIMIT orders `stepSize` / `maxQty`;
 *   both use `minQty`. The grid is the multiples of the step (Binance anchors it at minQty,
 *   which is itself a multiple of the step on USDⓈ-M).
 * - Checks, in order: quantity finite and > 0 (`INVALID_QUANTITY`); rounded quantity >=
 *   minQty (`BELOW_MIN_QTY`); <= max (`ABOVE_MAX_QTY`); rounded quantity × price >=
 *   minNotional (`BELOW_MIN_NOTIONAL`).
 *
 * @param quantity base-asset quantity (BTC); @param price quote per base (USDT), the limit
 *   price or, for a MARKET order, the reference price the notional is judged at.
 * @returns the rounded quantity, or a rejection whose message gives the numbers.
 * @throws RangeError if `price` is not a positive finite decimal (callers validate prices first).
 */
export function normalizeQuantity(rules: Rules, quantity: D, price: D, orderType: 'MARKET' | 'LIMIT'): Result<D, Rejection<QuantityRejectionCode>> {
  if (!price.isFinite() || !price.gt(0)) throw new RangeError(`normalizeQuantity: price must be a positive finite decimal, got ${price.toString()}`);
  if (!quantity.isFinite() || !quantity.gt(0)) {
    return reject('INVALID_QUANTITY', `quantity must be a positive finite number, got ${quantity.toString()}`);
  }
  const step = orderType === 'MARKET' ? rules.marketStepSize : rules.stepSize;
  const maxQty = orderType === 'MARKET' ? rules.marketMaxQty : rules.maxQty;
  const q = floorExact(quantity, step);
  if (q.lt(rules.minQty)) {
    return reject('BELOW_MIN_QTY', `quantity ${str(quantity)} rounds down to ${str(q)} (step ${str(step)}), below the minimum ${str(rules.minQty)}`);
  }
  if (q.gt(maxQty)) {
    return reject('ABOVE_MAX_QTY', `quantity ${str(q)} is above the ${orderType} maximum ${str(maxQty)}`);
  }
  const notional = q.mul(price);
  if (notional.lt(rules.minNotional)) {
    return reject('BELOW_MIN_NOTIONAL', `notional ${str(q)} × ${str(price)} = ${str(notional)} is below the minimum notional ${str(rules.minNotional)}`);
  }
  return ok(q);
}

/**
 * Round a price to the nearest tick (half-even) and check Binance's PRICE_FILTER range
 * [minPrice, maxPrice]; a bound of 0 is disabled, as on Binance. The tick grid is the
 * multiples of the tick (Binance anchors it at minPrice, itself a multiple of the tick).
 * @returns the rounded price, `INVALID_PRICE` for a non-finite, zero or negative price (or one
 *   that rounds to 0 with no minimum), `PRICE_OUT_OF_RANGE` outside the range.
 */
export function normalizePrice(rules: Rules, price: D): Result<D, Rejection<'INVALID_PRICE' | 'PRICE_OUT_OF_RANGE'>> {
  if (!price.isFinite() || !price.gt(0)) return reject('INVALID_PRICE', `price must be a positive finite number, got ${price.toString()}`);
  const p = roundToTick(price, rules.tickSize);
  if (rules.minPrice.gt(0) && p.lt(rules.minPrice)) {
    return reject('PRICE_OUT_OF_RANGE', `price ${str(price)} rounds to ${str(p)} (tick ${str(rules.tickSize)}), below the minimum price ${str(rules.minPrice)}`);
  }
  if (rules.maxPrice.gt(0) && p.gt(rules.maxPrice)) {
    return reject('PRICE_OUT_OF_RANGE', `price ${str(price)} rounds to ${str(p)} (tick ${str(rules.tickSize)}), above the maximum price ${str(rules.maxPrice)}`);
  }
  if (!p.gt(0)) return reject('INVALID_PRICE', `price ${str(price)} rounds to 0 at tick ${str(rules.tickSize)}`);
  return ok(p);
}
